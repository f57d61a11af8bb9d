#pragma once
// The launch plan: everything the supervisor needs to start (and restart) one container, computed
// once by the CLI and written to <run>/containers/<id>/launch.json. The supervisor replays it with
// raw syscalls and no policy of its own.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::runtime {

struct MountSpec {
  std::string source;       // host path for binds; a name ("proc", "tmpfs") otherwise
  std::string target;       // absolute path inside the container
  std::string fstype;       // "bind" for bind mounts, else a filesystem type
  unsigned long flags = 0;  // MS_* flags for mount(2) (MS_RDONLY applied after a bind)
  std::string data;         // filesystem data ("size=65536k,mode=755")
  bool recursive_readonly = false;  // binds: mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)
  bool is_file = false;     // create the target as a file, not a directory
  // binds: MS_SHARED / MS_SLAVE / MS_PRIVATE (| MS_REC for the r-variants) set on the new mount;
  // 0 = leave it private, as the container's whole tree is (Docker's rprivate default)
  unsigned long propagation = 0;
};

struct Namespace {
  std::string type;  // "pid", "mnt", "uts", "ipc", "net", "cgroup"
  std::string path;  // empty: create a new one; else join this namespace file
};

struct Rlimit {
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

struct LaunchPlan {
  int version = 1;
  std::string id;
  std::string hostname;
  // rootfs: overlay of the image layers (top first, as overlayfs wants) with a private upper dir.
  std::vector<std::string> lower_dirs;
  std::string upper_dir, work_dir, rootfs_dir;  // rootfs_dir: empty mount point for the overlay
  bool readonly_rootfs = false;
  std::vector<MountSpec> mounts;                // defaults first, then the user's, in order
  std::vector<std::string> masked_paths, readonly_paths;
  std::vector<Namespace> namespaces;
  std::map<std::string, std::string> sysctls;   // written in the container's own /proc/sys
  // process
  std::vector<std::string> args, env;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  uint64_t capabilities = 0;  // bounding = permitted = effective (execve clears them for non-root)
  bool no_new_privileges = false;
  std::string seccomp_bpf;    // path of a cached BPF program; empty: no filter
  std::vector<Rlimit> rlimits;
  bool terminal = false, stdin_open = false;
  bool privileged = false;
  // supervision
  json cgroups;               // berth::cgroup::Plan as JSON (the supervisor creates and joins it)
  std::string log_path;       // json-file log; empty: no log
  uint64_t log_max_size = 0;  // --log-opt max-size (bytes; 0 = unlimited)
  int log_max_files = 1;      // --log-opt max-file
  bool autoremove = false;
  std::string restart_policy = "no";  // no | always | on-failure | unless-stopped
  int restart_max = 0;                // on-failure:N (0 = unlimited)
  int stop_signal = 15;
  int stop_timeout_s = 10;
  json healthcheck;                   // Docker shape (Test, Interval, ...); null = none
  // Networking that the supervisor serves (the CLI set up the namespace and veths):
  // dns: {"Namespace": path, "Records": [network record files], "Forward": bool,
  //       "Upstreams": ["ip[:port]"]}; null = no DNS responder (default bridge, host, none).
  json dns;
  std::string netns_path;              // <run>/netns/<id> when the CLI made one (bridge networks)
  std::vector<std::string> networks;   // their names: --rm releases the addresses
  std::vector<std::string> autoremove_dirs;  // --rm: the anonymous volumes' directories (Docker)
  // ports: [{"Proto", "HostIp", "HostPort", "ContainerPort", "Target"}]; the supervisor gets
  // their bound sockets as fds 4, 5, ... in this order.
  json ports = json::array();
  std::string state_dir;      // <root>/containers/<id>: removed on autoremove
  std::string run_dir;        // <run>/containers/<id>: state.json, launch.json
};

json to_json(const LaunchPlan& plan);
LaunchPlan launch_plan_from_json(const json& j);

}  // namespace berth::runtime
