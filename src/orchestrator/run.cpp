// run: one-off containers of a service (`berth run`), with Docker Compose's rules: dependencies
// up first (as `up SERVICE` would bring them, minus the service itself), then a container named
// <project>-<service>-run-<12 hex> labelled oneoff, without restart policy, published ports only
// with --service-ports and network aliases only with --use-aliases.
#include <algorithm>
#include <cstdlib>

#include "berth/compose/loader.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/id.h"
#include "internal.h"

namespace berth::orchestrator {

namespace {

// The service as the one-off runs it: the command line's overrides applied.
compose::Service oneoff_service(const compose::Service& base, const RunOptions& o) {
  compose::Service svc = base;
  if (o.command) svc.command = *o.command;
  if (o.entrypoint) {
    bool ok = true;
    auto words = compose::shell_split(*o.entrypoint, ok);
    if (!ok) throw Error("invalid --entrypoint " + *o.entrypoint + ": unterminated quote", "close the quote", 1);
    svc.entrypoint = words;  // empty: no entrypoint at all
  }
  if (!o.user.empty()) svc.user = o.user;
  if (!o.workdir.empty()) svc.working_dir = o.workdir;
  for (const auto& e : o.env) {
    auto eq = e.find('=');
    if (eq != std::string::npos) {
      svc.environment[e.substr(0, eq)] = e.substr(eq + 1);
    } else if (const char* v = std::getenv(e.c_str())) {
      svc.environment[e] = v;
    } else {
      svc.environment.erase(e);  // KEY alone and unset here: unset in the container too
    }
  }
  for (const auto& l : o.labels) {
    auto eq = l.find('=');
    svc.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  svc.tty = o.tty;
  svc.stdin_open = o.interactive;
  if (!o.service_ports) svc.ports.clear();
  svc.container_name.clear();  // the service's container_name belongs to its own container
  return svc;
}

// -v ./data:/data is relative to the project directory, as the file's own volumes are.
std::string resolve_volume(const compose::Project& project, const std::string& v) {
  if (v.rfind("./", 0) == 0 || v.rfind("../", 0) == 0 || v == "." || v.rfind(".:", 0) == 0)
    return project.working_dir + "/" + v;
  return v;
}

}  // namespace

OneOff create_oneoff(const compose::Project& project, const RunOptions& o, const ExecuteOptions& exec,
                     const Progress& progress) {
  const compose::Service* base = project.service(o.service);
  if (!base) throw Error("no such service: " + o.service, "see berth config --services", 1);

  // The project's networks and volumes and the service's dependencies, as `up SERVICE` makes them.
  UpOptions up;
  up.services = {o.service};
  up.no_deps = o.no_deps;
  Plan plan = reconcile(project, observe(project.name), up, local_image_ids(project));
  std::erase(plan.service_order, o.service);
  std::erase_if(plan.actions, [&](const Action& a) { return a.service == o.service && a.object.empty(); });
  ExecuteOptions deps = exec;
  deps.wait = false;
  execute(project, plan, deps, progress);
  if (!o.no_deps)
    for (const auto& [dep, spec] : base->depends_on)
      if (project.service(dep)) wait_condition(project, o.service, dep, spec, progress);

  compose::Service svc = oneoff_service(*base, o);
  ContainerSpec spec = container_spec(project, svc, 1, compose::config_hash(project, o.service), true, exec.environment);
  for (const auto& w : spec.warnings) emit(progress, "Service " + svc.name, "warning: " + w);
  spec.name = o.name.empty() ? project.name + "-" + svc.name + "-run-" + random_hex_id().substr(0, 12) : o.name;
  engine::ContainerOptions& opts = spec.options;
  opts.name = spec.name;
  opts.restart = "no";
  opts.autoremove = o.remove;
  for (const auto& v : o.volumes) opts.volumes.push_back(resolve_volume(project, v));
  opts.publish.insert(opts.publish.end(), o.publish.begin(), o.publish.end());
  if (!o.use_aliases) {
    opts.network_aliases.clear();
    for (auto& join : spec.networks) join.aliases.clear();
  }
  OneOff result;
  result.id = create_from_spec(svc, spec, &result.port_fds);
  result.name = spec.name;
  result.options = spec.options;
  result.options.detach = o.detach;
  return result;
}

}  // namespace berth::orchestrator
