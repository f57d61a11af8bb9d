// Operations on the directories of a Plan: create, join, signal, freeze, read counters, remove.
// They need no knowledge of the cgroup version beyond Plan::unified.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "berth/cgroup/cgroup.h"
#include "berth/cgroup/detail.h"
#include "berth/cgroup/testing.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

namespace berth::cgroup {
namespace {

testing::FakeKernel* g_fake_kernel = nullptr;

using Clock = std::chrono::steady_clock;

// true when this call made the dir, false when it already existed.
bool make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) {
    if (g_fake_kernel && g_fake_kernel->after_mkdir) g_fake_kernel->after_mkdir(path);
    return true;
  }
  if (errno == EEXIST && fs::is_dir(path)) return false;
  int err = errno;
  throw Error("cannot create cgroup " + path + ": " + std::strerror(err),
              err == ENOENT ? "its parent is missing: the cgroup parent was not prepared" : "");
}

int remove_dir(const std::string& path) {
  if (g_fake_kernel && g_fake_kernel->before_rmdir) g_fake_kernel->before_rmdir(path);
  return ::rmdir(path.c_str()) == 0 ? 0 : errno;
}

// A control file takes its value in one write(2). No O_CREAT: a missing file means a missing
// controller, and creating files in cgroupfs fails anyway. Returns 0 or errno.
int write_control(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  do n = ::write(fd.get(), value.data(), value.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return static_cast<size_t>(n) == value.size() ? 0 : EIO;
}

void write_or_throw(const std::string& path, const std::string& value) {
  if (int err = write_control(path, value))
    throw Error("cannot write \"" + value + "\" to " + path + ": " + std::strerror(err));
}

std::optional<std::string> read_control(const std::string& path) {
  try {
    return fs::read_file_if_exists(path);
  } catch (const SysError&) {
    return std::nullopt;  // e.g. ENODEV while the cgroup is being removed: treat as absent
  }
}

uint64_t to_u64(const std::string& s) {
  try {
    return std::stoull(s);
  } catch (...) {
    return 0;
  }
}

std::optional<uint64_t> read_u64(const std::string& path) {
  auto text = read_control(path);
  if (!text) return std::nullopt;
  auto value = str::trim(*text);
  if (value.empty() || !std::isdigit(static_cast<unsigned char>(value[0])))
    return std::nullopt;  // "max"
  return to_u64(value);
}

// "key value" lines (memory.stat, memory.events, cpu.stat, memory.oom_control).
std::optional<uint64_t> read_keyed(const std::string& path, const std::string& key) {
  auto text = read_control(path);
  if (!text) return std::nullopt;
  for (auto& line : str::split(*text, '\n')) {
    auto space = line.find(' ');
    if (space != std::string::npos && line.compare(0, space, key) == 0)
      return to_u64(line.substr(space + 1));
  }
  return std::nullopt;
}

std::set<std::string> words(const std::string& text) {
  std::set<std::string> out;
  for (auto& w : str::split(str::trim(text), ' '))
    if (!w.empty()) out.insert(w);
  return out;
}

bool wait_until(const std::chrono::milliseconds timeout, const std::function<bool()>& done,
                const std::function<void()>& nudge = {}) {
  auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::microseconds(500);
  for (int round = 0;; ++round) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
    if (nudge && round % 4 == 3) nudge();
  }
}

void freeze_for(const Plan& plan, bool frozen, std::chrono::milliseconds timeout) {
  if (plan.freezer_dir.empty())
    throw Error(
        "pausing a container needs the freezer cgroup controller, which this host does not "
        "provide");
  if (plan.unified) {
    const std::string events = fs::join(plan.freezer_dir, "cgroup.events");
    write_or_throw(fs::join(plan.freezer_dir, "cgroup.freeze"), frozen ? "1" : "0");
    if (!fs::exists(events)) return;
    auto reached = [&] {
      return read_keyed(events, "frozen").value_or(frozen ? 1 : 0) == (frozen ? 1u : 0u);
    };
    if (wait_until(timeout, reached)) return;
    if (frozen) write_control(fs::join(plan.freezer_dir, "cgroup.freeze"), "0");
    throw Error("timed out waiting for cgroup " + plan.freezer_dir +
                (frozen ? " to freeze" : " to thaw"));
  }
  const std::string state_file = fs::join(plan.freezer_dir, "freezer.state");
  const std::string want = frozen ? "FROZEN" : "THAWED";
  write_or_throw(state_file, want);
  auto reached = [&] { return str::trim(read_control(state_file).value_or("")) == want; };
  // A task in an uninterruptible sleep can hold the cgroup in FREEZING: writing FROZEN again
  // retries.
  auto nudge = [&] { write_control(state_file, want); };
  if (wait_until(timeout, reached, nudge)) return;
  if (frozen) write_control(state_file, "THAWED");
  throw Error(
      "timed out waiting for cgroup " + plan.freezer_dir + (frozen ? " to freeze" : " to thaw"),
      "a process may be stuck in the kernel (state D)");
}

// Children first: a container with its own cgroup namespace may have made sub-cgroups.
bool remove_tree(const std::string& dir, Clock::time_point deadline) {
  // Usually there are no sub-cgroups: one rmdir, without listing the control files.
  if (int err = remove_dir(dir); err == 0 || err == ENOENT) return true;
  for (auto& name : fs::list_dir(dir)) {
    std::string child = fs::join(dir, name);
    struct stat st {};
    if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !remove_tree(child, deadline))
      return false;
  }
  for (;;) {
    int err = remove_dir(dir);
    if (err == 0 || err == ENOENT) return true;
    if (err != EBUSY || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

void testing::use_fake_kernel(testing::FakeKernel* kernel) { g_fake_kernel = kernel; }

void ensure_parents(const Layout& layout, const std::string& parent_in) {
  const std::string parent = detail::clean_parent(parent_in);
  for (auto& h : layout.hierarchies) {
    if (!detail::uses_hierarchy(layout, h)) continue;
    std::vector<std::string> levels{h.mount_point};
    for (auto& part : str::split(parent, '/')) {
      levels.push_back(fs::join(levels.back(), part));
      make_dir(levels.back());
    }
    if (h.unified) {
      // Each level must enable a controller for the next one down, from the root.
      std::vector<std::string> wanted;
      for (const char* c : {"cpu", "memory", "pids", "io"})
        if (h.has(c)) wanted.push_back(c);
      for (auto& level : levels) {
        const std::string control = fs::join(level, "cgroup.subtree_control");
        auto enabled = words(read_control(control).value_or(""));
        for (auto& c : wanted)
          if (!enabled.count(c)) write_or_throw(control, "+" + c);
      }
    } else if (h.has("cpuset")) {
      // A v1 cpuset cgroup starts with no CPUs and no memory nodes; no task can join it so.
      for (size_t i = 1; i < levels.size(); ++i)
        for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
          const std::string mine = fs::join(levels[i], file);
          if (!str::trim(read_control(mine).value_or("")).empty()) continue;
          write_or_throw(mine, str::trim(read_control(fs::join(levels[i - 1], file)).value_or("")));
        }
      // Container dirs then inherit the parent's cpus and mems when they are made.
      write_or_throw(fs::join(levels.back(), "cgroup.clone_children"), "1");
    }
  }
}

void create(const Plan& plan) {
  std::vector<std::string> made;
  try {
    for (auto& dir : plan.dirs)
      if (make_dir(dir)) made.push_back(dir);
    for (auto& w : plan.writes) {
      int err = write_control(w.path, w.value);
      if (err == ENOENT && w.optional) continue;
      if (err)
        throw Error("cannot write \"" + w.value + "\" to " + w.path + ": " + std::strerror(err),
                    err == ENOENT ? "the cgroup controller for this limit is not available" : "");
    }
    if (plan.device_policy_bpf) {
      if (plan.dirs.empty()) throw Error("cgroup plan has a device policy but no dir");
      auto program = device_program(false);
      if (g_fake_kernel && g_fake_kernel->attach_bpf)
        g_fake_kernel->attach_bpf(plan.dirs.front(), program);
      else
        attach_device_program(plan.dirs.front(), program);
    }
  } catch (...) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) remove_dir(*it);
    throw;
  }
}

void join(const Plan& plan, pid_t pid) {
  for (auto& dir : plan.dirs) write_or_throw(fs::join(dir, "cgroup.procs"), std::to_string(pid));
}

std::vector<pid_t> pids(const Plan& plan) {
  std::set<pid_t> all;
  for (auto& dir : plan.dirs) {
    auto text = read_control(fs::join(dir, "cgroup.procs"));
    if (!text) continue;
    for (auto& line : str::split(*text, '\n'))
      if (!line.empty()) {
        if (auto pid = static_cast<pid_t>(to_u64(line)); pid > 0) all.insert(pid);
      }
  }
  return {all.begin(), all.end()};
}

void kill_all(const Plan& plan, int sig) {
  if (plan.unified && sig == SIGKILL && !plan.dirs.empty()) {
    const std::string kill_file = fs::join(plan.dirs.front(), "cgroup.kill");
    if (fs::exists(kill_file) && write_control(kill_file, "1") == 0) return;
  }
  // Nothing to signal (the usual case once PID 1 has exited): skip the freeze round trip.
  if (pids(plan).empty()) return;
  // Without cgroup.kill, freeze first so that no process forks a child we have not seen.
  bool frozen = false;
  if (sig == SIGKILL && !plan.freezer_dir.empty()) {
    try {
      freeze_for(plan, true, std::chrono::milliseconds(1000));
      frozen = true;
    } catch (const Error&) {
      // Kill what we can see; the caller's remove() retries while stragglers exit.
    }
  }
  for (pid_t pid : pids(plan)) ::kill(pid, sig);
  if (frozen) {
    try {
      freeze_for(plan, false, std::chrono::milliseconds(1000));
    } catch (const Error&) {
    }
  }
}

bool remove(const Plan& plan, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool all_gone = true;
  for (auto& dir : plan.dirs)
    if (!remove_tree(dir, deadline)) all_gone = false;
  return all_gone;
}

uint64_t oom_kill_count(const Plan& plan) {
  if (plan.memory_dir.empty()) return 0;
  const char* file = plan.unified ? "memory.events" : "memory.oom_control";
  return read_keyed(fs::join(plan.memory_dir, file), "oom_kill").value_or(0);
}

void freeze(const Plan& plan, bool frozen) {
  freeze_for(plan, frozen, std::chrono::milliseconds(5000));
}

namespace {

// Bytes read and written by the container, summed over devices. v1: blkio's
// "MAJ:MIN Read N" / "MAJ:MIN Write N" lines; v2: io.stat's "MAJ:MIN rbytes=N wbytes=N ...".
void add_block_io(const Plan& plan, Stats& s) {
  for (const auto& dir : plan.dirs) {
    bool v2 = plan.unified;
    if (!v2 && dir.find("/blkio/") == std::string::npos) continue;
    auto text = fs::read_file_if_exists(fs::join(dir, v2 ? "io.stat" : "blkio.throttle.io_service_bytes"));
    if (!text) continue;
    size_t start = 0;
    while (start < text->size()) {
      size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(start, end - start);
      start = end + 1;
      auto number_after = [&](const std::string& key) -> uint64_t {
        size_t at = line.find(key);
        return at == std::string::npos ? 0 : std::strtoull(line.c_str() + at + key.size(), nullptr, 10);
      };
      if (v2) {
        s.block_read += number_after(" rbytes=");
        s.block_write += number_after(" wbytes=");
      } else {
        s.block_read += number_after(" Read ");
        s.block_write += number_after(" Write ");
      }
    }
    break;  // one hierarchy holds these counters
  }
}

}  // namespace

Stats stats(const Plan& plan) {
  Stats s;
  if (!plan.memory_dir.empty()) {
    auto file = [&](const char* name) { return fs::join(plan.memory_dir, name); };
    uint64_t usage =
        read_u64(file(plan.unified ? "memory.current" : "memory.usage_in_bytes")).value_or(0);
    // Page cache that can be dropped at once is not what a user means by usage (docker stats).
    uint64_t inactive =
        read_keyed(file("memory.stat"), plan.unified ? "inactive_file" : "total_inactive_file")
            .value_or(0);
    s.memory_usage = inactive < usage ? usage - inactive : usage;
    uint64_t limit =
        read_u64(file(plan.unified ? "memory.max" : "memory.limit_in_bytes")).value_or(0);
    s.memory_limit = limit >= (uint64_t{1} << 62) ? 0 : limit;  // v1 "unlimited" is ~2^63
  }
  if (plan.unified) {
    if (!plan.cpuacct_dir.empty())
      s.cpu_usage_ns =
          read_keyed(fs::join(plan.cpuacct_dir, "cpu.stat"), "usage_usec").value_or(0) * 1000;
  } else if (!plan.cpuacct_dir.empty()) {
    s.cpu_usage_ns = read_u64(fs::join(plan.cpuacct_dir, "cpuacct.usage")).value_or(0);
  }
  std::optional<uint64_t> current;
  if (!plan.pids_dir.empty()) current = read_u64(fs::join(plan.pids_dir, "pids.current"));
  s.pids = current ? *current : pids(plan).size();
  add_block_io(plan, s);
  return s;
}

}  // namespace berth::cgroup
