// From (layout, resources) to the exact directories and control-file writes of one container.
// Pure: reads nothing but sysconf, so the CLI can plan and the supervisor can replay.
#include <unistd.h>

#include <algorithm>
#include <set>

#include "berth/cgroup/cgroup.h"
#include "berth/cgroup/detail.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/numeric.h"
#include "berth/util/strings.h"

namespace berth::cgroup {
namespace {

constexpr int64_t kCpuPeriodUs = 100000;
constexpr int64_t kMinMemory = 6 * 1024 * 1024;  // Docker's floor: below it the runtime itself OOMs

// v1 hierarchies a container joins: the ones with limits or stats we use, the freezer for
// pause and kill, cpuset so the container's view is consistent, and systemd's name hierarchy so
// tools see the container as its own unit of processes.
const std::set<std::string> kV1Used = {"cpu",     "cpuacct", "cpuset", "memory",      "devices",
                                       "freezer", "blkio",   "pids",   "name=systemd"};

void check_id(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos)
    throw Error("invalid cgroup name \"" + id + "\"");
}

std::string container_dir(const Hierarchy& h, const std::string& parent, const std::string& id) {
  return fs::join(fs::join(h.mount_point, parent), id);
}

// Dirs and per-controller dirs, no writes.
Plan base_plan(const Layout& layout, const std::string& parent_in, const std::string& id) {
  const std::string parent = detail::clean_parent(parent_in);
  check_id(id);
  Plan plan;
  plan.unified = layout.mode == Mode::Unified;
  for (auto& h : layout.hierarchies) {
    if (!detail::uses_hierarchy(layout, h)) continue;
    std::string dir = container_dir(h, parent, id);
    plan.dirs.push_back(dir);
    if (h.unified) {
      // cgroup.freeze and cpu.stat are core files; the others are absent without their controller.
      plan.freezer_dir = plan.cpu_dir = plan.cpuacct_dir = dir;
      if (h.has("memory")) plan.memory_dir = dir;
      if (h.has("pids")) plan.pids_dir = dir;
      continue;
    }
    if (h.has("freezer")) plan.freezer_dir = dir;
    if (h.has("memory")) plan.memory_dir = dir;
    if (h.has("pids")) plan.pids_dir = dir;
    if (h.has("cpu")) plan.cpu_dir = dir;
    if (h.has("cpuacct")) plan.cpuacct_dir = dir;
  }
  if (plan.dirs.empty())
    throw Error("no usable cgroup hierarchy (mode " + to_string(layout.mode) + ")",
                "check the cgroup mounts in /proc/self/mountinfo");
  return plan;
}

const Hierarchy* find_v1(const Layout& layout, const std::string& controller) {
  for (auto& h : layout.hierarchies)
    if (!h.unified && h.has(controller)) return &h;
  return nullptr;
}

[[noreturn]] void missing_controller(const std::string& controller, const std::string& what) {
  throw Error(
      what + " needs the " + controller + " cgroup controller, which this host does not provide",
      "remove the limit from the service or enable the controller");
}

void validate(const Resources& r) {
  if (r.memory < 0) throw Error("invalid memory limit " + std::to_string(r.memory));
  if (r.memory > 0 && r.memory < kMinMemory) throw Error("Minimum memory limit allowed is 6MB");
  if (r.memory_swap < -1) throw Error("invalid memory+swap limit " + std::to_string(r.memory_swap));
  if (r.memory_swap > 0 && r.memory == 0)
    throw Error("You should always set the Memory limit when using Memoryswap limit, see usage");
  if (r.memory_swap > 0 && r.memory_swap < r.memory)
    throw Error("Minimum memoryswap limit should be larger than memory limit, see usage");
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  // The kernel's smallest CFS quota is 1 ms of a 100 ms period: 0.01 CPUs.
  if (r.nano_cpus < 0 || (r.nano_cpus > 0 && r.nano_cpus < 10000000) ||
      r.nano_cpus > cpus * 1000000000LL)
    throw Error("Range of CPUs is from 0.01 to " + std::to_string(cpus) +
                ".00, as there are only " + std::to_string(cpus) + " CPUs available");
  if (r.cpu_shares < 0) throw Error("invalid CPU shares " + std::to_string(r.cpu_shares));
}

// Docker: unset swap with a memory limit means as much swap as memory (mem+swap = 2x).
int64_t memsw_total(const Resources& r) {
  return r.memory_swap == 0 ? 2 * r.memory : r.memory_swap;
}

void plan_v1(const Layout& layout, const Resources& r, bool privileged, Plan& plan,
             const std::string& parent, const std::string& id) {
  auto dir_of = [&](const std::string& controller) -> std::string {
    const Hierarchy* h = find_v1(layout, controller);
    return h ? container_dir(*h, parent, id) : std::string();
  };
  auto add = [&](const std::string& dir, const char* file, std::string value,
                 bool optional = false) {
    plan.writes.push_back({fs::join(dir, file), std::move(value), optional});
  };
  if (r.memory > 0) {
    if (plan.memory_dir.empty()) missing_controller("memory", "a memory limit");
    // memory before memsw: a fresh cgroup has both unlimited and memsw may never be below memory.
    add(plan.memory_dir, "memory.limit_in_bytes", std::to_string(r.memory));
    add(plan.memory_dir, "memory.memsw.limit_in_bytes", std::to_string(memsw_total(r)), true);
  }
  if (r.nano_cpus > 0 || r.cpu_shares > 0) {
    if (plan.cpu_dir.empty()) missing_controller("cpu", "a CPU limit");
    if (r.nano_cpus > 0) {
      add(plan.cpu_dir, "cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
      add(plan.cpu_dir, "cpu.cfs_quota_us",
          std::to_string(r.nano_cpus * kCpuPeriodUs / 1000000000LL));
    }
    if (r.cpu_shares > 0) add(plan.cpu_dir, "cpu.shares", std::to_string(r.cpu_shares));
  }
  if (r.pids_limit != 0) {
    if (plan.pids_dir.empty()) missing_controller("pids", "a pids limit");
    add(plan.pids_dir, "pids.max", r.pids_limit > 0 ? std::to_string(r.pids_limit) : "max");
  }
  std::string devices = dir_of("devices");
  if (privileged) {
    if (!devices.empty()) add(devices, "devices.allow", "a");
    return;
  }
  // Without a policy, CAP_MKNOD lets container root open the host's disks.
  if (devices.empty()) missing_controller("devices", "the device policy");
  add(devices, "devices.deny", "a");
  for (auto& rule : default_device_rules()) add(devices, "devices.allow", to_string(rule));
  add(devices, "devices.deny", "c 10:229 rwm");  // /dev/fuse, as Docker says it explicitly
}

void plan_v2(const Layout& layout, const Resources& r, bool privileged, Plan& plan) {
  const Hierarchy* h = nullptr;
  for (auto& x : layout.hierarchies)
    if (x.unified) h = &x;
  const std::string& dir = plan.dirs.front();
  auto add = [&](const char* file, std::string value, bool optional = false) {
    plan.writes.push_back({fs::join(dir, file), std::move(value), optional});
  };
  if (r.memory > 0) {
    if (!h->has("memory")) missing_controller("memory", "a memory limit");
    add("memory.max", std::to_string(r.memory));
    // v2 limits swap alone: mem+swap minus memory. Absent without swap accounting.
    add("memory.swap.max", r.memory_swap == -1 ? "max" : std::to_string(memsw_total(r) - r.memory),
        true);
  }
  if (r.nano_cpus > 0 || r.cpu_shares > 0) {
    if (!h->has("cpu")) missing_controller("cpu", "a CPU limit");
    if (r.nano_cpus > 0)
      add("cpu.max", std::to_string(r.nano_cpus * kCpuPeriodUs / 1000000000LL) + " " +
                         std::to_string(kCpuPeriodUs));
    if (r.cpu_shares > 0)
      add("cpu.weight", std::to_string(cpu_shares_to_weight(static_cast<uint64_t>(r.cpu_shares))));
  }
  if (r.pids_limit != 0) {
    if (!h->has("pids")) missing_controller("pids", "a pids limit");
    add("pids.max", r.pids_limit > 0 ? std::to_string(r.pids_limit) : "max");
  }
  plan.device_policy_bpf = !privileged;
}

}  // namespace

namespace detail {

std::string clean_parent(const std::string& parent) {
  std::vector<std::string> parts;
  for (auto& p : str::split(parent, '/')) {
    if (p.empty()) continue;
    if (p == "." || p == "..")
      throw Error("invalid cgroup parent \"" + parent + "\"", "use a path without . or ..");
    parts.push_back(p);
  }
  if (parts.empty())
    throw Error("invalid cgroup parent \"" + parent + "\"", "use a name such as berth");
  return str::join(parts, "/");
}

bool uses_hierarchy(const Layout& layout, const Hierarchy& h) {
  if (layout.mode == Mode::Unified) return h.unified;
  // Hybrid: controllers bound to the unified tree are not used (as in runc's hybrid mode), so
  // on this kind of host the unified tree (hugetlb only) gets no container dir.
  if (h.unified) return false;
  return std::any_of(h.controllers.begin(), h.controllers.end(),
                     [](auto& c) { return kV1Used.count(c) > 0; });
}

}  // namespace detail

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  // A quadratic in log2(shares) through (2, 1), (1024, 100) and (262144, 10000): the default
  // weight maps to the default weight, unlike the older linear formula.
  // In long double: the same ceilings as libm's log2 and pow in double, for every share value
  // (tests/unit/cgroup/fake_cgroupfs.cpp checks them all).
  long double l = num::log2_of(shares);
  long double exponent = (l * l + 125 * l) / 612.0L - 7.0L / 34.0L;
  long double scaled = num::exp10_of(exponent) - 1e-9L;  // 1e-9: 1024 must give 100, not 101
  auto weight = static_cast<uint64_t>(scaled);
  if (static_cast<long double>(weight) < scaled) ++weight;  // ceil
  return std::clamp<uint64_t>(weight, 1, 10000);
}

const std::vector<DeviceRule>& default_device_rules() {
  static const std::vector<DeviceRule> rules = {
      {'c', -1, -1, "m"}, {'b', -1, -1, "m"},     // mknod of any node; opening it is another matter
      {'c', 1, 3, "rwm"}, {'c', 1, 8, "rwm"},     // null, random
      {'c', 1, 7, "rwm"}, {'c', 1, 5, "rwm"},     // full, zero
      {'c', 1, 9, "rwm"}, {'c', 5, 0, "rwm"},     // urandom, tty
      {'c', 5, 1, "rwm"}, {'c', 136, -1, "rwm"},  // console, /dev/pts/*
      {'c', 5, 2, "rwm"}, {'c', 10, 200, "rwm"},  // ptmx, net/tun
  };
  return rules;
}

std::string to_string(const DeviceRule& rule) {
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, rule.type) + " " + num(rule.major) + ":" + num(rule.minor) + " " +
         rule.access;
}

Plan plan_container(const Layout& layout, const std::string& parent, const std::string& id,
                    const Resources& resources, bool privileged) {
  validate(resources);
  Plan plan = base_plan(layout, parent, id);
  if (plan.unified)
    plan_v2(layout, resources, privileged, plan);
  else
    plan_v1(layout, resources, privileged, plan, detail::clean_parent(parent), id);
  return plan;
}

Plan plan_for_existing(const Layout& layout, const std::string& parent_in, const std::string& id) {
  Plan plan = base_plan(layout, parent_in, id);
  const std::string parent = detail::clean_parent(parent_in);
  for (auto& h : layout.hierarchies) {
    std::string dir = container_dir(h, parent, id);
    if (std::find(plan.dirs.begin(), plan.dirs.end(), dir) == plan.dirs.end() && fs::is_dir(dir))
      plan.dirs.push_back(dir);
  }
  return plan;
}

std::vector<std::string> leftover_ids(const Layout& layout, const std::string& parent_in) {
  const std::string parent = detail::clean_parent(parent_in);
  std::set<std::string> ids;
  for (auto& h : layout.hierarchies) {
    std::string base = fs::join(h.mount_point, parent);
    for (auto& name : fs::list_dir(base))
      if (fs::is_dir(fs::join(base, name))) ids.insert(name);
  }
  return {ids.begin(), ids.end()};
}

json to_json(const Plan& plan) {
  json writes = json::array();
  for (auto& w : plan.writes)
    writes.push_back({{"path", w.path}, {"value", w.value}, {"optional", w.optional}});
  return {{"dirs", plan.dirs},
          {"writes", writes},
          {"freezer_dir", plan.freezer_dir},
          {"memory_dir", plan.memory_dir},
          {"pids_dir", plan.pids_dir},
          {"cpu_dir", plan.cpu_dir},
          {"cpuacct_dir", plan.cpuacct_dir},
          {"unified", plan.unified},
          {"device_policy_bpf", plan.device_policy_bpf}};
}

Plan plan_from_json(const json& j) {
  try {
    Plan plan;
    plan.dirs = j.at("dirs").get<std::vector<std::string>>();
    for (auto& w : j.at("writes"))
      plan.writes.push_back({w.at("path").get<std::string>(), w.at("value").get<std::string>(),
                             w.value("optional", false)});
    plan.freezer_dir = j.value("freezer_dir", "");
    plan.memory_dir = j.value("memory_dir", "");
    plan.pids_dir = j.value("pids_dir", "");
    plan.cpu_dir = j.value("cpu_dir", "");
    plan.cpuacct_dir = j.value("cpuacct_dir", "");
    plan.unified = j.value("unified", false);
    plan.device_policy_bpf = j.value("device_policy_bpf", false);
    for (auto& d : plan.dirs)
      if (d.empty() || d[0] != '/') throw Error("cgroup plan has a relative dir \"" + d + "\"");
    return plan;
  } catch (const json::exception& e) {
    throw Error(std::string("malformed cgroup plan: ") + e.what());
  }
}

}  // namespace berth::cgroup
