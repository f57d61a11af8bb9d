#pragma once
// Compose's global flags (-f, -p, --project-directory, --env-file, --profile, --parallel, --ansi,
// --progress), shared by every top-level Compose verb. They are given before the verb, as with
// `docker compose -f a.yml up`; Berth also accepts them after it.
#include "berth/util/std_streams.h"  // before CLI11, which includes <iostream>
#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <vector>

#include "berth/compose/loader.h"
#include "berth/engine/engine.h"
#include "berth/engine/log_reader.h"

namespace berth::cli {

struct ProjectFlags {
  std::vector<std::string> files;
  std::string project_name, project_directory;
  std::vector<std::string> env_files, profiles;
  int parallel = -1;  // --parallel / COMPOSE_PARALLEL_LIMIT; -1 = unlimited
  std::string ansi = "auto", progress = "auto";
};

// The flags given before the verb (filled by CLI11 while parsing the app).
ProjectFlags& global_project_flags();
void add_global_project_flags(CLI::App& app);
// Adds the same flags to one verb, writing into `flags` (merged with the global ones by merged()).
// short_project_name false: `run`, whose -p is --publish (as in Compose; a -p before the verb
// still names the project).
void add_project_flags(CLI::App* cmd, ProjectFlags& flags, bool short_project_name = true);
ProjectFlags merged(const ProjectFlags& local);

// Loads the Compose project (exit 14 when no file, 15 when invalid); warnings go to stderr.
compose::LoadResult load_project(const ProjectFlags& flags, const std::vector<std::string>& services = {});
// The project name without needing the file when -p or COMPOSE_PROJECT_NAME says it (commands
// that act on existing containers work with only -p); else the file decides, as Compose.
std::string project_name(const ProjectFlags& flags);

// ---- the project's containers, from their Compose labels (no file needed) ----
struct ProjectContainer {
  engine::ContainerView view;
  std::string service;
  int number = 0;
  bool oneoff = false;
  std::string state;  // Docker's State: created|running|paused|restarting|exited
};
std::string label_of(const json& record, const char* key);  // "" when absent
std::string docker_state(const std::string& status);        // "supervisor lost" is "running"
// Every container of the project (one-offs included), sorted by service, one-offs last, number.
std::vector<ProjectContainer> project_containers(const std::string& project);
struct Target {
  std::string project;
  std::vector<ProjectContainer> containers;
  std::set<std::string> known_services;  // the file's when it was read, else the labels'
};
// The project named by -p / COMPOSE_PROJECT_NAME (no file read), else by the compose file.
// Unknown SERVICE names are an error, as Compose ("no such service: x", exit 1).
Target resolve_target(const ProjectFlags& local, const std::vector<std::string>& services);

// The project's logs with Compose's "name | " prefixes (cmd_compose_ops.cpp): `logs`, and the
// attached output of a foreground `up`. With base.follow, returns when every container stopped.
void print_project_logs(const ProjectFlags& flags, const std::vector<std::string>& services,
                        const engine::LogReadOptions& base, bool timestamps, bool no_prefix, bool no_colour);

}  // namespace berth::cli
