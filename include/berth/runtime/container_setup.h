#pragma once
// The container side of a start: what the cloned child does between clone3 and execve, in the
// order of research/runtime-security.md §2.3. Runs in the supervisor's child, single-threaded.
#include <string>
#include <vector>

#include "berth/runtime/launch_plan.h"

namespace berth::runtime {

// Messages from the child to the supervisor on the sync socket (SOCK_SEQPACKET, CLOEXEC: a
// successful execve closes it, which is how the supervisor learns the container started).
struct ChildReport {
  char kind = 0;        // 'F' failed (then the child exits), 'T' terminal master fd attached
  int err = 0;          // errno of the failed step
  char step[48] = {};   // "mount /proc", "exec"
  char detail[400] = {};
};

// Exit code for a failed start, as Docker: 127 command not found, 126 not executable, else 125.
int exit_code_for_start_failure(const ChildReport& r);

struct ChildContext {
  int sync_fd = -1;                 // child's end of the sync socketpair
  std::vector<char> seccomp_bpf;    // read by the supervisor before clone (host path)
};

// Waits for the supervisor's go (cgroups joined), sets up and execs. Never returns.
[[noreturn]] void run_container_child(const LaunchPlan& plan, const ChildContext& ctx);

}  // namespace berth::runtime
