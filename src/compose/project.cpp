// Binding the canonical JSON to the typed Project, and the per-service config hash.
#include "berth/compose/project.h"

#include "berth/util/error.h"
#include "passes.h"

namespace berth::compose {
namespace {

std::string s(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
bool b(const json& j, const char* key, bool def = false) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}
std::optional<bool> ob(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}
std::optional<int64_t> oi(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}
std::optional<double> od(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}
std::optional<int64_t> odur(const json& j, const char* key) {
  auto v = s(j, key);
  if (v.empty()) return std::nullopt;
  return parse_duration_ns(v);
}
std::optional<int64_t> obytes(const json& j, const char* key) {
  auto v = s(j, key);
  if (v.empty()) return std::nullopt;
  if (v == "-1") return -1;
  return parse_bytes(v);
}
std::vector<std::string> strs(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it != j.end() && it->is_array())
    for (const auto& x : *it)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}
StringMap smap(const json& j, const char* key) {
  StringMap out;
  auto it = j.find(key);
  if (it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items()) out[k] = v.is_string() ? v.get<std::string>() : std::string();
  return out;
}
std::optional<uint32_t> omode(const json& j, const char* key) {
  auto v = s(j, key);
  if (v.empty()) return std::nullopt;
  return static_cast<uint32_t>(std::stoul(v, nullptr, 8));
}
const json& sub(const json& j, const char* key) {
  static const json empty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : empty;
}

Resources resources(const json& j) {
  return Resources{od(j, "cpus"), obytes(j, "memory"), oi(j, "pids")};
}

std::vector<Hook> hooks(const json& j, const char* key) {
  std::vector<Hook> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& h : *it) {
    Hook hook;
    if (h.contains("command") && h["command"].is_string()) hook.command = {"/bin/sh", "-c", h["command"]};
    else hook.command = strs(h, "command");
    hook.user = s(h, "user");
    hook.working_dir = s(h, "working_dir");
    hook.privileged = b(h, "privileged");
    hook.environment = smap(h, "environment");
    out.push_back(std::move(hook));
  }
  return out;
}

// Fills `svc` in place: a Service is ~3 KB of members, so building it elsewhere and moving it in
// cost a measurable share of a 1000-service load.
void service_from_json(Service& svc, const std::string& name, const json& j) {
  svc.name = name;
  svc.raw = j;
  svc.image = s(j, "image");
  if (j.contains("build")) {
    const json& bj = j["build"];
    BuildConfig build;
    build.context = s(bj, "context");
    build.dockerfile = s(bj, "dockerfile");
    build.dockerfile_inline = s(bj, "dockerfile_inline");
    if (bj.contains("args"))
      for (const auto& [k, v] : bj["args"].items())
        build.args[k] = v.is_string() ? std::optional<std::string>(v.get<std::string>()) : std::nullopt;
    build.labels = smap(bj, "labels");
    build.target = s(bj, "target");
    build.network = s(bj, "network");
    build.tags = strs(bj, "tags");
    build.platforms = strs(bj, "platforms");
    build.cache_from = strs(bj, "cache_from");
    build.cache_to = strs(bj, "cache_to");
    build.ssh = strs(bj, "ssh");
    build.extra_hosts = strs(bj, "extra_hosts");
    build.additional_contexts = smap(bj, "additional_contexts");
    build.no_cache = b(bj, "no_cache");
    build.pull = b(bj, "pull");
    build.raw = bj;
    svc.build = std::move(build);
  }
  svc.pull_policy = s(j, "pull_policy");
  svc.platform = s(j, "platform");
  if (j.contains("command") && j["command"].is_array()) svc.command = strs(j, "command");
  if (j.contains("entrypoint") && j["entrypoint"].is_array()) svc.entrypoint = strs(j, "entrypoint");
  svc.working_dir = s(j, "working_dir");
  svc.user = s(j, "user");
  svc.group_add = strs(j, "group_add");
  if (j.contains("environment"))
    for (const auto& [k, v] : j["environment"].items())
      if (v.is_string()) svc.environment[k] = v.get<std::string>();
  if (j.contains("env_file"))
    for (const auto& e : j["env_file"]) svc.env_file.push_back({s(e, "path"), b(e, "required", true), s(e, "format")});
  svc.labels = smap(j, "labels");
  svc.annotations = smap(j, "annotations");
  svc.label_file = strs(j, "label_file");
  if (j.contains("ports"))
    for (const auto& p : j["ports"]) {
      PortConfig port;
      port.name = s(p, "name");
      if (p.contains("mode")) port.mode = s(p, "mode");
      port.host_ip = s(p, "host_ip");
      port.target = static_cast<uint32_t>(oi(p, "target").value_or(0));
      port.published = s(p, "published");
      if (p.contains("protocol")) port.protocol = s(p, "protocol");
      port.app_protocol = s(p, "app_protocol");
      svc.ports.push_back(std::move(port));
    }
  svc.expose = strs(j, "expose");
  if (j.contains("networks"))
    for (const auto& [k, v] : j["networks"].items()) {
      if (v.is_null()) {
        svc.networks[k] = std::nullopt;
        continue;
      }
      ServiceNetwork n;
      n.aliases = strs(v, "aliases");
      n.ipv4_address = s(v, "ipv4_address");
      n.ipv6_address = s(v, "ipv6_address");
      n.mac_address = s(v, "mac_address");
      n.interface_name = s(v, "interface_name");
      n.link_local_ips = strs(v, "link_local_ips");
      n.driver_opts = smap(v, "driver_opts");
      n.priority = static_cast<int>(oi(v, "priority").value_or(0));
      n.gw_priority = static_cast<int>(oi(v, "gw_priority").value_or(0));
      svc.networks[k] = std::move(n);
    }
  svc.network_mode = s(j, "network_mode");
  svc.hostname = s(j, "hostname");
  svc.domainname = s(j, "domainname");
  svc.mac_address = s(j, "mac_address");
  svc.extra_hosts = strs(j, "extra_hosts");
  svc.dns = strs(j, "dns");
  svc.dns_search = strs(j, "dns_search");
  svc.dns_opt = strs(j, "dns_opt");
  svc.links = strs(j, "links");
  svc.external_links = strs(j, "external_links");
  if (j.contains("volumes"))
    for (const auto& v : j["volumes"]) {
      VolumeMount m;
      m.type = s(v, "type");
      m.source = s(v, "source");
      m.target = s(v, "target");
      m.read_only = b(v, "read_only");
      m.consistency = s(v, "consistency");
      const json& bind = sub(v, "bind");
      m.propagation = s(bind, "propagation");
      m.create_host_path = b(bind, "create_host_path", true);
      m.selinux = s(bind, "selinux");
      const json& vol = sub(v, "volume");
      m.nocopy = b(vol, "nocopy");
      m.subpath = s(vol, "subpath");
      const json& tmpfs = sub(v, "tmpfs");
      m.tmpfs_size = obytes(tmpfs, "size");
      if (auto mode = oi(tmpfs, "mode")) m.tmpfs_mode = static_cast<uint32_t>(*mode);
      svc.volumes.push_back(std::move(m));
    }
  svc.volumes_from = strs(j, "volumes_from");
  svc.tmpfs = strs(j, "tmpfs");
  svc.shm_size = obytes(j, "shm_size");
  for (const char* kind : {"secrets", "configs"}) {
    if (!j.contains(kind)) continue;
    auto& out = std::string(kind) == "secrets" ? svc.secrets : svc.configs;
    for (const auto& r : j[kind]) {
      FileReference ref{s(r, "source"), s(r, "target"), s(r, "uid"), s(r, "gid"), omode(r, "mode")};
      if (ref.target.empty()) ref.target = (std::string(kind) == "secrets" ? "/run/secrets/" : "/") + ref.source;
      else if (std::string(kind) == "secrets" && ref.target[0] != '/') ref.target = "/run/secrets/" + ref.target;
      out.push_back(std::move(ref));
    }
  }
  svc.read_only = b(j, "read_only");
  if (j.contains("depends_on"))
    for (const auto& [k, v] : j["depends_on"].items()) {
      DependsOn d;
      if (v.contains("condition")) d.condition = s(v, "condition");
      d.required = b(v, "required", true);
      d.restart = b(v, "restart", false);
      svc.depends_on[k] = d;
    }
  if (j.contains("healthcheck")) {
    const json& h = j["healthcheck"];
    Healthcheck hc;
    hc.test = strs(h, "test");
    hc.interval_ns = odur(h, "interval");
    hc.timeout_ns = odur(h, "timeout");
    hc.start_period_ns = odur(h, "start_period");
    hc.start_interval_ns = odur(h, "start_interval");
    if (auto r = oi(h, "retries")) hc.retries = static_cast<int>(*r);
    hc.disable = b(h, "disable") || (!hc.test.empty() && hc.test[0] == "NONE");
    svc.healthcheck = std::move(hc);
  }
  svc.restart = s(j, "restart");
  if (auto sc = oi(j, "scale")) svc.scale = static_cast<int>(*sc);
  svc.container_name = s(j, "container_name");
  svc.profiles = strs(j, "profiles");
  if (j.contains("deploy")) {
    const json& dj = j["deploy"];
    Deploy d;
    d.mode = s(dj, "mode");
    if (auto r = oi(dj, "replicas")) d.replicas = static_cast<int>(*r);
    d.labels = smap(dj, "labels");
    d.limits = resources(sub(sub(dj, "resources"), "limits"));
    d.reservations = resources(sub(sub(dj, "resources"), "reservations"));
    if (dj.contains("restart_policy")) {
      const json& rp = dj["restart_policy"];
      RestartPolicy p{s(rp, "condition"), odur(rp, "delay"), odur(rp, "window"), std::nullopt};
      if (auto m = oi(rp, "max_attempts")) p.max_attempts = static_cast<int>(*m);
      d.restart_policy = p;
    }
    d.endpoint_mode = s(dj, "endpoint_mode");
    d.raw = dj;
    svc.deploy = std::move(d);
  }
  svc.stop_grace_period_ns = odur(j, "stop_grace_period");
  svc.stop_signal = s(j, "stop_signal");
  svc.init = b(j, "init");
  svc.tty = b(j, "tty");
  svc.stdin_open = b(j, "stdin_open");
  svc.privileged = b(j, "privileged");
  svc.attach = ob(j, "attach");
  svc.cap_add = strs(j, "cap_add");
  svc.cap_drop = strs(j, "cap_drop");
  svc.security_opt = strs(j, "security_opt");
  svc.pid = s(j, "pid");
  svc.ipc = s(j, "ipc");
  svc.uts = s(j, "uts");
  svc.userns_mode = s(j, "userns_mode");
  svc.cgroup = s(j, "cgroup");
  svc.cgroup_parent = s(j, "cgroup_parent");
  svc.runtime = s(j, "runtime");
  svc.isolation = s(j, "isolation");
  if (j.contains("ulimits"))
    for (const auto& [k, v] : j["ulimits"].items()) {
      if (v.is_number_integer()) svc.ulimits[k] = {v.get<int64_t>(), v.get<int64_t>()};
      else svc.ulimits[k] = {oi(v, "soft").value_or(0), oi(v, "hard").value_or(0)};
    }
  svc.sysctls = smap(j, "sysctls");
  svc.storage_opt = smap(j, "storage_opt");
  if (j.contains("devices"))
    for (const auto& d : j["devices"]) {
      if (d.is_string()) svc.devices.push_back({d.get<std::string>(), "", ""});
      else svc.devices.push_back({s(d, "source"), s(d, "target"), s(d, "permissions")});
    }
  svc.device_cgroup_rules = strs(j, "device_cgroup_rules");
  svc.cpus = od(j, "cpus");
  svc.cpu_shares = oi(j, "cpu_shares");
  svc.cpu_quota = oi(j, "cpu_quota");
  svc.cpu_period = oi(j, "cpu_period");
  svc.cpu_count = oi(j, "cpu_count");
  svc.cpu_percent = oi(j, "cpu_percent");
  svc.cpuset = s(j, "cpuset");
  svc.mem_limit = obytes(j, "mem_limit");
  svc.mem_reservation = obytes(j, "mem_reservation");
  svc.memswap_limit = obytes(j, "memswap_limit");
  svc.mem_swappiness = oi(j, "mem_swappiness");
  svc.pids_limit = oi(j, "pids_limit");
  svc.oom_kill_disable = ob(j, "oom_kill_disable");
  svc.oom_score_adj = oi(j, "oom_score_adj");
  if (j.contains("logging")) svc.logging = Logging{s(j["logging"], "driver"), smap(j["logging"], "options")};
  svc.post_start = hooks(j, "post_start");
  svc.pre_stop = hooks(j, "pre_stop");
  svc.extensions = json::object();
  for (const auto& [k, v] : j.items())
    if (k.rfind("x-", 0) == 0) svc.extensions[k] = v;
}

}  // namespace

const Service* Project::service(const std::string& name) const {
  for (const auto& svc : services)
    if (svc.name == name) return &svc;
  return nullptr;
}

Project project_from_json(const json& model) {
  Project p;
  p.name = s(model, "name");
  p.services.reserve(sub(model, "services").size());
  for (const auto& [name, svc] : sub(model, "services").items()) service_from_json(p.services.emplace_back(), name, svc);
  for (const auto& [key, n] : sub(model, "networks").items()) {
    Network net;
    net.name = s(n, "name");
    net.driver = s(n, "driver");
    net.driver_opts = smap(n, "driver_opts");
    net.external = b(n, "external");
    net.internal = b(n, "internal");
    net.attachable = b(n, "attachable");
    net.enable_ipv4 = ob(n, "enable_ipv4");
    net.enable_ipv6 = ob(n, "enable_ipv6");
    net.labels = smap(n, "labels");
    net.ipam = n.contains("ipam") ? n["ipam"] : json::object();
    p.networks[key] = std::move(net);
  }
  for (const auto& [key, v] : sub(model, "volumes").items())
    p.volumes[key] = Volume{s(v, "name"), s(v, "driver"), smap(v, "driver_opts"), b(v, "external"), smap(v, "labels")};
  for (const char* kind : {"secrets", "configs"})
    for (const auto& [key, f] : sub(model, kind).items()) {
      FileObject obj{s(f, "name"), s(f, "file"), s(f, "environment"), s(f, "content"), b(f, "external"),
                     smap(f, "labels")};
      (std::string(kind) == "secrets" ? p.secrets : p.configs)[key] = std::move(obj);
    }
  p.extensions = json::object();
  for (const auto& [k, v] : model.items())
    if (k.rfind("x-", 0) == 0) p.extensions[k] = v;
  return p;
}

std::string config_hash(const Project& project, const std::string& service) {
  const Service* svc = project.service(service);
  if (!svc) throw berth::Error("no such service: " + service, "check `berth config --services`");
  // docker/compose ServiceHash: attributes that never need a new container are left out.
  json j = svc->raw;
  for (const char* key : {"build", "pull_policy", "scale", "depends_on", "profiles"}) j.erase(key);
  if (j.contains("deploy") && j["deploy"].is_object()) j["deploy"].erase("replicas");
  return sha256_hex(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace berth::compose
