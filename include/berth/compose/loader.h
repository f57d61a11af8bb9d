#pragma once
// Loading a Compose project: file discovery, .env, interpolation, merge, validation and
// normalization, as Docker Compose does (pipeline in docs/compose.md).
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "berth/compose/diagnostics.h"
#include "berth/compose/project.h"
#include "berth/util/json.h"

namespace berth::compose {

struct LoadOptions {
  std::vector<std::string> files;          // -f, in order; "-" reads stdin; empty = discover/COMPOSE_FILE
  std::string project_directory;           // --project-directory
  std::string project_name;                // -p
  std::vector<std::string> env_files;      // --env-file
  std::vector<std::string> profiles;       // --profile (empty = COMPOSE_PROFILES)
  std::vector<std::string> services;       // services named on the command line
  std::optional<std::map<std::string, std::string>> environment;  // default: the process environment
  std::string working_dir;                 // default: the current directory
  // In-memory files (name, content) instead of reading `files`; for tests, fuzzing and stdin.
  std::vector<std::pair<std::string, std::string>> contents;
  bool interpolate = true;
  bool normalize = true;       // default network, resource names, implicit depends_on
  bool resolve_paths = true;
  bool consistency = true;     // cross-reference checks
  bool resolve_env = true;     // env_file/label_file merged into environment/labels
  // false: LoadResult::project stays empty. `berth config` prints the model only, and the typed
  // project (a second copy of every service) was a fifth of its load time.
  bool typed_project = true;
};

struct LoadResult {
  json model;  // canonical document, what `config --format json` prints
  Project project;
  std::vector<Diagnostic> warnings;
  std::map<std::string, std::string> environment;  // the interpolation environment used
};

// Throws LoadError (exit 15) for invalid files, berth::Error (exit 14) when no file is found.
LoadResult load_project(const LoadOptions& options);

// Compose's project name rules.
std::string normalize_project_name(const std::string& name);
bool is_valid_project_name(const std::string& name);

// Renders `model` as Compose's canonical YAML (sorted keys, `name:` first).
std::string to_yaml(const json& model);
// POSIX-shell-like word splitting (quotes, backslashes), as Compose does for a string `command:`
// and for `run --entrypoint`; ok = false on an unterminated quote.
std::vector<std::string> shell_split(const std::string& s, bool& ok);

}  // namespace berth::compose
