#pragma once
// Errors that reach the user: a message that names the object, a hint that says how to fix it,
// and Docker's exit code (125 = Berth's own error, 126 = not executable, 127 = not found).
#include <stdexcept>
#include <string>

namespace berth {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, std::string hint = {}, int exit_code = 125)
      : std::runtime_error(std::move(message)), hint_(std::move(hint)), exit_code_(exit_code) {}
  const std::string& hint() const { return hint_; }
  int exit_code() const { return exit_code_; }

 private:
  std::string hint_;
  int exit_code_;
};

// A failed system call: "<what>: <strerror(err)>", keeps errno for callers that map it.
class SysError : public Error {
 public:
  SysError(const std::string& what, int err);
  int err() const { return err_; }

 private:
  int err_;
};

[[noreturn]] void throw_errno(const std::string& what);

}  // namespace berth
