#pragma once
// In the berth-heavy helper only: the libseccomp implementations behind seccomp::compile and friends.
#include <cstdint>
#include <string>

#include "berth/seccomp/seccomp.h"

namespace berth::seccomp {
CompiledFilter compile_with_libseccomp(const ResolvedProfile& profile);
uint32_t highest_known_syscall_libseccomp(const std::string& arch, uint32_t below = 1024);
std::string runtime_libseccomp_version();
}  // namespace berth::seccomp
