#include "berth/runtime/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"

namespace berth::runtime {

namespace {

uint64_t clone_flags_for(const LaunchPlan& plan) {
  uint64_t flags = 0;
  for (const auto& ns : plan.namespaces) {
    if (!ns.path.empty()) continue;  // joined by path inside the child
    if (ns.type == "pid") flags |= CLONE_NEWPID;
    else if (ns.type == "mnt") flags |= CLONE_NEWNS;
    else if (ns.type == "uts") flags |= CLONE_NEWUTS;
    else if (ns.type == "ipc") flags |= CLONE_NEWIPC;
    else if (ns.type == "net") flags |= CLONE_NEWNET;
    // "cgroup" is unshared by the child once it sits in its cgroups
  }
  return flags;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// What the child needs; it lives on the supervisor's stack, which the child shares.
struct ChildStart {
  const LaunchPlan* plan;
  ChildContext ctx;
  int stdin_fd, stdout_fd, stderr_fd;  // -1 with a terminal
  int parent_sync_fd;
};

int child_main(void* arg) {
  auto* start = static_cast<ChildStart*>(arg);
  ::close(start->parent_sync_fd);
  if (start->stdout_fd >= 0) {
    int in = start->stdin_fd >= 0 ? start->stdin_fd : ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(start->stdout_fd, 1);
    ::dup2(start->stderr_fd, 2);
  }
  run_container_child(*start->plan, start->ctx);
}

// The child's own stack while it shares the supervisor's memory; the supervisor waits meanwhile.
constexpr size_t kChildStackSize = 512 * 1024;

}  // namespace

LaunchResult launch_container(const LaunchPlan& plan, const std::vector<char>& seccomp_bpf,
                              const std::vector<std::string>& cgroup_dirs, int network_ready_fd) {
  LaunchResult res;
  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0) throw_errno("socketpair");
  // stdio pipes: [0] read end, [1] write end. Without a terminal the container gets pipes.
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (!plan.terminal) {
    if ((plan.stdin_open && ::pipe2(in, O_CLOEXEC) != 0) || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0)
      throw_errno("pipe");
  }
  ChildStart start{&plan, ChildContext{sync[1], &seccomp_bpf, &cgroup_dirs, network_ready_fd}, in[0], out[1], err[1], sync[0]};
  // Shared memory: an execve with no address space to tear down (~2 ms saved here, where every
  // page fault traps to the hypervisor). The child resets the signal dispositions before it
  // unblocks them.
  int pidfd = -1;
  int pid = clone_vfork(child_main, &start, static_cast<int>(clone_flags_for(plan)), kChildStackSize, &pidfd);
  if (pid < 0) {
    int clone_errno = errno;
    ::close(sync[0]);
    ::close(sync[1]);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
    errno = clone_errno;
    throw_errno("clone");
  }
  res.pid = static_cast<pid_t>(pid);
  res.pidfd = pidfd;
  ::close(sync[1]);
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  // The child has exec'd or exited by now; its reports wait in the socket. Read them until EOF
  // (execve closed the CLOEXEC socket) or a failure report.
  for (;;) {
    ChildReport r;
    if (receive_report(sync[0], r, res.terminal_fd) <= 0) {
      res.started = true;
      break;
    }
    if (r.kind == 'T') continue;
    res.failure = r;
    break;
  }
  ::close(sync[0]);
  res.started_ns = timeutil::now_ns();
  if (!res.started) {
    // The child exits right after reporting; reap it so nothing is left.
    ::waitpid(res.pid, nullptr, 0);
    close_fd(in[1]);
    close_fd(out[0]);
    close_fd(err[0]);
    close_fd(res.terminal_fd);
    close_fd(res.pidfd);
    return res;
  }
  if (plan.terminal) {
    res.stdin_fd = res.terminal_fd;
    res.stdout_fd = res.terminal_fd;
  } else {
    res.stdin_fd = in[1];
    res.stdout_fd = out[0];
    res.stderr_fd = err[0];
  }
  return res;
}

pid_t clone_vfork(int (*child)(void*), void* arg, int flags, size_t stack_size, int* pidfd) {
  void* stack = ::mmap(nullptr, stack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) return -1;
  sigset_t all, old_mask;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  flags |= CLONE_VM | CLONE_VFORK | SIGCHLD | (pidfd ? CLONE_PIDFD : 0);
  int pid = ::clone(child, static_cast<char*>(stack) + stack_size, flags, arg, pidfd);
  int clone_errno = errno;  // only meaningful on failure: a child that ran shares our errno
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::munmap(stack, stack_size);  // the child has exec'd or exited: it no longer uses it
  errno = clone_errno;
  return pid;
}

unsigned long long process_start_time(pid_t pid) {
  auto stat = fs::read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return 0;
  auto close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  auto fields = str::split(stat->substr(close + 2), ' ');
  // fields[0] is field 3 (state); start time is field 22.
  if (fields.size() < 20) return 0;
  if (fields[0] == "Z" || fields[0] == "X") return 0;  // a zombie counts as dead
  return std::stoull(fields[19]);
}

std::string boot_id() {
  // Read once per process: `container ls` asks for every container.
  static const std::string id = [] {
    auto s = fs::read_file_if_exists("/proc/sys/kernel/random/boot_id");
    return s ? str::trim(*s) : std::string();
  }();
  return id;
}

}  // namespace berth::runtime
