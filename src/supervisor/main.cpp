// berth-supervisor: one per container. Replays the launch plan, relays the container's stdio to
// the attached CLI and to the json-file log, records the exit, cleans up its cgroups.
//
// Usage: berth-supervisor LAUNCH_JSON   (fd 3: stream socket to the CLI that started it)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "berth/cgroup/cgroup.h"
#include "berth/runtime/frames.h"
#include "berth/runtime/launch_plan.h"
#include "berth/runtime/launcher.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"
#include "berth/util/time.h"
#include "json_log.h"

namespace {

using namespace berth;
using runtime::Frame;

struct Supervisor {
  runtime::LaunchPlan plan;
  cgroup::Plan cg;
  int cli = 3;  // -1 once the CLI went away (the container keeps running)
  json state = json::object();
  JsonLog log;

  void write_state() { save_json_atomic(plan.run_dir + "/state.json", state); }

  void to_cli(Frame f, const std::string& payload) {
    if (cli >= 0 && !runtime::send_frame(cli, f, payload)) {
      ::close(cli);
      cli = -1;
    }
  }

  void remove_cgroups() {
    cgroup::kill_all(cg, SIGKILL);
    cgroup::remove(cg);
  }

  void autoremove() {
    if (!plan.autoremove) return;
    try {
      fs::remove_tree(plan.run_dir);
      fs::remove_tree(plan.state_dir);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "berth-supervisor: autoremove: %s\n", e.what());
    }
  }

  int run();
  void relay(int& fd, Frame stream, const char* name);
};

void Supervisor::relay(int& fd, Frame stream, const char* name) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {  // EOF (or EIO on a terminal whose last holder closed it)
    ::close(fd);
    fd = -1;
    return;
  }
  std::string data(buf, static_cast<size_t>(n));
  log.write(name, data);
  to_cli(stream, data);
}

int Supervisor::run() {
  std::vector<char> bpf;
  if (!plan.seccomp_bpf.empty()) {
    std::string s = fs::read_file(plan.seccomp_bpf);
    bpf.assign(s.begin(), s.end());
  }
  if (!plan.log_path.empty()) log.open(plan.log_path);
  state = {{"Status", "created"}, {"Pid", 0}, {"ExitCode", 0}, {"OOMKilled", false},
           {"StartedAt", ""}, {"FinishedAt", ""}, {"Error", ""},
           {"SupervisorPid", ::getpid()},
           {"SupervisorStart", runtime::process_start_time(::getpid())},
           {"BootId", runtime::boot_id()}};
  runtime::LaunchResult res;
  try {
    cgroup::create(cg);
    res = runtime::launch_container(plan, bpf, [&](pid_t pid) { cgroup::join(cg, pid); });
  } catch (const std::exception& e) {
    remove_cgroups();
    state["Error"] = e.what();
    state["ExitCode"] = 125;
    write_state();
    to_cli(Frame::Failed, json{{"message", e.what()}, {"exit_code", 125}}.dump());
    autoremove();
    return 0;
  }
  if (!res.started) {
    remove_cgroups();
    std::string msg = std::string(res.failure.step) + ": " +
                      (res.failure.detail[0] ? std::string(res.failure.detail) + ": " : "") +
                      std::strerror(res.failure.err);
    if (std::strcmp(res.failure.step, "exec") == 0) msg = res.failure.detail;
    int code = runtime::exit_code_for_start_failure(res.failure);
    state["Error"] = msg;
    state["ExitCode"] = code;
    write_state();
    to_cli(Frame::Failed, json{{"message", msg}, {"exit_code", code}}.dump());
    autoremove();
    return 0;
  }
  state["Status"] = "running";
  state["Pid"] = res.pid;
  state["ContainerStart"] = runtime::process_start_time(res.pid);
  state["StartedAt"] = timeutil::rfc3339_nano(res.started_ns);
  write_state();
  to_cli(Frame::Started, json{{"pid", res.pid}}.dump());

  int out = res.stdout_fd, err = res.stderr_fd, in = res.stdin_fd;
  bool exited = false;
  int status = 0;
  while (!exited || out >= 0 || err >= 0) {
    pollfd fds[4];
    int n = 0;
    int i_out = -1, i_err = -1, i_cli = -1, i_pid = -1;
    if (out >= 0) { i_out = n; fds[n++] = {out, POLLIN, 0}; }
    if (err >= 0) { i_err = n; fds[n++] = {err, POLLIN, 0}; }
    if (cli >= 0) { i_cli = n; fds[n++] = {cli, POLLIN, 0}; }
    if (!exited) { i_pid = n; fds[n++] = {res.pidfd, POLLIN, 0}; }
    // Once PID 1 is gone its pid namespace is gone: drain what is buffered, then stop.
    int rc = ::poll(fds, static_cast<nfds_t>(n), exited ? 200 : -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) break;
    if (i_out >= 0 && fds[i_out].revents) relay(out, Frame::Stdout, "stdout");
    if (i_err >= 0 && fds[i_err].revents) relay(err, Frame::Stderr, "stderr");
    if (i_cli >= 0 && fds[i_cli].revents) {
      auto frame = runtime::read_frame(cli);
      if (!frame) {
        ::close(cli);
        cli = -1;
      } else if (frame->first == Frame::Stdin && in >= 0) {
        const std::string& d = frame->second;
        size_t off = 0;
        while (off < d.size()) {
          ssize_t w = ::write(in, d.data() + off, d.size() - off);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) break;
          off += static_cast<size_t>(w);
        }
      } else if (frame->first == Frame::StdinClose && in >= 0 && !plan.terminal) {
        ::close(in);
        in = -1;
      } else if (frame->first == Frame::Signal) {
        ::syscall(SYS_pidfd_send_signal, res.pidfd, std::atoi(frame->second.c_str()), nullptr, 0);
      } else if (frame->first == Frame::Resize && plan.terminal) {
        unsigned rows = 0, cols = 0;
        if (std::sscanf(frame->second.c_str(), "%u %u", &rows, &cols) == 2) {
          winsize ws{static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0, 0};
          ::ioctl(res.terminal_fd, TIOCSWINSZ, &ws);
        }
      }
    }
    if (i_pid >= 0 && fds[i_pid].revents) {
      siginfo_t info{};
      if (::waitid(P_PIDFD, static_cast<id_t>(res.pidfd), &info, WEXITED) == 0) {
        exited = true;
        status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
        if (plan.terminal) {  // the terminal is the same fd for in and out
          in = -1;
          err = -1;
        }
      }
    }
  }
  log.flush();
  bool oom = cgroup::oom_kill_count(cg) > 0;
  remove_cgroups();
  if (out >= 0) ::close(out);
  if (err >= 0 && err != out) ::close(err);
  if (in >= 0 && in != res.terminal_fd) ::close(in);
  state["Status"] = "exited";
  state["Pid"] = 0;
  state["ExitCode"] = status;
  state["OOMKilled"] = oom;
  state["FinishedAt"] = timeutil::rfc3339_nano(timeutil::now_ns());
  write_state();
  to_cli(Frame::Exited, json{{"exit_code", status}, {"oom_killed", oom}}.dump());
  autoremove();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: berth-supervisor LAUNCH_JSON\n");
    return 2;
  }
  // Own session, stdio on /dev/null (never a CLI's pipe: CI would wait on it), nothing inherited.
  if (::getsid(0) != ::getpid()) ::setsid();
  int devnull = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
  if (devnull > 2) ::close(devnull);
  ::syscall(SYS_close_range, 4, ~0U, 0);
  ::fcntl(3, F_SETFD, FD_CLOEXEC);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  Supervisor s;
  try {
    s.plan = berth::runtime::launch_plan_from_json(berth::load_json_file(argv[1]));
    s.cg = berth::cgroup::plan_from_json(s.plan.cgroups);
    // Our own diagnostics go next to the state, so a crash can be explained.
    int logfd = ::open((s.plan.run_dir + "/supervisor.log").c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd >= 0) {
      ::dup2(logfd, 2);
      ::close(logfd);
    }
    return s.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth-supervisor: %s\n", e.what());
    s.to_cli(berth::runtime::Frame::Failed,
             berth::json{{"message", std::string("supervisor: ") + e.what()}, {"exit_code", 125}}.dump());
    return 1;
  }
}
