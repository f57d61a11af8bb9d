#pragma once
// The container side of a start: what the cloned child does between clone3 and execve, in the
// order of research/runtime-security.md §2.3. Runs in the supervisor's child, single-threaded.
#include <cstdint>
#include <string>
#include <vector>

#include "berth/runtime/launch_plan.h"

namespace berth::runtime {

// Messages from the child to the supervisor on the sync socket (SOCK_SEQPACKET, CLOEXEC: a
// successful execve closes it, which is how the supervisor learns the container started).
struct ChildReport {
  // 'F' failed (then the child exits), 'T' terminal master fd attached,
  // 'P' exec only: the exec'd process was forked, its host pid in err.
  char kind = 0;
  int err = 0;          // errno of the failed step
  char step[48] = {};   // "mount /proc", "exec"
  char detail[400] = {};
};

// Exit code for a failed start, as Docker: 127 command not found, 126 not executable, else 125.
int exit_code_for_start_failure(const ChildReport& r);

struct ChildContext {
  int sync_fd = -1;                              // child's end of the sync socketpair
  const std::vector<char>* seccomp_bpf = nullptr;  // read by the supervisor before clone (host path)
  const std::vector<std::string>* cgroup_dirs = nullptr;  // joined first, before anything else runs
  int network_ready_fd = -1;  // >= 0: the command waits for a NetworkReady frame there (frames.h)
};

// Runs in the supervisor's address space (clone with CLONE_VM|CLONE_VFORK: the supervisor waits
// until execve or exit), so it changes nothing of the supervisor's but its own heap allocations.
// Joins its cgroups, sets up and execs. Never returns.
[[noreturn]] void run_container_child(const LaunchPlan& plan, const ChildContext& ctx);

// Who the process becomes: bounding = permitted = effective capabilities; ambient cleared.
struct ProcessIdentity {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  uint64_t capabilities = 0;
};

// The steps `exec` (runtime/exec.cpp) shares with the container's first process, so both set up
// a process exactly alike. Single-threaded child only: none throws; a failure is sent as a
// ChildReport on the report fd (SOCK_SEQPACKET) and the process _exits(125).
// The reading side of the sync socket: one report, with the fd it carries (a 'T' terminal
// master) stored in passed_fd. Returns recvmsg's result: 0 on EOF (execve closed the socket).
int receive_report(int fd, ChildReport& report, int& passed_fd);

namespace setup {
void set_report_fd(int fd);
void reset_signals();  // every disposition to default (32 and 33 too), mask empty
void join_cgroups(const std::vector<std::string>& dirs);  // the caller into each dir's cgroup.procs
[[noreturn]] void report_failure(const char* step, int err, const std::string& detail = {});
void apply_rlimits(const std::vector<Rlimit>& rlimits);
// setsid() first. A pty from the current /dev/ptmx becomes stdio and controlling terminal; the
// master goes to the report fd as a 'T' report with SCM_RIGHTS.
void setup_terminal();
void load_seccomp(const std::vector<char>& bpf);  // empty: no filter
void apply_identity(const ProcessIdentity& identity);
// execve with a PATH search in env's PATH; reports step "exec" with Docker's wording on failure.
[[noreturn]] void exec_command(const std::vector<std::string>& args, const std::vector<std::string>& env);
}  // namespace setup

}  // namespace berth::runtime
