// Compose's global flags and project loading for the top-level verbs (compose_project.h).
#include "compose_project.h"

#include <cstdio>
#include <cstdlib>

#include "berth/util/error.h"
#include "berth/util/fs.h"

namespace berth::cli {

ProjectFlags& global_project_flags() {
  static ProjectFlags flags;
  return flags;
}

void add_project_flags(CLI::App* cmd, ProjectFlags& f, bool short_project_name) {
  cmd->add_option("-f,--file", f.files, "Compose configuration files")->allow_extra_args(false);
  cmd->add_option(short_project_name ? "-p,--project-name" : "--project-name", f.project_name, "Project name");
  cmd->add_option("--project-directory", f.project_directory, "Specify an alternate working directory");
  cmd->add_option("--env-file", f.env_files, "Specify an alternate environment file")->allow_extra_args(false);
  cmd->add_option("--profile", f.profiles, "Specify a profile to enable")->allow_extra_args(false);
  cmd->add_option("--parallel", f.parallel, "Control max parallelism, -1 for unlimited");
  cmd->add_option("--ansi", f.ansi, "Control when to print ANSI control characters (never|always|auto)");
  cmd->add_option("--progress", f.progress, "Set type of progress output (auto, tty, plain, json, quiet)");
}

void add_global_project_flags(CLI::App& app) { add_project_flags(&app, global_project_flags()); }

ProjectFlags merged(const ProjectFlags& local) {
  ProjectFlags m = global_project_flags();
  if (!local.files.empty()) m.files = local.files;
  if (!local.project_name.empty()) m.project_name = local.project_name;
  if (!local.project_directory.empty()) m.project_directory = local.project_directory;
  if (!local.env_files.empty()) m.env_files = local.env_files;
  if (!local.profiles.empty()) m.profiles = local.profiles;
  if (local.parallel != -1) m.parallel = local.parallel;
  if (local.ansi != "auto") m.ansi = local.ansi;
  if (local.progress != "auto") m.progress = local.progress;
  if (m.parallel == -1)
    if (const char* env = std::getenv("COMPOSE_PARALLEL_LIMIT"); env && *env) m.parallel = std::atoi(env);
  return m;
}

compose::LoadResult load_project(const ProjectFlags& flags, const std::vector<std::string>& services) {
  compose::LoadOptions o;
  o.files = flags.files;
  o.project_name = flags.project_name;
  o.project_directory = flags.project_directory;
  o.env_files = flags.env_files;
  o.profiles = flags.profiles;
  o.services = services;
  auto result = compose::load_project(o);
  for (const auto& w : result.warnings) std::fprintf(stderr, "berth: warning: %s\n", w.str().c_str());
  return result;
}

std::string project_name(const ProjectFlags& flags) {
  if (!flags.project_name.empty()) {
    if (!compose::is_valid_project_name(flags.project_name))
      throw Error("invalid project name \"" + flags.project_name + "\": must consist only of lowercase "
                  "alphanumeric characters, hyphens, and underscores as well as start with a letter or number",
                  "use \"" + compose::normalize_project_name(flags.project_name) + "\"", 15);
    return flags.project_name;
  }
  if (const char* env = std::getenv("COMPOSE_PROJECT_NAME"); env && *env && flags.files.empty())
    return compose::normalize_project_name(env);
  return load_project(flags).project.name;
}

}  // namespace berth::cli
