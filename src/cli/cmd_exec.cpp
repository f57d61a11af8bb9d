// berth container exec: a command inside a running container (runtime/exec.h), its output
// relayed through pipes or the container's own pty, its exit code ours.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>

#include "berth/cgroup/cgroup.h"
#include "berth/engine/engine.h"
#include "berth/runtime/exec.h"
#include "berth/runtime/launch_plan.h"
#include "berth/runtime/launcher.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"
#include "berth/util/strings.h"
#include "cli.h"

namespace berth::cli {

namespace {

// The CLI's terminal stays the CLI's: raw while relaying, restored on every exit path.
class RawMode {
 public:
  explicit RawMode(bool enable) {
    if (!enable || !::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

bool write_all_nonblocking(int fd, const char* data, size_t size) {
  size_t off = 0;
  while (off < size) {
    ssize_t n = ::write(fd, data + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void copy_window_size(int terminal) {
  winsize ws{};
  if ((::ioctl(0, TIOCGWINSZ, &ws) == 0 || ::ioctl(1, TIOCGWINSZ, &ws) == 0) && ws.ws_row)
    ::ioctl(terminal, TIOCSWINSZ, &ws);
}

bool is_paused(const engine::ContainerView& view, const cgroup::Plan& cg) {
  if (view.record.contains("State") && view.record["State"].value("Paused", false)) return true;
  if (cg.freezer_dir.empty()) return false;
  if (cg.unified) {
    auto v = fs::read_file_if_exists(cg.freezer_dir + "/cgroup.freeze");
    return v && str::trim(*v) == "1";
  }
  auto v = fs::read_file_if_exists(cg.freezer_dir + "/freezer.state");
  return v && str::trim(*v) != "THAWED" && !str::trim(*v).empty();
}

// -e K=V as given; -e K takes K from our environment and is dropped when unset (as Docker).
std::vector<std::string> env_overrides(const std::vector<std::string>& given) {
  std::vector<std::string> out;
  for (const auto& e : given) {
    if (e.empty() || e.front() == '=')
      throw Error("invalid environment variable: " + e, "use -e KEY=VALUE", 125);
    if (e.find('=') != std::string::npos) {
      out.push_back(e);
    } else if (const char* v = std::getenv(e.c_str())) {
      out.push_back(e + "=" + v);
    }
  }
  return out;
}

// Relays stdin to the process and its output to ours until it exited and its output ended (or
// stayed quiet for a moment: a background child may hold the pipes). Returns its exit code.
int relay(runtime::ExecProcess& proc, bool tty, bool interactive) {
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  UniqueFd sfd(::signalfd(-1, &mask, SFD_CLOEXEC));
  ::signal(SIGPIPE, SIG_IGN);

  RawMode raw(tty && interactive);
  UniqueFd terminal(proc.terminal_fd), to_stdin(proc.stdin_fd), out(proc.stdout_fd), err(proc.stderr_fd);
  proc.terminal_fd = proc.stdin_fd = proc.stdout_fd = proc.stderr_fd = -1;
  if (tty) copy_window_size(terminal.get());
  int input_dest = tty ? terminal.get() : to_stdin.get();
  if (input_dest >= 0) ::fcntl(input_dest, F_SETFL, ::fcntl(input_dest, F_GETFL) | O_NONBLOCK);
  bool stdin_open = interactive && input_dest >= 0;
  std::string pending;  // read from our stdin, not yet taken by the process

  // Sources of output: the pty master, or the stdout and stderr pipes.
  int source[2] = {tty ? terminal.get() : out.get(), tty ? -1 : err.get()};
  const int sink[2] = {1, 2};
  bool exited = false;
  int exit_code = 0;
  for (;;) {
    bool outputs_open = source[0] >= 0 || source[1] >= 0;
    if (exited && !outputs_open) break;
    pollfd fds[6] = {{source[0], POLLIN, 0},
                     {source[1], POLLIN, 0},
                     {stdin_open && pending.empty() ? 0 : -1, POLLIN, 0},
                     {!pending.empty() ? input_dest : -1, POLLOUT, 0},
                     {sfd.get(), POLLIN, 0},
                     {exited ? -1 : proc.pidfd, POLLIN, 0}};
    int ready = ::poll(fds, 6, exited ? 200 : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) break;  // exited, and the output stayed quiet
    for (int i = 0; i < 2; ++i) {
      if (source[i] < 0 || !fds[i].revents) continue;
      char buf[32768];
      ssize_t n = ::read(source[i], buf, sizeof buf);
      if (n > 0) {
        write_all_nonblocking(sink[i], buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        source[i] = -1;  // EOF, or EIO from a pty whose last slave closed
      }
    }
    if (fds[2].revents) {
      char buf[16384];
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n > 0) {
        pending.assign(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = false;
        if (!tty) to_stdin.reset();  // the process sees EOF
      }
    }
    if (fds[3].revents) {
      ssize_t n = ::write(input_dest, pending.data(), pending.size());
      if (n > 0) pending.erase(0, static_cast<size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        pending.clear();
        stdin_open = false;
        if (!tty) to_stdin.reset();
      }
    }
    if (fds[4].revents) {
      signalfd_siginfo si{};
      if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH) {
          if (tty) copy_window_size(terminal.get());
        } else if (proc.pid > 0) {
          ::kill(proc.pid, static_cast<int>(si.ssi_signo));  // our unreaped child: no pid reuse
        }
      }
    }
    if (fds[5].revents) {
      exit_code = runtime::wait_exec(proc);
      exited = true;
    }
  }
  if (!exited) exit_code = runtime::wait_exec(proc);
  ::sigprocmask(SIG_UNBLOCK, &mask, nullptr);
  return exit_code;
}

}  // namespace

int run_exec(const std::string& ref, const std::vector<std::string>& command, const ExecOptions& o) {
  engine::require_root();
  std::string id = engine::resolve_container(ref);
  engine::ContainerView view = engine::view_container(id);
  bool paused = view.status == "paused";
  if (view.status != "running" && view.status != "supervisor lost" && !paused)
    throw Error("container " + ref + " is not running", "start it first, or list containers: berth container ls -a", 1);
  engine::ContainerPaths cp = engine::container_paths(id);
  auto launch = fs::read_file_if_exists(cp.run_dir + "/launch.json");
  auto state_text = fs::read_file_if_exists(cp.run_dir + "/state.json");
  if (!launch || !state_text) throw Error("container " + ref + " is not running", "", 1);
  runtime::LaunchPlan plan = runtime::launch_plan_from_json(json::parse(*launch));
  json state = json::parse(*state_text);
  cgroup::Plan cg = cgroup::plan_from_json(plan.cgroups);
  // A frozen cgroup would freeze the helper that joins it: refuse before.
  if (paused || is_paused(view, cg))
    throw Error("cannot exec in a paused container: unpause it first (berth container unpause " + ref + ")", "", 1);
  pid_t pid = state.value("Pid", 0);
  unsigned long long start = state.value("ContainerStart", 0ULL);
  if (pid <= 0 || state.value("BootId", "") != runtime::boot_id())
    throw Error("container " + ref + " is not running", "", 1);

  runtime::ExecSpec spec;
  spec.args = command;
  spec.env_overrides = env_overrides(o.env);
  spec.user = o.user;
  spec.workdir = o.workdir;
  spec.terminal = o.tty;
  spec.stdin_open = o.interactive;
  spec.detach = o.detach;
  spec.privileged = o.privileged;
  spec.cgroup_dirs = cg.dirs;
  runtime::ExecProcess proc;
  try {
    proc = runtime::start_exec(plan, pid, start, spec);
  } catch (const Error& e) {
    // start_exec names the container by id; the user named it by ref.
    if (e.exit_code() == 1) throw Error("container " + ref + " is not running", "", 1);
    throw;
  }
  if (o.detach) {
    // It keeps running in the container; whoever adopts it (init) reaps it.
    if (proc.pidfd >= 0) ::close(proc.pidfd);
    if (proc.terminal_fd >= 0) ::close(proc.terminal_fd);
    return 0;
  }
  return relay(proc, o.tty, o.interactive);
}

void add_exec_command(CLI::App& container) {
  auto o = std::make_shared<ExecOptions>();
  auto* exec = container.add_subcommand("exec", "Execute a command in a running container");
  exec->add_flag("-i,--interactive", o->interactive, "Keep STDIN open");
  exec->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  exec->add_flag("-d,--detach", o->detach, "Detached mode: run command in the background");
  exec->add_option("-u,--user", o->user, "Username or UID (format: \"<name|uid>[:<group|gid>]\")");
  exec->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  exec->add_option("-e,--env", o->env, "Set environment variables");
  exec->add_flag("--privileged", o->privileged, "Give extended privileges to the command");
  for (auto* opt : exec->get_options()) opt->allow_extra_args(false);
  // CONTAINER COMMAND [ARG...]: the first positional ends option parsing, as in Docker.
  exec->prefix_command();
  exec->footer("Usage: berth container exec [OPTIONS] CONTAINER COMMAND [ARG...]");
  exec->callback([o, exec] {
    auto rest = exec->remaining();
    if (rest.size() < 2)
      throw Error("\"berth container exec\" requires at least 2 arguments",
                  "usage: berth container exec [OPTIONS] CONTAINER COMMAND [ARG...]");
    std::vector<std::string> command(rest.begin() + 1, rest.end());
    exit_code() = run_exec(rest[0], command, *o);
  });
}

}  // namespace berth::cli
