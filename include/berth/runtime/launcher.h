#pragma once
// The supervisor's side of a container start: clone into new namespaces (the child joins its
// cgroups first), and learn from the sync socket whether execve happened.
#include <sys/types.h>

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

// The child joins cgroup_dirs (every hierarchy's container dir) before it does anything else.
// Returns once the child has exec'd the command or failed. network_ready_fd: see ChildContext.
LaunchResult launch_container(const LaunchPlan& plan, const std::vector<char>& seccomp_bpf,
                              const std::vector<std::string>& cgroup_dirs, int network_ready_fd = -1);

// Runs child(arg) in a new process that shares this one's memory (CLONE_VM|CLONE_VFORK, as
// posix_spawn: no copy of the page tables, no copy-on-write faults on either side afterwards) on
// a stack of its own, and returns once the child has exec'd or exited. The child starts with
// every signal blocked, so no handler of the caller ever runs in it. flags adds namespaces;
// pidfd, when given, receives a pidfd (CLONE_PIDFD). Returns the pid, or -1 with errno.
pid_t clone_vfork(int (*child)(void*), void* arg, int flags, size_t stack_size, int* pidfd = nullptr);

// Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat); 0 if gone.
unsigned long long process_start_time(pid_t pid);
// The running kernel's boot id.
std::string boot_id();

}  // namespace berth::runtime
