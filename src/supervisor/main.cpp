// berth-supervisor: one per container, for as long as the container should run. Replays the
// launch plan (and again on restart), relays stdio to attached clients and to the json-file
// log, applies the restart policy with Docker's back-off, answers a control socket, records
// every transition in state.json, and cleans up when the container is finally down.
//
// Usage: berth-supervisor LAUNCH_JSON   (fd 3: stream socket to the CLI that started it)
//
// A single-threaded poll(2) loop: the same model as a Boost.Asio io_context, with a smaller
// static binary (docs/architecture.md).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sys/mount.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "berth/cgroup/cgroup.h"
#include "berth/network/dns_server.h"
#include "berth/network/ipam.h"
#include "berth/network/port_proxy.h"
#include "berth/network/store.h"
#include "berth/runtime/exec.h"
#include "berth/runtime/frames.h"
#include "berth/runtime/launch_plan.h"
#include "berth/runtime/launcher.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/file_lock.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"
#include "berth/util/time.h"
#include "json_log.h"

namespace {

using namespace berth;
using runtime::Frame;

constexpr int kProtocolVersion = 1;

int64_t mono_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct Client {
  int fd = -1;
  bool attached = false;  // receives output frames and the final Exited
  bool waiting = false;   // receives a Response when the container is finally down
  bool stopping = false;  // a stop request: answered when the container is down
};

class Supervisor {
 public:
  runtime::LaunchPlan plan;
  cgroup::Plan cg;
  int network_ready_fd = -1;  // the first start's command waits for the CLI's NetworkReady there

  int run(int cli_fd);
  void report_fatal(const std::string& message);

 private:
  void write_state() { save_json_atomic(plan.run_dir + "/state.json", state_); }
  void send(Client& c, Frame f, const std::string& payload) {
    if (c.fd >= 0 && !runtime::send_frame(c.fd, f, payload)) drop(c);
  }
  void drop(Client& c) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
  }
  bool start_once();            // launch; false when the start failed (state records why)
  void on_exit(int status);
  void relay(int& fd, Frame stream, const char* name);
  void handle_request(Client& c, const std::string& body);
  void finish();                // the container is down for good
  bool should_restart(int status) const;
  void open_control_socket();
  void start_network_services();  // DNS responder and port proxies (fds 4.. from the CLI)
  void start_dns();               // once, when the plan has a dns section
  void release_network();         // --rm: the namespace and the address allocations
  void remove_container();        // --rm: network, directories (to the trash), anonymous volumes
  void empty_trash();             // after the clients are gone
  void release_mount_namespace();
  // healthchecks
  void start_probe();
  void finish_probe(int exit_code, const std::string& output);
  void schedule_probe(int64_t from_ms);

  json state_ = json::object();
  JsonLog log_;
  std::vector<Client> clients_;
  int listen_fd_ = -1;
  runtime::LaunchResult cur_;
  // A --rm container's mount namespace, held from its start until its clients have been told
  // of its exit: PID 1's exit then does not unmount the container's tree (~0.6 ms here) before
  // the supervisor can reap it; release_mount_namespace() does, off that path. A kept
  // container's exit still unmounts (and syncs its upper dir) before it is reported.
  int held_mnt_ns_ = -1;
  bool running_ = false;
  bool done_ = false;
  bool dns_started_ = false;
  int out_ = -1, err_ = -1, in_ = -1;
  std::vector<char> bpf_;
  int restart_count_ = 0;
  int64_t backoff_ms_ = 100;
  int64_t restart_at_ = 0;    // monotonic ms; 0 = no restart pending
  int64_t kill_at_ = 0;       // monotonic ms; 0 = no stop in progress
  int64_t started_mono_ = 0;
  bool manually_stopped_ = false;
  int last_status_ = 0;
  // Healthcheck (Docker's semantics; durations in ms). A probe is an exec into the container.
  bool health_enabled_ = false;
  std::vector<std::string> probe_args_;
  int64_t hc_interval_ = 30000, hc_timeout_ = 30000, hc_start_period_ = 0, hc_start_interval_ = 5000;
  int hc_retries_ = 3;
  int64_t next_probe_at_ = 0, probe_deadline_ = 0, probe_started_ns_ = 0;
  runtime::ExecProcess probe_;
  std::string probe_output_;
  std::vector<std::unique_ptr<EventSource>> sources_;
  std::vector<std::string> trash_;  // a --rm container's directories, moved out of the roots
};

void Supervisor::start_dns() {
  if (dns_started_ || !plan.dns.is_object()) return;
  network::DnsConfig c;
  c.netns_path = plan.dns.value("Namespace", "");
  c.network_records = plan.dns.value("Records", std::vector<std::string>{});
  c.forward = plan.dns.value("Forward", false);
  c.upstreams = plan.dns.value("Upstreams", std::vector<std::string>{});
  c.launch_plan_path = plan.run_dir + "/launch.json";
  try {
    sources_.push_back(std::make_unique<network::DnsServer>(c));
    dns_started_ = true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth-supervisor: DNS responder: %s\n", e.what());
  }
}

void Supervisor::start_network_services() {
  start_dns();
  std::vector<network::ProxiedPort> ports;
  int fd = 4;
  for (const auto& p : plan.ports) {
    network::ProxiedPort pp;
    pp.proto = p.value("Proto", "tcp");
    pp.listen_fd = fd++;
    pp.target_addr = network::parse_ipv4(p.value("Target", "127.0.0.1"), "port target");
    pp.target_port = static_cast<uint16_t>(p.value("ContainerPort", 0));
    ports.push_back(pp);
  }
  if (!ports.empty()) sources_.push_back(std::make_unique<network::PortProxy>(std::move(ports)));
}

void Supervisor::release_network() {
  if (!plan.netns_path.empty()) {
    // The veths die with the namespace once nothing holds it.
    ::umount2(plan.netns_path.c_str(), MNT_DETACH);
    ::unlink(plan.netns_path.c_str());
  }
  if (plan.networks.empty()) return;
  // <root>/containers/<id> -> <root>: the supervisor has no BERTH_ROOT in its environment.
  network::NetworkStore store(fs::dirname(fs::dirname(plan.state_dir)));
  for (const auto& n : plan.networks) store.detach(n, plan.id);
}

// --rm: the container's anonymous volumes go with it (Docker's behaviour), named ones stay.
void remove_anonymous_volumes(const runtime::LaunchPlan& plan) {
  for (const auto& dir : plan.autoremove_dirs) fs::remove_tree(dir);
}

// The container is gone for every command once its directories are out of the state and run
// roots: a rename each. Their files are deleted after the clients have been told (empty_trash):
// on a disk mounted with `discard` each freed file or directory is a synchronous discard
// (~0.1 ms each, ~2 ms a container here), and `run --rm` waits for the removal, not for that.
// A supervisor killed meanwhile leaves the trash to `container prune`.
void Supervisor::remove_container() {
  try {
    release_network();
    for (const auto& dir : {plan.run_dir, plan.state_dir})
      if (auto moved = fs::move_to_trash(dir); !moved.empty()) trash_.push_back(moved);
    remove_anonymous_volumes(plan);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth-supervisor: autoremove: %s\n", e.what());
  }
}

// The name index entry (<root>/names/<name>, engine/create.cpp) of a removed container, unless
// it names another container by now; under the names lock, as creates take it. Off the critical
// path: until then the entry is stale, and a create treats a stale entry as free.
void forget_name(const std::string& trashed_state_dir, const std::string& id) {
  auto record = read_json_if_valid(trashed_state_dir + "/config.json");
  std::string name = record ? record->value("Name", "") : "";
  if (name.size() < 2) return;
  const std::string root = fs::dirname(fs::dirname(trashed_state_dir));
  FileLock names_lock(root + "/locks", "names");
  const std::string entry = root + "/names/" + name.substr(1);
  if (fs::read_file_if_exists(entry) == id) ::unlink(entry.c_str());
}

void Supervisor::release_mount_namespace() {
  if (held_mnt_ns_ >= 0) ::close(held_mnt_ns_);
  held_mnt_ns_ = -1;
}

void Supervisor::empty_trash() {
  for (const auto& dir : trash_) {
    try {
      forget_name(dir, plan.id);
      fs::remove_tree(dir);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "berth-supervisor: autoremove: %s\n", e.what());
    }
  }
  trash_.clear();
}

void Supervisor::schedule_probe(int64_t from_ms) {
  if (!health_enabled_ || !running_) return;
  // During the start period probes come at start_interval until the first success.
  bool starting = state_["Health"].value("Status", "starting") == "starting";
  bool in_start_period = from_ms - started_mono_ < hc_start_period_;
  next_probe_at_ = from_ms + ((starting && in_start_period) ? hc_start_interval_ : hc_interval_);
}

void Supervisor::start_probe() {
  next_probe_at_ = 0;
  runtime::ExecSpec spec;
  spec.args = probe_args_;
  spec.cgroup_dirs = cg.dirs;
  probe_output_.clear();
  probe_started_ns_ = timeutil::now_ns();
  try {
    probe_ = runtime::start_exec(plan, cur_.pid, state_.value("ContainerStart", 0ULL), spec);
    probe_deadline_ = mono_ms() + hc_timeout_;
  } catch (const Error& e) {
    finish_probe(e.exit_code() == 127 || e.exit_code() == 126 ? e.exit_code() : 1, e.what());
  }
}

void Supervisor::finish_probe(int exit_code, const std::string& output) {
  for (int* fd : {&probe_.stdout_fd, &probe_.stderr_fd, &probe_.pidfd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  probe_.pid = -1;
  probe_deadline_ = 0;
  json& h = state_["Health"];
  json log = h.value("Log", json::array());
  log.push_back({{"Start", timeutil::rfc3339_nano(probe_started_ns_)},
                 {"End", timeutil::rfc3339_nano(timeutil::now_ns())},
                 {"ExitCode", exit_code},
                 {"Output", output.substr(0, 4096)}});
  while (log.size() > 5) log.erase(log.begin());
  h["Log"] = log;
  std::string status = h.value("Status", "starting");
  if (exit_code == 0) {
    h["Status"] = "healthy";
    h["FailingStreak"] = 0;
  } else if (!(status == "starting" && mono_ms() - started_mono_ < hc_start_period_)) {
    // Failures inside the start period do not count, as in Docker.
    int streak = h.value("FailingStreak", 0) + 1;
    h["FailingStreak"] = streak;
    if (streak >= hc_retries_) h["Status"] = "unhealthy";
  }
  write_state();
  schedule_probe(mono_ms());
}

void Supervisor::report_fatal(const std::string& message) {
  std::fprintf(stderr, "berth-supervisor: %s\n", message.c_str());
  if (clients_.empty()) clients_.push_back(Client{3, true, false, false});
  for (auto& c : clients_) send(c, Frame::Failed, json{{"message", message}, {"exit_code", 125}}.dump());
}

void Supervisor::open_control_socket() {
  // sun_path holds 108 bytes: bind through the directory's fd instead of the long path.
  int dirfd = ::open(plan.run_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) throw_errno("open " + plan.run_dir);
  std::string path = "/proc/self/fd/" + std::to_string(dirfd) + "/ctl.sock";
  ::unlink(path.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ::umask(077);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0)
    throw_errno("bind control socket " + plan.run_dir + "/ctl.sock");
  ::close(dirfd);
}

bool Supervisor::start_once() {
  runtime::LaunchResult res;
  try {
    cgroup::create(cg);
    res = runtime::launch_container(plan, bpf_, cg.dirs, network_ready_fd);
    network_ready_fd = -1;  // a restart finds the network as it was
  } catch (const std::exception& e) {
    state_["Error"] = e.what();
    state_["ExitCode"] = 125;
    for (auto& c : clients_) send(c, Frame::Failed, json{{"message", e.what()}, {"exit_code", 125}}.dump());
    return false;
  }
  if (!res.started) {
    std::string msg = std::string(res.failure.step) + ": " +
                      (res.failure.detail[0] ? std::string(res.failure.detail) + ": " : "") +
                      std::strerror(res.failure.err);
    if (std::strcmp(res.failure.step, "exec") == 0) msg = res.failure.detail;
    int code = runtime::exit_code_for_start_failure(res.failure);
    state_["Error"] = msg;
    state_["ExitCode"] = code;
    for (auto& c : clients_) send(c, Frame::Failed, json{{"message", msg}, {"exit_code", code}}.dump());
    return false;
  }
  cur_ = res;
  release_mount_namespace();
  if (plan.autoremove)
    held_mnt_ns_ = ::open(("/proc/" + std::to_string(res.pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
  running_ = true;
  started_mono_ = mono_ms();
  out_ = res.stdout_fd;
  err_ = res.stderr_fd;
  in_ = res.stdin_fd;
  state_["Status"] = "running";
  state_["Pid"] = res.pid;
  state_["ContainerStart"] = runtime::process_start_time(res.pid);
  state_["StartedAt"] = timeutil::rfc3339_nano(res.started_ns);
  state_["Error"] = "";
  state_["RestartCount"] = restart_count_;
  if (health_enabled_) {
    // The first probe runs at start, not after an interval (research/user-pain.md #2).
    state_["Health"]["Status"] = "starting";
    state_["Health"]["FailingStreak"] = 0;
    next_probe_at_ = mono_ms();
  }
  write_state();
  for (auto& c : clients_)
    if (c.attached) send(c, Frame::Started, json{{"pid", res.pid}}.dump());
  return true;
}

bool Supervisor::should_restart(int status) const {
  if (manually_stopped_ || plan.autoremove) return false;
  const std::string& p = plan.restart_policy;
  if (p == "always" || p == "unless-stopped") return true;
  if (p == "on-failure") return status != 0 && (plan.restart_max <= 0 || restart_count_ < plan.restart_max);
  return false;
}

void Supervisor::on_exit(int status) {
  running_ = false;
  next_probe_at_ = 0;
  if (probe_.pid > 0) {
    ::kill(probe_.pid, SIGKILL);
    ::waitpid(probe_.pid, nullptr, 0);
    finish_probe(-1, "container exited");
    next_probe_at_ = 0;
  }
  kill_at_ = 0;
  last_status_ = status;
  log_.flush();
  bool oom = cgroup::oom_kill_count(cg) > 0;
  if (out_ >= 0) ::close(out_);
  if (err_ >= 0 && err_ != out_) ::close(err_);
  if (in_ >= 0 && in_ != out_) ::close(in_);
  out_ = err_ = in_ = -1;
  if (cur_.pidfd >= 0) ::close(cur_.pidfd);
  cur_.pidfd = -1;
  state_["Pid"] = 0;
  state_["ExitCode"] = status;
  state_["OOMKilled"] = oom;
  state_["FinishedAt"] = timeutil::rfc3339_nano(timeutil::now_ns());
  state_["ManuallyStopped"] = manually_stopped_;
  if (should_restart(status)) {
    cgroup::kill_all(cg, SIGKILL);  // stragglers outside the pid namespace's reach (none usually)
    // Docker's back-off: 100 ms doubling, back to 100 ms after 10 s of uptime.
    if (mono_ms() - started_mono_ >= 10000) backoff_ms_ = 100;
    restart_at_ = mono_ms() + backoff_ms_;
    backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 60000);
    state_["Status"] = "restarting";
    write_state();
    return;
  }
  finish();
}

void Supervisor::finish() {
  done_ = true;
  // Empty cgroups (the usual case: PID 1's exit killed its namespace) go with one rmdir each;
  // only when one is busy are the stragglers listed and killed.
  if (!cgroup::remove(cg, 0)) {
    cgroup::kill_all(cg, SIGKILL);
    cgroup::remove(cg);
  }
  state_["Status"] = "exited";
  state_["Pid"] = 0;
  // A --rm container's state goes with its directories: not worth a write (renaming over the
  // old file frees its block: one more synchronous discard).
  if (!plan.autoremove) write_state();
  std::string exited = json{{"exit_code", last_status_}, {"oom_killed", state_.value("OOMKilled", false)}}.dump();
  for (auto& c : clients_) {
    if (c.attached) send(c, Frame::Exited, exited);
    if (c.waiting || c.stopping) send(c, Frame::Response, json{{"ok", true}, {"exit_code", last_status_}}.dump());
  }
  if (plan.autoremove) remove_container();
}

void Supervisor::relay(int& fd, Frame stream, const char* name) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {  // EOF (or EIO on a terminal whose last holder closed it)
    if (fd == in_) in_ = -1;
    ::close(fd);
    fd = -1;
    return;
  }
  std::string data(buf, static_cast<size_t>(n));
  log_.write(name, data);
  for (auto& c : clients_)
    if (c.attached) send(c, stream, data);
}

void Supervisor::handle_request(Client& c, const std::string& body) {
  json req, resp = {{"ok", true}};
  try {
    req = json::parse(body);
  } catch (...) {
    send(c, Frame::Response, json{{"ok", false}, {"error", "malformed request"}}.dump());
    return;
  }
  if (req.value("version", 0) != kProtocolVersion) {
    send(c, Frame::Response,
         json{{"ok", false}, {"error", "protocol version mismatch: supervisor speaks " + std::to_string(kProtocolVersion)}}.dump());
    return;
  }
  std::string op = req.value("op", "");
  if (op == "status") {
    resp["state"] = state_;
  } else if (op == "kill") {
    int sig = req.value("signal", SIGKILL);
    if (!running_) {
      send(c, Frame::Response, json{{"ok", false}, {"error", "container is not running"}}.dump());
      return;
    }
    ::syscall(SYS_pidfd_send_signal, cur_.pidfd, sig, nullptr, 0);
  } else if (op == "stop") {
    manually_stopped_ = true;
    restart_at_ = 0;
    if (!running_) {  // restarting or already down: stop means down now
      if (!done_) {
        state_["ManuallyStopped"] = true;
        finish();
      }
      resp["exit_code"] = last_status_;
    } else {
      int timeout = req.value("timeout", plan.stop_timeout_s);
      ::syscall(SYS_pidfd_send_signal, cur_.pidfd, plan.stop_signal, nullptr, 0);
      kill_at_ = mono_ms() + static_cast<int64_t>(timeout) * 1000;
      if (timeout <= 0) ::syscall(SYS_pidfd_send_signal, cur_.pidfd, SIGKILL, nullptr, 0);
      c.stopping = true;
      return;  // answered from finish()
    }
  } else if (op == "wait") {
    if (done_) {
      resp["exit_code"] = last_status_;
    } else {
      c.waiting = true;
      return;
    }
  } else if (op == "attach") {
    c.attached = true;
  } else if (op == "dns") {
    // `network connect` gave a container that started without the embedded DNS (default bridge
    // only) its first user network: the plan now has a dns section; serve it from now on.
    try {
      plan.dns = load_json_file(plan.run_dir + "/launch.json").value("dns", json());
      start_dns();
    } catch (const std::exception& e) {
      resp = {{"ok", false}, {"error", e.what()}};
    }
    if (!dns_started_ && resp.value("ok", true)) resp = {{"ok", false}, {"error", "the DNS responder did not start"}};
  } else {
    resp = {{"ok", false}, {"error", "unknown request \"" + op + "\""}};
  }
  send(c, Frame::Response, resp.dump());
}

int Supervisor::run(int cli_fd) {
  clients_.push_back(Client{cli_fd, true, false, false});
  if (!plan.seccomp_bpf.empty()) {
    std::string s = fs::read_file(plan.seccomp_bpf);
    bpf_.assign(s.begin(), s.end());
  }
  if (!plan.log_path.empty()) log_.open(plan.log_path, plan.log_max_size, std::max(plan.log_max_files, 1));
  state_ = {{"Status", "created"}, {"Pid", 0}, {"ExitCode", 0}, {"OOMKilled", false},
            {"StartedAt", ""}, {"FinishedAt", ""}, {"Error", ""}, {"RestartCount", 0},
            {"SupervisorPid", ::getpid()},
            {"SupervisorStart", runtime::process_start_time(::getpid())},
            {"BootId", runtime::boot_id()},
            {"FreezeFile", cg.unified ? (cg.dirs.empty() ? "" : cg.dirs[0] + "/cgroup.freeze")
                                      : (cg.freezer_dir.empty() ? "" : cg.freezer_dir + "/freezer.state")}};
  // The healthcheck: ["CMD", args...] or ["CMD-SHELL", "cmd"]; NONE or empty disables it.
  if (plan.healthcheck.is_object()) {
    auto test = plan.healthcheck.value("Test", std::vector<std::string>{});
    if (!test.empty() && test[0] == "CMD-SHELL" && test.size() > 1) probe_args_ = {"/bin/sh", "-c", test[1]};
    else if (!test.empty() && test[0] == "CMD") probe_args_.assign(test.begin() + 1, test.end());
    health_enabled_ = !probe_args_.empty();
    auto ms = [&](const char* key, int64_t fallback) {
      int64_t ns = plan.healthcheck.value(key, int64_t{0});
      return ns > 0 ? ns / 1000000 : fallback;
    };
    hc_interval_ = ms("Interval", 30000);
    hc_timeout_ = ms("Timeout", 30000);
    hc_start_period_ = ms("StartPeriod", 0);
    hc_start_interval_ = ms("StartInterval", 5000);
    hc_retries_ = plan.healthcheck.value("Retries", 0) > 0 ? plan.healthcheck.value("Retries", 3) : 3;
    if (health_enabled_) state_["Health"] = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}};
  }
  open_control_socket();
  start_network_services();
  if (!start_once()) {
    cgroup::remove(cg);
    write_state();
    ::unlink((plan.run_dir + "/ctl.sock").c_str());
    if (plan.autoremove) remove_container();
    for (auto& c : clients_) drop(c);
    empty_trash();
    return 0;
  }
  while (!done_) {
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    size_t first_client = fds.size();
    for (auto& c : clients_) fds.push_back({c.fd, POLLIN, 0});
    size_t i_out = fds.size();
    fds.push_back({out_, POLLIN, 0});
    fds.push_back({err_, POLLIN, 0});
    fds.push_back({running_ ? cur_.pidfd : -1, POLLIN, 0});
    size_t i_probe = fds.size();
    fds.push_back({probe_.stdout_fd, POLLIN, 0});
    fds.push_back({probe_.stderr_fd, POLLIN, 0});
    fds.push_back({probe_.pid > 0 ? probe_.pidfd : -1, POLLIN, 0});
    for (auto& src : sources_) src->add_fds(fds);
    int64_t now = mono_ms(), timeout = -1;
    std::vector<int64_t> deadlines{restart_at_, kill_at_, next_probe_at_, probe_deadline_};
    for (auto& src : sources_) deadlines.push_back(src->next_deadline_ms());
    for (int64_t at : deadlines)
      if (at) timeout = timeout < 0 ? std::max<int64_t>(0, at - now) : std::min(timeout, std::max<int64_t>(0, at - now));
    // While the exited container's pipes drain, do not wait long.
    int rc = ::poll(fds.data(), fds.size(), static_cast<int>(timeout));
    if (rc < 0 && errno != EINTR) break;
    now = mono_ms();
    if (kill_at_ && now >= kill_at_ && running_) {
      ::syscall(SYS_pidfd_send_signal, cur_.pidfd, SIGKILL, nullptr, 0);
      kill_at_ = 0;
    }
    if (restart_at_ && now >= restart_at_ && !running_) {
      restart_at_ = 0;
      ++restart_count_;
      state_["RestartCount"] = restart_count_;
      if (!start_once()) {
        last_status_ = state_.value("ExitCode", 125);
        finish();
        break;
      }
      continue;
    }
    if (next_probe_at_ && now >= next_probe_at_ && running_ && probe_.pid <= 0) start_probe();
    if (probe_deadline_ && now >= probe_deadline_ && probe_.pid > 0) {
      ::kill(probe_.pid, SIGKILL);
      ::waitpid(probe_.pid, nullptr, 0);
      finish_probe(-1, "Health check exceeded timeout (" + std::to_string(hc_timeout_ / 1000) + "s)");
    }
    for (auto& src : sources_) src->handle(fds, now);
    if (rc <= 0) continue;
    for (size_t k = 0; k < 2; ++k) {
      int& fd = k == 0 ? probe_.stdout_fd : probe_.stderr_fd;
      if (fd >= 0 && fds[i_probe + k].fd == fd && fds[i_probe + k].revents) {
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0 && probe_output_.size() < 4096) probe_output_.append(buf, static_cast<size_t>(n));
        if (n <= 0) {
          ::close(fd);
          fd = -1;
        }
      }
    }
    if (probe_.pid > 0 && fds[i_probe + 2].fd == probe_.pidfd && fds[i_probe + 2].revents) {
      int code = runtime::wait_exec(probe_);
      // Collect what is left in the pipes before recording the result.
      for (int* fd : {&probe_.stdout_fd, &probe_.stderr_fd}) {
        if (*fd < 0) continue;
        ::fcntl(*fd, F_SETFL, O_NONBLOCK);
        char buf[4096];
        ssize_t n;
        while ((n = ::read(*fd, buf, sizeof buf)) > 0 && probe_output_.size() < 4096)
          probe_output_.append(buf, static_cast<size_t>(n));
      }
      finish_probe(code, probe_output_);
    }
    if (fds[0].revents) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ucred cred{};
        socklen_t len = sizeof cred;
        // Only the owner (root) may drive the container.
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == ::geteuid())
          clients_.push_back(Client{fd, false, false, false});
        else
          ::close(fd);
      }
    }
    for (size_t k = 0; k + first_client < i_out; ++k) {
      if (!fds[first_client + k].revents) continue;
      Client& c = clients_[k];
      auto frame = runtime::read_frame(c.fd);
      if (!frame) {
        drop(c);
        continue;
      }
      switch (frame->first) {
        case Frame::Request: handle_request(c, frame->second); break;
        case Frame::Stdin:
          if (in_ >= 0) {
            const std::string& d = frame->second;
            for (size_t off = 0; off < d.size();) {
              ssize_t w = ::write(in_, d.data() + off, d.size() - off);
              if (w < 0 && errno == EINTR) continue;
              if (w <= 0) break;
              off += static_cast<size_t>(w);
            }
          }
          break;
        case Frame::StdinClose:
          if (in_ >= 0 && !plan.terminal) {
            ::close(in_);
            in_ = -1;
          }
          break;
        case Frame::Signal:
          if (running_) ::syscall(SYS_pidfd_send_signal, cur_.pidfd, std::atoi(frame->second.c_str()), nullptr, 0);
          break;
        case Frame::Resize:
          if (plan.terminal && running_) {
            unsigned rows = 0, cols = 0;
            if (std::sscanf(frame->second.c_str(), "%u %u", &rows, &cols) == 2) {
              winsize ws{static_cast<unsigned short>(rows), static_cast<unsigned short>(cols), 0, 0};
              ::ioctl(cur_.terminal_fd, TIOCSWINSZ, &ws);
            }
          }
          break;
        default: break;
      }
    }
    if (fds[i_out].revents) relay(out_, Frame::Stdout, "stdout");
    if (fds[i_out + 1].revents) relay(err_, Frame::Stderr, "stderr");
    if (fds[i_out + 2].revents && running_) {
      siginfo_t info{};
      if (::waitid(P_PIDFD, static_cast<id_t>(cur_.pidfd), &info, WEXITED) == 0) {
        int status = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
        // Drain what the container wrote before it exited (its pid namespace is gone now).
        for (int round = 0; round < 50 && (out_ >= 0 || (err_ >= 0 && err_ != out_)); ++round) {
          pollfd p[2] = {{out_, POLLIN, 0}, {err_ != out_ ? err_ : -1, POLLIN, 0}};
          if (::poll(p, 2, 100) <= 0) break;
          if (p[0].revents) relay(out_, Frame::Stdout, "stdout");
          if (p[1].revents) relay(err_, Frame::Stderr, "stderr");
        }
        on_exit(status);
      }
    }
    std::erase_if(clients_, [](const Client& c) { return c.fd < 0; });
  }
  for (auto& c : clients_) drop(c);
  release_mount_namespace();  // before empty_trash deletes the upper dir its overlay uses
  ::unlink((plan.run_dir + "/ctl.sock").c_str());
  empty_trash();
  return 0;
}

}  // namespace

// `berth-supervisor - RUN_CONTAINERS_DIR`: started early (`container run`), before the container
// exists. The CLI's first frame is a Plan: the launch plan's path, with the published ports'
// sockets attached; they become fds 4... The path must lie in RUN_CONTAINERS_DIR. A second line
// kAwaitNetwork sets *await_network. Returns "" when the CLI closed the stream instead.
static std::string receive_launch_path(const std::string& run_containers, bool* await_network) {
  ::syscall(SYS_close_range, 4U, ~0U, 0);  // received sockets then land on 4, 5, ... in order
  std::vector<int> fds;
  auto frame = berth::runtime::read_frame(3, &fds);
  if (!frame) return "";
  if (frame->first != berth::runtime::Frame::Plan) throw std::runtime_error("bad launch plan message from the CLI");
  for (size_t i = 0; i < fds.size(); ++i)
    if (fds[i] != 4 + static_cast<int>(i)) throw std::runtime_error("published port sockets arrived out of order");
  std::string path = frame->second;
  if (auto nl = path.find('\n'); nl != std::string::npos) {
    if (path.compare(nl + 1, std::string::npos, berth::runtime::kAwaitNetwork) != 0)
      throw std::runtime_error("bad launch plan message from the CLI");
    *await_network = true;
    path.resize(nl);
  }
  if (path.compare(0, run_containers.size() + 1, run_containers + "/") != 0 || path.find("/../") != std::string::npos)
    throw std::runtime_error("launch plan " + path + " is not in " + run_containers);
  return path;
}

int main(int argc, char** argv) {
  // The CLI starts us with every signal blocked (engine spawn_supervisor): unblock them first.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  bool early = argc == 3 && std::strcmp(argv[1], "-") == 0;
  if (argc != 2 && !early) {
    std::fprintf(stderr, "usage: berth-supervisor LAUNCH_JSON | berth-supervisor - RUN_CONTAINERS_DIR\n");
    return 2;
  }
  // Own session, stdio on /dev/null (never a CLI's pipe: CI would wait on it), nothing inherited.
  if (::getsid(0) != ::getpid()) ::setsid();
  int devnull = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(devnull, fd);
  if (devnull > 2) ::close(devnull);
  ::fcntl(3, F_SETFD, FD_CLOEXEC);
  // Room for every published port's socket and the proxied connections (six fds each); the
  // container gets its own limit from the launch plan.
  berth::raise_fd_limit();
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGINT, SIG_IGN);
  Supervisor s;
  try {
    std::string launch = argv[1];
    if (early) {
      bool await_network = false;
      launch = receive_launch_path(argv[2], &await_network);
      if (launch.empty()) return 0;  // the CLI's create failed: nothing to supervise
      if (await_network) s.network_ready_fd = 3;
    }
    s.plan = berth::runtime::launch_plan_from_json(berth::load_json_file(launch));
    s.cg = berth::cgroup::plan_from_json(s.plan.cgroups);
    // Inherited: fd 3 (the CLI) and fds 4.. (the published ports' sockets); nothing else.
    unsigned first_unknown = 4 + static_cast<unsigned>(s.plan.ports.size());
    ::syscall(SYS_close_range, first_unknown, ~0U, 0);
    for (unsigned fd = 4; fd < first_unknown; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    // Our own diagnostics go next to the state, so a crash can be explained.
    int logfd = ::open((s.plan.run_dir + "/supervisor.log").c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd >= 0) {
      ::dup2(logfd, 2);
      ::close(logfd);
    }
    return s.run(3);
  } catch (const std::exception& e) {
    s.report_fatal(std::string("supervisor: ") + e.what());
    return 1;
  }
}
