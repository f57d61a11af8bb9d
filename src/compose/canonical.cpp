// Pass "canonical": every attribute that has a short syntax is rewritten to its long syntax, so
// merge, validation and binding see one shape. Nodes keep the position of what they came from.
#include <algorithm>
#include <cctype>

#include "berth/util/strings.h"
#include "passes.h"

namespace berth::compose {
namespace {

NodePtr str_node(const std::string& v, const Pos& p) { return Node::scalar(v, p, true); }

// "K=V" list → map (K → V; "K" alone → null). Maps stay as they are.
void list_to_map(Node& parent, const std::string& key, const std::string& path, Diagnostics& diag,
                 char sep = '=') {
  auto n = parent.find(key);
  if (!n || !n->is_seq()) return;
  auto m = Node::mapping(n->pos);
  m->tag = n->tag;
  for (size_t i = 0; i < n->items.size(); ++i) {
    const auto& item = n->items[i];
    if (!item->is_scalar()) {
      diag.error(item->pos, path_index(path_key(path, key), i), "must be a string \"KEY=VALUE\"", "");
      continue;
    }
    size_t eq = item->value.find(sep);
    if (eq == std::string::npos) m->set(item->value, Node::null(item->pos), item->pos);
    else m->set(item->value.substr(0, eq), str_node(item->value.substr(eq + 1), item->pos), item->pos);
  }
  parent.set(key, m);
}

// A string becomes a one-element list.
void string_to_list(Node& parent, const std::string& key) {
  auto n = parent.find(key);
  if (!n || !n->is_scalar()) return;
  auto s = Node::seq(n->pos);
  s->tag = n->tag;
  s->items.push_back(n);
  parent.set(key, s);
}

void command_to_list(Node& parent, const std::string& key, const std::string& path, Diagnostics& diag) {
  auto n = parent.find(key);
  if (!n || !n->is_scalar()) return;
  bool ok;
  auto words = shell_split(n->value, ok);
  if (!ok) diag.error(n->pos, path_key(path, key), "unterminated quote in command", "close the quote");
  auto s = Node::seq(n->pos);
  s->tag = n->tag;
  for (auto& w : words) s->items.push_back(str_node(w, n->pos));
  parent.set(key, s);
}

// "name" → {source: name} for secrets and configs (service and build level).
void file_refs(Node& parent, const std::string& key) {
  auto n = parent.find(key);
  if (!n || !n->is_seq()) return;
  for (auto& item : n->items) {
    if (!item->is_scalar()) continue;
    auto m = Node::mapping(item->pos);
    m->set("source", item);
    item = m;
  }
}

bool parse_port_number(const std::string& s, int& out) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  out = std::stoi(s);
  return out <= 65535;
}

bool parse_range(const std::string& s, int& lo, int& hi) {
  size_t dash = s.find('-');
  if (dash == std::string::npos) return parse_port_number(s, lo) && (hi = lo, true);
  return parse_port_number(s.substr(0, dash), lo) && parse_port_number(s.substr(dash + 1), hi) && lo <= hi;
}

// [HOST_IP:][PUBLISHED[-RANGE]:]TARGET[-RANGE][/PROTOCOL] → long entries, one per port.
void expand_port(const Node& item, const std::string& path, std::vector<NodePtr>& out, Diagnostics& diag) {
  std::string spec = item.value;
  std::string protocol = "tcp";
  if (auto slash = spec.rfind('/'); slash != std::string::npos) {
    protocol = spec.substr(slash + 1);
    spec.resize(slash);
  }
  std::string host_ip, published, target;
  if (!spec.empty() && spec[0] == '[') {  // [IPv6]:published:target
    size_t close = spec.find(']');
    if (close == std::string::npos) {
      diag.error(item.pos, path, "invalid port \"" + item.value + "\"", "write [IPv6]:HOST:CONTAINER");
      return;
    }
    host_ip = spec.substr(1, close - 1);
    spec = spec.substr(close + 1);
    if (!spec.empty() && spec[0] == ':') spec.erase(0, 1);
    size_t c = spec.rfind(':');
    published = c == std::string::npos ? "" : spec.substr(0, c);
    target = c == std::string::npos ? spec : spec.substr(c + 1);
  } else {
    auto parts = str::split(spec, ':');
    if (parts.size() == 1) {
      target = parts[0];
    } else if (parts.size() == 2) {
      published = parts[0], target = parts[1];
    } else if (parts.size() == 3) {
      host_ip = parts[0], published = parts[1], target = parts[2];
    } else {  // bare IPv6 host_ip without brackets: last two are published:target
      target = parts.back();
      published = parts[parts.size() - 2];
      parts.resize(parts.size() - 2);
      host_ip = str::join(parts, ":");
    }
  }
  int tlo, thi, plo = 0, phi = 0;
  if (!parse_range(target, tlo, thi)) {
    diag.error(item.pos, path, "invalid container port \"" + target + "\" in \"" + item.value + "\"",
               "use [HOST:]CONTAINER[/PROTOCOL] with ports 0-65535");
    return;
  }
  bool has_published = !published.empty();
  if (has_published && !parse_range(published, plo, phi)) {
    diag.error(item.pos, path, "invalid host port \"" + published + "\" in \"" + item.value + "\"",
               "use [HOST:]CONTAINER[/PROTOCOL] with ports 0-65535");
    return;
  }
  if (protocol != "tcp" && protocol != "udp" && protocol != "sctp") {
    diag.error(item.pos, path, "invalid protocol \"" + protocol + "\"", "use tcp, udp or sctp");
    return;
  }
  int count = thi - tlo + 1;
  bool published_range_for_one = has_published && count == 1 && phi != plo;
  if (has_published && !published_range_for_one && phi - plo + 1 != count) {
    diag.error(item.pos, path, "port ranges don't match in length in \"" + item.value + "\"",
               "write ranges of equal length, like \"9090-9091:8080-8081\"");
    return;
  }
  for (int i = 0; i < count; ++i) {
    auto m = Node::mapping(item.pos);
    m->set("mode", str_node("ingress", item.pos));
    if (!host_ip.empty()) m->set("host_ip", str_node(host_ip, item.pos));
    m->set("target", Node::scalar(std::to_string(tlo + i), item.pos, false));
    if (published_range_for_one) m->set("published", str_node(published, item.pos));
    else if (has_published) m->set("published", str_node(std::to_string(plo + i), item.pos));
    m->set("protocol", str_node(protocol, item.pos));
    out.push_back(m);
  }
}

void canonical_ports(Node& svc, const std::string& path, Diagnostics& diag) {
  auto n = svc.find("ports");
  if (!n || !n->is_seq()) return;
  std::vector<NodePtr> out;
  for (size_t i = 0; i < n->items.size(); ++i) {
    const auto& item = n->items[i];
    if (item->is_scalar()) expand_port(*item, path_index(path_key(path, "ports"), i), out, diag);
    else out.push_back(item);
  }
  n->items = std::move(out);
}

bool is_bind_source(const std::string& s) {
  return !s.empty() && (s[0] == '.' || s[0] == '/' || s[0] == '~' || s[0] == '\\' || s[0] == '$' ||
                        (s.size() > 1 && std::isalpha(static_cast<unsigned char>(s[0])) && s[1] == ':'));
}

std::string clean_path(const std::string& p) {
  if (p.empty()) return p;
  bool abs = p[0] == '/';
  std::vector<std::string> out;
  for (auto& part : str::split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == ".." && !out.empty() && out.back() != "..") out.pop_back();
    else if (part == ".." && abs) continue;
    else out.push_back(part);
  }
  std::string r = (abs ? "/" : "") + str::join(out, "/");
  return r.empty() ? "." : r;
}

// SOURCE:TARGET[:OPTS] or TARGET → long syntax with type inferred.
NodePtr volume_long(const Node& item, const std::string& path, Diagnostics& diag) {
  auto parts = str::split(item.value, ':');
  // A Windows drive letter (C:\x, or C:/x followed by a target) is part of the source.
  if (parts.size() > 1 && parts[0].size() == 1 && std::isalpha(static_cast<unsigned char>(parts[0][0])) &&
      !parts[1].empty() && (parts[1][0] == '\\' || (parts[1][0] == '/' && parts.size() > 2))) {
    parts[1] = parts[0] + ":" + parts[1];
    parts.erase(parts.begin());
  }
  auto m = Node::mapping(item.pos);
  std::string source, target, opts;
  if (parts.size() == 1) target = parts[0];
  else if (parts.size() == 2) source = parts[0], target = parts[1];
  else if (parts.size() == 3) source = parts[0], target = parts[1], opts = parts[2];
  else {
    diag.error(item.pos, path, "invalid volume specification \"" + item.value + "\"",
               "write SOURCE:TARGET[:OPTIONS] or TARGET");
    return nullptr;
  }
  if (target.empty()) {
    diag.error(item.pos, path, "invalid volume specification \"" + item.value + "\": empty target", "");
    return nullptr;
  }
  bool bind = is_bind_source(source);
  m->set("type", str_node(source.empty() || !bind ? "volume" : "bind", item.pos));
  if (!source.empty()) m->set("source", str_node(source, item.pos));
  m->set("target", str_node(clean_path(target), item.pos));
  auto sub = Node::mapping(item.pos);
  for (const auto& o : str::split(opts, ',')) {
    if (o == "ro") m->set("read_only", Node::scalar("true", item.pos, false));
    else if (o == "rw") continue;
    else if (o == "z" || o == "Z") sub->set("selinux", str_node(o, item.pos));
    else if (o == "nocopy") sub->set("nocopy", Node::scalar("true", item.pos, false));
    else if (o == "rprivate" || o == "private" || o == "rshared" || o == "shared" || o == "rslave" ||
             o == "slave")
      sub->set("propagation", str_node(o, item.pos));
    // Other options are ignored, as compose-go does.
  }
  if (bind) {
    sub->erase("nocopy");
  } else {
    sub->erase("selinux");
    sub->erase("propagation");
  }
  m->set(bind ? "bind" : "volume", sub);
  return m;
}

void canonical_volumes(Node& svc, const std::string& path, Diagnostics& diag) {
  auto n = svc.find("volumes");
  if (!n || !n->is_seq()) return;
  for (size_t i = 0; i < n->items.size(); ++i) {
    auto& item = n->items[i];
    if (!item->is_scalar()) continue;
    if (auto m = volume_long(*item, path_index(path_key(path, "volumes"), i), diag)) item = m;
  }
}

void canonical_devices(Node& svc) {
  auto n = svc.find("devices");
  if (!n || !n->is_seq()) return;
  for (auto& item : n->items) {
    if (!item->is_scalar()) continue;
    auto parts = str::split(item->value, ':');
    if (parts.size() == 1 && item->value.find('=') != std::string::npos) continue;  // CDI name
    auto m = Node::mapping(item->pos);
    m->set("source", str_node(parts[0], item->pos));
    m->set("target", str_node(parts.size() > 1 ? parts[1] : parts[0], item->pos));
    m->set("permissions", str_node(parts.size() > 2 ? parts[2] : "rwm", item->pos));
    item = m;
  }
}

// extra_hosts: map or "host:ip"/"host=ip" list → sorted "host=ip" list (Compose's output form).
void canonical_extra_hosts(Node& parent) {
  auto n = parent.find("extra_hosts");
  if (!n) return;
  std::vector<std::string> entries;
  Pos p = n->pos;
  if (n->is_map()) {
    for (auto& [host, ip] : n->map) {
      if (ip->is_seq())
        for (auto& one : ip->items) entries.push_back(host + "=" + one->value);
      else
        entries.push_back(host + "=" + ip->value);
    }
  } else if (n->is_seq()) {
    for (auto& item : n->items) {
      std::string v = item->value;
      size_t eq = v.find('=');
      if (eq == std::string::npos) {
        size_t colon = v.find(':');
        if (colon != std::string::npos) v[colon] = '=';
      }
      entries.push_back(v);
    }
  } else {
    return;
  }
  std::sort(entries.begin(), entries.end());
  auto s = Node::seq(p);
  s->tag = n->tag;
  for (auto& e : entries) s->items.push_back(str_node(e, p));
  parent.set("extra_hosts", s);
}

void canonical_depends_on(Node& svc) {
  auto n = svc.find("depends_on");
  if (!n) return;
  if (n->is_seq()) {
    auto m = Node::mapping(n->pos);
    m->tag = n->tag;
    for (auto& item : n->items) m->set(item->value, Node::mapping(item->pos), item->pos);
    svc.set("depends_on", m);
    n = m;
  }
  if (!n->is_map()) return;
  for (auto& [name, dep] : n->map) {
    if (dep->is_null()) dep = Node::mapping(dep->pos);
    if (!dep->is_map()) continue;
    if (!dep->find("condition")) dep->set("condition", str_node("service_started", dep->pos));
    if (!dep->find("required")) dep->set("required", Node::scalar("true", dep->pos, false));
  }
}

void canonical_env_file(Node& svc, const std::string& key) {
  string_to_list(svc, key);
  auto n = svc.find(key);
  if (!n || !n->is_seq() || key != "env_file") return;
  for (auto& item : n->items) {
    if (!item->is_scalar()) continue;
    auto m = Node::mapping(item->pos);
    m->set("path", item);
    item = m;
  }
}

void canonical_build(Node& svc, const std::string& path, Diagnostics& diag) {
  auto b = svc.find("build");
  if (!b) return;
  if (b->is_scalar()) {
    auto m = Node::mapping(b->pos);
    m->tag = b->tag;
    m->set("context", b);
    svc.set("build", m);
    return;
  }
  if (!b->is_map()) return;
  std::string bp = path_key(path, "build");
  list_to_map(*b, "args", bp, diag);
  list_to_map(*b, "labels", bp, diag);
  list_to_map(*b, "additional_contexts", bp, diag);
  file_refs(*b, "secrets");
  canonical_extra_hosts(*b);
  string_to_list(*b, "tags");
  string_to_list(*b, "platforms");
  string_to_list(*b, "cache_from");
  string_to_list(*b, "cache_to");
  if (auto ssh = b->find("ssh"); ssh && ssh->is_map()) {  // map form → "id=path" list
    auto s = Node::seq(ssh->pos);
    for (auto& [k, v] : ssh->map) s->items.push_back(str_node(v->is_null() ? k : k + "=" + v->value, v->pos));
    b->set("ssh", s);
  }
  string_to_list(*b, "ssh");
}

void canonical_healthcheck(Node& parent) {
  auto h = parent.find("healthcheck");
  if (!h || !h->is_map()) return;
  auto t = h->find("test");
  if (t && t->is_scalar()) {
    auto s = Node::seq(t->pos);
    s->tag = t->tag;
    s->items.push_back(str_node("CMD-SHELL", t->pos));
    s->items.push_back(t);
    h->set("test", s);
  }
}

void canonical_service_networks(Node& svc) {
  auto n = svc.find("networks");
  if (!n || !n->is_seq()) return;
  auto m = Node::mapping(n->pos);
  m->tag = n->tag;
  for (auto& item : n->items) m->set(item->value, Node::null(item->pos), item->pos);
  svc.set("networks", m);
}

void canonical_service(Node& svc, const std::string& path, Diagnostics& diag) {
  for (const char* key : {"environment", "labels", "annotations", "sysctls", "storage_opt"})
    list_to_map(svc, key, path, diag);
  command_to_list(svc, "command", path, diag);
  command_to_list(svc, "entrypoint", path, diag);
  for (const char* key : {"dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop", "profiles"})
    string_to_list(svc, key);
  canonical_env_file(svc, "env_file");
  canonical_env_file(svc, "label_file");
  canonical_build(svc, path, diag);
  canonical_ports(svc, path, diag);
  canonical_volumes(svc, path, diag);
  canonical_devices(svc);
  canonical_extra_hosts(svc);
  canonical_depends_on(svc);
  canonical_healthcheck(svc);
  canonical_service_networks(svc);
  file_refs(svc, "secrets");
  file_refs(svc, "configs");
  if (auto e = svc.find("expose"); e && e->is_seq())
    for (auto& item : e->items) item->quoted = true;  // expose entries are strings
  if (auto ext = svc.find("extends"); ext && ext->is_scalar()) {
    auto m = Node::mapping(ext->pos);
    m->set("service", ext);
    svc.set("extends", m);
  }
  if (auto d = svc.find("deploy"); d && d->is_map()) {
    list_to_map(*d, "labels", path_key(path, "deploy"), diag);
    if (auto pl = d->find("placement"); pl && pl->is_map()) string_to_list(*pl, "constraints");
  }
  if (auto p = svc.find("pull_policy"); p && p->is_scalar() && p->value == "if_not_present") p->value = "missing";
}

// Top-level resources: null → {}; deprecated `external: {name: X}` → name: X, external: true.
void canonical_resources(Node& root, const std::string& kind, Diagnostics& diag) {
  auto section = root.find(kind);
  if (!section || !section->is_map()) return;
  for (auto& [name, res] : section->map) {
    if (res->is_null()) {
      res = Node::mapping(res->pos);
      continue;
    }
    if (!res->is_map()) continue;
    list_to_map(*res, "labels", path_key(kind, name), diag);
    auto ext = res->find("external");
    if (ext && ext->is_map()) {
      if (auto n = ext->find("name")) res->set("name", n);
      res->set("external", Node::scalar("true", ext->pos, false));
    }
  }
}

}  // namespace

void canonicalize(Node& root, Diagnostics& diag) {
  if (!root.is_map()) return;
  if (auto services = root.find("services"); services && services->is_map())
    for (auto& [name, svc] : services->map)
      if (svc->is_map()) canonical_service(*svc, "services." + name, diag);
  for (const char* kind : {"networks", "volumes", "secrets", "configs"}) canonical_resources(root, kind, diag);
}

}  // namespace berth::compose
