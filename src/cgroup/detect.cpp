// Which cgroup hierarchies this host has, and where they are mounted.
#include <sys/statfs.h>

#include <algorithm>
#include <set>

#include "berth/cgroup/cgroup.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

namespace berth::cgroup {
namespace {

constexpr long kCgroup2Magic = 0x63677270;
const char* const kDefaultMountinfo = "/proc/self/mountinfo";

// v1 subsystems the kernel knows; other super options (rw, noprefix, clone_children, xattr,
// release_agent=…) are not controllers.
const std::set<std::string> kV1Controllers = {
    "cpu",        "cpuacct",  "cpuset",  "memory", "devices", "freezer", "net_cls", "blkio",
    "perf_event", "net_prio", "hugetlb", "pids",   "rdma",    "misc",    "debug"};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct CgroupMount {
  std::string device;  // major:minor: bind mounts of one hierarchy share it
  std::string mount_point;
  bool unified;
  std::vector<std::string> controllers;  // v1 only
};

std::vector<CgroupMount> parse_mountinfo(const std::string& text) {
  std::vector<CgroupMount> mounts;
  for (const auto& line : str::split(text, '\n')) {
    std::vector<std::string> fields;
    for (auto& f : str::split(line, ' '))
      if (!f.empty()) fields.push_back(f);
    // id parent major:minor root mount_point options [optional…] - fstype source super_options
    if (fields.size() < 10) continue;
    auto dash = std::find(fields.begin() + 6, fields.end(), "-");
    if (fields.end() - dash < 4) continue;
    const std::string& fstype = *(dash + 1);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m{fields[2], unescape(fields[4]), fstype == "cgroup2", {}};
    if (!m.unified) {
      for (auto& opt : str::split(*(dash + 3), ','))
        if (kV1Controllers.count(opt) || opt.starts_with("name=")) m.controllers.push_back(opt);
      if (m.controllers.empty()) continue;
    }
    mounts.push_back(std::move(m));
  }
  return mounts;
}

std::vector<std::string> read_v2_controllers(const std::string& mount_point) {
  std::vector<std::string> out;
  auto text = fs::read_file_if_exists(fs::join(mount_point, "cgroup.controllers"));
  if (!text) return out;
  for (auto& c : str::split(str::trim(*text), ' '))
    if (!c.empty()) out.push_back(c);
  return out;
}

bool is_cgroup2(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kCgroup2Magic;
}

}  // namespace

std::string to_string(Mode mode) {
  switch (mode) {
    case Mode::Legacy:
      return "legacy";
    case Mode::Hybrid:
      return "hybrid";
    case Mode::Unified:
      return "unified";
  }
  return "unknown";
}

bool Hierarchy::has(const std::string& controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

Layout detect_from(const std::string& mountinfo_text, std::optional<Mode> root_mode) {
  auto mounts = parse_mountinfo(mountinfo_text);
  bool any_v1 = std::any_of(mounts.begin(), mounts.end(), [](auto& m) { return !m.unified; });
  bool any_v2 = std::any_of(mounts.begin(), mounts.end(), [](auto& m) { return m.unified; });
  Layout layout;
  if (root_mode) {
    layout.mode = *root_mode;
  } else if (any_v1) {
    layout.mode = any_v2 ? Mode::Hybrid : Mode::Legacy;
  } else if (any_v2) {
    layout.mode = Mode::Unified;
  } else {
    throw Error("no cgroup filesystem is mounted", "mount cgroup2 on /sys/fs/cgroup");
  }

  if (layout.mode != Mode::Unified) {
    std::set<std::string> seen;
    for (auto& m : mounts) {
      if (m.unified || !seen.insert(m.device).second) continue;
      layout.hierarchies.push_back({m.mount_point, m.controllers, false});
    }
    if (layout.hierarchies.empty())
      throw Error("cgroup v1 is in use but no v1 hierarchy is mounted",
                  "check the cgroup mounts in /proc/self/mountinfo");
  }
  if (layout.mode != Mode::Legacy) {
    // The host's own unified mount when several cgroup2 mounts are listed.
    const std::string preferred =
        layout.mode == Mode::Unified ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    const CgroupMount* chosen = nullptr;
    for (auto& m : mounts) {
      if (!m.unified) continue;
      if (!chosen || (m.mount_point == preferred && chosen->mount_point != preferred)) chosen = &m;
    }
    if (!chosen) {
      if (layout.mode == Mode::Unified)
        throw Error("cgroup v2 is in use but no cgroup2 filesystem is mounted",
                    "mount cgroup2 on /sys/fs/cgroup");
      layout.mode = Mode::Legacy;  // hybrid without a visible unified mount behaves as legacy
    } else {
      layout.hierarchies.push_back(
          {chosen->mount_point, read_v2_controllers(chosen->mount_point), true});
    }
  }
  return layout;
}

bool unified_host() { return is_cgroup2("/sys/fs/cgroup"); }

Layout detect(const std::string& mountinfo_path) {
  std::string text;
  try {
    text = fs::read_file(mountinfo_path);
  } catch (const Error& e) {
    throw Error(std::string("cannot read the cgroup mounts: ") + e.what(), "is /proc mounted?");
  }
  if (mountinfo_path != kDefaultMountinfo) return detect_from(text);
  struct statfs st {};
  if (::statfs("/sys/fs/cgroup", &st) != 0) return detect_from(text);
  if (static_cast<long>(st.f_type) == kCgroup2Magic) return detect_from(text, Mode::Unified);
  return detect_from(text, is_cgroup2("/sys/fs/cgroup/unified") ? Mode::Hybrid : Mode::Legacy);
}

}  // namespace berth::cgroup
