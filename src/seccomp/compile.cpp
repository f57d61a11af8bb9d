// The light half of the seccomp module: profile choice and the BPF cache. Compiling needs
// libseccomp, which lives in the berth-heavy helper (heavy/compile_bpf.cpp), run only on a
// cache miss, so a container start with a warm cache neither runs it nor maps libseccomp.
#include <linux/filter.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "berth/image/digest.h"
#include "berth/image/heavy.h"
#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

namespace berth::seccomp {
namespace {

std::atomic<uint64_t> compiles{0};
const std::string libseccomp_build_version = BERTH_LIBSECCOMP_BUILD_VERSION;

// libseccomp's version as the helper last reported it (each compile answer names it), so that a
// cache miss runs the helper once, not twice. Compose starts containers from several threads.
std::mutex runtime_version_mutex;
std::string runtime_version_seen;

}  // namespace

std::string sha256_hex(std::string_view data) { return image::sha256_hex(data); }

std::string libseccomp_version() {
  {
    std::lock_guard lock(runtime_version_mutex);
    if (!runtime_version_seen.empty()) return runtime_version_seen;
  }
  std::string version = image::run_heavy({"libseccomp-version"}, -1).at("version").get<std::string>();
  std::lock_guard lock(runtime_version_mutex);
  return runtime_version_seen = version;
}

uint64_t compile_count() { return compiles.load(); }

uint32_t highest_known_syscall(const std::string& arch, uint32_t below) {
  return image::run_heavy({"highest-known-syscall", arch, std::to_string(below)}, -1).at("number").get<uint32_t>();
}

CompiledFilter compile(const ResolvedProfile& profile) {
  ++compiles;
  json answer = image::run_heavy({"seccomp-compile"}, -1, to_json(profile).dump());
  {
    std::lock_guard lock(runtime_version_mutex);
    runtime_version_seen = answer.at("libseccomp_version").get<std::string>();
  }
  return compiled_filter_from_json(answer);
}

std::string cached_filter(const std::vector<std::string>& capabilities, const std::string& profile_path,
                          const std::string& cache_dir) {
  std::string text;  // only read for a profile file
  if (!profile_path.empty()) {
    try {
      text = fs::read_file(profile_path);
    } catch (const SysError& e) {
      throw Error("seccomp profile " + profile_path + ": cannot read: " + std::strerror(e.err()),
                  "--security-opt seccomp=FILE needs a readable Docker-format JSON file");
    }
  }
  const Target target = host_target(capabilities);
  // Everything the compiled program depends on; a change in any of it is a different file.
  // The built-in profile's hash is computed at build time: a cache hit then hashes ~300 bytes.
  const std::string profile_hash = profile_path.empty() ? std::string(builtin_profile_sha256()) : sha256_hex(text);
  // libseccomp's version as of the build: asking the library would mean loading it on every start.
  const std::string key = "berth-seccomp-bpf 2\nlibseccomp " + libseccomp_build_version + "\narch " + target.arch +
                          "\nkernel " + std::to_string(target.kernel.major) + "." +
                          std::to_string(target.kernel.minor) + "\ncaps " + str::join(target.caps, ",") +
                          "\nprofile-sha256 " + profile_hash;
  const std::string path = fs::join(cache_dir, sha256_hex(key) + ".bpf");

  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      st.st_size % static_cast<off_t>(sizeof(sock_filter)) == 0)
    return path;

  Profile parsed = profile_path.empty() ? builtin_profile() : parse_profile(text, profile_path);
  CompiledFilter compiled = compile(resolve(parsed, target));
  fs::mkdir_p(cache_dir, 0700);
  // libseccomp was updated since the build: its syscall tables may differ from the ones the key
  // names, so file this program under the running version, where hits never look. Each start
  // then compiles (correct, slower) until Berth is rebuilt.
  const std::string runtime_version = libseccomp_version();
  const std::string store_path =
      runtime_version == libseccomp_build_version
          ? path
          : fs::join(cache_dir, sha256_hex(key + "\nruntime libseccomp " + runtime_version) + ".bpf");
  fs::write_file_atomic(store_path, compiled.bpf, 0644);
  return store_path;
}

SeccompChoice choose_profile(const std::vector<std::string>& security_opts, bool privileged) {
  SeccompChoice choice;
  for (const auto& opt : security_opts) {
    // Docker accepts both seccomp=VALUE and the older seccomp:VALUE.
    if (!opt.starts_with("seccomp=") && !opt.starts_with("seccomp:")) continue;
    std::string value = opt.substr(8);
    if (value.empty())
      throw Error("invalid --security-opt " + opt + ": missing profile",
                  "use seccomp=unconfined or seccomp=/path/to/profile.json");
    if (value == "unconfined") {
      choice = {false, ""};
    } else if (value == "builtin" || value == "default") {
      choice = {true, ""};
    } else {
      choice = {true, value};
    }
  }
  if (privileged) choice = {false, ""};
  return choice;
}

}  // namespace berth::seccomp
