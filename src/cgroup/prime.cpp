// prime_migrations: start the grace period of the cgroup migration lock early (cgroup.h).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "berth/cgroup/cgroup.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

namespace berth::cgroup {

std::string own_procs_file(const Layout& layout, const std::string& proc_self_cgroup) {
  for (const auto& line : str::split(proc_self_cgroup, '\n')) {
    // hierarchy-id:controllers:path; v2 is "0::path".
    auto first = line.find(':');
    auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (path.empty() || path[0] != '/') continue;
    for (const auto& h : layout.hierarchies) {
      bool match = controllers.empty() ? h.unified
                                       : !h.unified && h.has(str::split(controllers, ',').front());
      if (match) return h.mount_point + (path == "/" ? "" : path) + "/cgroup.procs";
    }
  }
  return "";
}

namespace {
std::atomic<bool> primed{false};
}  // namespace

void prime_migrations() {
  if (primed.load()) return;
  // Only a v2 host has anything to prime: elsewhere no mountinfo is read on `run`'s path.
  if (!unified_host()) {
    primed = true;
    return;
  }
  prime_migrations(detect());
}

void prime_migrations(const Layout& layout) {
  if (primed.exchange(true)) return;
  // On v1 the container joins through `tasks`, which needs no grace period; priming there would
  // only hold cgroup_mutex (which the supervisor's mkdir needs) through one.
  if (layout.mode != Mode::Unified) return;
  std::string procs = own_procs_file(layout, fs::read_file_if_exists("/proc/self/cgroup").value_or(""));
  if (procs.empty()) return;
  // Detached: it blocks in the kernel for the grace period. "0" is the writing thread, whose
  // whole process moves, into the cgroup it is already in.
  std::thread([procs = std::move(procs)] {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    [[maybe_unused]] ssize_t n = ::write(fd, "0", 1);
    ::close(fd);
  }).detach();
}

}  // namespace berth::cgroup
