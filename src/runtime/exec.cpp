// `exec` into a running container (exec.h). Three processes take part:
//   caller  reads the seccomp program (a host path) and the bounding set, opens a pidfd of the
//           container's PID 1, forks the helper, collects reports until the sync socket closes;
//   helper  non-dumpable, holds only stdio and two fds, joins the cgroups and the namespaces,
//           forks the process and exits (the caller, a child subreaper, adopts the process);
//   process sets itself up as the container's first process did and execs.
// The helper and the process never return into the caller's code: every failure is a
// ChildReport on the sync socket and _exit.
#include "berth/runtime/exec.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "berth/runtime/launcher.h"
#include "berth/runtime/user.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"

namespace berth::runtime {

namespace {

// The helper's fixed fds after it dropped everything else.
constexpr int kSyncFd = 3;
constexpr int kPidFd = 4;

using setup::report_failure;

std::string lower_first(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

// A small regular file of the container, read through its root (now "/": the helper's child sits
// in the container's mount namespace); symlinks cannot leave it. nullopt when it does not exist.
std::optional<std::string> read_container_file(const char* path_from_root) {
  int root = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) report_failure("open container root", errno);
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;  // a FIFO planted there must not block us
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, path_from_root, &how, sizeof how));
  ::close(root);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    report_failure("read user database", errno, path_from_root);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20))
    report_failure("read user database", EINVAL, std::string("/") + path_from_root + " is not a regular file");
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) report_failure("read user database", errno, path_from_root);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// stdio the caller did not give (no pipe): the container's own /dev/null, never the host's.
void fill_stdio_with_container_null() {
  for (int i = 0; i < 3; ++i) {
    if (::fcntl(i, F_GETFD) >= 0) continue;
    int fd = ::open("/dev/null", O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
      report_failure("open /dev/null", fd < 0 ? errno : EINVAL, "the container's /dev/null is not the null device");
    ::fcntl(fd, F_SETFL, 0);
    if (fd != i) {
      if (::dup2(fd, i) < 0) report_failure("open /dev/null", errno);
      ::close(fd);
    }
  }
}

struct ExecContext {
  const LaunchPlan* plan;
  const ExecSpec* spec;
  const std::vector<char>* seccomp_bpf;
  uint64_t capabilities;
  int ns_flags;
  int sync_fd, pidfd, stdio[3];  // stdio: -1 where the container's /dev/null goes
};

// The exec'd process, inside every namespace and cgroup of the container. Never returns.
[[noreturn]] void run_process(const ExecContext& c) {
  const LaunchPlan& plan = *c.plan;
  const ExecSpec& spec = *c.spec;
  // Nothing of the caller's signal handling reaches the container (SIG_IGN survives execve).
  setup::reset_signals();
  ::umask(0);
  // A session keyring of its own, as the container's first process has (runc does the same).
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS)
    report_failure("join session keyring", errno);
  // Also with a terminal: setup_terminal's dup2 onto 0-2 must not hit its own master.
  fill_stdio_with_container_null();

  ProcessIdentity identity{plan.uid, plan.gid, plan.additional_gids, c.capabilities};
  std::string user_home;
  if (!spec.user.empty()) {
    try {
      auto user = resolve_user(spec.user, read_container_file("etc/passwd"), read_container_file("etc/group"));
      identity.uid = user.uid;
      identity.gid = user.gid;
      identity.additional_gids = user.additional_gids;
      user_home = user.home.empty() ? "/" : user.home;
    } catch (const std::exception& e) {
      report_failure("user", 0, e.what());
    }
  }
  std::vector<std::string> env = exec_environment(plan.env, spec.env_overrides, spec.terminal, user_home);
  const std::string& cwd = spec.workdir.empty() ? plan.cwd : spec.workdir;

  // From here on the order of the container's first process (run_container_child).
  setup::apply_rlimits(plan.rlimits);
  if (::setsid() < 0) report_failure("setsid", errno);
  if (spec.terminal) setup::setup_terminal();  // opens the container's /dev/ptmx
  if (!plan.no_new_privileges) setup::load_seccomp(*c.seccomp_bpf);
  setup::apply_identity(identity);
  if (::chdir(cwd.c_str()) != 0) {
    int err = errno;
    report_failure("chdir", err, "chdir to cwd (\"" + cwd + "\") set in config.json failed: " +
                                     lower_first(std::strerror(err)));
  }
  if (plan.no_new_privileges) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report_failure("set no_new_privs", errno);
    setup::load_seccomp(*c.seccomp_bpf);
  }
  ::umask(022);
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  setup::exec_command(spec.args, env);
}

// The helper: from here to execve this is Berth's own image inside the container, so it is
// non-dumpable (no ptrace, no /proc/<pid>/exe or fd access from the container) and holds nothing
// but stdio, the sync socket and the pidfd. Never returns.
[[noreturn]] void run_helper(const ExecContext& c) {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) ::_exit(125);
  // Park the fds we keep above the ones we rebuild, then place them and close the rest.
  int keep[5] = {c.stdio[0], c.stdio[1], c.stdio[2], c.sync_fd, c.pidfd};
  for (int& fd : keep)
    if (fd >= 0 && (fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 16)) < 0) ::_exit(125);
  for (int i = 0; i < 3; ++i) {
    if (keep[i] >= 0) {
      if (::dup2(keep[i], i) < 0) ::_exit(125);  // dup2 clears CLOEXEC: stdio survives execve
    } else {
      ::close(i);
    }
  }
  if (::dup3(keep[3], kSyncFd, O_CLOEXEC) < 0 || ::dup3(keep[4], kPidFd, O_CLOEXEC) < 0) ::_exit(125);
  ::syscall(SYS_close_range, kPidFd + 1, ~0U, 0);
  setup::set_report_fd(kSyncFd);

  // The cgroups first: their files are host paths, unreachable once in the mount namespace.
  setup::join_cgroups(c.spec->cgroup_dirs);
  // All namespaces at once, from the pidfd: they are those of exactly the process we checked.
  if (::setns(kPidFd, c.ns_flags) != 0) report_failure("join namespaces", errno);
  ::close(kPidFd);
  pid_t child = ::fork();  // the first process the new pid namespace membership applies to
  if (child < 0) report_failure("fork", errno);
  if (child == 0) run_process(c);
  ChildReport started;
  started.kind = 'P';
  started.err = child;
  (void)!::send(kSyncFd, &started, sizeof started, MSG_NOSIGNAL);
  ::_exit(0);
}

int wait_pid(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string key_of(const std::string& kv) { return kv.substr(0, kv.find('=')); }

void set_env(std::vector<std::string>& env, const std::string& kv) {
  std::string key = key_of(kv);
  for (auto& e : env)
    if (key_of(e) == key) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

}  // namespace

uint64_t caller_bounding_set() {
  uint64_t mask = 0;
  for (int cap = 0; cap < 64; ++cap) {
    int r = ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
    if (r < 0) break;  // EINVAL past the last capability
    if (r == 1) mask |= 1ULL << cap;
  }
  return mask;
}

std::vector<std::string> exec_environment(const std::vector<std::string>& container_env,
                                          const std::vector<std::string>& overrides, bool terminal,
                                          const std::string& user_home) {
  std::vector<std::string> env = container_env;
  bool has_term = false;
  for (const auto& e : env) has_term |= key_of(e) == "TERM";
  if (terminal && !has_term) env.push_back("TERM=xterm");
  if (!user_home.empty()) set_env(env, "HOME=" + user_home);
  for (const auto& o : overrides)
    if (o.find('=') != std::string::npos && o.front() != '=') set_env(env, o);
  return env;
}

int exec_exit_code_for_failure(const ChildReport& report) {
  if (std::strcmp(report.step, "exec") == 0 && report.err == ENOENT) return 127;
  return 126;
}

std::string exec_failure_message(const ChildReport& report) {
  std::string step = report.step, detail = report.detail, why;
  if (step == "exec" || step == "user" || step == "chdir") {
    why = detail;
  } else {
    why = step + (detail.empty() ? "" : " " + detail);
    if (report.err) why += ": " + lower_first(std::strerror(report.err));
  }
  return "OCI runtime exec failed: exec failed: unable to start container process: " + why + ": unknown";
}

int exec_namespace_flags(const LaunchPlan& plan) {
  int flags = 0;
  for (const auto& ns : plan.namespaces) {
    if (ns.type == "pid") flags |= CLONE_NEWPID;
    else if (ns.type == "mnt") flags |= CLONE_NEWNS;
    else if (ns.type == "uts") flags |= CLONE_NEWUTS;
    else if (ns.type == "ipc") flags |= CLONE_NEWIPC;
    else if (ns.type == "net") flags |= CLONE_NEWNET;
    else if (ns.type == "cgroup") flags |= CLONE_NEWCGROUP;
  }
  return flags;
}

ExecProcess start_exec(const LaunchPlan& plan, pid_t container_pid, unsigned long long container_start,
                       const ExecSpec& spec) {
  if (spec.args.empty() || spec.args[0].empty()) throw Error("exec needs a command", "", 125);
  int ns_flags = exec_namespace_flags(plan);
  // Without its own mount and pid namespaces the process would run on the host.
  if ((ns_flags & (CLONE_NEWNS | CLONE_NEWPID)) != (CLONE_NEWNS | CLONE_NEWPID))
    throw Error("container " + plan.id + " has no mount or pid namespace of its own", "recreate it", 126);
  if (!spec.workdir.empty() && spec.workdir.front() != '/')
    throw Error("the working directory '" + spec.workdir + "' is invalid", "it needs to be an absolute path", 125);

  // The pidfd pins the process; a matching start time after opening it rules out a reused pid.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, container_pid, 0)));
  if (!pidfd || process_start_time(container_pid) != container_start)
    throw Error("container " + plan.id + " is not running", "", 1);

  std::vector<char> bpf;
  if (!spec.privileged && !plan.seccomp_bpf.empty()) {
    std::string text = fs::read_file(plan.seccomp_bpf);  // a host path: before any setns
    bpf.assign(text.begin(), text.end());
  }
  uint64_t capabilities = spec.privileged ? caller_bounding_set() : plan.capabilities;

  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0) throw_errno("socketpair");
  UniqueFd sync_parent(sync[0]), sync_child(sync[1]);
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
  auto make_pipe = [](UniqueFd& r, UniqueFd& w) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe");
    r.reset(p[0]);
    w.reset(p[1]);
  };
  if (!spec.terminal) {
    if (spec.stdin_open) make_pipe(in_r, in_w);
    if (!spec.detach) {
      make_pipe(out_r, out_w);
      make_pipe(err_r, err_w);
    }
  }

  ExecContext ctx{&plan, &spec, &bpf, capabilities, ns_flags, sync_child.get(), pidfd.get(),
                  {in_r ? in_r.get() : -1, out_w ? out_w.get() : -1, err_w ? err_w.get() : -1}};
  // The helper exits once the process is forked; the process is then adopted by us.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t helper = ::fork();
  if (helper < 0) throw_errno("fork");
  if (helper == 0) run_helper(ctx);
  sync_child.reset();
  in_r.reset();
  out_w.reset();
  err_w.reset();
  pidfd.reset();

  // Reports until every holder of the child end is gone: helper exited, process exec'd or died.
  ExecProcess proc;
  std::optional<ChildReport> failure;
  UniqueFd terminal;
  for (;;) {
    ChildReport r;
    int passed = -1;
    int n = receive_report(sync_parent.get(), r, passed);
    if (n <= 0) break;
    if (r.kind == 'P') proc.pid = r.err;
    else if (r.kind == 'T' && passed >= 0) terminal.reset(passed);
    else if (r.kind == 'F' && !failure) failure = r;
    else if (passed >= 0) ::close(passed);
  }
  int helper_status = wait_pid(helper);
  if (failure || proc.pid <= 0) {
    if (proc.pid > 0) wait_pid(proc.pid);
    if (failure) throw Error(exec_failure_message(*failure), "", exec_exit_code_for_failure(*failure));
    throw Error("exec failed: its helper process ended without a report (exit " +
                    std::to_string(helper_status) + ")",
                "", 126);
  }
  proc.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, proc.pid, 0));  // our child: no reuse
  proc.terminal_fd = terminal.release();
  proc.stdin_fd = in_w.release();
  proc.stdout_fd = out_r.release();
  proc.stderr_fd = err_r.release();
  return proc;
}

int wait_exec(ExecProcess& process) {
  int code = wait_pid(process.pid);
  process.pid = -1;
  if (process.pidfd >= 0) ::close(process.pidfd);
  process.pidfd = -1;
  return code;
}

}  // namespace berth::runtime
