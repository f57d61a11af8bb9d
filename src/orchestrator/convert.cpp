// A Compose service -> the engine's container options, with Docker Compose's names and labels.
// Pure apart from reading paths::state_root() (where generated secret/config files go), the host
// file of a file-based secret or config that sets uid/gid/mode, and, in the short overload, the
// process environment.
//
// What `up` applies, attribute by attribute (E = refused with an Error naming service and
// attribute, exit 15; W = accepted with a warning, not applied; - = nothing to do here):
//   image                     image; empty with build: "<project>-<service>" (built later)
//   build, pull_policy        - (orchestrator: build/pull steps)
//   platform                  W
//   command, entrypoint       cmd; entrypoint[0] -> --entrypoint, the rest before the command;
//                             `entrypoint: []` clears the image's
//   working_dir, user         workdir, user
//   group_add                 group_add
//   environment (+env_file)   env "K=V" (resolved by the loader)
//   labels (+label_file)      labels, plus Compose's com.docker.compose.* labels
//   annotations               W
//   ports                     publish "[ip:][published:]target/proto" (ranges kept)
//   expose                    - (no effect on Linux networking)
//   networks, network_mode    network, network_aliases, ip, networks (priority desc, then name);
//                             service:X -> container:<X's container #1>; ipv6_address E;
//                             interface_name, link_local_ips, driver_opts W
//   hostname, domainname      hostname, domainname
//   mac_address               mac_address (service, else the first network's)
//   extra_hosts               add_hosts "host:ip"
//   dns, dns_search, dns_opt  dns, dns_search, dns_options
//   links                     "svc" / "svc:svc" - (service names resolve); other aliases E
//   external_links            E
//   volumes                   volume -> --mount type=volume (platform name); bind -> -v (creates
//                             the host dir) or --mount type=bind (create_host_path: false);
//                             tmpfs -> --mount type=tmpfs; subpath, image/npipe/cluster E
//   volumes_from              E
//   tmpfs                     tmpfs
//   shm_size                  shm_size
//   secrets, configs          read-only bind of the file; `environment:`/`content:` (and a file
//                             with uid/gid/mode) -> a file in ContainerSpec::files
//                             (<state>/compose/<project>/{secrets,configs}/<service>/) with
//                             uid/gid/mode (default 0444), bound the same way; external E
//   read_only, init, tty,     read_only, init, tty, interactive, privileged
//   stdin_open, privileged
//   depends_on                - (orchestrator) and the depends_on label
//   healthcheck               health_test / durations (Go strings) / retries; disable/NONE ->
//                             no_healthcheck
//   restart                   restart; unset: deploy.restart_policy (none/any/on-failure[:N])
//   scale, deploy.replicas    replicas()
//   container_name            name (E with more than one replica)
//   profiles, attach          - (loader / orchestrator)
//   deploy.resources.limits   memory, cpus, pids_limit (over mem_limit, cpus, pids_limit)
//   deploy.resources.reserv.  W; reserved devices (GPUs) E
//   deploy (mode, labels, placement, update_config, ...) - (swarm only, as Compose)
//   stop_grace_period         stop_timeout (seconds, truncated)
//   stop_signal               stop_signal
//   cap_add, cap_drop         cap_add, cap_drop
//   security_opt              no-new-privileges, seccomp; label:* and apparmor:* W (Berth has
//                             neither, so the container is unconfined by them already); else E
//   pid, ipc, uts             private only: pid/uts "host", ipc "host"/"none"/service:/container: E
//   userns_mode               "host" - (Berth uses no user namespace); else E
//   cgroup                    "private" -; "host" E.   cgroup_parent E
//   runtime                   runc -> W; others E.     isolation: default -; others E
//   ulimits                   ulimits "name=soft:hard"
//   sysctls                   sysctls, validated as runc (engine::sysctl_refusal) E
//   storage_opt, devices,     E
//   device_cgroup_rules
//   cpus, cpu_shares          cpus, cpu_shares; cpu_quota/cpu_period -> cpus when cpus is unset
//   cpu_count, cpu_percent,   W
//   cpuset, mem_reservation,
//   mem_swappiness, oom_kill_disable, oom_score_adj
//   mem_limit, memswap_limit, memory, memory_swap, pids_limit
//   pids_limit
//   logging                   json-file (max-size, max-file; other options W) | none; others E
//   post_start, pre_stop      W (hooks are not run yet)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "berth/engine/options.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/paths.h"
#include "berth/util/strings.h"

extern char** environ;

namespace berth::orchestrator {

namespace {

constexpr int kConfigExit = 15;  // Compose's exit code for an invalid project

[[noreturn]] void refuse(const compose::Service& s, const std::string& what, const std::string& hint) {
  throw Error("service \"" + s.name + "\": " + what, hint, kConfigExit);
}

// Go duration text the engine parses back exactly: the largest unit that divides evenly.
std::string go_duration(int64_t ns) {
  if (ns == 0) return "0s";
  if (ns % 1000000000 == 0) return std::to_string(ns / 1000000000) + "s";
  if (ns % 1000000 == 0) return std::to_string(ns / 1000000) + "ms";
  if (ns % 1000 == 0) return std::to_string(ns / 1000) + "us";
  return std::to_string(ns) + "ns";
}

// docker/cli NanoCPUs text: at most 9 decimals, trailing zeros dropped.
std::string cpus_text(double cpus) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9f", cpus);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string join_labels_value(const std::vector<std::string>& v) { return str::join(v, ","); }

std::string format_port(const compose::Service& s, const compose::PortConfig& p) {
  if (p.target == 0 || p.target > 65535) refuse(s, "ports: invalid target port " + std::to_string(p.target), "use 1-65535");
  if (p.protocol != "tcp" && p.protocol != "udp")
    refuse(s, "ports: protocol \"" + p.protocol + "\" is not supported", "use tcp or udp");
  std::string spec;
  if (!p.host_ip.empty()) {
    spec = (p.host_ip.find(':') != std::string::npos ? "[" + p.host_ip + "]" : p.host_ip) + ":";
    spec += p.published + ":";  // "ip::80" = an ephemeral port on ip
  } else if (!p.published.empty()) {
    spec = p.published + ":";
  }
  return spec + std::to_string(p.target) + "/" + p.protocol;
}

// --mount values are comma separated with no quoting: a comma in a path cannot be expressed.
void require_no_comma(const compose::Service& s, const std::string& path) {
  if (path.find(',') != std::string::npos)
    refuse(s, "volumes: the path \"" + path + "\" contains a comma, which Berth cannot mount",
           "rename the path without commas");
}

std::string bind_mount_flag(const compose::Service& s, const std::string& source, const std::string& target) {
  require_no_comma(s, source);
  require_no_comma(s, target);
  return "type=bind,source=" + source + ",target=" + target + ",readonly";
}

void apply_volume(const compose::Project& project, const compose::Service& s, const compose::VolumeMount& v,
                  engine::ContainerOptions& o) {
  if (v.target.empty()) refuse(s, "volumes: a mount has no target", "give every volume a target path");
  require_no_comma(s, v.target);
  if (v.type == "volume") {
    if (!v.subpath.empty())
      refuse(s, "volumes: subpath \"" + v.subpath + "\" is not supported", "mount the whole volume and use the sub-directory");
    std::string spec = "type=volume";
    if (!v.source.empty()) {
      auto it = project.volumes.find(v.source);
      std::string name = it != project.volumes.end() && !it->second.name.empty() ? it->second.name : v.source;
      require_no_comma(s, name);
      spec += ",source=" + name;
    }
    spec += ",target=" + v.target;
    if (v.read_only) spec += ",readonly";
    if (v.nocopy) spec += ",volume-nocopy";
    o.mounts.push_back(spec);
  } else if (v.type == "bind") {
    if (v.source.empty()) refuse(s, "volumes: the bind mount to " + v.target + " has no source", "give its host path");
    // The short syntax creates a missing host directory (Docker's -v); create_host_path: false
    // must fail on a missing source instead, which --mount does.
    if (v.create_host_path && v.source.find(':') == std::string::npos && v.target.find(':') == std::string::npos) {
      std::vector<std::string> mode;
      if (v.read_only) mode.push_back("ro");
      if (!v.propagation.empty()) mode.push_back(v.propagation);
      if (!v.selinux.empty()) mode.push_back(v.selinux);
      o.volumes.push_back(v.source + ":" + v.target + (mode.empty() ? "" : ":" + str::join(mode, ",")));
    } else {
      require_no_comma(s, v.source);
      std::string spec = "type=bind,source=" + v.source + ",target=" + v.target;
      if (v.read_only) spec += ",readonly";
      if (!v.propagation.empty()) spec += ",bind-propagation=" + v.propagation;
      o.mounts.push_back(spec);
    }
  } else if (v.type == "tmpfs") {
    std::string spec = "type=tmpfs,target=" + v.target;
    if (v.tmpfs_size && *v.tmpfs_size > 0) spec += ",tmpfs-size=" + std::to_string(*v.tmpfs_size);
    if (v.tmpfs_mode && *v.tmpfs_mode != 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%o", *v.tmpfs_mode);
      spec += ",tmpfs-mode=" + std::string(buf);
    }
    if (v.read_only) spec += ",readonly";
    o.mounts.push_back(spec);
  } else {
    refuse(s, "volumes: mount type \"" + v.type + "\" is not supported", "use a volume, bind or tmpfs mount");
  }
}

std::string lookup_env(const std::map<std::string, std::string>& env, const std::string& key, bool& found) {
  auto it = env.find(key);
  found = it != env.end();
  return found ? it->second : std::string();
}

}  // namespace

std::string generated_files_dir(const std::string& project_name) {
  return paths::state_root() + "/compose/" + project_name;
}

namespace {

// A numeric uid or gid of a secret or config reference ("" = root).
uint32_t file_owner(const compose::Service& s, const char* kind, const std::string& source, const char* what,
                    const std::string& value) {
  if (value.empty()) return 0;
  uint32_t id = 0;
  if (!str::parse_uint32(value, id))
    refuse(s, std::string(kind) + ": \"" + source + "\": " + what + " \"" + value + "\" is not a number",
           std::string("give the numeric ") + what + ", e.g. " + what + ": \"1000\"");
  return id;
}

// Secrets and configs: a file is bound read-only, as Compose does. `environment:` and `content:`
// become a file that the orchestrator writes before create, bound the same way, with the
// reference's uid, gid and mode (default 0444). A file-based one that sets uid, gid or mode is
// copied the same way, so that they apply (Compose ignores them there with a warning).
void apply_file_objects(const compose::Project& project, const compose::Service& s, bool secrets,
                        const std::map<std::string, std::string>& environment, ContainerSpec& spec) {
  const char* kind = secrets ? "secrets" : "configs";
  const auto& objects = secrets ? project.secrets : project.configs;
  for (const auto& ref : secrets ? s.secrets : s.configs) {
    auto it = objects.find(ref.source);
    if (it == objects.end())
      refuse(s, std::string(kind) + ": \"" + ref.source + "\" is not defined",
             "declare it under the top-level " + std::string(kind) + ":");
    const compose::FileObject& obj = it->second;
    if (obj.external)
      refuse(s, std::string(kind) + ": \"" + ref.source + "\" is external, which only Swarm provides",
             "give it a file: or environment:");
    std::string target = ref.target.empty() ? (secrets ? "/run/secrets/" : "/") + ref.source : ref.target;
    if (target[0] != '/') target = "/" + target;  // configs: Compose makes a relative target absolute
    GeneratedFile file;
    file.uid = file_owner(s, kind, ref.source, "uid", ref.uid);
    file.gid = file_owner(s, kind, ref.source, "gid", ref.gid);
    if (ref.mode) file.mode = *ref.mode & 07777;
    bool attributes = !ref.uid.empty() || !ref.gid.empty() || ref.mode;
    if (!obj.file.empty() && !attributes) {
      spec.options.mounts.push_back(bind_mount_flag(s, obj.file, target));
      continue;
    }
    if (!obj.file.empty()) {
      auto content = fs::read_file_if_exists(obj.file);
      if (!content)
        refuse(s, std::string(kind) + ": \"" + ref.source + "\": cannot read " + obj.file,
               "create the file or fix the path under the top-level " + std::string(kind) + ":");
      file.content = std::move(*content);
    } else if (!obj.environment.empty()) {
      bool found = false;
      file.content = lookup_env(environment, obj.environment, found);
      if (!found && obj.content.empty())
        refuse(s, std::string(kind) + ": \"" + ref.source + "\" reads the environment variable " + obj.environment +
                      ", which is not set",
               "set " + obj.environment + " in the environment or in .env");
      if (!found) file.content = obj.content;
    } else if (!obj.content.empty() || !secrets) {
      file.content = obj.content;
    } else {
      refuse(s, std::string(kind) + ": \"" + ref.source + "\" has no file, environment or content",
             "give it a file: or environment:");
    }
    // Per service: two services may mount one secret with different owners and modes.
    std::string source = generated_files_dir(project.name) + "/" + kind + "/" + s.name + "/" + ref.source;
    spec.files[source] = std::move(file);
    spec.options.mounts.push_back(bind_mount_flag(s, source, target));
  }
}

void apply_healthcheck(const compose::Service& s, engine::ContainerOptions& o) {
  if (!s.healthcheck) return;
  const compose::Healthcheck& h = *s.healthcheck;
  if (h.disable || (!h.test.empty() && h.test[0] == "NONE")) {
    o.no_healthcheck = true;
    return;
  }
  if (!h.test.empty()) {
    if ((h.test[0] != "CMD" && h.test[0] != "CMD-SHELL") || h.test.size() < 2)
      refuse(s, "healthcheck: test must start with CMD, CMD-SHELL or NONE and name a command",
             "e.g. test: [\"CMD\", \"wget\", \"-qO-\", \"http://localhost/\"]");
    o.health_test = h.test;
  }
  if (h.interval_ns) o.health_interval = go_duration(*h.interval_ns);
  if (h.timeout_ns) o.health_timeout = go_duration(*h.timeout_ns);
  if (h.start_period_ns) o.health_start_period = go_duration(*h.start_period_ns);
  if (h.start_interval_ns) o.health_start_interval = go_duration(*h.start_interval_ns);
  if (h.retries) {
    if (*h.retries < 0) refuse(s, "healthcheck: retries cannot be negative", "use 0 for the default (3)");
    o.health_retries = *h.retries;
  }
}

void apply_restart(const compose::Service& s, engine::ContainerOptions& o) {
  std::string r = s.restart;
  if (r.empty() && s.deploy && s.deploy->restart_policy) {
    const auto& p = *s.deploy->restart_policy;
    if (p.condition == "none") r = "no";
    else if (p.condition == "on-failure")
      r = p.max_attempts && *p.max_attempts > 0 ? "on-failure:" + std::to_string(*p.max_attempts) : "on-failure";
    else r = "always";  // "any" and Swarm's default
  }
  if (r.empty()) r = "no";
  std::string name = r.substr(0, r.find(':'));
  bool ok = name == "no" || name == "always" || name == "unless-stopped" || name == "on-failure";
  if (ok && name != r) {
    std::string n = r.substr(r.find(':') + 1);
    ok = name == "on-failure" && !n.empty() && n.find_first_not_of("0123456789") == std::string::npos;
  }
  if (!ok) refuse(s, "restart: invalid policy \"" + r + "\"", "use no, always, unless-stopped or on-failure[:N]");
  o.restart = r;
}

void apply_logging(const compose::Service& s, engine::ContainerOptions& o, std::vector<std::string>& warnings) {
  if (!s.logging) return;
  const std::string driver = s.logging->driver.empty() ? "json-file" : s.logging->driver;
  if (driver != "json-file" && driver != "none")
    refuse(s, "logging: driver \"" + driver + "\" is not supported", "use json-file (the default) or none");
  o.log_driver = driver;
  for (const auto& [key, value] : s.logging->options) {
    if (driver == "json-file" && (key == "max-size" || key == "max-file"))
      o.log_opts.push_back(key + "=" + value);
    else
      warnings.push_back("service \"" + s.name + "\": logging option " + key + " is not applied");
  }
}

void apply_resources(const compose::Service& s, engine::ContainerOptions& o, std::vector<std::string>& warnings) {
  auto warn = [&](const std::string& what) {
    warnings.push_back("service \"" + s.name + "\": " + what + " is not applied by Berth");
  };
  std::optional<int64_t> memory = s.mem_limit;
  std::optional<double> cpus = s.cpus;
  std::optional<int64_t> pids = s.pids_limit;
  if (!cpus && s.cpu_quota && *s.cpu_quota > 0) {
    int64_t period = s.cpu_period && *s.cpu_period > 0 ? *s.cpu_period : 100000;
    cpus = static_cast<double>(*s.cpu_quota) / static_cast<double>(period);
  } else if (s.cpu_period && !s.cpu_quota) {
    warn("cpu_period without cpu_quota");
  }
  if (s.deploy) {
    const compose::Resources& lim = s.deploy->limits;
    if (lim.memory) memory = lim.memory;
    if (lim.cpus) cpus = lim.cpus;
    if (lim.pids) pids = lim.pids;
    const compose::Resources& res = s.deploy->reservations;
    if (res.memory || res.cpus || res.pids) warn("deploy.resources.reservations");
    const json& raw = s.deploy->raw;
    if (raw.is_object() && raw.contains("resources") && raw["resources"].is_object() &&
        raw["resources"].contains("reservations") && raw["resources"]["reservations"].is_object() &&
        raw["resources"]["reservations"].contains("devices"))
      refuse(s, "deploy.resources.reservations.devices (GPUs and other devices) is not supported",
             "remove it; Berth cannot hand devices to containers yet");
  }
  if (memory && *memory > 0) o.memory = std::to_string(*memory);
  if (s.memswap_limit && *s.memswap_limit != 0) o.memory_swap = std::to_string(*s.memswap_limit);
  if (cpus && *cpus > 0) o.cpus = cpus_text(*cpus);
  if (pids && *pids != 0) o.pids_limit = *pids;
  if (s.cpu_shares && *s.cpu_shares > 0) o.cpu_shares = *s.cpu_shares;
  if (s.cpu_count) warn("cpu_count");
  if (s.cpu_percent) warn("cpu_percent");
  if (!s.cpuset.empty()) warn("cpuset");
  if (s.mem_reservation) warn("mem_reservation");
  if (s.mem_swappiness) warn("mem_swappiness");
  if (s.oom_kill_disable) warn("oom_kill_disable");
  if (s.oom_score_adj) warn("oom_score_adj");
}

// Namespaces, runtimes and devices Berth's runtime cannot give: refused, never ignored.
void check_unsupported(const compose::Service& s, std::vector<std::string>& warnings) {
  auto warn = [&](const std::string& what) {
    warnings.push_back("service \"" + s.name + "\": " + what + " is not applied by Berth");
  };
  if (!s.pid.empty())
    refuse(s, "pid: \"" + s.pid + "\" is not supported", "remove pid:; every container has its own PID namespace");
  if (!s.ipc.empty() && s.ipc != "private" && s.ipc != "shareable")
    refuse(s, "ipc: \"" + s.ipc + "\" is not supported", "remove ipc: (or use private); every container has its own IPC namespace");
  if (!s.uts.empty())
    refuse(s, "uts: \"" + s.uts + "\" is not supported", "remove uts:; every container has its own UTS namespace");
  if (!s.userns_mode.empty() && s.userns_mode != "host")
    refuse(s, "userns_mode: \"" + s.userns_mode + "\" is not supported", "remove userns_mode: (Berth uses no user namespace)");
  if (!s.cgroup.empty() && s.cgroup != "private")
    refuse(s, "cgroup: \"" + s.cgroup + "\" is not supported", "remove cgroup:; containers get a private cgroup namespace");
  if (!s.cgroup_parent.empty())
    refuse(s, "cgroup_parent is not supported", "remove it; set BERTH_CGROUP_PARENT for every container instead");
  if (!s.runtime.empty()) {
    if (s.runtime == "runc" || s.runtime == "io.containerd.runc.v2") warn("runtime: " + s.runtime);
    else refuse(s, "runtime: \"" + s.runtime + "\" is not supported", "remove runtime:; Berth is its own runtime");
  }
  if (!s.isolation.empty() && s.isolation != "default")
    refuse(s, "isolation: \"" + s.isolation + "\" is not supported", "isolation is a Windows option; remove it");
  if (!s.storage_opt.empty()) refuse(s, "storage_opt is not supported", "remove storage_opt:");
  if (!s.devices.empty())
    refuse(s, "devices: \"" + s.devices[0].source + "\" cannot be given to a container", "remove devices:; Berth has no device support yet");
  if (!s.device_cgroup_rules.empty()) refuse(s, "device_cgroup_rules is not supported", "remove device_cgroup_rules:");
  if (!s.volumes_from.empty())
    refuse(s, "volumes_from is not supported", "mount the same named volumes in both services instead");
  if (!s.external_links.empty())
    refuse(s, "external_links is not supported", "put both containers on one network and use its name");
  for (const auto& link : s.links) {
    auto colon = link.find(':');
    if (colon != std::string::npos && link.substr(0, colon) != link.substr(colon + 1))
      refuse(s, "links: the alias in \"" + link + "\" is not supported",
             "add the alias under networks.<net>.aliases of service " + link.substr(0, colon));
  }
  if (!s.platform.empty()) warn("platform: " + s.platform);
  if (!s.annotations.empty()) warn("annotations");
  if (!s.post_start.empty()) warn("post_start");
  if (!s.pre_stop.empty()) warn("pre_stop");
}

void apply_security_opt(const compose::Service& s, engine::ContainerOptions& o, std::vector<std::string>& warnings) {
  for (const auto& opt : s.security_opt) {
    if (opt.rfind("no-new-privileges", 0) == 0 || opt.rfind("seccomp", 0) == 0) {
      o.security_opt.push_back(opt);
    } else if (opt.rfind("label", 0) == 0 || opt.rfind("apparmor", 0) == 0) {
      warnings.push_back("service \"" + s.name + "\": security_opt " + opt +
                         " is not applied (Berth uses neither SELinux nor AppArmor)");
    } else {
      refuse(s, "security_opt: \"" + opt + "\" is not supported", "use no-new-privileges, seccomp:unconfined or seccomp:PROFILE.json");
    }
  }
}

// network_mode, or the service's networks by priority (desc) then name, each with its platform
// name and aliases (the service name first).
void apply_networks(const compose::Project& project, const compose::Service& s, ContainerSpec& spec) {
  engine::ContainerOptions& o = spec.options;
  const std::string& mode = s.network_mode;
  if (!mode.empty()) {
    if (mode.rfind("service:", 0) == 0) {
      const compose::Service* other = project.service(mode.substr(8));
      if (!other)
        refuse(s, "network_mode: service \"" + mode.substr(8) + "\" is not in the project (or not enabled)",
               "name a service of this project or enable its profile");
      o.network = "container:" + container_name(project, *other, 1);
    } else {
      o.network = mode;  // host | none | bridge | container:X | a network's name (the engine checks)
    }
    return;
  }
  std::vector<std::pair<std::string, const compose::ServiceNetwork*>> ordered;
  for (const auto& [key, cfg] : s.networks) ordered.emplace_back(key, cfg ? &*cfg : nullptr);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    int pa = a.second ? a.second->priority : 0, pb = b.second ? b.second->priority : 0;
    return pa != pb ? pa > pb : a.first < b.first;
  });
  for (const auto& [key, cfg] : ordered) {
    NetworkJoin join;
    auto it = project.networks.find(key);
    join.network = it != project.networks.end() && !it->second.name.empty() ? it->second.name : key;
    join.aliases.push_back(s.name);
    if (cfg) {
      for (const auto& a : cfg->aliases)
        if (std::find(join.aliases.begin(), join.aliases.end(), a) == join.aliases.end()) join.aliases.push_back(a);
      join.ipv4_address = cfg->ipv4_address;
      if (!cfg->ipv6_address.empty())
        refuse(s, "networks." + key + ".ipv6_address is not supported", "Berth's networks are IPv4 only; remove it");
      if (!cfg->link_local_ips.empty() || !cfg->interface_name.empty() || !cfg->driver_opts.empty())
        spec.warnings.push_back("service \"" + s.name + "\": networks." + key +
                                ": link_local_ips, interface_name and driver_opts are not applied by Berth");
      if (!cfg->mac_address.empty() && spec.networks.empty() && s.mac_address.empty())
        o.mac_address = cfg->mac_address;
      else if (!cfg->mac_address.empty() && !spec.networks.empty())
        spec.warnings.push_back("service \"" + s.name + "\": networks." + key +
                                ".mac_address is only applied on the first network");
    }
    spec.networks.push_back(std::move(join));
  }
  if (!spec.networks.empty()) {
    o.network = spec.networks[0].network;
    o.network_aliases = spec.networks[0].aliases;
    o.ip = spec.networks[0].ipv4_address;
  }
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

}  // namespace

int replicas(const compose::Service& service) {
  if (service.scale) return *service.scale;
  if (service.deploy && service.deploy->replicas) return *service.deploy->replicas;
  return 1;
}

std::string container_name(const compose::Project& project, const compose::Service& service, int number) {
  if (!service.container_name.empty()) return service.container_name;
  return project.name + "-" + service.name + "-" + std::to_string(number);
}

ContainerSpec container_spec(const compose::Project& project, const compose::Service& service, int number,
                             const std::string& config_hash, bool oneoff) {
  return container_spec(project, service, number, config_hash, oneoff, process_environment());
}

ContainerSpec container_spec(const compose::Project& project, const compose::Service& s, int number,
                             const std::string& config_hash, bool oneoff,
                             const std::map<std::string, std::string>& environment) {
  ContainerSpec spec;
  spec.service = s.name;
  spec.number = number;
  if (!s.container_name.empty() && (number > 1 || replicas(s) > 1))
    refuse(s, "container_name \"" + s.container_name + "\" cannot be used with more than one replica",
           "remove container_name: or scale the service to 1");
  spec.name = oneoff ? project.name + "-" + s.name + "-run-" + std::to_string(number)
                     : container_name(project, s, number);
  engine::ContainerOptions& o = spec.options;
  o.name = spec.name;

  check_unsupported(s, spec.warnings);

  o.image = s.image;
  if (o.image.empty() && s.build) o.image = project.name + "-" + s.name;

  if (s.entrypoint) {
    if (s.entrypoint->empty()) {
      o.entrypoint = "";
    } else {
      // The engine takes one --entrypoint word; the rest go before the command, which gives the
      // same process arguments (an explicit entrypoint drops the image's CMD either way).
      o.entrypoint = (*s.entrypoint)[0];
      o.cmd.assign(s.entrypoint->begin() + 1, s.entrypoint->end());
    }
  }
  if (s.command) o.cmd.insert(o.cmd.end(), s.command->begin(), s.command->end());

  for (const auto& [key, value] : s.environment) o.env.push_back(key + "=" + value);
  o.workdir = s.working_dir;
  o.user = s.user;
  o.group_add = s.group_add;
  o.hostname = s.hostname;
  o.domainname = s.domainname;
  o.mac_address = s.mac_address;
  o.tty = s.tty;
  o.interactive = s.stdin_open;
  o.init = s.init;
  o.privileged = s.privileged;
  o.read_only = s.read_only;
  o.cap_add = s.cap_add;
  o.cap_drop = s.cap_drop;
  apply_security_opt(s, o, spec.warnings);
  o.tmpfs = s.tmpfs;
  for (const auto& [name, u] : s.ulimits)
    o.ulimits.push_back(name + "=" + std::to_string(u.soft) + ":" + std::to_string(u.hard));
  if (s.shm_size && *s.shm_size > 0) o.shm_size = std::to_string(*s.shm_size);
  for (const auto& h : s.extra_hosts) {
    auto eq = h.find('=');
    o.add_hosts.push_back(eq == std::string::npos ? h : h.substr(0, eq) + ":" + h.substr(eq + 1));
  }
  o.dns = s.dns;
  o.dns_search = s.dns_search;
  o.dns_options = s.dns_opt;
  o.stop_signal = s.stop_signal;
  if (s.stop_grace_period_ns) o.stop_timeout = static_cast<int>(*s.stop_grace_period_ns / 1000000000);
  apply_restart(s, o);
  apply_healthcheck(s, o);
  apply_logging(s, o, spec.warnings);
  apply_resources(s, o, spec.warnings);
  for (const auto& p : s.ports) o.publish.push_back(format_port(s, p));

  apply_networks(project, s, spec);
  // Validated here, with the service named, against the network mode the container will have.
  for (const auto& [key, value] : s.sysctls) {
    if (auto why = engine::sysctl_refusal(key, s.network_mode.empty() ? o.network : s.network_mode); !why.empty())
      refuse(s, "sysctls: " + why,
             "only namespaced sysctls can be set: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, and net.* "
             "when the service has its own network namespace");
    o.sysctls.push_back(key + "=" + value);
  }

  for (const auto& v : s.volumes) apply_volume(project, s, v, o);
  apply_file_objects(project, s, true, environment, spec);
  apply_file_objects(project, s, false, environment, spec);

  // Labels: the service's, then Compose's (which win, as Compose sets them last).
  for (const auto& [key, value] : s.labels) o.labels.push_back(key + "=" + value);
  std::vector<std::string> depends;
  for (const auto& [dep, d] : s.depends_on)
    depends.push_back(dep + ":" + d.condition + ":" + (d.restart ? "true" : "false"));
  const std::vector<std::pair<const char*, std::string>> compose_labels = {
      {kProjectLabel, project.name},
      {kServiceLabel, s.name},
      {kNumberLabel, std::to_string(number)},
      {kConfigHashLabel, config_hash},
      {kOneoffLabel, oneoff ? "True" : "False"},
      {kWorkingDirLabel, project.working_dir},
      {kConfigFilesLabel, join_labels_value(project.config_files)},
      {kDependsOnLabel, join_labels_value(depends)},
      {kImageLabel, o.image},
      {kVersionLabel, kComposeVersion},
  };
  for (const auto& [key, value] : compose_labels) o.labels.push_back(std::string(key) + "=" + value);
  return spec;
}

}  // namespace berth::orchestrator
