// reconcile: Project x Observed -> Plan. Pure and deterministic, so `up --dry-run` prints exactly
// what `up` does, with the reason for every action.
#include <algorithm>
#include <functional>
#include <set>

#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"

namespace berth::orchestrator {

namespace {

constexpr int kExitInvalidProject = 15;

const char* kind_name(ActionKind k) {
  switch (k) {
    case ActionKind::CreateNetwork: return "create network";
    case ActionKind::CreateVolume: return "create volume";
    case ActionKind::Create: return "create";
    case ActionKind::Recreate: return "recreate";
    case ActionKind::Start: return "start";
    case ActionKind::Remove: return "remove";
    case ActionKind::Keep: return "keep";
  }
  return "?";
}

// Depth-first difference between two JSON values: the first path whose value differs.
std::string first_difference(const json& a, const json& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      std::string p = path.empty() ? k : path + "." + k;
      if (!a.contains(k)) return p + " added";
      if (!b.contains(k)) return p + " removed";
      std::string d = first_difference(a[k], b[k], p);
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a != b) return path + " changed";
  return "";
}

}  // namespace

std::string config_difference(const json& old_service, const json& new_service) {
  if (old_service.is_null()) return "configuration changed";
  // Attributes that never require a new container are not reasons (as compose::config_hash).
  json a = old_service, b = new_service;
  for (json* j : {&a, &b})
    for (const char* k : {"build", "pull_policy", "scale", "depends_on", "profiles"}) j->erase(k);
  std::string d = first_difference(a, b, "");
  return d.empty() ? "configuration changed" : d;
}

std::vector<std::string> dependency_order(const compose::Project& project, const std::vector<std::string>& wanted,
                                          bool with_deps) {
  std::vector<std::string> order;
  std::set<std::string> done, visiting;
  std::vector<std::string> stack;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    if (done.count(name)) return;
    const compose::Service* svc = project.service(name);
    if (!svc) throw Error("no such service: " + name, "see `berth config --services`", 1);
    if (visiting.count(name)) {
      std::string cycle;
      auto it = std::find(stack.begin(), stack.end(), name);
      for (; it != stack.end(); ++it) cycle += *it + " -> ";
      throw Error("dependency cycle detected: " + cycle + name, "remove one of these depends_on entries",
                  kExitInvalidProject);
    }
    visiting.insert(name);
    stack.push_back(name);
    if (with_deps) {
      for (const auto& [dep, spec] : svc->depends_on) {
        if (project.service(dep)) {
          visit(dep);
        } else if (spec.required) {
          throw Error("service \"" + name + "\" depends on undefined service \"" + dep + "\"",
                      "define it or mark the dependency required: false", kExitInvalidProject);
        }
      }
    }
    stack.pop_back();
    visiting.erase(name);
    done.insert(name);
    order.push_back(name);
  };
  if (wanted.empty())
    for (const auto& s : project.services) visit(s.name);
  else
    for (const auto& s : wanted) visit(s);
  return order;
}

Plan reconcile(const compose::Project& project, const Observed& observed, const UpOptions& options,
               const std::map<std::string, std::string>& image_ids) {
  Plan plan;
  for (const auto& [key, net] : project.networks)
    if (!net.external && !observed.networks.count(net.name))
      plan.actions.push_back({ActionKind::CreateNetwork, "", 0, "", "", net.name, "missing", ""});
  for (const auto& [key, vol] : project.volumes)
    if (!vol.external && !observed.volumes.count(vol.name))
      plan.actions.push_back({ActionKind::CreateVolume, "", 0, "", "", vol.name, "missing", ""});

  plan.service_order = dependency_order(project, options.services, !options.no_deps);
  std::set<std::string> recreated;
  for (const auto& name : plan.service_order) {
    const compose::Service& svc = *project.service(name);
    std::string hash = compose::config_hash(project, name);
    int want = options.scale.count(name) ? options.scale.at(name) : replicas(svc);
    std::vector<const ObservedContainer*> have;
    for (const auto& c : observed.containers)
      if (c.service == name && !c.oneoff) have.push_back(&c);
    // A dependency that is recreated takes its dependents with it when they ask for it.
    std::string dep_reason;
    for (const auto& [dep, spec] : svc.depends_on)
      if (recreated.count(dep) && (options.always_recreate_deps || spec.restart))
        dep_reason = "dependency " + dep + " recreated";
    auto image_it = image_ids.find(name);
    for (int n = 1; n <= want; ++n) {
      auto it = std::find_if(have.begin(), have.end(), [n](const ObservedContainer* c) { return c->number == n; });
      if (it == have.end()) {
        plan.actions.push_back({ActionKind::Create, name, n, "", container_name(project, svc, n), "", "missing", hash});
        continue;
      }
      const ObservedContainer& c = **it;
      std::string why;
      if (options.force_recreate) why = "--force-recreate";
      else if (!options.no_recreate && c.config_hash != hash) why = config_difference(c.service_config, svc.raw);
      else if (!options.no_recreate && image_it != image_ids.end() && !image_it->second.empty() &&
               image_it->second != c.image_id)
        why = "image changed";
      else if (!options.no_recreate && !dep_reason.empty()) why = dep_reason;
      if (!why.empty()) {
        plan.actions.push_back({ActionKind::Recreate, name, n, c.id, c.name, "", why, hash});
        recreated.insert(name);
      } else if (c.status != "running" && c.status != "restarting" && c.status != "paused") {
        plan.actions.push_back({ActionKind::Start, name, n, c.id, c.name, "", "not running (" + c.status + ")", c.config_hash});
      } else {
        plan.actions.push_back({ActionKind::Keep, name, n, c.id, c.name, "", "up to date", c.config_hash});
      }
    }
    for (const auto* c : have)
      if (c->number > want)
        plan.actions.push_back({ActionKind::Remove, name, c->number, c->id, c->name, "",
                                "scale " + std::to_string(have.size()) + " -> " + std::to_string(want), ""});
  }
  if (options.remove_orphans)
    for (const auto& c : observed.containers)
      if (!c.oneoff && !project.service(c.service))
        plan.actions.push_back({ActionKind::Remove, c.service, c.number, c.id, c.name, "", "orphan", ""});
  return plan;
}

std::string Plan::str() const {
  std::string out;
  for (const auto& a : actions) {
    std::string what = a.object.empty() ? (a.container_name.empty() ? a.service : a.container_name) : a.object;
    out += std::string(kind_name(a.kind)) + " " + what;
    if (!a.service.empty() && a.object.empty()) out += " (service " + a.service + ")";
    out += ": " + a.reason + "\n";
  }
  return out;
}

}  // namespace berth::orchestrator
