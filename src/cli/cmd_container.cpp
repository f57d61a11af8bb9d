// berth container run | ls | rm | prune
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/network/ports.h"
#include "berth/runtime/frames.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/json.h"
#include "berth/util/time.h"
#include "cli.h"
#include "table.h"

namespace berth::cli {

namespace {

using runtime::Frame;

void add_create_flags(CLI::App* cmd, engine::ContainerOptions& o) {
  cmd->add_option("--name", o.name, "Assign a name to the container");
  cmd->add_flag("--rm", o.autoremove, "Automatically remove the container when it exits");
  cmd->add_flag("-i,--interactive", o.interactive, "Keep STDIN open");
  cmd->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
  cmd->add_option("-e,--env", o.env, "Set environment variables")->take_all();
  cmd->add_option("--env-file", o.env_files, "Read in a file of environment variables");
  cmd->add_option("-w,--workdir", o.workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd->add_option("--entrypoint", o.entrypoint, "Overwrite the default ENTRYPOINT of the image");
  cmd->add_flag("--init", o.init, "Run an init inside the container that forwards signals and reaps processes");
  cmd->add_flag("--privileged", o.privileged, "Give extended privileges to this container");
  cmd->add_option("--cap-add", o.cap_add, "Add Linux capabilities");
  cmd->add_option("--cap-drop", o.cap_drop, "Drop Linux capabilities");
  cmd->add_option("--security-opt", o.security_opt, "Security options");
  cmd->add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
  cmd->add_option("--tmpfs", o.tmpfs, "Mount a tmpfs directory");
  cmd->add_option("-v,--volume", o.volumes, "Bind mount a volume");
  cmd->add_option("--mount", o.mounts, "Attach a filesystem mount to the container (type=volume|bind|tmpfs,source=,target=,...)");
  cmd->add_option("-m,--memory", o.memory, "Memory limit");
  cmd->add_option("--memory-swap", o.memory_swap, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap");
  cmd->add_option("--cpus", o.cpus, "Number of CPUs");
  cmd->add_option("-c,--cpu-shares", o.cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--pids-limit", o.pids_limit, "Tune container pids limit (set -1 for unlimited)");
  cmd->add_option("--ulimit", o.ulimits, "Ulimit options");
  cmd->add_option("--network,--net", o.network, "Connect a container to a network (bridge, none, host, container:NAME, or a network's name)");
  cmd->add_option("--network-alias", o.network_aliases, "Add network-scoped alias for the container");
  cmd->add_option("--ip", o.ip, "IPv4 address (e.g., 172.30.100.104)");
  cmd->add_option("--mac-address", o.mac_address, "Container MAC address (e.g., 92:d0:c6:0a:29:33)");
  cmd->add_option("--add-host", o.add_hosts, "Add a custom host-to-IP mapping (host:ip)");
  cmd->add_option("--dns", o.dns, "Set custom DNS servers");
  cmd->add_option("--dns-search", o.dns_search, "Set custom DNS search domains");
  cmd->add_option("--dns-option", o.dns_options, "Set DNS options");
  cmd->add_option("-p,--publish", o.publish, "Publish a container's port(s) to the host");
  cmd->add_flag("-P,--publish-all", o.publish_all, "Publish all exposed ports to random ports");
  cmd->add_option("-h,--hostname", o.hostname, "Container host name");
  cmd->add_option("-l,--label", o.labels, "Set meta data on a container");
  cmd->add_option("--label-file", o.label_files, "Read in a line delimited file of labels");
  cmd->add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
  cmd->add_option("--sysctl", o.sysctls, "Sysctl options (namespaced keys only, e.g. net.core.somaxconn=1024)");
  cmd->add_option("--shm-size", o.shm_size, "Size of /dev/shm (default 64m)");
  cmd->add_option("--domainname", o.domainname, "Container NIS domain name");
  cmd->add_option("--group-add", o.group_add, "Add additional groups to join");
  // Repeatable flags take one value per occurrence (-e A -e B), never the image that follows.
  for (auto* opt : cmd->get_options()) opt->allow_extra_args(false);
  // IMAGE [COMMAND] [ARG...]: the first positional ends option parsing, as in Docker.
  cmd->prefix_command();
  cmd->footer("Usage: berth container " + cmd->get_name() + " [OPTIONS] IMAGE [COMMAND] [ARG...]");
}

// The terminal of the CLI stays the CLI's: in raw mode while attached, restored on every exit.
class RawTerminal {
 public:
  explicit RawTerminal(bool enable) {
    if (!enable || !::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

void send_window_size(int sock) {
  winsize ws{};
  if (::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row)
    runtime::send_frame(sock, Frame::Resize, std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col));
}

// Attached run: relay stdin and signals to the supervisor, its output to ours; returns the
// container's exit code once the supervisor is done (after --rm cleanup).
}  // namespace

int attach_container_stream(int sock, const engine::ContainerOptions& o, const std::string& id, bool print_id,
                            bool started_here) {
  sigset_t mask;
  sigemptyset(&mask);
  // Forwarded signals must reach the signalfd even when our parent ignored them (a background
  // job starts with SIGINT ignored): an ignored signal is discarded, never pending.
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) {
    sigaddset(&mask, s);
    ::signal(s, SIG_DFL);
  }
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  ::signal(SIGPIPE, SIG_IGN);

  if (started_here) engine::read_start_report(sock, id);
  if (o.detach) {
    if (print_id) std::printf("%s\n", id.c_str());
    ::close(sock);
    return 0;
  }
  RawTerminal raw(o.tty && o.interactive);
  if (o.tty) send_window_size(sock);
  bool stdin_open = o.interactive;
  int exit_code = -1;
  for (;;) {
    pollfd fds[3] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) {
      auto frame = runtime::read_frame(sock);
      if (!frame) break;  // the supervisor is done
      if (frame->first == Frame::Stdout) write_all(1, frame->second);
      else if (frame->first == Frame::Stderr) write_all(2, frame->second);
      else if (frame->first == Frame::Exited) {
        exit_code = json::parse(frame->second).value("exit_code", 0);
        if (!started_here) break;  // attached to a running container: its exit ends the attach
      }
    }
    if (fds[1].revents) {
      signalfd_siginfo si{};
      if (::read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGWINCH) send_window_size(sock);
        else runtime::send_frame(sock, Frame::Signal, std::to_string(si.ssi_signo));
      }
    }
    if (stdin_open && fds[2].revents) {
      char buf[16384];
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n > 0) {
        runtime::send_frame(sock, Frame::Stdin, std::string(buf, static_cast<size_t>(n)));
      } else if (n == 0 || errno != EINTR) {
        // The end of our input closes the container's only when we started it (run -i); an
        // attach that ends its input leaves the container's stdin open, as Docker's.
        if (started_here) runtime::send_frame(sock, Frame::StdinClose, "");
        stdin_open = false;
      }
    }
  }
  if (exit_code < 0) {
    // Removed under us (rm -f kills the supervisor, then removes the record): the container was
    // killed, as Docker reports it. Give the removal a moment to finish before deciding.
    const std::string dir = engine::container_paths(id).state_dir;
    for (int i = 0; i < 100 && fs::exists(dir); ++i) ::usleep(20000);
    if (!fs::exists(dir)) return 137;
  }
  if (exit_code < 0)
    throw Error("lost contact with the supervisor of container " + short_id(id),
                "see " + engine::container_paths(id).run_dir + "/supervisor.log");
  return exit_code;
}

std::string container_status_text(const engine::ContainerView& v) {
  const json& st = v.record["State"];
  int64_t now = timeutil::now_ns();
  auto since = [&](const char* key) {
    int64_t t = 0;
    try {
      t = timeutil::parse_rfc3339(st.value(key, ""));
    } catch (...) {
    }
    return t > 0 ? (now - t) / 1000000000LL : 0;
  };
  if (v.status == "running") {
    std::string up = "Up " + timeutil::human_ago(since("StartedAt"));
    std::string health = st.contains("Health") ? st["Health"].value("Status", "") : "";
    if (health == "starting") return up + " (health: starting)";
    if (!health.empty()) return up + " (" + health + ")";
    return up;
  }
  if (v.status == "paused") return "Up " + timeutil::human_ago(since("StartedAt")) + " (Paused)";
  if (v.status == "restarting")
    return "Restarting (" + std::to_string(st.value("ExitCode", 0)) + ") " +
           timeutil::human_ago(since("FinishedAt")) + " ago";
  if (v.status == "supervisor lost") return "Up " + timeutil::human_ago(since("StartedAt")) + " (supervisor lost)";
  if (v.status == "exited")
    return "Exited (" + std::to_string(st.value("ExitCode", 0)) + ") " +
           timeutil::human_ago(since("FinishedAt")) + " ago";
  return "Created";
}

std::string container_ports_column(const engine::ContainerView& v) {
  std::string ports;
  bool running = v.status != "exited" && v.status != "created";
  if (running && v.record.contains("NetworkSettings") && v.record["NetworkSettings"].contains("Ports"))
    for (const auto& line : network::port_lines(v.record["NetworkSettings"]["Ports"])) {
      // "80/tcp -> 0.0.0.0:8080" becomes Docker's column form "0.0.0.0:8080->80/tcp"
      auto arrow = line.find(" -> ");
      if (arrow == std::string::npos) continue;
      ports += (ports.empty() ? "" : ", ") + line.substr(arrow + 4) + "->" + line.substr(0, arrow);
    }
  return ports;
}

std::string container_labels_text(const engine::ContainerView& v) {
  std::string labels;
  const json& rec = v.record;
  if (rec.contains("Config") && rec["Config"].contains("Labels") && rec["Config"]["Labels"].is_object())
    for (const auto& [key, value] : rec["Config"]["Labels"].items())
      labels += (labels.empty() ? "" : ",") + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  return labels;
}

namespace {

void take_image_and_command(CLI::App* cmd, engine::ContainerOptions& o) {
  auto rest = cmd->remaining();
  if (rest.empty())
    throw Error("\"berth container " + cmd->get_name() + "\" requires at least 1 argument",
                "usage: berth container " + cmd->get_name() + " [OPTIONS] IMAGE [COMMAND] [ARG...]");
  o.image = rest[0];
  o.cmd.assign(rest.begin() + 1, rest.end());
}

void add_run_command(CLI::App* container) {
  auto opts = std::make_shared<engine::ContainerOptions>();
  auto* run = container->add_subcommand("run", "Create and run a new container from an image");
  run->set_help_flag("--help", "Print help");  // -h is --hostname, as in Docker
  add_create_flags(run, *opts);
  run->add_flag("-d,--detach", opts->detach, "Run container in background and print container ID");
  run->add_option("--restart", opts->restart, "Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])");
  run->add_option("--stop-timeout", opts->stop_timeout, "Timeout (in seconds) to stop a container");
  run->add_option("--log-driver", opts->log_driver, "Logging driver for the container (json-file, none)");
  run->add_option("--health-cmd", opts->health_cmd, "Command to run to check health");
  run->add_option("--health-interval", opts->health_interval, "Time between running the check (ms|s|m|h)");
  run->add_option("--health-timeout", opts->health_timeout, "Maximum time to allow one check to run (ms|s|m|h)");
  run->add_option("--health-retries", opts->health_retries, "Consecutive failures needed to report unhealthy");
  run->add_option("--health-start-period", opts->health_start_period, "Start period for the container to initialize before counting retries");
  run->add_option("--health-start-interval", opts->health_start_interval, "Time between running the check during the start period");
  run->add_flag("--no-healthcheck", opts->no_healthcheck, "Disable any container-specified HEALTHCHECK");
  run->add_option("--log-opt", opts->log_opts, "Log driver options (max-size, max-file)");
  for (auto* opt : run->get_options()) opt->allow_extra_args(false);
  run->callback([opts, run] {
    take_image_and_command(run, *opts);
    // The supervisor's exec and start-up run on the other core while this process creates.
    UniqueFd early = engine::spawn_supervisor_early();
    std::vector<UniqueFd> port_fds;
    // The veth is configured while the supervisor builds the container (on other cores), not
    // before: its command waits for NetworkReady.
    engine::ContainerNetwork network;
    std::string id = engine::create_container(*opts, &port_fds, &network);
    std::vector<int> fds;
    for (const auto& f : port_fds) fds.push_back(f.get());
    bool network_pending = !network.endpoints.empty();
    try {
      int sock = engine::start_container(id, &fds, &early, network_pending);
      port_fds.clear();  // the supervisor holds them now
      if (network_pending) {
        network_pending = false;
        engine::finish_container_network(sock, id, network);
      }
      exit_code() = attach_container_stream(sock, *opts, id, true);
    } catch (const engine::SupervisorLost& e) {
      // A container kept for `container start` needs its network as any created one has it.
      if (network_pending && !opts->autoremove) try {
          engine::configure_container_network(network);
        } catch (const std::exception&) {  // the supervisor's loss is the error to show
        }
      if (!opts->autoremove) throw;
      // As Docker: a --rm container that did not start is removed, volumes with it (its
      // supervisor, which would have done it, went away first).
      port_fds.clear();
      try {
        engine::remove_container(id, true, true);
      } catch (const Error&) {
      }
      throw Error(e.what(), "the container was removed (--rm); run it without --rm to keep its supervisor's log",
                  e.exit_code());
    }
  });
}

void add_ls_command(CLI::App* container) {
  auto* ls = container->add_subcommand("ls", "List containers");
  ls->alias("ps")->alias("list");
  auto all = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>();
  ls->add_flag("-a,--all", *all, "Show all containers (default shows just running)");
  ls->add_flag("-q,--quiet", *quiet, "Only display container IDs");
  ls->add_option("--format", *format, "Format output: table or json");
  auto filters = std::make_shared<std::vector<std::string>>();
  ls->add_option("-f,--filter", *filters, "Filter output: label=KEY[=VALUE], name=NAME, status=STATUS, id=ID")
      ->allow_extra_args(false);
  ls->callback([all, quiet, format, filters] {
    auto matches = [&](const engine::ContainerView& v) {
      for (const auto& f : *filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos)
          throw Error("bad format of filter (expected name=value): " + f, "e.g. --filter label=app=web");
        std::string key = f.substr(0, eq), value = f.substr(eq + 1);
        if (key == "label") {
          const json& labels = v.record["Config"]["Labels"];
          auto leq = value.find('=');
          std::string lk = value.substr(0, leq);
          if (!labels.contains(lk)) return false;
          if (leq != std::string::npos && labels[lk] != value.substr(leq + 1)) return false;
        } else if (key == "name") {
          if (v.name.find(value) == std::string::npos) return false;
        } else if (key == "status") {
          if (v.record["State"].value("Status", "") != value) return false;
        } else if (key == "id") {
          if (v.id.rfind(value, 0) != 0) return false;
        } else {
          throw Error("invalid filter '" + key + "'", "use label, name, status or id");
        }
      }
      return true;
    };
    Table t({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"});
    int64_t now = timeutil::now_ns();
    // Never freed (still reachable through the static, so leak checkers stay quiet): the process
    // exits right after, and tearing down a hundred records' trees would cost ~5% of the command.
    static const auto* listing = new std::vector<engine::ContainerView>(engine::list_containers(engine::ViewDetail::summary));
    const auto& views = *listing;
    for (const auto& v : views) {
      bool running = v.status != "exited" && v.status != "created";
      // As Docker: a status filter looks at every container, other filters at the running ones.
      bool status_filter = std::any_of(filters->begin(), filters->end(),
                                       [](const std::string& f) { return f.rfind("status=", 0) == 0; });
      if (!*all && !running && !status_filter) continue;
      if (!matches(v)) continue;
      if (*quiet) {
        std::printf("%s\n", short_id(v.id).c_str());
        continue;
      }
      std::string cmd = v.command.size() > 20 ? v.command.substr(0, 19) + "…" : v.command;
      std::string created = timeutil::human_ago((now - v.created_ns) / 1000000000LL) + " ago";
      if (*format == "json") {
        // Docker's `ps --format json` keys (the ones Berth has).
        std::printf("%s\n", json{{"ID", short_id(v.id)}, {"Image", v.image}, {"Command", "\"" + v.command + "\""},
                                 {"CreatedAt", v.record.value("Created", "")}, {"RunningFor", created},
                                 {"Status", container_status_text(v)}, {"State", v.status}, {"Names", v.name},
                                 {"Ports", container_ports_column(v)}, {"Labels", container_labels_text(v)}}
                                .dump()
                                .c_str());
        continue;
      }
      t.add({short_id(v.id), v.image, "\"" + cmd + "\"", created, container_status_text(v),
             container_ports_column(v), v.name});
    }
    if (!*quiet && *format != "json") t.print();
  });

  add_container_lifecycle_commands(*container);
}

}  // namespace

void add_container_commands(CLI::App& app, std::string_view subcommand) {
  auto* container = app.add_subcommand("container", "Manage containers");
  container->require_subcommand(1);
  // The hot commands build only themselves: every CLI11 option costs heap, and heap touched for
  // the first time costs a page fault each (~12 us here). Help, a typo or another word: all.
  if (subcommand == "run") return add_run_command(container);
  if (subcommand == "ls" || subcommand == "ps" || subcommand == "list") return add_ls_command(container);
  add_logs_command(*container);
  add_exec_command(*container);
  add_copy_command(*container);
  add_port_command(*container);
  add_run_command(container);
  add_ls_command(container);
  add_container_monitor_commands(*container);

  auto* rm = container->add_subcommand("rm", "Remove one or more containers");
  auto force = std::make_shared<bool>(false);
  auto refs = std::make_shared<std::vector<std::string>>();
  rm->add_flag("-f,--force", *force, "Force the removal of a running container");
  auto rm_volumes = std::make_shared<bool>(false);
  rm->add_flag("-v,--volumes", *rm_volumes, "Remove anonymous volumes associated with the container");
  rm->add_option("CONTAINER", *refs, "Containers")->required();
  rm->callback([force, refs, rm_volumes] {
    engine::require_root();
    int failures = 0;
    for (const auto& ref : *refs) {
      try {
        engine::remove_container(engine::resolve_container(ref), *force, *rm_volumes);
        std::printf("%s\n", ref.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "berth: %s\n", e.what());
        ++failures;
      }
    }
    if (failures) exit_code() = 1;
  });

  auto* prune = container->add_subcommand("prune", "Remove all stopped containers");
  auto yes = std::make_shared<bool>(false);
  prune->add_flag("-f,--force", *yes, "Do not prompt for confirmation");
  prune->callback([yes] {  // the flag writes into *yes: keep it alive
    engine::require_root();
    auto removed = engine::prune_containers();
    if (!removed.empty()) std::printf("Deleted Containers:\n");
    for (const auto& id : removed) std::printf("%s\n", id.c_str());
  });
}

}  // namespace berth::cli
