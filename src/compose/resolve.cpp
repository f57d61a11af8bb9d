// Passes after merge: environment files, relative paths, normalization, profiles.
#include <algorithm>
#include <set>

#include "berth/util/fs.h"
#include "berth/util/strings.h"
#include "passes.h"

namespace berth::compose {
namespace {

NodePtr str_node(const std::string& v, const Pos& p) { return Node::scalar(v, p, true); }

bool is_remote_context(const std::string& s) {
  for (const char* prefix : {"http://", "https://", "git://", "git@", "github.com/", "ssh://"})
    if (s.rfind(prefix, 0) == 0) return true;
  return false;
}

// Files named in `key` (list of {path, required} or of strings) → one map, later files win.
Environment read_env_files(const Node& svc, const char* key, const Environment& env, Diagnostics& diag,
                           const std::string& path) {
  Environment out;
  auto files = svc.find(key);
  if (!files || !files->is_seq()) return out;
  for (size_t i = 0; i < files->items.size(); ++i) {
    const auto& item = files->items[i];
    std::string file = item->is_map() ? (item->find("path") ? item->find("path")->value : "") : item->value;
    bool required = true;
    if (item->is_map())
      if (auto r = item->find("required")) scalar_as_bool(*r, required);
    bool raw = item->is_map() && item->find("format") && item->find("format")->value == "raw";
    auto text = fs::read_file_if_exists(file);
    if (!text) {
      if (required)
        diag.error(item->pos, path_index(path_key(path, key), i), "env file " + file + " not found",
                   "create it, or mark it `required: false`");
      continue;
    }
    Environment parsed;
    if (raw) {
      for (const auto& line : str::split(*text, '\n')) {
        auto eq = line.find('=');
        if (eq != std::string::npos) parsed[line.substr(0, eq)] = line.substr(eq + 1);
      }
    } else {
      parsed = parse_dotenv(*text, file, env, diag);
    }
    for (auto& [k, v] : parsed) out[k] = v;
  }
  return out;
}

void add_dependency(Node& svc, const std::string& dep, bool restart) {
  auto deps = svc.find("depends_on");
  if (!deps) {
    deps = Node::mapping(svc.pos);
    svc.set("depends_on", deps);
  }
  if (deps->find(dep)) return;
  auto d = Node::mapping(svc.pos);
  d->set("condition", str_node("service_started", svc.pos));
  d->set("required", Node::scalar("true", svc.pos, false));
  d->set("restart", Node::scalar(restart ? "true" : "false", svc.pos, false));
  deps->set(dep, d);
}

}  // namespace

void resolve_environment(Node& root, const Environment& env, Diagnostics& diag) {
  auto services = root.find("services");
  if (!services || !services->is_map()) return;
  for (auto& [name, svc] : services->map) {
    if (!svc->is_map()) continue;
    std::string path = "services." + name;
    Environment from_files = read_env_files(*svc, "env_file", env, diag, path);
    auto environment = svc->find("environment");
    if (!from_files.empty() || environment) {
      auto merged = Node::mapping(environment ? environment->pos : svc->pos);
      for (auto& [k, v] : from_files) merged->set(k, str_node(v, merged->pos));
      if (environment && environment->is_map())
        for (size_t i = 0; i < environment->map.size(); ++i) {
          const auto& [k, v] = environment->map[i];
          if (v->is_null()) {  // bare key: from the project environment, or unset
            auto it = env.find(k);
            if (it != env.end()) merged->set(k, str_node(it->second, v->pos));
            else if (!merged->find(k)) continue;
          } else {
            merged->set(k, v);
          }
        }
      svc->set("environment", merged);
    }
    Environment label_files = read_env_files(*svc, "label_file", env, diag, path);
    if (!label_files.empty()) {
      auto labels = svc->find("labels");
      auto merged = Node::mapping(labels ? labels->pos : svc->pos);
      for (auto& [k, v] : label_files) merged->set(k, str_node(v, merged->pos));
      if (labels && labels->is_map())
        for (auto& [k, v] : labels->map) merged->set(k, v);
      svc->set("labels", merged);
    }
    if (auto args = svc->find("build") ? svc->find("build")->find("args") : nullptr; args && args->is_map())
      for (auto& [k, v] : args->map)
        if (v->is_null())
          if (auto it = env.find(k); it != env.end()) v = str_node(it->second, v->pos);
  }
}

std::string absolute_path(const std::string& p, const std::string& dir, const std::string& home) {
  std::string s = p;
  if (s == "~" || s.rfind("~/", 0) == 0) s = home + s.substr(1);
  if (s.empty() || s[0] != '/') s = dir + "/" + s;
  // Clean: drop "." and resolve ".." lexically (as Go's filepath.Join does).
  std::vector<std::string> parts;
  for (auto& part : str::split(s, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return "/" + str::join(parts, "/");
}

void resolve_service_paths(Node& svc, const std::string& dir, const std::string& home) {
  auto abs = [&](NodePtr n) {
    if (n && n->is_scalar()) n->value = absolute_path(n->value, dir, home);
  };
  if (auto b = svc.find("build"); b && b->is_map()) {
    auto ctx = b->find("context");
    if (!ctx) b->set("context", str_node(".", b->pos)), ctx = b->find("context");
    if (ctx->is_scalar() && !is_remote_context(ctx->value)) abs(ctx);
    if (auto extra = b->find("additional_contexts"); extra && extra->is_map())
      for (auto& [k, v] : extra->map)
        if (v->is_scalar() && v->value.find("://") == std::string::npos && v->value.rfind("docker-image:", 0) &&
            v->value.rfind("service:", 0) && v->value.rfind("oci-layout:", 0))
          abs(v);
  }
  if (auto vols = svc.find("volumes"); vols && vols->is_seq())
    for (auto& v : vols->items) {
      if (!v->is_map()) continue;
      auto type = v->find("type");
      auto src = v->find("source");
      if (type && type->value == "bind" && src && src->is_scalar() && !src->value.empty() && src->value[0] != '/' &&
          src->value.find(":\\") == std::string::npos)
        abs(src);
    }
  if (auto files = svc.find("env_file"); files && files->is_seq())
    for (auto& f : files->items)
      if (f->is_map()) abs(f->find("path"));
  if (auto files = svc.find("label_file"); files && files->is_seq())
    for (auto& f : files->items) abs(f);
  if (auto ext = svc.find("extends"); ext && ext->is_map()) abs(ext->find("file"));
}

void resolve_paths(Node& root, const std::string& dir, const std::string& home) {
  if (auto services = root.find("services"); services && services->is_map())
    for (auto& [name, svc] : services->map)
      if (svc->is_map()) resolve_service_paths(*svc, dir, home);
  for (const char* kind : {"secrets", "configs"})
    if (auto section = root.find(kind); section && section->is_map())
      for (auto& [name, obj] : section->map)
        if (obj->is_map())
          if (auto f = obj->find("file"); f && f->is_scalar()) f->value = absolute_path(f->value, dir, home);
}

void normalize(Node& root, const std::string& project_name) {
  auto services = root.find("services");
  bool uses_default = false;
  if (services && services->is_map()) {
    for (auto& [name, svc] : services->map) {
      if (!svc->is_map()) continue;
      if (!svc->find("network_mode") && !svc->find("provider")) {
        auto nets = svc->find("networks");
        if (!nets || (nets->is_map() && nets->map.empty())) {
          nets = Node::mapping(svc->pos);
          nets->set("default", Node::null(svc->pos));
          svc->set("networks", nets);
        }
        if (nets->is_map() && nets->find("default")) uses_default = true;
      }
      // Implicit dependencies: shared namespaces, volumes_from and links.
      for (const char* ns : {"network_mode", "ipc", "pid", "uts", "cgroup"})
        if (auto v = svc->find(ns); v && v->is_scalar() && v->value.rfind("service:", 0) == 0)
          add_dependency(*svc, v->value.substr(8), true);
      if (auto vf = svc->find("volumes_from"); vf && vf->is_seq())
        for (auto& item : vf->items)
          if (item->value.rfind("container:", 0) != 0) add_dependency(*svc, str::split(item->value, ':')[0], false);
      if (auto links = svc->find("links"); links && links->is_seq())
        for (auto& item : links->items) add_dependency(*svc, str::split(item->value, ':')[0], true);
      if (auto b = svc->find("build"); b && b->is_map() && !b->find("dockerfile") && !b->find("dockerfile_inline"))
        b->set("dockerfile", str_node("Dockerfile", b->pos));
    }
  }
  auto networks = root.find("networks");
  if (uses_default) {
    if (!networks) networks = Node::mapping(root.pos), root.set("networks", networks);
    if (networks->is_map() && !networks->find("default")) networks->set("default", Node::mapping(root.pos));
  }
  for (const char* kind : {"networks", "volumes", "secrets", "configs"}) {
    auto section = root.find(kind);
    if (!section || !section->is_map()) continue;
    for (auto& [key, res] : section->map) {
      if (!res->is_map() || res->find("name")) continue;
      bool external = false;
      if (auto e = res->find("external")) scalar_as_bool(*e, external);
      res->set("name", str_node(external ? key : project_name + "_" + key, res->pos));
    }
  }
}

std::vector<std::string> apply_profiles(Node& root, const std::vector<std::string>& active,
                                        const std::vector<std::string>& selected, Diagnostics& diag) {
  std::vector<std::string> disabled;
  auto services = root.find("services");
  if (!services || !services->is_map()) return disabled;
  std::set<std::string> on(active.begin(), active.end());
  // A service named on the command line enables its own profiles.
  for (const auto& name : selected)
    if (auto svc = services->find(name); svc && svc->is_map())
      if (auto profiles = svc->find("profiles"); profiles && profiles->is_seq())
        for (auto& p : profiles->items) on.insert(p->value);
  auto enabled = [&](const Node& svc) {
    auto profiles = svc.find("profiles");
    if (!profiles || !profiles->is_seq() || profiles->items.empty()) return true;
    if (on.count("*")) return true;
    for (auto& p : profiles->items)
      if (on.count(p->value)) return true;
    return false;
  };
  for (auto& [name, svc] : services->map)
    if (svc->is_map() && !enabled(*svc)) disabled.push_back(name);
  for (const auto& name : disabled) services->erase(name);
  for (auto& [name, svc] : services->map) {
    auto deps = svc->find("depends_on");
    if (!deps || !deps->is_map()) continue;
    for (auto& [dep, spec] : deps->map)
      if (std::find(disabled.begin(), disabled.end(), dep) != disabled.end()) {
        bool required = true;
        if (auto r = spec->find("required")) scalar_as_bool(*r, required);
        if (required)
          diag.error(spec->pos, "services." + name + ".depends_on." + dep,
                     "service \"" + name + "\" depends on service \"" + dep + "\" which is disabled by profiles",
                     "activate one of its profiles with --profile");
      }
  }
  return disabled;
}

}  // namespace berth::compose
