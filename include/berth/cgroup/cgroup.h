#pragma once
// Container cgroups on v1 (legacy), hybrid and v2 (unified) hosts.
//
// The CLI detects the layout and computes a Plan at create time: absolute directories in every
// hierarchy and the exact files to write. The supervisor replays the plan (create, join, kill,
// remove) without knowing which cgroup version it runs on. Only file I/O and syscalls here:
// this library may be linked into the static supervisor.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::cgroup {

enum class Mode { Legacy, Hybrid, Unified };
std::string to_string(Mode mode);  // "legacy", "hybrid", "unified"

struct Hierarchy {
  std::string mount_point;
  // v1: the mount's controllers ("memory", "cpu", "name=systemd"); v2: from cgroup.controllers.
  std::vector<std::string> controllers;
  bool unified = false;
  bool has(const std::string& controller) const;
};

struct Layout {
  Mode mode = Mode::Legacy;
  std::vector<Hierarchy> hierarchies;  // mountinfo order; one per hierarchy (bind mounts dropped)
};

// The mode comes from statfs(2) on /sys/fs/cgroup (and /sys/fs/cgroup/unified) only when
// mountinfo_path is the default; for any other path it is inferred from the mounts listed.
Layout detect(const std::string& mountinfo_path = "/proc/self/mountinfo");
// /sys/fs/cgroup is cgroup2 (a v2-only host, Mode::Unified): one statfs, no mountinfo.
bool unified_host();
// For tests and fake roots: root_mode stands for what statfs would say; without it the mode is
// inferred (cgroup2 only → Unified, v1 and cgroup2 → Hybrid, v1 only → Legacy).
Layout detect_from(const std::string& mountinfo_text, std::optional<Mode> root_mode = std::nullopt);

struct Resources {
  int64_t memory = 0;  // bytes, 0 = unset
  int64_t memory_swap =
      0;  // Docker: -1 unlimited, 0 unset (= 2x memory when memory is set), else memory+swap
  int64_t nano_cpus = 0;   // 1e9 = one CPU, 0 = unset
  int64_t cpu_shares = 0;  // v1 shares (2..262144), 0 = unset
  int64_t pids_limit = 0;  // > 0 limit, < 0 explicitly unlimited ("max"), 0 = unset
};

struct FileWrite {
  std::string path;
  std::string value;
  bool optional = false;  // skipped when the file does not exist (memsw without swap accounting)
  bool operator==(const FileWrite&) const = default;
};

struct Plan {
  std::vector<std::string>
      dirs;  // absolute container dir in each hierarchy used; parents not included
  std::vector<FileWrite>
      writes;               // applied in order after mkdir, before any container process joins
  std::string freezer_dir;  // empty when the controller is not available
  std::string memory_dir;
  std::string pids_dir;
  std::string cpu_dir;
  std::string cpuacct_dir;  // v2: the same dir as the others (cpu.stat)
  bool unified = false;
  bool device_policy_bpf = false;  // v2: create() attaches device_program(false) to dirs[0]
  bool operator==(const Plan&) const = default;
};

// Throws Error for the combinations Docker rejects (swap without memory, swap < memory, memory
// under 6 MiB, CPUs outside 0.01..online CPUs) and for limits whose controller is missing.
// privileged: no device policy (every device allowed).
Plan plan_container(const Layout& layout, const std::string& parent, const std::string& id,
                    const Resources& resources, bool privileged);

// mkdir <mount>/<parent> in each hierarchy the plans use. v1 cpuset: copies cpuset.cpus/mems
// down from the root and sets cgroup.clone_children so container dirs inherit them. v2: enables
// cpu, memory, pids and io (those available) in cgroup.subtree_control from the root down to
// the parent.
void ensure_parents(const Layout& layout, const std::string& parent);

// mkdir every dir (0755; an existing dir is reused), apply the writes, attach the device program
// on v2. On failure removes the dirs it made and throws Error naming the file and value.
void create(const Plan& plan);
void join(const Plan& plan, pid_t pid);     // pid → cgroup.procs in every dir
std::vector<pid_t> pids(const Plan& plan);  // union of cgroup.procs, sorted
// v2: cgroup.kill when sig is SIGKILL and the file exists. Otherwise each pid; on v1 with
// SIGKILL the freezer is held frozen meanwhile so that forks cannot escape.
void kill_all(const Plan& plan, int sig);
// rmdir every dir, retrying EBUSY while processes exit; missing dirs are fine. True when all gone.
bool remove(const Plan& plan, int timeout_ms = 2000);
uint64_t oom_kill_count(const Plan& plan);  // v1 memory.oom_control, v2 memory.events "oom_kill"
// v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze; waits (5 s at most) until the kernel
// reports the state, else throws Error (and thaws again after a failed freeze).
void freeze(const Plan& plan, bool frozen);

struct Stats {
  uint64_t memory_usage = 0;  // usage minus inactive file cache, as `docker stats` shows it
  uint64_t memory_limit = 0;  // 0 = no limit (callers show the host's memory instead)
  uint64_t cpu_usage_ns = 0;
  uint64_t pids = 0;
  uint64_t block_read = 0, block_write = 0;  // bytes, all devices (v1 blkio, v2 io.stat)
};
Stats stats(const Plan& plan);  // missing files read as 0

berth::json to_json(const Plan& plan);
Plan plan_from_json(const berth::json& j);  // throws Error on a malformed plan

// For prune and rm -f of records that are gone: names of the dirs under <mount>/<parent> in every
// hierarchy (sorted, unique).
std::vector<std::string> leftover_ids(const Layout& layout, const std::string& parent);
// The dirs plan_container would use plus any other hierarchy holding <parent>/<id>; no writes.
Plan plan_for_existing(const Layout& layout, const std::string& parent, const std::string& id);

// ---- the migration lock ----
// Every write to a cgroup.procs file takes the kernel's global cgroup_threadgroup_rwsem for
// writing, and a writer that finds it idle first waits for an RCU grace period (~6 ms on this
// VM; back-to-back writes cost ~0.02 ms). On v1 a container joins through `tasks`, which needs
// no such wait; a v2 container dir can only be joined through cgroup.procs. On v2 hosts
// prime_migrations starts that grace period early: a background thread moves the calling
// process into the cgroup it is already in (a no-op migration), so that the wait overlaps the
// rest of the container's preparation and the container's own join finds the lock warm. Once
// per process; does nothing on v1 and hybrid layouts; failures are ignored (docs/cgroups.md).
void prime_migrations(const Layout& layout);
void prime_migrations();  // reads the layout only on a v2 host not primed yet
// The cgroup.procs file of the calling process's own cgroup in the first hierarchy of layout
// that /proc/self/cgroup (given as text) names; "" when none matches.
std::string own_procs_file(const Layout& layout, const std::string& proc_self_cgroup);

// ---- devices ----
struct DeviceRule {
  char type;           // 'c' or 'b'
  int64_t major;       // -1 = any
  int64_t minor;       // -1 = any
  std::string access;  // subset of "rwm"
};
// Docker's default allow list (runc's AllowedDevices); /dev/fuse (c 10:229) is not in it.
const std::vector<DeviceRule>& default_device_rules();
std::string to_string(const DeviceRule& rule);  // "c 1:3 rwm", "b *:* m"

// A BPF_PROG_TYPE_CGROUP_DEVICE program, one struct bpf_insn per element (its 8 bytes in memory
// order): allows the default rules and denies everything else; privileged allows everything.
std::vector<uint64_t> device_program(bool privileged);
// bpf(BPF_PROG_LOAD) + bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI) on the dir.
void attach_device_program(const std::string& cgroup_dir, const std::vector<uint64_t>& program);

// v1 cpu.shares → v2 cpu.weight (1..10000; 1024 → 100), 0 stays 0.
uint64_t cpu_shares_to_weight(uint64_t shares);

}  // namespace berth::cgroup
