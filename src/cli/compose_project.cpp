// Compose's global flags and project loading for the top-level verbs (compose_project.h).
#include "compose_project.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "berth/engine/engine.h"
#include "berth/orchestrator/orchestrator.h"
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

// ---- the project's containers, from labels ----

std::string label_of(const json& record, const char* key) {
  auto config = record.find("Config");
  if (config == record.end() || !config->is_object()) return "";
  auto labels = config->find("Labels");
  if (labels == config->end() || !labels->is_object()) return "";
  auto v = labels->find(key);
  return v != labels->end() && v->is_string() ? v->get<std::string>() : "";
}

std::string docker_state(const std::string& status) {
  return status == "supervisor lost" ? "running" : status;
}

// Every container of the project (one-offs included), sorted by service, number, name. A small
// lookup of our own: the orchestrator's observe() drops the records, which ps and images show.
std::vector<ProjectContainer> project_containers(const std::string& project) {
  std::vector<ProjectContainer> out;
  for (auto& v : engine::list_containers()) {
    if (label_of(v.record, orchestrator::kProjectLabel) != project) continue;
    ProjectContainer c;
    c.service = label_of(v.record, orchestrator::kServiceLabel);
    c.number = std::atoi(label_of(v.record, orchestrator::kNumberLabel).c_str());
    c.oneoff = label_of(v.record, orchestrator::kOneoffLabel) == "True";
    c.state = docker_state(v.status);
    c.view = std::move(v);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const ProjectContainer& a, const ProjectContainer& b) {
    if (a.service != b.service) return a.service < b.service;
    if (a.oneoff != b.oneoff) return !a.oneoff;
    if (a.number != b.number) return a.number < b.number;
    return a.view.name < b.view.name;
  });
  return out;
}

// The project named by -p / COMPOSE_PROJECT_NAME (no file read), else by the compose file.
// Unknown SERVICE names are an error, as Compose ("no such service: x", exit 1).
Target resolve_target(const ProjectFlags& local, const std::vector<std::string>& services) {
  ProjectFlags flags = merged(local);
  Target t;
  const char* env = std::getenv("COMPOSE_PROJECT_NAME");
  if (!flags.project_name.empty() || (env && *env && flags.files.empty())) {
    t.project = project_name(flags);
    t.containers = project_containers(t.project);
    for (const auto& c : t.containers) t.known_services.insert(c.service);
  } else {
    auto loaded = load_project(flags);
    t.project = loaded.project.name;
    for (const auto& s : loaded.project.services) t.known_services.insert(s.name);
    for (const auto& s : loaded.project.disabled_services) t.known_services.insert(s);
    t.containers = project_containers(t.project);
    for (const auto& c : t.containers) t.known_services.insert(c.service);  // orphans stay reachable
  }
  for (const auto& s : services)
    if (!t.known_services.count(s)) throw Error("no such service: " + s, "", 1);
  return t;
}

}  // namespace berth::cli
