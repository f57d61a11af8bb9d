#pragma once
// The Compose orchestrator: observe (the project's containers, networks and volumes, found by
// label in the store) -> reconcile (pure: Project x Observed -> Plan, printable, deterministic)
// -> execute (the plan's actions in dependency order, in parallel up to a limit).
// Names and labels are Compose's, so `docker compose` users find what they expect.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "berth/compose/project.h"
#include "berth/engine/container_options.h"
#include "berth/util/fd.h"
#include "berth/util/json.h"

namespace berth::orchestrator {

// ---- Compose's labels ----
inline constexpr const char* kProjectLabel = "com.docker.compose.project";
inline constexpr const char* kServiceLabel = "com.docker.compose.service";
inline constexpr const char* kNumberLabel = "com.docker.compose.container-number";
inline constexpr const char* kConfigHashLabel = "com.docker.compose.config-hash";
inline constexpr const char* kOneoffLabel = "com.docker.compose.oneoff";
inline constexpr const char* kWorkingDirLabel = "com.docker.compose.project.working_dir";
inline constexpr const char* kConfigFilesLabel = "com.docker.compose.project.config_files";
inline constexpr const char* kDependsOnLabel = "com.docker.compose.depends_on";
inline constexpr const char* kImageLabel = "com.docker.compose.image";
inline constexpr const char* kVersionLabel = "com.docker.compose.version";
inline constexpr const char* kNetworkLabel = "com.docker.compose.network";
inline constexpr const char* kVolumeLabel = "com.docker.compose.volume";
inline constexpr const char* kComposeVersion = "2.29.0";  // the Compose behaviour Berth follows

// ---- service -> container (pure, convert.cpp) ----
struct NetworkJoin {
  std::string network;               // the platform name ("myapp_default")
  std::vector<std::string> aliases;  // the service name first, then the service's aliases
  std::string ipv4_address;
};
struct GeneratedFile {
  std::string content;
  uint32_t uid = 0, gid = 0;
  uint32_t mode = 0444;  // Compose's default for secrets and configs
  bool operator==(const GeneratedFile&) const = default;
};
struct ContainerSpec {
  std::string service;
  int number = 1;
  std::string name;  // container_name, or <project>-<service>-<number>
  engine::ContainerOptions options;  // network = first of networks; labels include Compose's
  std::vector<NetworkJoin> networks;  // in priority order; [0] is joined at create
  std::vector<std::string> warnings;  // attributes Berth accepts but does not apply
  // Files to write before the container is created, path -> file: secrets and configs given as
  // `environment:` or `content:`, and file-based ones that set uid, gid or mode (a copy).
  std::map<std::string, GeneratedFile> files;
};
// Every attribute the runtime supports is applied; the ones it cannot are errors naming the
// service and the attribute (exit 15), unless harmless, then a warning. oneoff: `berth run`.
ContainerSpec container_spec(const compose::Project& project, const compose::Service& service, int number,
                             const std::string& config_hash, bool oneoff = false);
// The same, with the environment that secrets and configs given as `environment:` read (the
// loader's LoadResult::environment, .env included); the overload above reads the process's.
ContainerSpec container_spec(const compose::Project& project, const compose::Service& service, int number,
                             const std::string& config_hash, bool oneoff,
                             const std::map<std::string, std::string>& environment);
std::string container_name(const compose::Project& project, const compose::Service& service, int number);
// Where the files of ContainerSpec::files go: <state root>/compose/<project>; down removes it.
std::string generated_files_dir(const std::string& project_name);
int replicas(const compose::Service& service);  // scale, deploy.replicas, 1

// ---- observe ----
struct ObservedContainer {
  std::string id, name, service, status, config_hash, image_id;
  int number = 0;
  bool oneoff = false;
  int exit_code = 0;
  std::string health;  // "", starting, healthy, unhealthy
  json labels;
  json service_config;  // the service's canonical JSON it was made from (compose-service.json)
};
// Beside the container's record, for `up --dry-run` to say what changed.
inline constexpr const char* kServiceConfigFile = "compose-service.json";
struct Observed {
  std::vector<ObservedContainer> containers;  // sorted by service, number
  std::set<std::string> networks, volumes;    // platform names that exist
};
Observed observe(const std::string& project_name);
std::vector<std::string> project_names();  // every project with containers (berth ls)
// service -> the id of the local image its container would get (absent: not imported yet).
std::map<std::string, std::string> local_image_ids(const compose::Project& project);

// ---- reconcile (pure) ----
struct UpOptions {
  std::vector<std::string> services;  // empty = all (with their dependencies unless no_deps)
  bool force_recreate = false, no_recreate = false, no_deps = false, always_recreate_deps = false;
  bool remove_orphans = false, no_start = false;
  std::map<std::string, int> scale;  // --scale SERVICE=N
};
enum class ActionKind { CreateNetwork, CreateVolume, Create, Recreate, Start, Remove, Keep };
struct Action {
  ActionKind kind = ActionKind::Keep;
  std::string service;  // for container actions
  int number = 0;
  std::string container_id, container_name;  // the existing container (Recreate, Start, Remove, Keep)
  std::string object;                         // network or volume platform name
  std::string reason;                         // "environment.FOO changed", "orphan", "scale 3 -> 1"
  std::string config_hash;                    // what the container will carry
};
struct Plan {
  std::vector<Action> actions;  // deterministic: networks, volumes, then services in dependency order
  std::vector<std::string> service_order;  // dependencies first
  std::string str() const;                 // `up --dry-run`
};
// image_ids: service -> the local image id its container would get (a changed image recreates).
Plan reconcile(const compose::Project& project, const Observed& observed, const UpOptions& options,
               const std::map<std::string, std::string>& image_ids);
// Why a container's config differs: the first changed attribute path ("environment.FOO").
std::string config_difference(const json& old_service, const json& new_service);
// Services in dependency order (dependencies first); a cycle is an Error naming it (exit 15).
std::vector<std::string> dependency_order(const compose::Project& project,
                                          const std::vector<std::string>& wanted, bool with_deps);

// ---- execute ----
struct Progress {
  std::function<void(const std::string& object, const std::string& state)> event;  // "Container x  Started"
};
struct ExecuteOptions {
  int parallel = -1;  // COMPOSE_PARALLEL_LIMIT
  int stop_timeout_s = -1;
  bool wait = false;  // --wait: every service running/healthy, one-shots that others wait on done
  int64_t wait_timeout_s = 0;
  bool start = true;
  std::map<std::string, std::string> environment;  // the loader's (secrets/configs from `environment:`)
};
// Runs the plan; throws berth::Error with the reason when a step or a dependency condition fails.
void execute(const compose::Project& project, const Plan& plan, const ExecuteOptions& options,
             const Progress& progress);

// ---- run: one-off containers ----
struct RunOptions {
  std::string service;
  std::optional<std::vector<std::string>> command;  // replaces the service's command
  std::optional<std::string> entrypoint;            // replaces the service's ("" = none), shell words
  std::vector<std::string> env;                      // KEY=VALUE; KEY alone takes the caller's value
  std::vector<std::string> labels, volumes, publish;
  std::string name, user, workdir;
  bool no_deps = false, service_ports = false, use_aliases = false;
  bool remove = false, detach = false, tty = false, interactive = true;
};
struct OneOff {
  std::string id, name;
  engine::ContainerOptions options;  // what the container was made from (tty, stdin for attaching)
  std::vector<UniqueFd> port_fds;    // bound at create; the start hands them to the supervisor
};
// `berth run`: brings the service's dependencies up as `up` would (unless no_deps), waits for the
// service's depends_on conditions, then creates (does not start) the one-off container
// <project>-<service>-run-<12 hex>: no restart policy, the service's ports only with
// service_ports, no network aliases unless use_aliases (Compose's rules).
OneOff create_oneoff(const compose::Project& project, const RunOptions& options, const ExecuteOptions& exec,
                     const Progress& progress);

// ---- down ----
struct DownOptions {
  bool volumes = false, remove_orphans = false;
  std::string rmi;  // "", local, all
  int timeout_s = -1;
};
void down(const std::string& project_name, const compose::Project* project, const DownOptions& options,
          const Progress& progress);

}  // namespace berth::orchestrator
