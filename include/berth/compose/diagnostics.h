#pragma once
// Loader findings. Errors are collected (all errors of a file, not just the first) and thrown
// together as a LoadError; warnings are kept for the caller to print once each.
#include <string>
#include <unordered_set>
#include <vector>

#include "berth/compose/node.h"
#include "berth/util/error.h"

namespace berth::compose {

// Docker Compose's exit codes (docker/compose pkg/compose/metrics.go FailureCategory).
inline constexpr int kExitFileNotFound = 14;
inline constexpr int kExitParseFailure = 15;

struct Diagnostic {
  Pos pos;
  std::string path;     // services.web.ports[1]; may be empty
  std::string message;  // what is wrong
  std::string hint;     // how to fix; may be empty
  std::string str() const;  // FILE:LINE:COL: path: message; hint
};

class Diagnostics {
 public:
  void error(const Pos& pos, std::string path, std::string message, std::string hint = {});
  void warn(const Pos& pos, std::string path, std::string message, std::string hint = {});
  const std::vector<Diagnostic>& errors() const { return errors_; }
  const std::vector<Diagnostic>& warnings() const { return warnings_; }
  bool has_errors() const { return !errors_.empty(); }
  void throw_if_errors() const;  // throws LoadError with every error collected so far

 private:
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
  std::unordered_set<std::string> warned_;  // str() of each warning: duplicates are dropped
};

class LoadError : public berth::Error {
 public:
  LoadError(std::vector<Diagnostic> errors, int exit_code = kExitParseFailure);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Path helpers: "services" + "web" → "services.web"; index → "ports[1]".
std::string path_key(const std::string& base, const std::string& key);
std::string path_index(const std::string& base, size_t index);

}  // namespace berth::compose
