#pragma once
// The container's seccomp filter: the profile (built-in default or a Docker-format file),
// resolved for the container's capabilities, compiled with libseccomp plus an ENOSYS stub for
// syscalls newer than libseccomp knows, and cached as raw BPF so most starts skip the compile.
// libseccomp lives in the berth-heavy helper (berth/image/heavy.h): compile,
// highest_known_syscall and libseccomp_version run it; a cache hit in cached_filter does not.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "berth/seccomp/profile.h"
#include "berth/util/json.h"

namespace berth::seccomp {

// Returns the path of a file holding the BPF program (struct sock_filter[], host endianness,
// nothing else) for a container with these capabilities ("CAP_CHOWN", ... its bounding set).
// profile_path "" means the built-in default; otherwise a Docker-format (or Berth-format) JSON
// file. Compiles only on a cache miss; the cache file is written atomically and named by a
// SHA-256 of (profile, capabilities, arch, kernel, libseccomp version as of the build).
// Throws berth::Error naming the file for a bad profile.
std::string cached_filter(const std::vector<std::string>& capabilities, const std::string& profile_path,
                          const std::string& cache_dir);

// What --security-opt seccomp=... and --privileged ask for.
struct SeccompChoice {
  bool confined = true;      // false: no filter at all
  std::string profile_path;  // "" = built-in default
};
// security_opts as given (e.g. "seccomp=unconfined", "seccomp=/x.json", "no-new-privileges");
// entries that are not about seccomp are ignored. --privileged means no filter, as in Docker.
SeccompChoice choose_profile(const std::vector<std::string>& security_opts, bool privileged);

struct CompiledFilter {
  std::string bpf;                           // struct sock_filter[]
  std::vector<std::string> unknown_syscalls;  // names libseccomp cannot resolve: left to the ENOSYS stub
  size_t stub_instructions = 0;               // 0 when no stub was needed
};
CompiledFilter compile(const ResolvedProfile& profile);

// The highest syscall number libseccomp knows for an arch ("x86_64", "x86", "x32"); for x32 the
// number includes the x32 bit. below is an exclusive upper limit for the search.
uint32_t highest_known_syscall(const std::string& arch, uint32_t below = 1024);

std::string libseccomp_version();  // "2.5.4", of the library loaded at run time
uint64_t compile_count();          // compiles done by this process (tests check cache hits)

// The wire form between berth and berth-heavy. A resolved profile's rules carry no
// includes/excludes (resolve evaluated them away), so none are sent.
json to_json(const ResolvedProfile& profile);
ResolvedProfile resolved_profile_from_json(const json& j);
json to_json(const CompiledFilter& filter);  // the BPF as hex
CompiledFilter compiled_filter_from_json(const json& j);

std::string sha256_hex(std::string_view data);  // image::sha256_hex: Berth has one SHA-256

}  // namespace berth::seccomp
