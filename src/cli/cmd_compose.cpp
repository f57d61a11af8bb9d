// berth up | down | run: the Compose verbs that change a project (the orchestrator does the work).
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>

#include "berth/engine/engine.h"
#include "berth/image/store.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/file_lock.h"
#include "berth/util/paths.h"
#include "berth/util/strings.h"
#include "cli.h"
#include "compose_project.h"

namespace berth::cli {

namespace {

// Compose's plain progress lines on stderr: " Container myapp-web-1  Started".
orchestrator::Progress progress_printer(const ProjectFlags& flags) {
  auto mu = std::make_shared<std::mutex>();
  bool quiet = flags.progress == "quiet";
  return {[mu, quiet](const std::string& object, const std::string& state) {
    if (quiet) return;
    std::lock_guard<std::mutex> g(*mu);
    std::fprintf(stderr, " %s  %s\n", object.c_str(), state.c_str());
  }};
}

// One command changes a project at a time: concurrent `up`s on one project serialize here.
FileLock project_lock(const std::string& project) {
  return FileLock(paths::state_root() + "/locks", "project-" + project);
}

struct UpFlags {
  ProjectFlags project;
  orchestrator::UpOptions up;
  bool detach = false, wait = false, dry_run = false, abort_on_exit = false;
  int64_t wait_timeout = 0;
  int timeout = -1;
  std::vector<std::string> scale;
  std::string exit_code_from;
  std::vector<std::string> attach, no_attach;
};

// Foreground `up`: the services' logs with prefixes until every container stopped. Ctrl-C stops
// the stack gracefully, a second Ctrl-C kills it; --abort-on-container-exit stops it when one
// container exits; --exit-code-from SERVICE returns that service's exit code.
void attach_and_wait(const compose::Project& project, const ProjectFlags& flags, const UpFlags& f) {
  std::vector<std::string> attached = f.attach;
  if (attached.empty())
    for (const auto& svc : project.services)
      if (std::find(f.no_attach.begin(), f.no_attach.end(), svc.name) == f.no_attach.end() &&
          svc.attach.value_or(true) && (f.up.services.empty() || std::find(f.up.services.begin(), f.up.services.end(), svc.name) != f.up.services.end()))
        attached.push_back(svc.name);
  // Signals are taken by this thread alone (log readers run in threads that must not see them).
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  std::atomic<bool> logs_done{false};
  ProjectFlags named = flags;
  named.project_name = project.name;
  named.files.clear();
  std::thread logs([&] {
    engine::LogReadOptions base;
    base.follow = true;
    try {
      if (!attached.empty()) print_project_logs(named, attached, base, false, false, flags.ansi == "never");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "berth: logs: %s\n", e.what());
    }
    logs_done = true;
  });
  auto containers = [&] { return orchestrator::observe(project.name).containers; };
  auto stop_all = [&](bool kill) {
    std::vector<std::thread> stoppers;
    for (const auto& c : containers()) {
      if (c.oneoff || c.status != "running") continue;
      stoppers.emplace_back([c, kill, &f] {
        try {
          if (kill) engine::kill_container(c.id, SIGKILL);
          else if (engine::stop_container(c.id, f.timeout >= 0 ? std::optional<int>(f.timeout) : std::nullopt))
            engine::wait_container(c.id);
        } catch (const std::exception&) {
        }
      });
    }
    for (auto& t : stoppers) t.join();
  };
  int interrupts = 0;
  std::thread stopper;
  int exit_code = 0;
  bool aborting = false;
  while (!logs_done) {
    pollfd p{sfd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      signalfd_siginfo si{};
      if (::read(sfd, &si, sizeof si) == sizeof si) {
        if (++interrupts == 1) {
          std::fprintf(stderr, "Gracefully stopping... (press Ctrl+C again to force)\n");
          stopper = std::thread([&] { stop_all(false); });
        } else {
          stop_all(true);
        }
      }
    }
    if ((f.abort_on_exit || !f.exit_code_from.empty()) && !aborting) {
      for (const auto& c : containers()) {
        if (c.oneoff || c.status != "exited") continue;
        if (!f.exit_code_from.empty() && c.service != f.exit_code_from && !f.abort_on_exit) continue;
        aborting = true;
        std::fprintf(stderr, "Aborting on container exit...\n");
        stopper = std::thread([&] { stop_all(false); });
        break;
      }
    }
  }
  logs.join();
  if (stopper.joinable()) stopper.join();
  for (const auto& c : containers())
    if (!f.exit_code_from.empty() ? c.service == f.exit_code_from : (aborting && c.status == "exited" && c.exit_code != 0))
      exit_code = c.exit_code;
  ::close(sfd);
  cli::exit_code() = interrupts ? 130 : exit_code;
}

void run_up(UpFlags& f) {
  engine::require_root();
  ProjectFlags flags = merged(f.project);
  auto loaded = load_project(flags);
  const compose::Project& project = loaded.project;
  for (const auto& s : f.scale) {
    auto eq = s.find('=');
    if (eq == std::string::npos || !project.service(s.substr(0, eq)))
      throw Error("invalid --scale " + s + ": expected SERVICE=NUMBER with a service of this project",
                  "e.g. --scale web=3", 1);
    f.up.scale[s.substr(0, eq)] = std::atoi(s.c_str() + eq + 1);
  }
  for (const auto& s : f.up.services)
    if (!project.service(s)) throw Error("no such service: " + s, "see berth config --services", 1);

  auto lock = std::make_unique<FileLock>(paths::state_root() + "/locks", "project-" + project.name);
  engine::remove_incomplete_containers();  // a killed `up` may have left one
  auto observed = orchestrator::observe(project.name);
  auto plan = orchestrator::reconcile(project, observed, f.up, orchestrator::local_image_ids(project));
  if (!f.up.remove_orphans) {
    std::vector<std::string> orphans;
    const std::string config_files = str::join(project.config_files, ",");  // as the label holds them
    for (const auto& c : observed.containers) {
      if (c.oneoff || project.service(c.service)) continue;
      // Say where an orphan comes from when it is not this directory or this set of files: the
      // project name is shared by another checkout or another -f.
      std::string dir = c.labels.value(orchestrator::kWorkingDirLabel, "");
      std::string files = c.labels.value(orchestrator::kConfigFilesLabel, "");
      std::string origin;
      if (!dir.empty() && dir != project.working_dir) origin = " (from another directory: " + dir + ")";
      else if (!files.empty() && files != config_files) origin = " (from other compose files: " + files + ")";
      orphans.push_back(c.name + origin);
    }
    if (!orphans.empty()) {
      std::string list;
      for (const auto& o : orphans) list += (list.empty() ? "" : ", ") + o;
      std::fprintf(stderr,
                   "berth: warning: Found orphan containers ([%s]) for this project. If you removed or renamed "
                   "this service in your compose file, you can run this command with the --remove-orphans flag "
                   "to clean it up.\n",
                   list.c_str());
    }
  }
  if (f.dry_run) {
    std::printf("%s", plan.str().c_str());
    return;
  }
  orchestrator::ExecuteOptions eo;
  eo.parallel = flags.parallel;
  eo.stop_timeout_s = f.timeout;
  eo.wait = f.wait;
  eo.wait_timeout_s = f.wait_timeout;
  eo.environment = loaded.environment;
  eo.start = !f.up.no_start;
  orchestrator::execute(project, plan, eo, progress_printer(flags));
  if (f.detach) return;
  lock.reset();  // attached: other commands (stop, logs, a second up) may act meanwhile
  attach_and_wait(project, flags, f);
}

struct RunFlags {
  ProjectFlags project;
  orchestrator::RunOptions run;
  bool no_tty = false, accepted_default = false;
};

// berth run SERVICE [COMMAND...]: a one-off container, attached (or -d), its exit code ours.
void run_oneoff(RunFlags& f, const std::vector<std::string>& rest) {
  if (rest.empty())
    throw Error("\"berth run\" requires at least 1 argument", "usage: berth run [OPTIONS] SERVICE [COMMAND] [ARGS...]", 1);
  engine::require_root();
  ProjectFlags flags = merged(f.project);
  auto loaded = load_project(flags);
  const compose::Project& project = loaded.project;
  orchestrator::RunOptions o = f.run;
  o.service = rest[0];
  if (rest.size() > 1) o.command = std::vector<std::string>(rest.begin() + 1, rest.end());
  // A terminal when ours is one (Compose's default), unless -T; stdin stays open unless detached.
  o.tty = !f.no_tty && !o.detach && ::isatty(0) && ::isatty(1);
  if (o.detach) o.interactive = false;
  orchestrator::ExecuteOptions eo;
  eo.parallel = flags.parallel;
  eo.environment = loaded.environment;
  orchestrator::OneOff one;
  {
    // Dependencies and the create under the project lock; the run itself without it.
    auto lock = project_lock(project.name);
    engine::remove_incomplete_containers();
    one = orchestrator::create_oneoff(project, o, eo, progress_printer(flags));
  }
  std::vector<int> fds;
  for (const auto& fd : one.port_fds) fds.push_back(fd.get());
  int sock = engine::start_container(one.id, &fds);
  one.port_fds.clear();  // the supervisor holds them now
  exit_code() = attach_container_stream(sock, one.options, one.id, true);
}

}  // namespace

void add_compose_commands(CLI::App& app) {
  {
    auto f = std::make_shared<UpFlags>();
    auto* up = app.add_subcommand("up", "Create and start containers");
    add_project_flags(up, f->project);
    up->add_flag("-d,--detach", f->detach, "Detached mode: Run containers in the background");
    up->add_flag("--wait", f->wait, "Wait for services to be running|healthy. Implies detached mode.");
    up->add_option("--wait-timeout", f->wait_timeout, "Maximum duration in seconds to wait for the project to be running|healthy");
    up->add_flag("--force-recreate", f->up.force_recreate, "Recreate containers even if their configuration and image haven't changed");
    up->add_flag("--no-recreate", f->up.no_recreate, "If containers already exist, don't recreate them");
    up->add_flag("--no-deps", f->up.no_deps, "Don't start linked services");
    up->add_flag("--always-recreate-deps", f->up.always_recreate_deps, "Recreate dependent containers");
    up->add_flag("--remove-orphans", f->up.remove_orphans, "Remove containers for services not defined in the Compose file");
    up->add_flag("--no-start", f->up.no_start, "Don't start the services after creating them");
    up->add_flag("--abort-on-container-exit", f->abort_on_exit, "Stops all containers if any container was stopped");
    up->add_option("--exit-code-from", f->exit_code_from, "Return the exit code of the selected service container");
    up->add_option("--scale", f->scale, "Scale SERVICE to NUM instances")->allow_extra_args(false);
    up->add_option("-t,--timeout", f->timeout, "Use this timeout in seconds for container shutdown");
    up->add_flag("--dry-run", f->dry_run, "Print the plan with the reason for every action, change nothing");
    up->add_option("--attach", f->attach, "Restrict attaching to the specified services")->allow_extra_args(false);
    up->add_option("--no-attach", f->no_attach, "Do not attach (stream logs) to the specified services")->allow_extra_args(false);
    up->add_option("services", f->up.services, "Services to start (with their dependencies)");
    up->callback([f] {
      if (f->wait) f->detach = true;
      run_up(*f);
    });
  }
  {
    auto flags = std::make_shared<ProjectFlags>();
    auto opts = std::make_shared<orchestrator::DownOptions>();
    auto* down = app.add_subcommand("down", "Stop and remove containers, networks");
    add_project_flags(down, *flags);
    down->add_flag("-v,--volumes", opts->volumes, "Remove named volumes declared in the volumes section and anonymous volumes");
    down->add_option("--rmi", opts->rmi, "Remove images used by services: local or all")->check(CLI::IsMember({"local", "all"}));
    down->add_flag("--remove-orphans", opts->remove_orphans, "Remove containers for services not defined in the Compose file");
    down->add_option("-t,--timeout", opts->timeout_s, "Specify a shutdown timeout in seconds");
    down->callback([flags, opts] {
      engine::require_root();
      ProjectFlags m = merged(*flags);
      // Works with only -p: the file, when there is one, orders the removal.
      std::optional<compose::LoadResult> loaded;
      std::string name;
      try {
        loaded = load_project(m);
        name = loaded->project.name;
      } catch (const Error&) {
        if (m.project_name.empty()) throw;
        name = project_name(m);
      }
      auto lock = project_lock(name);
      engine::remove_incomplete_containers();
      orchestrator::down(name, loaded ? &loaded->project : nullptr, *opts, progress_printer(m));
    });
  }
  {
    auto f = std::make_shared<RunFlags>();
    auto* run = app.add_subcommand("run", "Run a one-off command on a service");
    add_project_flags(run, f->project, false);
    run->add_flag("-d,--detach", f->run.detach, "Run container in background and print container ID");
    run->add_flag("--rm", f->run.remove, "Automatically remove the container when it exits");
    run->add_option("--name", f->run.name, "Assign a name to the container");
    run->add_flag("--no-deps", f->run.no_deps, "Don't start linked services");
    run->add_option("-e,--env", f->run.env, "Set environment variables");
    run->add_option("-l,--label", f->run.labels, "Add or override a label");
    run->add_option("-u,--user", f->run.user, "Run as specified username or uid");
    run->add_option("-w,--workdir", f->run.workdir, "Working directory inside the container");
    run->add_option("-v,--volume", f->run.volumes, "Bind mount a volume");
    run->add_option("-p,--publish", f->run.publish, "Publish a container's port(s) to the host");
    run->add_flag("-P,--service-ports", f->run.service_ports, "Run command with all service's ports enabled and mapped to the host");
    run->add_flag("--use-aliases", f->run.use_aliases, "Use the service's network aliases in the network(s) the container connects to");
    run->add_option("--entrypoint", f->run.entrypoint, "Override the entrypoint of the image");
    run->add_flag("-T,--no-TTY", f->no_tty, "Disable pseudo-TTY allocation (default: a TTY when this terminal is one)");
    // Compose's -i/-t (on by default): accepted so `run -it web sh` works as there.
    run->add_flag("-i,--interactive", f->accepted_default, "Keep STDIN open even if not attached (default)")->group("");
    run->add_flag("-t,--tty", f->accepted_default, "Allocate a pseudo-TTY (default when this terminal is one)")->group("");
    for (auto* opt : run->get_options()) opt->allow_extra_args(false);
    run->prefix_command();  // SERVICE COMMAND [ARGS...]: the first positional ends option parsing
    run->footer("Usage: berth run [OPTIONS] SERVICE [COMMAND] [ARGS...]");
    run->callback([f, run] { run_oneoff(*f, run->remaining()); });
  }
}

}  // namespace berth::cli
