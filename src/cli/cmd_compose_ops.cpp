// Compose verbs that act on a project's existing containers: ps, logs, start, stop, restart, kill,
// rm, pause, unpause, exec, top, port, images, ls, wait. They need only the project name (-p): the
// containers are found by Compose's labels in the store, so no compose file is read unless the
// name has to come from it.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "berth/engine/engine.h"
#include "berth/engine/log_reader.h"
#include "berth/engine/options.h"
#include "berth/image/store.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/id.h"
#include "berth/util/json.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"
#include "cli.h"
#include "compose_project.h"
#include "table.h"

namespace berth::cli {

namespace {

namespace orch = berth::orchestrator;

bool is_up(const std::string& state) { return state == "running" || state == "paused" || state == "restarting"; }

enum class OneOff { include, exclude };

// The containers that a command acts on: of the given services (all when none), one-offs as
// Compose's command does, only running ones unless all.
std::vector<ProjectContainer*> select(Target& t, const std::vector<std::string>& services, OneOff oneoff,
                                      bool all) {
  std::vector<ProjectContainer*> out;
  for (auto& c : t.containers) {
    if (!services.empty() && std::find(services.begin(), services.end(), c.service) == services.end()) continue;
    if (oneoff == OneOff::exclude && c.oneoff) continue;
    if (!all && !is_up(c.state)) continue;
    out.push_back(&c);
  }
  return out;
}

// Services in dependency order (dependencies first), from the depends_on label Compose writes
// ("db:service_started:false,cache:service_healthy:true"); ties alphabetical.
std::vector<std::string> service_order(const std::vector<ProjectContainer*>& containers) {
  std::map<std::string, std::set<std::string>> deps;
  for (const auto* c : containers) {
    auto& d = deps[c->service];
    for (const auto& item : str::split(label_of(c->view.record, orch::kDependsOnLabel), ',')) {
      std::string name = str::trim(item.substr(0, item.find(':')));
      if (!name.empty() && name != c->service) d.insert(name);
    }
  }
  std::vector<std::string> order;
  std::set<std::string> placed;
  while (order.size() < deps.size()) {
    bool progressed = false;
    for (const auto& [service, needs] : deps) {
      if (placed.count(service)) continue;
      bool ready = std::all_of(needs.begin(), needs.end(),
                               [&](const std::string& n) { return placed.count(n) || !deps.count(n); });
      if (!ready) continue;
      order.push_back(service);
      placed.insert(service);
      progressed = true;
    }
    if (!progressed)  // a cycle in the labels: take the rest as they come
      for (const auto& [service, needs] : deps)
        if (placed.insert(service).second) order.push_back(service);
  }
  return order;
}

// Compose's plain progress lines on stderr: " Container myapp-web-1  Stopping".
void progress(const std::string& name, const char* state) {
  std::fprintf(stderr, " Container %s  %s\n", name.c_str(), state);
}

// Runs fn on the containers service by service (dependency order, reversed for stop-like
// actions), the containers of one service in parallel when parallel. The first failure is
// rethrown after every container was tried, as Compose reports it (exit 1).
template <typename Fn>
void for_each_in_order(const std::vector<ProjectContainer*>& containers, bool reverse, bool parallel, Fn fn) {
  auto order = service_order(containers);
  if (reverse) std::reverse(order.begin(), order.end());
  std::optional<std::string> failure;
  std::mutex mu;
  auto guarded = [&](ProjectContainer* c) {
    try {
      fn(*c);
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      std::fprintf(stderr, " Container %s  Error: %s\n", c->view.name.c_str(), e.what());
      if (!failure) failure = e.what();
    }
  };
  for (const auto& service : order) {
    std::vector<ProjectContainer*> group;
    for (auto* c : containers)
      if (c->service == service) group.push_back(c);
    if (!parallel || group.size() < 2) {
      for (auto* c : group) guarded(c);
      continue;
    }
    std::vector<std::thread> threads;
    for (auto* c : group) threads.emplace_back(guarded, c);
    for (auto& th : threads) th.join();
  }
  if (failure) throw Error(*failure, "", 1);
}

std::optional<int> timeout_arg(int t) { return t >= 0 ? std::optional<int>(t) : std::nullopt; }

// ---- ps ----

std::string created_at_text(int64_t ns) {  // Docker's "2026-12-01 10:00:00 +0000 UTC"
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000LL);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
  return buf;
}

std::string running_for(const engine::ContainerView& v) {
  return timeutil::human_ago((timeutil::now_ns() - v.created_ns) / 1000000000LL) + " ago";
}

ordered_json ps_json(const ProjectContainer& c, const std::string& project) {
  const json& rec = c.view.record;
  const json state = rec.value("State", json::object());
  std::string networks, mounts;
  int local_volumes = 0;
  ordered_json publishers = ordered_json::array();
  if (rec.contains("NetworkSettings")) {
    const json& ns = rec["NetworkSettings"];
    if (ns.contains("Networks") && ns["Networks"].is_object())
      for (const auto& [name, _] : ns["Networks"].items()) networks += (networks.empty() ? "" : ",") + name;
    if (ns.contains("Ports") && ns["Ports"].is_object())
      for (const auto& [key, bindings] : ns["Ports"].items()) {
        int target = std::atoi(key.c_str());
        std::string proto = key.find('/') != std::string::npos ? key.substr(key.find('/') + 1) : "tcp";
        if (!bindings.is_array() || bindings.empty()) {
          publishers.push_back({{"URL", ""}, {"TargetPort", target}, {"PublishedPort", 0}, {"Protocol", proto}});
          continue;
        }
        for (const auto& b : bindings)
          publishers.push_back({{"URL", b.value("HostIp", "")},
                                {"TargetPort", target},
                                {"PublishedPort", std::atoi(b.value("HostPort", "0").c_str())},
                                {"Protocol", proto}});
      }
  }
  if (rec.contains("Mounts") && rec["Mounts"].is_array())
    for (const auto& m : rec["Mounts"]) {
      std::string name = m.value("Name", m.value("Source", ""));
      mounts += (mounts.empty() ? "" : ",") + name;
      if (m.value("Type", "") == "volume") ++local_volumes;
    }
  std::string health = state.contains("Health") ? state["Health"].value("Status", "") : "";
  return ordered_json{{"Command", "\"" + c.view.command + "\""},
                      {"CreatedAt", created_at_text(c.view.created_ns)},
                      {"ExitCode", state.value("ExitCode", 0)},
                      {"Health", health},
                      {"ID", short_id(c.view.id)},
                      {"Image", c.view.image},
                      {"Labels", container_labels_text(c.view)},
                      {"LocalVolumes", std::to_string(local_volumes)},
                      {"Mounts", mounts},
                      {"Name", c.view.name},
                      {"Names", c.view.name},
                      {"Networks", networks},
                      {"Ports", container_ports_column(c.view)},
                      {"Project", project},
                      {"Publishers", publishers},
                      {"RunningFor", running_for(c.view)},
                      {"Service", c.service},
                      {"Size", "0B"},
                      {"State", c.state},
                      {"Status", container_status_text(c.view)}};
}

void add_ps(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    bool all = false, quiet = false, services_only = false;
    std::string format = "table";
    std::vector<std::string> status, filters, services;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("ps", "List containers of a Compose project");
  add_project_flags(cmd, a->flags);
  cmd->add_flag("-a,--all", a->all, "Show all stopped containers (including those created by the run command)");
  cmd->add_flag("-q,--quiet", a->quiet, "Only display IDs");
  cmd->add_flag("--services", a->services_only, "Display services");
  cmd->add_option("--format", a->format, "Format the output: table (default) or json (one object per line)");
  cmd->add_option("--status", a->status, "Filter services by status: paused|restarting|removing|running|dead|created|exited")
      ->allow_extra_args(false);
  cmd->add_option("--filter", a->filters, "Filter services by a property (supported: status)")->allow_extra_args(false);
  cmd->add_option("SERVICE", a->services, "Services");
  cmd->callback([a] {
    static const std::set<std::string> states = {"paused", "restarting", "removing", "running", "dead", "created", "exited"};
    std::vector<std::string> status = a->status;
    for (const auto& f : a->filters) {
      auto eq = f.find('=');
      if (eq == std::string::npos || f.substr(0, eq) != "status")
        throw Error("invalid filter \"" + f + "\"", "only status=STATUS is supported", 1);
      status.push_back(f.substr(eq + 1));
    }
    for (const auto& s : status)
      if (!states.count(s))
        throw Error("invalid status \"" + s + "\"", "use paused, restarting, removing, running, dead, created or exited", 1);
    if (a->format != "table" && a->format != "json")
      throw Error("unsupported --format \"" + a->format + "\"", "use --format table or --format json", 1);
    Target t = resolve_target(a->flags, a->services);
    auto selected = select(t, a->services, OneOff::include, a->all || !status.empty());
    if (!status.empty())
      selected.erase(std::remove_if(selected.begin(), selected.end(),
                                    [&](const ProjectContainer* c) {
                                      return std::find(status.begin(), status.end(), c->state) == status.end();
                                    }),
                     selected.end());
    std::sort(selected.begin(), selected.end(),
              [](const ProjectContainer* x, const ProjectContainer* y) { return x->view.name < y->view.name; });
    if (a->services_only) {
      std::vector<std::string> seen;
      for (const auto* c : selected)
        if (std::find(seen.begin(), seen.end(), c->service) == seen.end()) seen.push_back(c->service);
      for (const auto& s : seen) std::printf("%s\n", s.c_str());
      return;
    }
    if (a->quiet) {
      for (const auto* c : selected) std::printf("%s\n", c->view.id.c_str());
      return;
    }
    if (a->format == "json") {
      for (const auto* c : selected) std::printf("%s\n", ps_json(*c, t.project).dump().c_str());
      return;
    }
    Table table({"NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"});
    for (const auto* c : selected) {
      const std::string& command = c->view.command;
      std::string shown = command.size() > 20 ? command.substr(0, 19) + "…" : command;
      table.add({c->view.name, c->view.image, "\"" + shown + "\"", c->service, running_for(c->view),
                 container_status_text(c->view), container_ports_column(c->view)});
    }
    table.print();
  });
}

// ---- logs ----

// Lines from several containers to one terminal: each flush writes whole lines under one lock,
// and a switch between stdout and stderr flushes first, so the two keep their order.
class LineSink {
 public:
  explicit LineSink(std::mutex& mu) : mu_(mu) {}
  ~LineSink() { flush(); }
  void add(int fd, const std::string& prefix, std::string_view stamp, std::string_view text) {
    if (fd != fd_ || buf_.size() >= (1u << 16)) flush();
    fd_ = fd;
    buf_ += prefix;
    buf_ += stamp;
    buf_ += text;
    if (text.empty() || text.back() != '\n') buf_ += '\n';
  }
  void flush() {
    if (buf_.empty()) return;
    std::lock_guard lock(mu_);
    write_all(fd_, buf_);  // a closed pipe: nothing more to say
    buf_.clear();
  }

 private:
  std::mutex& mu_;
  std::string buf_;
  int fd_ = 1;
};

// The name Compose shows for a container: "web-1", or its own container_name.
std::string log_name(const ProjectContainer& c, const std::string& project) {
  std::string default_name = project + "-" + c.service + "-" + std::to_string(c.number);
  if (c.view.name == default_name) return c.view.name.substr(project.size() + 1);
  return c.view.name;
}

// Compose's rotation (cmd/formatter/colors.go): cyan, yellow, green, magenta, blue, then bright.
const char* service_colour(size_t index) {
  static const char* colours[] = {"36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"};
  return colours[index % (sizeof colours / sizeof *colours)];
}

bool use_colour(const ProjectFlags& flags, bool no_colour) {
  if (no_colour || flags.ansi == "never") return false;
  if (flags.ansi == "always") return true;
  const char* no_color_env = std::getenv("NO_COLOR");
  return ::isatty(1) && !(no_color_env && *no_color_env);
}

void print_project_logs_impl(const ProjectFlags& flags, const std::vector<std::string>& services,
                             const engine::LogReadOptions& base, bool timestamps, bool no_prefix, bool no_colour) {
    Target t = resolve_target(flags, services);
    auto selected = select(t, services, OneOff::exclude, true);
    bool colour = use_colour(merged(flags), no_colour);

    size_t width = 0;
    for (const auto* c : selected) width = std::max(width, log_name(*c, t.project).size());
    std::vector<std::string> service_names;
    for (const auto* c : selected)
      if (std::find(service_names.begin(), service_names.end(), c->service) == service_names.end())
        service_names.push_back(c->service);

    std::mutex out_mu;
    auto read_one = [&](const ProjectContainer& c) {
      std::string path = c.view.record.value("LogPath", "");
      if (path.empty()) return;  // --log-driver none: nothing to read
      std::string prefix;
      if (!no_prefix) {
        std::string name = log_name(c, t.project);
        prefix = name + std::string(width - name.size(), ' ') + " | ";
        if (colour) {
          size_t index = std::find(service_names.begin(), service_names.end(), c.service) - service_names.begin();
          prefix = std::string("\033[") + service_colour(index) + "m" + prefix + "\033[0m";
        }
      }
      LineSink sink(out_mu);
      std::string stamp;
      engine::LogReadOptions opts = base;
      std::string id = c.view.id;
      opts.keep_following = [&sink, id] {
        sink.flush();
        return container_keeps_running(id);
      };
      engine::read_logs(path, opts, [&](const engine::LogLine& l) {
        if (timestamps) {
          stamp = l.time.size() == 30 && l.time.back() == 'Z' ? std::string(l.time) : timeutil::rfc3339_nano(l.time_ns);
          stamp += ' ';
        }
        sink.add(l.stream == engine::LogStream::err ? 2 : 1, prefix, stamp, l.text);
        return true;
      });
    };
    if (!base.follow) {
      for (const auto* c : selected) read_one(*c);
      return;
    }
    // Following: one reader per container; done when every container is gone (or Ctrl-C).
    std::vector<std::thread> readers;
    for (const auto* c : selected)
      readers.emplace_back([&read_one, c] {
        try {
          read_one(*c);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "berth: logs of %s: %s\n", c->view.name.c_str(), e.what());
        }
      });
    for (auto& r : readers) r.join();
}


void add_logs(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    bool follow = false, timestamps = false, no_colour = false, no_prefix = false;
    std::string tail = "all", since, until;
    std::vector<std::string> services;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("logs", "View output from containers of a Compose project");
  add_project_flags(cmd, a->flags);
  cmd->remove_option(cmd->get_option("--file"));  // -f is --follow here, as in Compose
  cmd->add_option("--file", a->flags.files, "Compose configuration files")->allow_extra_args(false);
  cmd->add_flag("-f,--follow", a->follow, "Follow log output");
  cmd->add_option("-n,--tail", a->tail, "Number of lines to show from the end of the logs for each container");
  cmd->add_flag("-t,--timestamps", a->timestamps, "Show timestamps");
  cmd->add_option("--since", a->since, "Show logs since timestamp (e.g. 2026-11-27T10:00:00Z) or relative (e.g. 42m)");
  cmd->add_option("--until", a->until, "Show logs before a timestamp (e.g. 2026-11-27T10:00:00Z) or relative (e.g. 42m)");
  cmd->add_flag("--no-color", a->no_colour, "Produce monochrome output");
  cmd->add_flag("--no-log-prefix", a->no_prefix, "Don't print prefix in logs");
  cmd->add_option("SERVICE", a->services, "Services");
  cmd->callback([a] {
    engine::LogReadOptions base;
    uint64_t tail = parse_log_tail(a->tail);
    if (tail != UINT64_MAX) base.tail = tail;
    int64_t now = timeutil::now_ns();
    if (!a->since.empty()) base.since_ns = engine::parse_log_time_arg(a->since, now);
    if (!a->until.empty()) base.until_ns = engine::parse_log_time_arg(a->until, now);
    base.follow = a->follow;
    print_project_logs(a->flags, a->services, base, a->timestamps, a->no_prefix, a->no_colour);
  });
}

// ---- start, stop, restart, kill, pause, unpause, rm ----

void add_lifecycle(CLI::App& app) {
  {
    struct Args {
      ProjectFlags flags;
      std::vector<std::string> services;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("start", "Start existing containers of a Compose project");
    add_project_flags(cmd, a->flags);
    cmd->add_option("SERVICE", a->services, "Services");
    cmd->callback([a] {
      engine::require_root();
      Target t = resolve_target(a->flags, a->services);
      if (t.containers.empty())
        throw Error("no container found for project \"" + t.project + "\"", "create them with: berth up", 1);
      auto selected = select(t, a->services, OneOff::exclude, true);
      for_each_in_order(selected, false, false, [](ProjectContainer& c) {
        if (is_up(c.state)) return;  // Compose starts only what is not running
        progress(c.view.name, "Starting");
        start_container_detached(c.view.id);
        progress(c.view.name, "Started");
      });
    });
  }
  for (bool restart : {false, true}) {
    struct Args {
      ProjectFlags flags;
      int timeout = -1;
      std::vector<std::string> services;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(restart ? "restart" : "stop",
                                   restart ? "Restart containers of a Compose project" : "Stop containers of a Compose project");
    add_project_flags(cmd, a->flags);
    cmd->add_option("-t,--timeout", a->timeout, "Specify a shutdown timeout in seconds");
    cmd->add_option("SERVICE", a->services, "Services");
    cmd->callback([a, restart] {
      engine::require_root();
      Target t = resolve_target(a->flags, a->services);
      if (restart && t.containers.empty())
        throw Error("no container found for project \"" + t.project + "\"", "create them with: berth up", 1);
      auto selected = select(t, a->services, OneOff::exclude, true);
      auto timeout = timeout_arg(a->timeout);
      if (!restart) {
        for_each_in_order(selected, true, true, [&](ProjectContainer& c) {
          progress(c.view.name, "Stopping");
          engine::stop_container(c.view.id, timeout);
          progress(c.view.name, "Stopped");
        });
        return;
      }
      // Stops run in parallel (they wait out grace periods); starts one at a time (a start
      // forks the supervisor, which a threaded process should not do concurrently).
      for_each_in_order(selected, false, true, [&](ProjectContainer& c) {
        progress(c.view.name, "Restarting");
        if (engine::stop_container(c.view.id, timeout)) engine::wait_container(c.view.id);
      });
      for_each_in_order(selected, false, false, [&](ProjectContainer& c) {
        start_container_detached(c.view.id);
        progress(c.view.name, "Started");
      });
    });
  }
  {
    struct Args {
      ProjectFlags flags;
      std::string signal = "SIGKILL";
      std::vector<std::string> services;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("kill", "Force stop containers of a Compose project");
    add_project_flags(cmd, a->flags);
    cmd->add_option("-s,--signal", a->signal, "SIGNAL to send to the container");
    cmd->add_option("SERVICE", a->services, "Services");
    cmd->callback([a] {
      engine::require_root();
      int sig = engine::parse_signal(a->signal);
      Target t = resolve_target(a->flags, a->services);
      auto selected = select(t, a->services, OneOff::exclude, false);
      if (selected.empty()) {
        std::fprintf(stderr, "no container to kill\n");
        return;
      }
      for_each_in_order(selected, true, true, [&](ProjectContainer& c) {
        progress(c.view.name, "Killing");
        engine::kill_container(c.view.id, sig);
        progress(c.view.name, "Killed");
      });
    });
  }
  for (bool pause : {true, false}) {
    struct Args {
      ProjectFlags flags;
      std::vector<std::string> services;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(pause ? "pause" : "unpause",
                                   pause ? "Pause services of a Compose project" : "Unpause services of a Compose project");
    add_project_flags(cmd, a->flags);
    cmd->add_option("SERVICE", a->services, "Services");
    cmd->callback([a, pause] {
      engine::require_root();
      Target t = resolve_target(a->flags, a->services);
      auto selected = select(t, a->services, OneOff::exclude, false);
      for_each_in_order(selected, pause, true, [&](ProjectContainer& c) {
        progress(c.view.name, pause ? "Pausing" : "Unpausing");
        engine::pause_container(c.view.id, pause);
        progress(c.view.name, pause ? "Paused" : "Unpaused");
      });
    });
  }
  {
    struct Args {
      ProjectFlags flags;
      bool force = false, stop = false, volumes = false;
      std::vector<std::string> services;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand(
        "rm",
        "Removes stopped service containers. Berth never prompts: without -f it only lists what it "
        "would remove and exits 1 (Compose would ask); -f removes");
    add_project_flags(cmd, a->flags);
    cmd->remove_option(cmd->get_option("--file"));  // -f is --force here, as in Compose
    cmd->add_option("--file", a->flags.files, "Compose configuration files")->allow_extra_args(false);
    cmd->add_flag("-f,--force", a->force, "Remove without asking (required: Berth has no prompt)");
    cmd->add_flag("-s,--stop", a->stop, "Stop the containers, if required, before removing");
    cmd->add_flag("-v,--volumes", a->volumes, "Remove any anonymous volumes attached to containers");
    cmd->add_option("SERVICE", a->services, "Services");
    cmd->callback([a] {
      engine::require_root();
      Target t = resolve_target(a->flags, a->services);
      auto selected = select(t, a->services, OneOff::exclude, true);
      if (!a->stop)
        selected.erase(std::remove_if(selected.begin(), selected.end(),
                                      [](const ProjectContainer* c) { return is_up(c->state); }),
                       selected.end());
      if (selected.empty()) {
        std::fprintf(stderr, "No stopped containers\n");
        return;
      }
      std::vector<std::string> names;
      for (const auto* c : selected) names.push_back(c->view.name);
      if (!a->force) {
        std::fprintf(stderr, "Going to remove %s\n", str::join(names, ", ").c_str());
        throw Error("not removing without confirmation: Berth does not prompt", "add -f to remove them", 1);
      }
      if (a->stop) {
        std::vector<ProjectContainer*> running;
        for (auto* c : selected)
          if (is_up(c->state)) running.push_back(c);
        for_each_in_order(running, true, true, [](ProjectContainer& c) {
          progress(c.view.name, "Stopping");
          if (engine::stop_container(c.view.id, std::nullopt)) engine::wait_container(c.view.id);
          progress(c.view.name, "Stopped");
        });
      }
      // One at a time: removal tears down network namespaces and address allocations.
      for_each_in_order(selected, true, false, [&](ProjectContainer& c) {
        progress(c.view.name, "Removing");
        engine::remove_container(c.view.id, false, a->volumes);
        progress(c.view.name, "Removed");
      });
    });
  }
}

// ---- exec, top, port ----

// The running container of a service that exec and port act on: number `index`, or with no
// --index the first by number, one-offs after the service's own (Compose's getSpecifiedContainer).
const ProjectContainer& specified_container(Target& t, const std::string& service, int index) {
  auto candidates = select(t, {service}, OneOff::include, false);
  for (auto* c : candidates)
    if (index <= 0 || c->number == index) return *c;
  if (index > 0)
    throw Error("service \"" + service + "\" is not running container #" + std::to_string(index), "", 1);
  throw Error("service \"" + service + "\" is not running", "", 1);
}

void add_exec(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    ExecOptions exec;
    bool no_tty = false, accepted_default = false;
    int index = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("exec", "Execute a command in a running service container");
  add_project_flags(cmd, a->flags);
  cmd->add_flag("-T,--no-TTY", a->no_tty, "Disable pseudo-TTY allocation (default: a TTY when stdin is one)");
  cmd->add_flag("-d,--detach", a->exec.detach, "Detached mode: Run command in the background");
  // Compose's hidden -i/-t (both on by default): accepted so `exec -it web sh` works as there.
  cmd->add_flag("-i,--interactive", a->accepted_default, "Keep STDIN open (default)")->group("");
  cmd->add_flag("-t,--tty", a->accepted_default, "Allocate a pseudo-TTY (default when stdin is a terminal)")->group("");
  cmd->add_option("-u,--user", a->exec.user, "Run the command as this user");
  cmd->add_option("-w,--workdir", a->exec.workdir, "Path to workdir directory for this command");
  cmd->add_option("-e,--env", a->exec.env, "Set environment variables");
  cmd->add_option("--index", a->index, "Index of the container if service has multiple replicas");
  cmd->add_flag("--privileged", a->exec.privileged, "Give extended privileges to the process");
  for (auto* opt : cmd->get_options()) opt->allow_extra_args(false);
  cmd->prefix_command();  // SERVICE COMMAND [ARGS...]: the first positional ends option parsing
  cmd->footer("Usage: berth exec [OPTIONS] SERVICE COMMAND [ARGS...]");
  cmd->callback([a, cmd] {
    auto rest = cmd->remaining();
    if (rest.size() < 2)
      throw Error("\"berth exec\" requires at least 2 arguments", "usage: berth exec [OPTIONS] SERVICE COMMAND [ARGS...]", 1);
    engine::require_root();
    Target t = resolve_target(a->flags, {rest[0]});
    const ProjectContainer& c = specified_container(t, rest[0], a->index);
    ExecOptions o = a->exec;
    o.interactive = !o.detach;
    o.tty = !a->no_tty && !o.detach && ::isatty(0);
    exit_code() = run_exec(c.view.id, std::vector<std::string>(rest.begin() + 1, rest.end()), o);
  });
}

void add_top_and_port(CLI::App& app) {
  {
    struct Args {
      ProjectFlags flags;
      std::vector<std::string> services;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("top", "Display the running processes of a Compose project");
    add_project_flags(cmd, a->flags);
    cmd->add_option("SERVICE", a->services, "Services");
    cmd->callback([a] {
      Target t = resolve_target(a->flags, a->services);
      auto selected = select(t, a->services, OneOff::include, false);
      std::sort(selected.begin(), selected.end(),
                [](const ProjectContainer* x, const ProjectContainer* y) { return x->view.name < y->view.name; });
      for (const auto* c : selected) {
        std::printf("%s\n", c->view.name.c_str());
        std::fflush(stdout);
        print_container_top(c->view.id);
        std::printf("\n");
      }
    });
  }
  {
    struct Args {
      ProjectFlags flags;
      std::string service, private_port, protocol = "tcp";
      int index = 0;
    };
    auto a = std::make_shared<Args>();
    auto* cmd = app.add_subcommand("port", "Print the public port for a port binding of a service");
    add_project_flags(cmd, a->flags);
    cmd->add_option("--protocol", a->protocol, "tcp or udp");
    cmd->add_option("--index", a->index, "Index of the container if service has multiple replicas");
    cmd->add_option("SERVICE", a->service, "Service")->required();
    cmd->add_option("PRIVATE_PORT", a->private_port, "Private port")->required();
    cmd->callback([a] {
      if (a->protocol != "tcp" && a->protocol != "udp")
        throw Error("invalid protocol \"" + a->protocol + "\"", "use tcp or udp", 1);
      if (a->private_port.empty() || a->private_port.find_first_not_of("0123456789") != std::string::npos)
        throw Error("invalid port \"" + a->private_port + "\"", "give the container's port as a number", 1);
      Target t = resolve_target(a->flags, {a->service});
      const ProjectContainer& c = specified_container(t, a->service, a->index);
      std::string want = a->private_port + "/" + a->protocol;
      auto lines = container_port_lines(c.view, want);
      if (lines.empty()) throw Error("no port " + want + " for container " + c.view.name, "", 1);
      std::printf("%s\n", lines.front().c_str());
    });
  }
}

// ---- images, ls, wait ----

void add_images(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    bool quiet = false;
    std::string format = "table";
    std::vector<std::string> services;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("images", "List images used by the created containers");
  add_project_flags(cmd, a->flags);
  cmd->add_flag("-q,--quiet", a->quiet, "Only display IDs");
  cmd->add_option("--format", a->format, "Format the output: table (default) or json");
  cmd->add_option("SERVICE", a->services, "Services");
  cmd->callback([a] {
    if (a->format != "table" && a->format != "json")
      throw Error("unsupported --format \"" + a->format + "\"", "use --format table or --format json", 1);
    Target t = resolve_target(a->flags, a->services);
    auto selected = select(t, a->services, OneOff::include, true);
    std::sort(selected.begin(), selected.end(),
              [](const ProjectContainer* x, const ProjectContainer* y) { return x->view.name < y->view.name; });
    image::Store store;
    Table table({"CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"});
    ordered_json array = ordered_json::array();
    std::set<std::string> printed;
    for (const auto* c : selected) {
      std::string image_id = c->view.record.value("Image", "");
      std::string hex = image_id.rfind("sha256:", 0) == 0 ? image_id.substr(7) : image_id;
      std::string repo = "<none>", tag = "<none>";
      const std::string& ref = c->view.image;
      if (!ref.empty() && ref.rfind("sha256:", 0) != 0 && ref.find_first_not_of("0123456789abcdef") != std::string::npos) {
        auto slash = ref.rfind('/');
        auto colon = ref.rfind(':');
        if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
          repo = ref.substr(0, colon);
          tag = ref.substr(colon + 1);
        } else {
          repo = ref;
          tag = "latest";
        }
      }
      std::optional<image::Image> img;
      try {
        img = store.find(image_id);
      } catch (const std::exception&) {
      }
      if (a->quiet) {
        if (printed.insert(hex).second) std::printf("%s\n", hex.substr(0, 12).c_str());
        continue;
      }
      if (a->format == "json") {
        array.push_back(ordered_json{{"ID", image_id},
                                     {"ContainerName", c->view.name},
                                     {"Repository", repo},
                                     {"Tag", tag},
                                     {"Size", img ? img->size : 0}});
        continue;
      }
      table.add({c->view.name, repo, tag, hex.substr(0, 12), img ? decimal_size_text(img->size) : "N/A"});
    }
    if (a->quiet) return;
    if (a->format == "json") std::printf("%s\n", array.dump().c_str());
    else table.print();
  });
}

void add_ls(CLI::App& app) {
  struct Args {
    bool all = false, quiet = false;
    std::string format = "table";
    std::vector<std::string> filters;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("ls", "List running Compose projects");
  cmd->add_flag("-a,--all", a->all, "Show all stopped Compose projects");
  cmd->add_flag("-q,--quiet", a->quiet, "Only display project names");
  cmd->add_option("--format", a->format, "Format the output: table (default) or json");
  cmd->add_option("--filter", a->filters, "Filter output based on conditions provided (name=NAME)")->allow_extra_args(false);
  cmd->callback([a] {
    if (a->format != "table" && a->format != "json")
      throw Error("unsupported --format \"" + a->format + "\"", "use --format table or --format json", 1);
    std::string name_filter;
    for (const auto& f : a->filters) {
      if (f.rfind("name=", 0) != 0) throw Error("invalid filter \"" + f + "\"", "only name=NAME is supported", 1);
      name_filter = f.substr(5);
    }
    struct Stack {
      std::map<std::string, int> states;
      std::vector<std::string> config_files;
    };
    std::map<std::string, Stack> stacks;  // sorted by name, as Compose
    for (const auto& v : engine::list_containers()) {
      std::string project = label_of(v.record, orch::kProjectLabel);
      if (project.empty()) continue;
      std::string state = docker_state(v.status);
      if (!a->all && !is_up(state)) continue;
      if (!name_filter.empty() && project.find(name_filter) == std::string::npos) continue;
      Stack& s = stacks[project];
      ++s.states[state];
      for (const auto& f : str::split(label_of(v.record, orch::kConfigFilesLabel), ','))
        if (!f.empty() && std::find(s.config_files.begin(), s.config_files.end(), f) == s.config_files.end())
          s.config_files.push_back(f);
    }
    auto status_of = [](const Stack& s) {
      std::string out;
      for (const auto& [state, n] : s.states) out += (out.empty() ? "" : ", ") + state + "(" + std::to_string(n) + ")";
      return out;
    };
    if (a->quiet) {
      for (const auto& [name, _] : stacks) std::printf("%s\n", name.c_str());
      return;
    }
    if (a->format == "json") {
      ordered_json array = ordered_json::array();
      for (const auto& [name, s] : stacks)
        array.push_back(ordered_json{{"Name", name}, {"Status", status_of(s)}, {"ConfigFiles", str::join(s.config_files, ",")}});
      std::printf("%s\n", array.dump().c_str());
      return;
    }
    Table table({"NAME", "STATUS", "CONFIG FILES"});
    for (const auto& [name, s] : stacks) table.add({name, status_of(s), str::join(s.config_files, ",")});
    table.print();
  });
}

void add_wait(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    std::vector<std::string> services;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("wait", "Block until the first service container stops; exits with its exit code");
  add_project_flags(cmd, a->flags);
  cmd->add_option("SERVICE", a->services, "Services")->required();
  cmd->callback([a] {
    engine::require_root();
    Target t = resolve_target(a->flags, a->services);
    auto selected = select(t, a->services, OneOff::include, false);
    if (selected.empty()) throw Error("no containers for project \"" + t.project + "\"", "", 1);
    // Polls the records rather than holding one supervisor connection per container: the first
    // to stop decides, and the others are left alone.
    for (;;) {
      for (const auto* c : selected)
        if (!container_keeps_running(c->view.id)) {
          int code = 0;
          try {
            code = engine::wait_container(c->view.id);
          } catch (const std::exception&) {
            code = 0;  // removed meanwhile
          }
          std::printf("container \"%s\" exited with status code %d\n", c->view.id.c_str(), code);
          exit_code() = code;
          return;
        }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

// ---- events ----

// A container's state as events see it: Docker's State plus the health, when it has one.
std::string event_state(const ProjectContainer& c) {
  const json& st = c.view.record["State"];
  std::string health = st.contains("Health") && st["Health"].is_object() ? st["Health"].value("Status", "") : "";
  return c.state + (health.empty() ? "" : "/" + health);
}

// The actions Docker reports for a change of state: create, start, die, pause, unpause, restart,
// health_status: X, destroy.
std::vector<std::string> transition_actions(const std::string& before, const std::string& after) {
  auto state = [](const std::string& s) { return s.substr(0, s.find('/')); };
  auto health = [](const std::string& s) { auto p = s.find('/'); return p == std::string::npos ? "" : s.substr(p + 1); };
  std::vector<std::string> out;
  std::string b = state(before), a = state(after);
  if (b != a) {
    if (a == "running" && b == "paused") out.push_back("unpause");
    else if (a == "paused") out.push_back("pause");
    else if (a == "running") out.push_back("start");
    else if (a == "restarting") out.push_back("die");
    else if (a == "exited" && (b == "running" || b == "paused" || b == "restarting")) out.push_back("die");
  }
  if (health(after) != health(before) && !health(after).empty() && health(after) != "starting")
    out.push_back("health_status: " + health(after));
  return out;
}

void add_events(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    std::vector<std::string> services;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("events", "Receive real time events from containers");
  add_project_flags(cmd, a->flags);
  cmd->add_flag("--json", a->json, "Output events as a stream of json objects");
  cmd->add_option("SERVICE", a->services, "Services");
  cmd->callback([a] {
    engine::require_root();
    Target t = resolve_target(a->flags, a->services);
    // No daemon keeps a journal: the records are watched while this runs, as Compose's events
    // only stream what happens from now on. A change shorter than the 50 ms poll can be missed.
    auto wanted = [&](const ProjectContainer& c) {
      return a->services.empty() || std::find(a->services.begin(), a->services.end(), c.service) != a->services.end();
    };
    struct Seen {
      std::string state, service, name, image;
    };
    auto emit_event = [&](const std::string& id, const Seen& c, const std::string& action) {
      std::string time = timeutil::rfc3339_nano(timeutil::now_ns());
      if (a->json) {
        json e = {{"time", time}, {"type", "container"}, {"service", c.service}, {"id", id}, {"action", action},
                  {"attributes", {{"name", c.name}, {"image", c.image}}}};
        std::printf("%s\n", e.dump().c_str());
      } else {
        // Compose's text form: "2006-01-02 15:04:05.000000 container start ID (image=…, name=…)"
        std::string shown = time.substr(0, 10) + " " + time.substr(11, 15);
        std::printf("%s container %s %s (image=%s, name=%s)\n", shown.c_str(), action.c_str(), id.c_str(),
                    c.image.c_str(), c.name.c_str());
      }
      std::fflush(stdout);
    };
    std::map<std::string, Seen> seen;
    for (const auto& c : project_containers(t.project))
      if (wanted(c)) seen[c.view.id] = {event_state(c), c.service, c.view.name, c.view.image};
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::map<std::string, Seen> now;
      for (const auto& c : project_containers(t.project))
        if (wanted(c)) now[c.view.id] = {event_state(c), c.service, c.view.name, c.view.image};
      for (auto& [id, c] : now) {
        auto old = seen.find(id);
        // A container never goes back to "created": that is its removal in progress (its state
        // file is gone before its record). Keep what it was.
        if (old != seen.end() && c.state.rfind("created", 0) == 0 && old->second.state.rfind("created", 0) != 0)
          c.state = old->second.state;
        if (old == seen.end()) {
          emit_event(id, c, "create");
          for (const auto& action : transition_actions("created", c.state)) emit_event(id, c, action);
        } else {
          for (const auto& action : transition_actions(old->second.state, c.state)) emit_event(id, c, action);
        }
      }
      for (const auto& [id, c] : seen)
        if (!now.count(id)) {
          // Stopped and removed between two polls (down): it died before it was destroyed.
          for (const auto& action : transition_actions(c.state, "exited")) emit_event(id, c, action);
          emit_event(id, c, "destroy");
        }
      seen = std::move(now);
    }
  });
}

}  // namespace

void print_project_logs(const ProjectFlags& flags, const std::vector<std::string>& services,
                        const engine::LogReadOptions& base, bool timestamps, bool no_prefix, bool no_colour) {
  print_project_logs_impl(flags, services, base, timestamps, no_prefix, no_colour);
}

void add_compose_ops_commands(CLI::App& app) {
  add_ps(app);
  add_logs(app);
  add_lifecycle(app);
  add_exec(app);
  add_top_and_port(app);
  add_images(app);
  add_ls(app);
  add_wait(app);
  add_events(app);
}

}  // namespace berth::cli
