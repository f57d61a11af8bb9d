#include "berth/runtime/launcher.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
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

}  // namespace

LaunchResult launch_container(const LaunchPlan& plan, const std::vector<char>& seccomp_bpf,
                              const std::function<void(pid_t)>& join_cgroups) {
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
  int pidfd = -1;
  clone_args args{};
  args.flags = clone_flags_for(plan) | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) throw_errno("clone3");
  if (pid == 0) {
    ::close(sync[0]);
    if (!plan.terminal) {
      int devnull = ::open("/dev/null", O_RDONLY);
      ::dup2(plan.stdin_open ? in[0] : devnull, 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
    }
    ChildContext ctx;
    ctx.sync_fd = sync[1];
    ctx.seccomp_bpf = seccomp_bpf;
    run_container_child(plan, ctx);
  }
  res.pid = static_cast<pid_t>(pid);
  res.pidfd = pidfd;
  ::close(sync[1]);
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  try {
    join_cgroups(res.pid);
  } catch (...) {
    ::kill(res.pid, SIGKILL);
    ::waitpid(res.pid, nullptr, 0);
    ::close(sync[0]);
    close_fd(in[1]);
    close_fd(out[0]);
    close_fd(err[0]);
    close_fd(res.pidfd);
    throw;
  }
  char go = 'G';
  if (::write(sync[0], &go, 1) != 1) throw_errno("release container");
  // Read reports until EOF (execve closed the CLOEXEC socket) or a failure report.
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
