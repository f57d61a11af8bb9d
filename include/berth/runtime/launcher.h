#pragma once
// The supervisor's side of a container start: clone3 into new namespaces, put the child into its
// cgroups, release it, and learn from the sync socket whether execve happened.
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "berth/runtime/container_setup.h"
#include "berth/runtime/launch_plan.h"

namespace berth::runtime {

struct LaunchResult {
  bool started = false;
  ChildReport failure;     // when !started
  pid_t pid = -1;          // host pid of the container's PID 1
  int pidfd = -1;          // liveness by pidfd: readable once the process exited (zombie = dead)
  int stdin_fd = -1;       // write end (or the terminal master)
  int stdout_fd = -1;      // read ends; with a terminal both are the master
  int stderr_fd = -1;
  int terminal_fd = -1;
  int64_t started_ns = 0;
};

// join_cgroups runs with the child's pid before the child may do anything; it throws on failure.
LaunchResult launch_container(const LaunchPlan& plan, const std::vector<char>& seccomp_bpf,
                              const std::function<void(pid_t)>& join_cgroups);

// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat); 0 if gone.
unsigned long long process_start_time(pid_t pid);
// The running kernel's boot id.
std::string boot_id();

}  // namespace berth::runtime
