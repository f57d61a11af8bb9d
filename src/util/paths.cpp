#include "berth/util/paths.h"

#include <unistd.h>

#include <cstdlib>

#include "berth/util/fs.h"

namespace berth::paths {

static std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : std::string(fallback);
}

std::string state_root() { return env_or("BERTH_ROOT", "/var/lib/berth"); }
std::string run_root() { return env_or("BERTH_RUN", "/run/berth"); }
std::string cgroup_parent() { return env_or("BERTH_CGROUP_PARENT", "berth"); }

std::string libexec_dir() {
  if (const char* v = std::getenv("BERTH_LIBEXEC"); v && *v) return v;
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/usr/lib/berth";
  std::string dir = fs::dirname(std::string(buf, static_cast<size_t>(n)));
  // Installed layout: bin/berth next to lib/berth/berth-supervisor; build tree: all in one dir.
  if (fs::exists(dir + "/berth-supervisor")) return dir;
  return fs::dirname(dir) + "/lib/berth";
}

}  // namespace berth::paths
