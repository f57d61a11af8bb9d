// Pass "consistency": cross-references between services and top-level resources, as compose-go's
// loader/validate.go checks them, plus dependency cycles (printed).
#include <functional>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "passes.h"

namespace berth::compose {
namespace {

std::string value_of(const Node& n, const char* key) {
  auto v = n.find(key);
  return v && v->is_scalar() ? v->value : std::string();
}

bool declared(const Node& root, const char* kind, const std::string& name) {
  auto section = root.find(kind);
  return section && section->is_map() && section->find(name);
}

}  // namespace

void validate_consistency(const Node& root, Diagnostics& diag) {
  auto services = root.find("services");
  if (!services || !services->is_map()) return;
  // Service by name: depends_on and the cycle search look names up once per edge.
  std::unordered_map<std::string_view, const Node*> service_named;
  service_named.reserve(services->map.size());
  for (const auto& [name, svc] : services->map) service_named.emplace(name, svc.get());
  auto find_service = [&](const std::string& name) -> const Node* {
    auto it = service_named.find(name);
    return it == service_named.end() ? nullptr : it->second;
  };
  for (const auto& [name, svc] : services->map) {
    if (!svc->is_map()) continue;
    std::string path = "services." + name;
    if (!svc->find("image") && !svc->find("build") && !svc->find("provider"))
      diag.error(svc->pos, path, "service \"" + name + "\" has neither an image nor a build context specified",
                 "add `image:` or `build:`");
    auto nets = svc->find("networks");
    if (svc->find("network_mode") && nets && nets->is_map() && !nets->map.empty())
      diag.error(svc->find("network_mode")->pos, path,
                 "service " + name + " declares mutually exclusive `network_mode` and `networks`",
                 "keep only one of them");
    if (nets && nets->is_map())
      for (size_t i = 0; i < nets->map.size(); ++i) {
        const auto& net = nets->map[i].first;
        if (!declared(root, "networks", net))
          diag.error(i < nets->key_pos.size() ? nets->key_pos[i] : nets->pos, path_key(path, "networks." + net),
                     "service \"" + name + "\" refers to undefined network " + net,
                     "declare it under the top-level `networks:`");
      }
    std::map<std::string, Pos> targets;
    if (auto vols = svc->find("volumes"); vols && vols->is_seq())
      for (size_t i = 0; i < vols->items.size(); ++i) {
        const auto& v = vols->items[i];
        if (!v->is_map()) continue;
        std::string source = value_of(*v, "source"), target = value_of(*v, "target");
        if (value_of(*v, "type") == "volume" && !source.empty() && !declared(root, "volumes", source))
          diag.error(v->pos, path_index(path_key(path, "volumes"), i),
                     "service \"" + name + "\" refers to undefined volume " + source,
                     "declare it under the top-level `volumes:`");
        if (auto [it, fresh] = targets.emplace(target, v->pos); !fresh)
          diag.error(v->pos, path_index(path_key(path, "volumes"), i),
                     "target " + target + " already mounted (at " + it->second.str() + ")", "mount it once");
      }
    for (const char* kind : {"secrets", "configs"})
      if (auto refs = svc->find(kind); refs && refs->is_seq())
        for (size_t i = 0; i < refs->items.size(); ++i) {
          std::string src = refs->items[i]->is_map() ? value_of(*refs->items[i], "source") : refs->items[i]->value;
          if (!declared(root, kind, src))
            diag.error(refs->items[i]->pos, path_index(path_key(path, kind), i),
                       "service \"" + name + "\" refers to undefined " + std::string(kind).substr(0, 6) + " " + src,
                       std::string("declare it under the top-level `") + kind + ":`");
        }
    if (auto deps = svc->find("depends_on"); deps && deps->is_map())
      for (size_t i = 0; i < deps->map.size(); ++i) {
        const auto& [dep, spec] = deps->map[i];
        bool required = true;
        if (spec->is_map())
          if (auto r = spec->find("required")) scalar_as_bool(*r, required);
        if (!find_service(dep) && required)
          diag.error(i < deps->key_pos.size() ? deps->key_pos[i] : deps->pos, path_key(path, "depends_on." + dep),
                     "service \"" + name + "\" depends on undefined service \"" + dep + "\"",
                     "check the service name");
      }
    if (auto hc = svc->find("healthcheck"); hc && hc->is_map())
      if (auto test = hc->find("test"); test && test->is_seq() && !test->items.empty()) {
        const std::string& first = test->items[0]->value;
        if (first != "CMD" && first != "CMD-SHELL" && first != "NONE")
          diag.error(test->pos, path + ".healthcheck.test",
                     "healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\"",
                     "write [\"CMD\", \"prog\", \"arg\"] or a string for the shell");
      }
    auto scale = svc->find("scale");
    auto deploy = svc->find("deploy");
    auto replicas = deploy && deploy->is_map() ? deploy->find("replicas") : nullptr;
    if (scale && replicas && scale->value != replicas->value)
      diag.error(scale->pos, path + ".scale", "can't set distinct values on 'scale' and 'deploy.replicas'",
                 "keep one of them");
    auto count = scale ? scale : replicas;
    if (svc->find("container_name") && count && count->is_scalar() && count->value != "1" && count->value != "0")
      diag.error(svc->find("container_name")->pos, path + ".container_name",
                 "services." + name + ": can't set container_name and " + name +
                     " as container name must be unique",
                 "remove container_name or scale to 1");
    if (auto labels = svc->find("labels"); labels && labels->is_map())
      for (size_t i = 0; i < labels->map.size(); ++i)
        if (labels->map[i].first.rfind("com.docker.compose.", 0) == 0)
          diag.error(i < labels->key_pos.size() ? labels->key_pos[i] : labels->pos,
                     path + ".labels." + labels->map[i].first, "label prefix com.docker.compose. is reserved",
                     "use your own prefix");
  }
  if (auto secrets = root.find("secrets"); secrets && secrets->is_map())
    for (const auto& [name, s] : secrets->map) {
      if (!s->is_map()) continue;
      bool external = false;
      if (auto e = s->find("external")) scalar_as_bool(*e, external);
      if (!external && !s->find("file") && !s->find("environment"))
        diag.error(s->pos, "secrets." + name, "secret \"" + name + "\" must declare either `file` or `environment`",
                   "add `file: ./path` or `environment: VAR`");
    }
  for (const char* kind : {"networks", "volumes", "secrets", "configs"})
    if (auto section = root.find(kind); section && section->is_map())
      for (const auto& [name, res] : section->map) {
        if (!res->is_map()) continue;
        bool external = false;
        if (auto e = res->find("external")) scalar_as_bool(*e, external);
        if (!external) continue;
        for (const auto& [k, v] : res->map)
          if (k != "name" && k != "external" && k.rfind("x-", 0) != 0)
            diag.error(v->pos, std::string(kind) + "." + name + "." + k,
                       std::string(kind).substr(0, std::string(kind).size() - 1) + " " + name +
                           " is external, `" + k + "` is not allowed",
                       "remove it, or drop `external`");
      }
  // Dependency cycles, printed as a -> b -> a.
  std::unordered_map<std::string, int> state;  // 0 new, 1 on stack, 2 done
  state.reserve(services->map.size());
  std::vector<std::string> stack;
  bool reported = false;
  std::function<void(const std::string&)> visit = [&](const std::string& s) {
    state[s] = 1;
    stack.push_back(s);
    auto svc = find_service(s);
    if (auto deps = svc && svc->is_map() ? svc->find("depends_on") : nullptr; deps && deps->is_map())
      for (const auto& [dep, spec] : deps->map) {
        if (!find_service(dep)) continue;
        if (state[dep] == 1 && !reported) {
          std::string cycle;
          bool in = false;
          for (const auto& x : stack) {
            in = in || x == dep;
            if (in) cycle += x + " -> ";
          }
          diag.error(spec->pos, "services." + s + ".depends_on." + dep, "dependency cycle detected: " + cycle + dep,
                     "remove one of these depends_on entries");
          reported = true;
        } else if (state[dep] == 0) {
          visit(dep);
        }
      }
    stack.pop_back();
    state[s] = 2;
  };
  for (const auto& [name, svc] : services->map)
    if (state[name] == 0) visit(name);
}

}  // namespace berth::compose
