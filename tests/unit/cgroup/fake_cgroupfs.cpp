// The cgroup module against fake cgroupfs trees in a temp dir: legacy (cpu,cpuacct comounted),
// hybrid (this CI host's shape) and unified. A FakeKernel plays the kernel's part: it creates the
// control files on mkdir and removes them before rmdir.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "berth/cgroup/cgroup.h"
#include "berth/cgroup/testing.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

using namespace berth;
using namespace berth::cgroup;

namespace {

// This host's cgroup lines from /proc/self/mountinfo (v1 one controller per mount, cgroup2 at
// unified holding hugetlb). ROOT stands for /sys/fs/cgroup.
const char* const kHybridMountinfo = R"(30 22 0:27 / ROOT rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / ROOT/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / ROOT/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / ROOT/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / ROOT/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / ROOT/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / ROOT/freezer rw,relatime - cgroup cgroup rw,freezer
37 30 0:34 / ROOT/blkio rw,relatime - cgroup cgroup rw,blkio
38 30 0:35 / ROOT/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / ROOT/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / ROOT/unified rw,relatime - cgroup2 cgroup2 rw
)";

// A typical systemd v1 host: comounted cpu,cpuacct and net_cls,net_prio, optional fields, a
// bind mount of the memory hierarchy elsewhere (dropped), and a non-cgroup mount.
const char* const kLegacyMountinfo =
    R"(25 20 0:22 / ROOT ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / ROOT/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / ROOT/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / ROOT/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 25 0:28 / ROOT/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / ROOT/devices rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,devices
33 25 0:30 / ROOT/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer
34 25 0:31 / ROOT/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,pids
35 25 0:32 / ROOT/cpuset rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,cpuset,clone_children
36 25 0:33 / ROOT/blkio rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,blkio
90 60 0:27 /docker /var/lib/other/memory rw,relatime - cgroup cgroup rw,memory
91 60 0:50 / /proc rw,relatime - proc proc rw
)";

const char* const kUnifiedMountinfo =
    R"(24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 24 0:25 / ROOT rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/berth-cgroup-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_tree(path); }
};

std::string read(const std::string& path) { return str::trim(fs::read_file(path)); }

// Control files the fake kernel creates per controller, with the kernel's initial values.
const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kV1Files = {
    {"memory",
     {{"memory.limit_in_bytes", "9223372036854771712"},
      {"memory.usage_in_bytes", "0"},
      {"memory.stat", "cache 0\ntotal_inactive_file 0\n"},
      {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}}},
    {"cpu", {{"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "-1"}, {"cpu.shares", "1024"}}},
    {"cpuacct", {{"cpuacct.usage", "0"}}},
    {"cpuset", {{"cpuset.cpus", ""}, {"cpuset.mems", ""}, {"cgroup.clone_children", "0"}}},
    {"pids", {{"pids.max", "max"}, {"pids.current", "0"}}},
    {"devices", {{"devices.allow", ""}, {"devices.deny", ""}, {"devices.list", "a *:* rwm"}}},
    {"freezer", {{"freezer.state", "THAWED"}}},
};
const std::vector<std::pair<std::string, std::string>> kV2Files = {
    {"cgroup.controllers", ""},
    {"cgroup.subtree_control", ""},
    {"cgroup.freeze", "0"},
    {"cgroup.events", "populated 0\nfrozen 0\n"},
    {"cgroup.kill", ""},
    {"memory.max", "max"},
    {"memory.swap.max", "max"},
    {"memory.current", "0"},
    {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"},
    {"memory.stat", "anon 0\ninactive_file 0\n"},
    {"cpu.max", "max 100000"},
    {"cpu.weight", "100"},
    {"cpu.stat", "usage_usec 0\n"},
    {"pids.max", "max"},
    {"pids.current", "0"}};

// A fake cgroupfs: a temp root, mountinfo text pointing into it, and a fake kernel.
struct FakeHost {
  TempDir tmp;
  std::string root;
  Layout layout;
  bool swap_accounting = false;            // memory.memsw.* exist only with it
  std::vector<std::string> missing_files;  // files the fake kernel "forgets" (missing controller)
  testing::FakeKernel kernel;
  std::vector<std::pair<std::string, size_t>> attached;  // BPF attachments: dir, program size

  explicit FakeHost(const char* mountinfo, Mode mode, const std::string& v2_controllers = "") {
    root = tmp.path + "/cgroup";
    fs::mkdir_p(root);
    std::string text = replace_all(mountinfo, "ROOT", root);
    // The mount points, as the kernel has them, with the root's control files.
    for (auto& line : str::split(text, '\n')) {
      auto fields = str::split(line, ' ');
      if (fields.size() < 5 || fields[4].rfind(root, 0) != 0) continue;
      fs::mkdir_p(fields[4]);
    }
    if (mode == Mode::Unified) fs::write_file(root + "/cgroup.controllers", v2_controllers + "\n");
    if (mode == Mode::Hybrid)
      fs::write_file(root + "/unified/cgroup.controllers", v2_controllers + "\n");
    layout = detect_from(text, mode);
    for (auto& h : layout.hierarchies) populate(h, h.mount_point, true);
    kernel.after_mkdir = [this](const std::string& dir) {
      populate(hierarchy_of(dir), dir, false);
    };
    kernel.before_rmdir = [](const std::string& dir) {
      for (auto& name : fs::list_dir(dir))
        if (!fs::is_dir(dir + "/" + name)) ::unlink((dir + "/" + name).c_str());
    };
    kernel.attach_bpf = [this](const std::string& dir, const std::vector<uint64_t>& program) {
      attached.emplace_back(dir, program.size());
    };
    testing::use_fake_kernel(&kernel);
  }
  ~FakeHost() { testing::use_fake_kernel(nullptr); }

  const Hierarchy& hierarchy_of(const std::string& dir) {
    for (auto& h : layout.hierarchies)
      if (dir.rfind(h.mount_point + "/", 0) == 0) return h;
    FAIL("no hierarchy for " << dir);
    throw 0;
  }

  void put(const std::string& dir, const std::string& name, const std::string& value,
           bool at_root) {
    if (std::find(missing_files.begin(), missing_files.end(), name) != missing_files.end()) return;
    std::string path = dir + "/" + name;
    if (at_root && fs::exists(path)) return;
    fs::write_file(path, value.empty() ? value : value + "\n");
  }

  void populate(const Hierarchy& h, const std::string& dir, bool at_root) {
    put(dir, "cgroup.procs", "", at_root);
    if (h.unified) {
      for (auto& [name, value] : kV2Files) {
        auto controller = name.substr(0, name.find('.'));
        if (controller != "cgroup" && !h.has(controller)) continue;
        put(dir, name, value, at_root);
      }
      return;
    }
    for (auto& c : h.controllers) {
      auto it = kV1Files.find(c);
      if (it == kV1Files.end()) continue;
      for (auto& [name, value] : it->second) put(dir, name, value, at_root);
      if (c == "memory" && swap_accounting)
        put(dir, "memory.memsw.limit_in_bytes", "9223372036854771712", at_root);
    }
  }
};

const FileWrite* find_write(const Plan& plan, const std::string& suffix) {
  for (auto& w : plan.writes)
    if (w.path.ends_with("/" + suffix)) return &w;
  return nullptr;
}

constexpr int64_t MiB = 1024 * 1024;

}  // namespace

TEST_CASE("detect_from: this host's hybrid shape") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  const Layout& l = host.layout;
  CHECK(l.mode == Mode::Hybrid);
  REQUIRE(l.hierarchies.size() == 10);
  CHECK(l.hierarchies[0].mount_point == host.root + "/cpu");
  CHECK(l.hierarchies[0].controllers == std::vector<std::string>{"cpu"});
  CHECK(l.hierarchies[1].controllers == std::vector<std::string>{"cpuacct"});
  CHECK(l.hierarchies[8].controllers == std::vector<std::string>{"name=systemd"});
  CHECK(l.hierarchies[9].unified);
  CHECK(l.hierarchies[9].mount_point == host.root + "/unified");
  CHECK(l.hierarchies[9].controllers == std::vector<std::string>{"hugetlb"});
  // Without a statfs answer the mode is inferred from the mounts.
  CHECK(detect_from(replace_all(kHybridMountinfo, "ROOT", host.root)).mode == Mode::Hybrid);
  // statfs says legacy (unified is not cgroup2): the cgroup2 mount is ignored.
  auto legacy = detect_from(replace_all(kHybridMountinfo, "ROOT", host.root), Mode::Legacy);
  CHECK(legacy.hierarchies.size() == 9);
  CHECK(std::none_of(legacy.hierarchies.begin(), legacy.hierarchies.end(),
                     [](auto& h) { return h.unified; }));
}

TEST_CASE("detect_from: legacy host with comounts, options and a bind mount") {
  FakeHost host(kLegacyMountinfo, Mode::Legacy);
  const Layout& l = host.layout;
  CHECK(l.mode == Mode::Legacy);
  REQUIRE(l.hierarchies.size() == 9);  // the second mount of device 0:27 is dropped
  CHECK(l.hierarchies[0].controllers ==
        std::vector<std::string>{"name=systemd"});  // xattr, release_agent dropped
  CHECK(l.hierarchies[1].mount_point == host.root + "/cpu,cpuacct");
  CHECK(l.hierarchies[1].controllers == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(l.hierarchies[7].controllers ==
        std::vector<std::string>{"cpuset"});  // clone_children dropped
  CHECK(detect_from(replace_all(kLegacyMountinfo, "ROOT", host.root)).mode == Mode::Legacy);
}

TEST_CASE("detect_from: unified host and detect() on a mountinfo file") {
  FakeHost host(kUnifiedMountinfo, Mode::Unified, "cpuset cpu io memory hugetlb pids rdma misc");
  CHECK(host.layout.mode == Mode::Unified);
  REQUIRE(host.layout.hierarchies.size() == 1);
  CHECK(host.layout.hierarchies[0].unified);
  CHECK(host.layout.hierarchies[0].controllers.size() == 8);
  CHECK(host.layout.hierarchies[0].has("memory"));

  std::string file = host.tmp.path + "/mountinfo";
  fs::write_file(file, replace_all(kUnifiedMountinfo, "ROOT", host.root));
  auto detected = detect(file);
  CHECK(detected.mode == Mode::Unified);
  CHECK(detected.hierarchies[0].mount_point == host.root);

  CHECK_THROWS_AS(detect_from("91 60 0:50 / /proc rw,relatime - proc proc rw\n"), Error);
  CHECK_THROWS_AS(detect_from("", Mode::Unified), Error);
}

TEST_CASE("detect_from: escaped mount points") {
  auto l = detect_from(R"(31 30 0:28 / /tmp/a\040b/memory rw - cgroup cgroup rw,memory)");
  REQUIRE(l.hierarchies.size() == 1);
  CHECK(l.hierarchies[0].mount_point == "/tmp/a b/memory");
}

TEST_CASE("detect() on this host: hybrid with memory at /sys/fs/cgroup/memory") {
  if (!fs::is_dir("/sys/fs/cgroup/unified")) {
    MESSAGE("skipped: /sys/fs/cgroup/unified is absent (not the CI host's shape)");
    return;
  }
  Layout l = detect();
  CHECK(l.mode == Mode::Hybrid);
  auto memory = std::find_if(l.hierarchies.begin(), l.hierarchies.end(),
                             [](auto& h) { return h.has("memory"); });
  REQUIRE(memory != l.hierarchies.end());
  CHECK(memory->mount_point == "/sys/fs/cgroup/memory");
  CHECK_FALSE(memory->unified);
  // Planning is pure: absolute dirs at each hierarchy's root, never under our own /process_api
  // cgroup.
  Plan plan = plan_container(l, "berth", "abc", {.memory = 64 * MiB}, false);
  CHECK(plan.memory_dir == "/sys/fs/cgroup/memory/berth/abc");
  for (auto& d : plan.dirs) CHECK(d.find("/unified/") == std::string::npos);
}

TEST_CASE("plan: hybrid dirs, one per v1 hierarchy used, none in the hugetlb-only unified tree") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  Plan plan = plan_container(host.layout, "/berth/", "c1", {}, false);
  CHECK(plan.dirs.size() == 9);
  CHECK(plan.dirs.front() == host.root + "/cpu/berth/c1");
  CHECK(plan.dirs.back() == host.root + "/systemd/berth/c1");
  CHECK(plan.memory_dir == host.root + "/memory/berth/c1");
  CHECK(plan.cpu_dir == host.root + "/cpu/berth/c1");
  CHECK(plan.cpuacct_dir == host.root + "/cpuacct/berth/c1");
  CHECK(plan.pids_dir == host.root + "/pids/berth/c1");
  CHECK(plan.freezer_dir == host.root + "/freezer/berth/c1");
  CHECK_FALSE(plan.unified);
  CHECK_FALSE(plan.device_policy_bpf);
  CHECK_THROWS_AS(plan_container(host.layout, "../x", "c1", {}, false), Error);
  CHECK_THROWS_AS(plan_container(host.layout, "berth", "a/b", {}, false), Error);
  // Nested parents keep their path.
  CHECK(plan_container(host.layout, "a//b", "c1", {}, false).memory_dir ==
        host.root + "/memory/a/b/c1");
}

TEST_CASE("plan: legacy comount gives one dir for cpu and cpuacct; net_cls is not joined") {
  FakeHost host(kLegacyMountinfo, Mode::Legacy);
  Plan plan = plan_container(host.layout, "berth", "c1", {.nano_cpus = 500000000}, false);
  CHECK(plan.dirs.size() == 8);
  CHECK(plan.cpu_dir == plan.cpuacct_dir);
  CHECK(plan.cpu_dir == host.root + "/cpu,cpuacct/berth/c1");
  for (auto& d : plan.dirs) CHECK(d.find("net_cls") == std::string::npos);
  CHECK(find_write(plan, "cpu.cfs_quota_us")->value == "50000");
}

TEST_CASE("plan v1: writes for each resource, in order") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  const std::string m = host.root + "/memory/berth/c1/";
  SUBCASE("memory with unset swap: mem+swap is twice the memory, and optional") {
    Plan p = plan_container(host.layout, "berth", "c1", {.memory = 64 * MiB}, false);
    REQUIRE(p.writes.size() >= 2);
    CHECK(p.writes[0] == FileWrite{m + "memory.limit_in_bytes", "67108864", false});
    CHECK(p.writes[1] == FileWrite{m + "memory.memsw.limit_in_bytes", "134217728", true});
  }
  SUBCASE("swap -1 is unlimited, an explicit value is mem+swap") {
    auto p =
        plan_container(host.layout, "berth", "c1", {.memory = 64 * MiB, .memory_swap = -1}, false);
    CHECK(find_write(p, "memory.memsw.limit_in_bytes")->value == "-1");
    p = plan_container(host.layout, "berth", "c1", {.memory = 64 * MiB, .memory_swap = 100 * MiB},
                       false);
    CHECK(find_write(p, "memory.memsw.limit_in_bytes")->value == "104857600");
  }
  SUBCASE("cpus: period then quota; shares") {
    auto p = plan_container(host.layout, "berth", "c1",
                            {.nano_cpus = 1500000000, .cpu_shares = 512}, false);
    const std::string c = host.root + "/cpu/berth/c1/";
    REQUIRE(p.writes.size() >= 3);
    CHECK(p.writes[0] == FileWrite{c + "cpu.cfs_period_us", "100000", false});
    CHECK(p.writes[1] == FileWrite{c + "cpu.cfs_quota_us", "150000", false});
    CHECK(p.writes[2] == FileWrite{c + "cpu.shares", "512", false});
  }
  SUBCASE("pids") {
    CHECK(find_write(plan_container(host.layout, "berth", "c1", {.pids_limit = 100}, false),
                     "pids.max")
              ->value == "100");
    CHECK(find_write(plan_container(host.layout, "berth", "c1", {.pids_limit = -1}, false),
                     "pids.max")
              ->value == "max");
    CHECK(find_write(plan_container(host.layout, "berth", "c1", {}, false), "pids.max") == nullptr);
  }
  SUBCASE("nothing set: only the device policy") {
    Plan p = plan_container(host.layout, "berth", "c1", {}, false);
    const std::string d = host.root + "/devices/berth/c1/";
    std::vector<FileWrite> expected = {{d + "devices.deny", "a"},
                                       {d + "devices.allow", "c *:* m"},
                                       {d + "devices.allow", "b *:* m"},
                                       {d + "devices.allow", "c 1:3 rwm"},
                                       {d + "devices.allow", "c 1:8 rwm"},
                                       {d + "devices.allow", "c 1:7 rwm"},
                                       {d + "devices.allow", "c 1:5 rwm"},
                                       {d + "devices.allow", "c 1:9 rwm"},
                                       {d + "devices.allow", "c 5:0 rwm"},
                                       {d + "devices.allow", "c 5:1 rwm"},
                                       {d + "devices.allow", "c 136:* rwm"},
                                       {d + "devices.allow", "c 5:2 rwm"},
                                       {d + "devices.allow", "c 10:200 rwm"},
                                       {d + "devices.deny", "c 10:229 rwm"}};
    CHECK(p.writes == expected);
  }
  SUBCASE("privileged: every device") {
    Plan p = plan_container(host.layout, "berth", "c1", {}, true);
    REQUIRE(p.writes.size() == 1);
    CHECK(p.writes[0] == FileWrite{host.root + "/devices/berth/c1/devices.allow", "a", false});
  }
}

TEST_CASE("plan: Docker's validation") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  auto plan = [&](Resources r) { return plan_container(host.layout, "berth", "c1", r, false); };
  CHECK_THROWS_WITH_AS(plan({.memory_swap = 100 * MiB}),
                       doctest::Contains("always set the Memory limit"), Error);
  CHECK_NOTHROW(plan({.memory_swap = -1}));
  CHECK_THROWS_WITH_AS(plan({.memory = 64 * MiB, .memory_swap = 32 * MiB}),
                       doctest::Contains("memoryswap limit should be larger"), Error);
  CHECK_THROWS_WITH_AS(plan({.memory = 4 * MiB}), "Minimum memory limit allowed is 6MB", Error);
  CHECK_THROWS_WITH_AS(plan({.nano_cpus = 1000000}),
                       doctest::Contains("Range of CPUs is from 0.01"), Error);
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  CHECK_NOTHROW(plan({.nano_cpus = cpus * 1000000000LL}));
  CHECK_THROWS_AS(plan({.nano_cpus = (cpus + 1) * 1000000000LL}), Error);
  CHECK_THROWS_AS(plan({.cpu_shares = -5}), Error);
}

TEST_CASE("plan v2: files, conversions and the BPF device policy") {
  FakeHost host(kUnifiedMountinfo, Mode::Unified, "cpuset cpu io memory pids");
  const std::string d = host.root + "/berth/c1/";
  Plan p = plan_container(
      host.layout, "berth", "c1",
      {.memory = 64 * MiB, .nano_cpus = 1500000000, .cpu_shares = 1024, .pids_limit = 50}, false);
  CHECK(p.unified);
  CHECK(p.device_policy_bpf);
  CHECK(p.dirs == std::vector<std::string>{host.root + "/berth/c1"});
  CHECK(p.freezer_dir == host.root + "/berth/c1");
  CHECK(p.memory_dir == p.freezer_dir);
  CHECK(p.pids_dir == p.freezer_dir);
  std::vector<FileWrite> expected = {
      {d + "memory.max", "67108864"},
      {d + "memory.swap.max", "67108864", true},  // 2x memory − memory
      {d + "cpu.max", "150000 100000"},
      {d + "cpu.weight", "100"},
      {d + "pids.max", "50"}};
  CHECK(p.writes == expected);
  auto swap = [&](int64_t s) {
    return find_write(plan_container(host.layout, "berth", "c1",
                                     {.memory = 64 * MiB, .memory_swap = s}, false),
                      "memory.swap.max")
        ->value;
  };
  CHECK(swap(-1) == "max");
  CHECK(swap(64 * MiB) == "0");
  CHECK(swap(100 * MiB) == std::to_string(36 * MiB));
  CHECK_FALSE(plan_container(host.layout, "berth", "c1", {}, true).device_policy_bpf);
  CHECK(plan_container(host.layout, "berth", "c1", {}, true).writes.empty());
}

TEST_CASE("plan v2: a limit whose controller is not delegated is an error") {
  FakeHost host(kUnifiedMountinfo, Mode::Unified, "cpu io memory");
  CHECK_THROWS_WITH_AS(plan_container(host.layout, "berth", "c1", {.pids_limit = 10}, false),
                       doctest::Contains("pids cgroup controller"), Error);
  CHECK(plan_container(host.layout, "berth", "c1", {}, false).pids_dir.empty());
}

TEST_CASE("cpu shares to weight") {
  CHECK(cpu_shares_to_weight(0) == 0);
  CHECK(cpu_shares_to_weight(1) == 1);
  CHECK(cpu_shares_to_weight(2) == 1);
  CHECK(cpu_shares_to_weight(512) == 59);
  CHECK(cpu_shares_to_weight(1024) == 100);
  CHECK(cpu_shares_to_weight(2048) == 174);
  CHECK(cpu_shares_to_weight(262144) == 10000);
  CHECK(cpu_shares_to_weight(1000000) == 10000);
  uint64_t last = 0;
  for (uint64_t s = 2; s <= 262144; s = s * 3 / 2 + 1) {
    CHECK(cpu_shares_to_weight(s) >= last);
    last = cpu_shares_to_weight(s);
  }
}

TEST_CASE("plan JSON round trip") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  Plan p = plan_container(host.layout, "berth", "c1", {.memory = 64 * MiB, .pids_limit = 5}, false);
  json j = to_json(p);
  CHECK(plan_from_json(json::parse(j.dump())) == p);
  FakeHost v2(kUnifiedMountinfo, Mode::Unified, "cpu memory pids");
  Plan q = plan_container(v2.layout, "berth", "c1", {.cpu_shares = 2048}, false);
  CHECK(plan_from_json(to_json(q)) == q);
  CHECK_THROWS_AS(plan_from_json(json{{"dirs", 3}}), Error);
  CHECK_THROWS_AS(plan_from_json(json{{"dirs", {"relative"}}, {"writes", json::array()}}), Error);
}

TEST_CASE("hybrid fake tree: ensure_parents, create, join, pids, stats, remove") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  fs::write_file(host.root + "/cpuset/cpuset.cpus", "0-1\n");
  fs::write_file(host.root + "/cpuset/cpuset.mems", "0\n");
  ensure_parents(host.layout, "berth");
  CHECK(fs::is_dir(host.root + "/memory/berth"));
  CHECK(fs::is_dir(host.root + "/systemd/berth"));
  CHECK_FALSE(fs::exists(host.root + "/unified/berth"));
  CHECK(read(host.root + "/cpuset/berth/cpuset.cpus") == "0-1");
  CHECK(read(host.root + "/cpuset/berth/cpuset.mems") == "0");
  CHECK(read(host.root + "/cpuset/berth/cgroup.clone_children") == "1");
  ensure_parents(host.layout, "berth");  // idempotent

  Plan plan = plan_container(
      host.layout, "berth", "c1",
      {.memory = 64 * MiB, .nano_cpus = 500000000, .cpu_shares = 256, .pids_limit = 20}, false);
  create(plan);  // no swap accounting: the optional memsw write is skipped
  for (auto& d : plan.dirs) CHECK(fs::is_dir(d));
  CHECK(read(plan.memory_dir + "/memory.limit_in_bytes") == "67108864");
  CHECK_FALSE(fs::exists(plan.memory_dir + "/memory.memsw.limit_in_bytes"));
  CHECK(read(plan.cpu_dir + "/cpu.cfs_quota_us") == "50000");
  CHECK(read(plan.cpu_dir + "/cpu.shares") == "256");
  CHECK(read(plan.pids_dir + "/pids.max") == "20");
  CHECK(read(host.root + "/devices/berth/c1/devices.deny") == "c 10:229 rwm");  // the last write

  join(plan, 4242);
  for (auto& d : plan.dirs) CHECK(read(d + "/cgroup.procs") == "4242");
  fs::write_file(plan.memory_dir + "/cgroup.procs", "4242\n4243\n");
  CHECK(pids(plan) == std::vector<pid_t>{4242, 4243});

  fs::write_file(plan.memory_dir + "/memory.usage_in_bytes", "10485760\n");
  fs::write_file(plan.memory_dir + "/memory.stat",
                 "cache 4096\nrss 1\ntotal_inactive_file 1048576\n");
  fs::write_file(plan.cpuacct_dir + "/cpuacct.usage", "123456789\n");
  fs::write_file(plan.pids_dir + "/pids.current", "7\n");
  std::string blkio_dir;
  for (const auto& d : plan.dirs)
    if (d.find("/blkio/") != std::string::npos) blkio_dir = d;
  REQUIRE(!blkio_dir.empty());
  fs::write_file(blkio_dir + "/blkio.throttle.io_service_bytes",
                 "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Total 12288\n"
                 "254:16 Read 1000\n254:16 Write 24\nTotal 13312\n");
  Stats s = stats(plan);
  CHECK(s.block_read == 5096);
  CHECK(s.block_write == 8216);
  CHECK(s.memory_usage == 10485760 - 1048576);
  CHECK(s.memory_limit == 67108864);
  CHECK(s.cpu_usage_ns == 123456789);
  CHECK(s.pids == 7);
  fs::write_file(plan.memory_dir + "/memory.limit_in_bytes", "9223372036854771712\n");
  CHECK(stats(plan).memory_limit == 0);

  CHECK(leftover_ids(host.layout, "berth") == std::vector<std::string>{"c1"});
  CHECK(remove(plan, 100));
  for (auto& d : plan.dirs) CHECK_FALSE(fs::exists(d));
  CHECK(remove(plan, 100));  // missing dirs are fine
  CHECK(leftover_ids(host.layout, "berth").empty());
}

TEST_CASE("create: swap accounting present writes memsw") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  host.swap_accounting = true;
  ensure_parents(host.layout, "berth");
  Plan plan = plan_container(host.layout, "berth", "c1", {.memory = 64 * MiB}, false);
  create(plan);
  CHECK(read(plan.memory_dir + "/memory.memsw.limit_in_bytes") == "134217728");
  CHECK(remove(plan, 100));
}

TEST_CASE("create: a failed write names file and value and removes what it made") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  ensure_parents(host.layout, "berth");
  host.missing_files = {"pids.max"};
  Plan plan = plan_container(host.layout, "berth", "c1", {.pids_limit = 20}, false);
  // A dir left by an earlier attempt is reused and kept.
  fs::mkdir_p(host.root + "/memory/berth/c1");
  try {
    create(plan);
    FAIL("create should have thrown");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("\"20\"") != std::string::npos);
    CHECK(msg.find(host.root + "/pids/berth/c1/pids.max") != std::string::npos);
  }
  for (auto& d : plan.dirs)
    if (d != plan.memory_dir) CHECK_FALSE(fs::exists(d));
  CHECK(fs::is_dir(plan.memory_dir));
  // A missing parent is reported as such.
  Plan other = plan_container(host.layout, "notprepared", "c1", {}, false);
  CHECK_THROWS_WITH_AS(create(other), doctest::Contains("cannot create cgroup"), Error);
}

TEST_CASE("unified fake tree: subtree_control, create with BPF attach, freeze, kill, stats") {
  FakeHost host(kUnifiedMountinfo, Mode::Unified, "cpuset cpu io memory hugetlb pids");
  fs::write_file(host.root + "/cgroup.subtree_control", "cpuset cpu io memory pids\n");
  ensure_parents(host.layout, "berth");
  CHECK(read(host.root + "/cgroup.subtree_control") ==
        "cpuset cpu io memory pids");  // already enabled: untouched
  CHECK(read(host.root + "/berth/cgroup.subtree_control") ==
        "+io");  // +cpu +memory +pids +io, one write each

  Plan plan =
      plan_container(host.layout, "berth", "c1", {.memory = 64 * MiB, .pids_limit = 9}, false);
  create(plan);
  REQUIRE(host.attached.size() == 1);
  CHECK(host.attached[0].first == host.root + "/berth/c1");
  CHECK(host.attached[0].second == device_program(false).size());
  CHECK(read(plan.memory_dir + "/memory.max") == "67108864");
  CHECK(read(plan.memory_dir + "/memory.swap.max") == "67108864");
  CHECK(read(plan.pids_dir + "/pids.max") == "9");

  fs::write_file(plan.freezer_dir + "/cgroup.events", "populated 1\nfrozen 1\n");
  freeze(plan, true);
  CHECK(read(plan.freezer_dir + "/cgroup.freeze") == "1");
  fs::write_file(plan.freezer_dir + "/cgroup.events", "populated 1\nfrozen 0\n");
  freeze(plan, false);
  CHECK(read(plan.freezer_dir + "/cgroup.freeze") == "0");

  kill_all(plan, SIGKILL);
  CHECK(read(plan.dirs[0] + "/cgroup.kill") == "1");

  fs::write_file(plan.memory_dir + "/memory.current", "8388608\n");
  fs::write_file(plan.memory_dir + "/memory.stat",
                 "anon 100\nfile 10\ninactive_file 4194304\nactive_file 1\n");
  fs::write_file(plan.cpu_dir + "/cpu.stat", "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
  fs::write_file(plan.pids_dir + "/pids.current", "3\n");
  fs::write_file(plan.dirs[0] + "/io.stat",
                 "254:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n"
                 "254:16 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n");
  Stats s = stats(plan);
  CHECK(s.block_read == 4106);
  CHECK(s.block_write == 532);
  CHECK(s.memory_usage == 4194304);
  CHECK(s.memory_limit == 67108864);
  CHECK(s.cpu_usage_ns == 2500000);
  CHECK(s.pids == 3);
  fs::write_file(plan.memory_dir + "/memory.max", "max\n");
  CHECK(stats(plan).memory_limit == 0);
  CHECK(remove(plan, 100));
  CHECK_FALSE(fs::exists(plan.dirs[0]));
}

TEST_CASE("oom_kill_count: v1 memory.oom_control and v2 memory.events") {
  FakeHost v1(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  ensure_parents(v1.layout, "berth");
  Plan p1 = plan_container(v1.layout, "berth", "c1", {}, false);
  create(p1);
  CHECK(oom_kill_count(p1) == 0);
  fs::write_file(p1.memory_dir + "/memory.oom_control",
                 "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  CHECK(oom_kill_count(p1) == 3);
  CHECK(remove(p1, 100));
  CHECK(oom_kill_count(p1) == 0);  // gone: reads as 0

  FakeHost v2(kUnifiedMountinfo, Mode::Unified, "cpu memory pids");
  ensure_parents(v2.layout, "berth");
  Plan p2 = plan_container(v2.layout, "berth", "c1", {}, false);
  create(p2);
  fs::write_file(p2.memory_dir + "/memory.events",
                 "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n");
  CHECK(oom_kill_count(p2) == 2);
}

TEST_CASE("v1 kill_all freezes, signals every pid in cgroup.procs, thaws") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  ensure_parents(host.layout, "berth");
  Plan plan = plan_container(host.layout, "berth", "c1", {}, false);
  create(plan);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  join(plan, child);
  kill_all(plan, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(read(plan.freezer_dir + "/freezer.state") == "THAWED");
  freeze(plan, true);
  CHECK(read(plan.freezer_dir + "/freezer.state") == "FROZEN");
  freeze(plan, false);
  CHECK(read(plan.freezer_dir + "/freezer.state") == "THAWED");
}

TEST_CASE("plan_for_existing and leftover_ids find dirs in every hierarchy") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  ensure_parents(host.layout, "berth");
  create(plan_container(host.layout, "berth", "aaa", {}, false));
  create(plan_container(host.layout, "berth", "bbb", {}, true));
  // A stray dir in the unified tree (made by an older layout) is found too.
  fs::mkdir_p(host.root + "/unified/berth/ccc");
  CHECK(leftover_ids(host.layout, "berth") == std::vector<std::string>{"aaa", "bbb", "ccc"});
  Plan existing = plan_for_existing(host.layout, "berth", "ccc");
  CHECK(existing.writes.empty());
  CHECK(existing.dirs.size() == 10);
  CHECK(remove(existing, 100));
  for (auto id : {"aaa", "bbb"}) CHECK(remove(plan_for_existing(host.layout, "berth", id), 100));
  CHECK(leftover_ids(host.layout, "berth").empty());
}

TEST_CASE("remove: sub-cgroups first; a dir that cannot go is reported") {
  FakeHost host(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  ensure_parents(host.layout, "berth");
  Plan plan = plan_container(host.layout, "berth", "c1", {}, false);
  create(plan);
  // A sub-cgroup made inside the container is removed first.
  fs::mkdir_p(plan.memory_dir + "/inner");
  // Control files the fake kernel leaves behind keep the dir from going (ENOTEMPTY: not retried).
  auto before = host.kernel.before_rmdir;
  host.kernel.before_rmdir = [&](const std::string& dir) {
    if (dir != plan.pids_dir) before(dir);
  };
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(remove(plan, 200));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  CHECK_FALSE(fs::exists(plan.memory_dir));
  CHECK(fs::exists(plan.pids_dir));
  host.kernel.before_rmdir = before;
  CHECK(remove(plan, 100));
}

TEST_CASE("cpu_shares_to_weight gives libm's ceilings for every share value") {
  uint64_t mismatches = 0, first = 0;
  for (uint64_t shares = 3; shares < 262144; ++shares) {
    double l = std::log2(static_cast<double>(shares));
    double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
    auto want = static_cast<uint64_t>(std::ceil(std::pow(10.0, exponent) - 1e-9));
    if (cpu_shares_to_weight(shares) != want && !mismatches++) first = shares;
  }
  CHECK_MESSAGE(mismatches == 0, "first mismatch at shares=" << first);
}

TEST_CASE("own_procs_file: the calling process's own cgroup.procs, for prime_migrations") {
  FakeHost hybrid(kHybridMountinfo, Mode::Hybrid, "hugetlb");
  // /proc/self/cgroup lists the highest hierarchy id first.
  CHECK(own_procs_file(hybrid.layout, "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/2b8b\n0::/\n") ==
        hybrid.root + "/systemd/cgroup.procs");
  CHECK(own_procs_file(hybrid.layout, "4:memory:/process_api/2b8b\n0::/\n") ==
        hybrid.root + "/memory/process_api/2b8b/cgroup.procs");
  CHECK(own_procs_file(hybrid.layout, "0::/init.scope\n") == hybrid.root + "/unified/init.scope/cgroup.procs");

  FakeHost legacy(kLegacyMountinfo, Mode::Legacy);
  CHECK(own_procs_file(legacy.layout, "3:cpu,cpuacct:/user.slice\n") ==
        legacy.root + "/cpu,cpuacct/user.slice/cgroup.procs");
  // A line for a hierarchy that is not mounted, or garbage: nothing to write.
  CHECK(own_procs_file(legacy.layout, "0::/user.slice\n") == "");
  CHECK(own_procs_file(legacy.layout, "garbage\n7:rdma:/\n") == "");

  FakeHost unified(kUnifiedMountinfo, Mode::Unified, "cpuset cpu io memory hugetlb pids rdma misc");
  CHECK(own_procs_file(unified.layout, "0::/user.slice/user-0.slice/session-1.scope\n") ==
        unified.root + "/user.slice/user-0.slice/session-1.scope/cgroup.procs");
}
