#pragma once
// `exec`: a new process inside a running container, set up exactly as the container's first
// process (container_setup.h `setup::`), for `berth container exec` and healthcheck probes.
//
// The caller (single-threaded) forks a helper that makes itself non-dumpable, keeps only the fds
// it needs, joins the container's cgroup in every hierarchy, then every namespace of the
// container's PID 1 at once with setns(pidfd) (pid reuse is ruled out by the start time), and
// forks the process with CLONE_PARENT so that it is the caller's child inside the container's
// pid namespace. That process resolves the user from the container's own /etc/passwd and
// /etc/group (no NSS), applies rlimits, a new session (and a pty from the container's devpts with
// a terminal), seccomp, capabilities and ids, and execs. No host fd survives execve: stdio are
// pipes, a pty or the container's /dev/null (RUNTIME-NOTES.md "Security").
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "berth/runtime/container_setup.h"
#include "berth/runtime/launch_plan.h"

namespace berth::runtime {

// This process's capability bounding set, read with PR_CAPBSET_READ up to the kernel's last
// capability (--privileged gets all of it).
uint64_t caller_bounding_set();

struct ExecSpec {
  std::vector<std::string> args;           // the command; args[0] is searched in the env's PATH
  std::vector<std::string> env_overrides;  // "K=V", over the container's environment
  std::string user;     // "", "name", "uid", "name:group", ...; "" = the container's user
  std::string workdir;  // "" = the container's working directory
  bool terminal = false;    // a pty in the container's devpts (terminal_fd)
  bool stdin_open = false;  // without it stdin is the container's /dev/null
  bool detach = false;      // stdout/stderr go to the container's /dev/null
  bool privileged = false;  // every capability of the caller's bounding set, no seccomp
  // Absolute cgroup dirs of the container in every hierarchy (cgroup::Plan::dirs).
  std::vector<std::string> cgroup_dirs;
};

// The running process; the caller owns the fds and must reap pid (it is the caller's child).
struct ExecProcess {
  pid_t pid = -1;        // host pid
  int pidfd = -1;        // readable once the process exited
  int stdin_fd = -1;     // write end of the stdin pipe (stdin_open, no terminal)
  int stdout_fd = -1;    // read ends (no terminal, not detached)
  int stderr_fd = -1;
  int terminal_fd = -1;  // the pty master (terminal)
};

// Starts spec.args in the container whose PID 1 is container_pid with start time container_start
// (process_start_time). Throws Error with exit code 1 when that process is gone, and Error with
// Docker's message and exit code (exec_exit_code_for_failure) when the command could not start.
ExecProcess start_exec(const LaunchPlan& plan, pid_t container_pid, unsigned long long container_start,
                       const ExecSpec& spec);

// Reaps the exec'd process: its exit code, or 128 + signal.
int wait_exec(ExecProcess& process);

// ---- pure helpers (unit-tested) ----

// The exec'd environment: the container's, then the overrides (a key set twice keeps its first
// position and takes the last value); TERM=xterm with a terminal unless set; with a user given,
// HOME is that user's home unless an override sets it (runc sets HOME from passwd).
std::vector<std::string> exec_environment(const std::vector<std::string>& container_env,
                                          const std::vector<std::string>& overrides, bool terminal,
                                          const std::string& user_home = {});

// Docker's exit codes for an exec that did not start: 127 command not found, 126 otherwise.
int exec_exit_code_for_failure(const ChildReport& report);
// "OCI runtime exec failed: exec failed: unable to start container process: <why>: unknown"
std::string exec_failure_message(const ChildReport& report);

// setns(2) flags for the namespaces a plan gives its container (type names as in Namespace).
int exec_namespace_flags(const LaunchPlan& plan);

}  // namespace berth::runtime
