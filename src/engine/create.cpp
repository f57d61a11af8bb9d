// create_container: validate every option before anything exists, then write the record
// ("created") and the launch plan. No kernel object is made here: the supervisor makes them all,
// each named from the container id.
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <regex>

#include "berth/cgroup/cgroup.h"
#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/network/ports.h"
#include "berth/engine/options.h"
#include "berth/image/store.h"
#include "berth/runtime/exec.h"
#include "berth/runtime/launch_plan.h"
#include "berth/runtime/user.h"
#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/paths.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"
#include "berth/volume/mounts.h"
#include "names.h"
#include "store_lock.h"

namespace berth::engine {

namespace {

using runtime::MountSpec;

constexpr unsigned long kNoSuidExecDev = MS_NOSUID | MS_NOEXEC | MS_NODEV;

std::vector<MountSpec> default_mounts(const ContainerOptions& o, const cgroup::Layout& layout) {
  std::vector<MountSpec> m;
  m.push_back({"proc", "/proc", "proc", kNoSuidExecDev, "", false, false});
  m.push_back({"tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", false, false});
  m.push_back({"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
               "newinstance,ptmxmode=0666,mode=0620,gid=5", false, false});
  unsigned long sys_flags = kNoSuidExecDev | (o.privileged ? 0 : MS_RDONLY);
  m.push_back({"sysfs", "/sys", "sysfs", sys_flags, "", false, false});
  // /sys/fs/cgroup: read-only, showing the container's own cgroups (cgroup namespace).
  unsigned long cg_ro = o.privileged ? 0 : MS_RDONLY;
  if (layout.mode == cgroup::Mode::Unified) {
    m.push_back({"cgroup", "/sys/fs/cgroup", "cgroup2", kNoSuidExecDev | cg_ro, "", false, false});
  } else {
    m.push_back({"tmpfs", "/sys/fs/cgroup", "tmpfs", kNoSuidExecDev, "mode=755", false, false});
    for (const auto& h : layout.hierarchies) {
      std::string dir = "/sys/fs/cgroup/" + fs::basename(h.mount_point);
      if (h.unified) {
        m.push_back({"cgroup2", dir, "cgroup2", kNoSuidExecDev | cg_ro, "", false, false});
      } else {
        std::string data;
        for (const auto& c : h.controllers) {
          if (!data.empty()) data += ",";
          data += c;
        }
        if (data.rfind("name=", 0) == 0) data = "none," + data;
        m.push_back({"cgroup", dir, "cgroup", kNoSuidExecDev | cg_ro, data, false, false});
      }
    }
    if (!o.privileged) m.push_back({"", "/sys/fs/cgroup", "remount", 0, "", false, false});
  }
  m.push_back({"mqueue", "/dev/mqueue", "mqueue", kNoSuidExecDev, "", false, false});
  int64_t shm_bytes = o.shm_size.empty() ? 67108864 : parse_memory_bytes(o.shm_size, "--shm-size");
  m.push_back({"shm", "/dev/shm", "tmpfs", kNoSuidExecDev, "mode=1777,size=" + std::to_string(shm_bytes), false,
               false});
  return m;
}

const std::vector<std::string>& masked_paths() {
  static const std::vector<std::string> paths = [] {
    std::vector<std::string> p = {"/proc/acpi",        "/proc/asound",       "/proc/interrupts",
                                  "/proc/kcore",       "/proc/keys",         "/proc/latency_stats",
                                  "/proc/sched_debug", "/proc/scsi",         "/proc/timer_list",
                                  "/proc/timer_stats", "/sys/devices/virtual/powercap",
                                  "/sys/firmware"};
    for (const auto& cpu : fs::list_dir("/sys/devices/system/cpu")) {
      std::string t = "/sys/devices/system/cpu/" + cpu + "/thermal_throttle";
      if (cpu.rfind("cpu", 0) == 0 && fs::exists(t)) p.push_back(t);
    }
    return p;
  }();
  return paths;
}

const std::vector<std::string> kReadonlyPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};

std::string hosts_file(const std::string& hostname, const std::string& network, const std::string& address,
                       const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string s =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n"
      "ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";
  if (network == "host") s = fs::read_file_if_exists("/etc/hosts").value_or(s);
  for (const auto& [host, ip] : extra) s += ip + "\t" + host + "\n";
  if (!address.empty()) s += address + "\t" + hostname + "\n";
  return s;
}

// resolv.conf: on a user network the embedded DNS (127.0.0.11, ndots:0, Docker's); else --dns or
// the host's nameservers without loopback ones (they mean nothing inside the container).
std::string resolv_conf(bool embedded_dns, const ContainerOptions& o) {
  std::string servers, search, options;
  auto host = fs::read_file_if_exists("/etc/resolv.conf").value_or("");
  for (const auto& line : str::split(host, '\n')) {
    auto t = str::trim(line);
    if (t.rfind("nameserver", 0) == 0) {
      if (t.find(" 127.") == std::string::npos && t.find(" ::1") == std::string::npos) servers += t + "\n";
    } else if (t.rfind("search", 0) == 0 || t.rfind("domain", 0) == 0) {
      search = t + "\n";
    } else if (t.rfind("options", 0) == 0) {
      options = t + "\n";
    }
  }
  if (!o.dns_search.empty()) search = "search " + str::join(o.dns_search, " ") + "\n";
  if (!o.dns_options.empty()) options = "options " + str::join(o.dns_options, " ") + "\n";
  if (embedded_dns) {
    servers = "nameserver 127.0.0.11\n";
    options = "options ndots:0" + (o.dns_options.empty() ? std::string() : " " + str::join(o.dns_options, " ")) + "\n";
  } else if (!o.dns.empty()) {
    servers.clear();
    for (const auto& d : o.dns) servers += "nameserver " + d + "\n";
  }
  return search + servers + options;
}

void validate_name(const std::string& name) {
  static const std::regex re("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$");
  if (!std::regex_match(name, re))
    throw Error("invalid container name \"" + name + "\"",
                "names must match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least 2 characters)");
}

std::string generate_name() {
  static const char* adjectives[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly",
                                     "keen",  "lucid", "merry", "nifty", "proud", "quiet", "swift"};
  static const char* nouns[] = {"anchor", "beacon", "cove",  "dock",  "ferry", "harbor", "jetty",
                                "keel",   "mooring", "pier", "quay",  "sail",  "tide",   "wharf"};
  std::string id = random_hex_id();
  unsigned a = std::stoul(id.substr(0, 2), nullptr, 16) % 14;
  unsigned n = std::stoul(id.substr(2, 2), nullptr, 16) % 14;
  return std::string(adjectives[a]) + "_" + nouns[n] + "_" + id.substr(4, 4);
}

// State written before the index existed: built once from the records, under the names lock.
void index_names_once() {
  if (fs::is_dir(names_dir())) return;
  const std::string building = names_dir() + ".building";
  fs::remove_tree(building);
  fs::mkdir_p(building, 0700);
  for (const auto& id : fs::list_dir(paths::state_root() + "/containers")) {
    auto rec = read_json_if_valid(paths::state_root() + "/containers/" + id + "/config.json");
    std::string name = rec ? rec->value("Name", "") : "";
    if (name.size() > 1) fs::write_file(building + "/" + name.substr(1), id, 0600);
  }
  if (::rename(building.c_str(), names_dir().c_str()) != 0) throw_errno("rename " + building);
}

void record_name(const std::string& name, const std::string& id) {
  index_names_once();
  fs::write_file_atomic(names_dir() + "/" + name, id, 0600);
}

std::vector<std::string> cap_names_from_mask(uint64_t mask) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i)
    if (mask & (1ULL << i)) out.push_back(capability_name(i));
  return out;
}

}  // namespace

void require_root() {
  if (::geteuid() != 0)
    throw Error("this command needs root privileges (it creates namespaces, mounts and cgroups)",
                "run it as root, e.g. with sudo");
}

ContainerPaths container_paths(const std::string& id) {
  return {paths::state_root() + "/containers/" + id, paths::run_root() + "/containers/" + id};
}

std::string create_container(const ContainerOptions& o, std::vector<UniqueFd>* port_fds,
                             ContainerNetwork* deferred_network) {
  require_root();
  // The container's first process joins its cgroups a few ms from now: start the kernel's wait
  // for that now, in the background (cgroup::prime_migrations).
  const cgroup::Layout layout = cgroup::detect();
  cgroup::prime_migrations(layout);
  // ---- validate and resolve everything first: a bad option leaves nothing behind ----
  if (!o.name.empty()) validate_name(o.name);
  NetworkRequest net_req{o.network.empty() ? "bridge" : o.network, o.network_aliases, o.ip, o.mac_address};
  validate_network_request(net_req);
  std::string joined_netns;  // container:<ref>: the other container's namespace
  std::string joined_id;
  if (net_req.mode.rfind("container:", 0) == 0) {
    if (!o.hostname.empty())
      throw Error("conflicting options: hostname and the network mode container:", "drop --hostname");
    if (!o.publish.empty() || o.publish_all)
      throw Error("conflicting options: port publishing and the container type network mode",
                  "publish the ports on the container whose network this one joins");
    joined_id = resolve_container(net_req.mode.substr(10));
    ContainerView other = view_container(joined_id);
    if (other.status != "running")
      throw Error("cannot join network of a non running container: " + other.name, "start it first");
    joined_netns = other.record["NetworkSettings"].value("SandboxKey", "");
    if (joined_netns.empty()) joined_netns = "/proc/" + std::to_string(other.record["State"].value("Pid", 0)) + "/ns/net";
  }
  std::vector<std::pair<std::string, std::string>> extra_hosts;
  for (const auto& h : o.add_hosts) {
    auto colon = h.find_first_of(":=");
    if (colon == std::string::npos || colon == 0 || colon + 1 == h.size())
      throw Error("invalid argument \"" + h + "\" for \"--add-host\" flag: bad format for add-host: \"" + h + "\"",
                  "use --add-host NAME:IP, e.g. --add-host db.local:10.0.0.5");
    extra_hosts.emplace_back(h.substr(0, colon), h.substr(colon + 1));
  }
  std::vector<network::PortBinding> publish;
  for (const auto& p : o.publish)
    for (auto& b : network::parse_publish(p)) publish.push_back(b);
  if ((!publish.empty() || o.publish_all) && (net_req.mode == "host" || net_req.mode == "none"))
    publish.clear();  // Docker: published ports are discarded with host and none networking
  cgroup::Resources res;
  if (!o.memory.empty()) res.memory = parse_memory_bytes(o.memory, "--memory");
  if (!o.memory_swap.empty())
    res.memory_swap = o.memory_swap == "-1" ? -1 : parse_memory_bytes(o.memory_swap, "--memory-swap");
  if (!o.cpus.empty()) res.nano_cpus = parse_nano_cpus(o.cpus, "--cpus");
  res.cpu_shares = o.cpu_shares;
  res.pids_limit = o.pids_limit;
  int64_t shm_bytes = 0;
  if (!o.shm_size.empty() && (shm_bytes = parse_memory_bytes(o.shm_size, "--shm-size")) <= 0)
    throw Error("invalid --shm-size " + o.shm_size + ": it must be greater than 0", "e.g. --shm-size 256m");
  std::map<std::string, std::string> user_sysctls = parse_sysctls(o.sysctls, net_req.mode);
  if (o.domainname.size() > 64 || o.domainname.find_first_of("/ \t\n") != std::string::npos)
    throw Error("invalid domainname \"" + o.domainname + "\"", "use at most 64 characters, no spaces");
  std::vector<runtime::Rlimit> rlimits;
  for (const auto& u : o.ulimits) {
    Ulimit ul = parse_ulimit(u);
    rlimit cur{};
    ::getrlimit(ul.resource, &cur);
    if (cur.rlim_max != RLIM_INFINITY && (ul.hard == kUlimitUnlimited || ul.hard > cur.rlim_max))
      throw Error("--ulimit " + u + ": hard limit is above this host's limit (" +
                      std::to_string(cur.rlim_max) + ")",
                  "choose a hard limit of at most " + std::to_string(cur.rlim_max));
    rlimits.push_back({ul.resource, ul.soft, ul.hard});
  }
  // Without --ulimit nofile the container gets this command's own limit, as it always did by
  // inheritance; explicit, because the CLI and the supervisor raise theirs to hold port sockets.
  if (std::none_of(rlimits.begin(), rlimits.end(), [](const runtime::Rlimit& r) { return r.resource == RLIMIT_NOFILE; })) {
    rlimit own = original_fd_limit();
    rlimits.push_back({RLIMIT_NOFILE, own.rlim_cur, own.rlim_max});
  }
  std::vector<TmpfsMount> tmpfs;
  for (const auto& t : o.tmpfs) tmpfs.push_back(parse_tmpfs(t));
  // -v and --mount: parsed and checked here; volumes and missing -v host dirs are made below.
  std::vector<volume::MountRequest> mount_requests;
  for (const auto& v : o.volumes) {
    BindMount b = parse_volume_flag(v);
    volume::MountRequest r;
    r.type = b.named ? "volume" : "bind";
    r.source = b.named ? b.name : b.source;
    r.target = b.target;
    r.readonly = b.readonly;
    r.nocopy = b.nocopy;
    r.propagation = b.propagation;
    r.create_host_dir = true;  // Docker's short syntax creates a missing host directory
    r.spec = "-v " + v;
    mount_requests.push_back(r);
    // SELinux relabeling: accepted for compatibility; without SELinux there is nothing to do.
    for (const auto& mode : str::split(b.mode, ','))
      if ((mode == "z" || mode == "Z") && !fs::exists("/sys/fs/selinux/enforce"))
        std::fprintf(stderr, "berth: warning: -v %s: :%s ignored (SELinux is not enabled on this host)\n",
                     v.c_str(), mode.c_str());
  }
  for (const auto& m : o.mounts) mount_requests.push_back(volume::parse_mount_flag(m));
  volume::validate_mounts(mount_requests);
  bool no_new_privs = false;
  for (const auto& s : o.security_opt) {
    if (s == "no-new-privileges" || s == "no-new-privileges:true" || s == "no-new-privileges=true")
      no_new_privs = true;
    else if (s.rfind("seccomp", 0) != 0 && s != "no-new-privileges:false" && s != "no-new-privileges=false")
      throw Error("invalid --security-opt: \"" + s + "\"",
                  "use no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json");
  }
  auto seccomp_choice = seccomp::choose_profile(o.security_opt, o.privileged);
  std::map<std::string, std::string> labels = parse_labels(o.labels, o.label_files);
  std::vector<std::string> user_env;
  for (const auto& f : o.env_files)
    for (auto& e : parse_env_file(f)) user_env.push_back(e);
  for (const auto& e : o.env) user_env.push_back(e);
  std::string restart_policy = o.restart.empty() ? "no" : o.restart;
  int restart_max = 0;
  if (auto colon = restart_policy.find(':'); colon != std::string::npos) {
    std::string n = restart_policy.substr(colon + 1);
    restart_policy = restart_policy.substr(0, colon);
    if (restart_policy != "on-failure" || n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
      throw Error("invalid restart policy \"" + o.restart + "\"",
                  "use no, always, unless-stopped or on-failure[:max-retries]");
    restart_max = std::stoi(n);
  }
  if (restart_policy != "no" && restart_policy != "always" && restart_policy != "unless-stopped" &&
      restart_policy != "on-failure")
    throw Error("invalid restart policy \"" + o.restart + "\"",
                "use no, always, unless-stopped or on-failure[:max-retries]");
  if (o.autoremove && restart_policy != "no")
    throw Error("conflicting options: cannot specify both --restart and --rm",
                "drop one of them: --rm removes the container when it exits, --restart keeps it running");
  std::string stop_signal = o.stop_signal;
  if (!stop_signal.empty()) parse_signal(stop_signal);
  // Logging: Docker's json-file driver with its rotation options, or none.
  if (o.log_driver != "json-file" && o.log_driver != "none")
    throw Error("logging driver \"" + o.log_driver + "\" is not supported", "use --log-driver json-file or none");
  uint64_t log_max_size = 0;
  int log_max_files = 1;
  json log_config = json::object();
  for (const auto& opt : o.log_opts) {
    auto eq = opt.find('=');
    std::string key = opt.substr(0, eq), value = eq == std::string::npos ? "" : opt.substr(eq + 1);
    if (o.log_driver == "none" || eq == std::string::npos || (key != "max-size" && key != "max-file"))
      throw Error("unknown log opt '" + opt + "' for " + o.log_driver + " log driver",
                  "json-file takes max-size=SIZE and max-file=N");
    if (key == "max-size") log_max_size = static_cast<uint64_t>(parse_memory_bytes(value, "--log-opt max-size"));
    if (key == "max-file") {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || std::stoi(value) < 1)
        throw Error("invalid value for max-file: " + value, "max-file must be a number of files, at least 1");
      log_max_files = std::stoi(value);
    }
    log_config[key] = value;
  }
  // Healthcheck: the image's, overridden field by field by --health-*, or none.
  json healthcheck = json();
  // The image is looked up once; a missing one is reported after the options are checked.
  image::Store images;
  auto img = images.find(o.image);
  if (img && img->config.healthcheck) healthcheck = *img->config.healthcheck;
  if (!o.health_cmd.empty()) healthcheck["Test"] = {"CMD-SHELL", o.health_cmd};
  if (!o.health_test.empty()) {
    const std::string& kind = o.health_test.front();
    if ((kind != "CMD" && kind != "CMD-SHELL" && kind != "NONE") || (kind != "NONE" && o.health_test.size() < 2))
      throw Error("invalid healthcheck test " + json(o.health_test).dump(),
                  "the test starts with CMD, CMD-SHELL or NONE, followed by the command");
    healthcheck["Test"] = o.health_test;
  }
  auto set_duration = [&](const char* key, const std::string& value, const char* flag) {
    if (value.empty()) return;
    uint64_t ns = parse_duration_ns(value, flag);
    if (ns != 0 && ns < 1000000)
      throw Error(std::string(flag) + " cannot be less than 1ms", "use e.g. " + std::string(flag) + " 1s");
    healthcheck[key] = ns;
  };
  set_duration("Interval", o.health_interval, "--health-interval");
  set_duration("Timeout", o.health_timeout, "--health-timeout");
  set_duration("StartPeriod", o.health_start_period, "--health-start-period");
  set_duration("StartInterval", o.health_start_interval, "--health-start-interval");
  if (o.health_retries < 0) throw Error("--health-retries cannot be negative", "use 0 for the default (3)");
  if (o.health_retries > 0) healthcheck["Retries"] = o.health_retries;
  if (o.no_healthcheck) {
    if (!o.health_cmd.empty() || !o.health_test.empty())
      throw Error("--no-healthcheck conflicts with --health-* options", "drop one of them");
    healthcheck = json{{"Test", {"NONE"}}};
  }
  if (log_max_files > 1 && log_max_size == 0)
    throw Error("max-file cannot be set without max-size", "add --log-opt max-size=SIZE");

  if (!img)
    throw Error("Unable to find image '" + image::normalize_ref(o.image) + "' locally",
                "import it first: berth image import ROOTFS.tar " + o.image);
  if (o.publish_all && is_bridge_mode(net_req.mode)) {
    json exposed = json::object();
    for (const auto& e : img->config.exposed_ports) exposed[e] = json::object();
    for (auto& b : network::publish_all(exposed)) publish.push_back(b);
  }
  auto args = merge_command(img->config.entrypoint, img->config.cmd, o.entrypoint, o.cmd);
  std::string user_spec = o.user.empty() ? img->config.user : o.user;
  auto user = runtime::resolve_user(user_spec, runtime::read_file_in_layers(img->layer_dirs, "/etc/passwd"),
                                    runtime::read_file_in_layers(img->layer_dirs, "/etc/group"), o.group_add);
  auto caps = effective_capabilities(o.cap_add, o.cap_drop, o.privileged, runtime::caller_bounding_set());
  uint64_t cap_mask = capability_mask(caps);

  const std::string id = random_hex_id();
  std::string hostname = o.hostname;
  if (hostname.empty()) {
    if (o.network == "host") {
      char buf[256] = {};
      ::gethostname(buf, sizeof buf - 1);
      hostname = buf;
    } else {
      hostname = short_id(id);
    }
  }
  cgroup::Plan cg = cgroup::plan_container(layout, paths::cgroup_parent(), id, res, o.privileged);
  std::string seccomp_bpf;
  if (seccomp_choice.confined)
    seccomp_bpf = seccomp::cached_filter(caps, seccomp_choice.profile_path,
                                         paths::state_root() + "/cache/seccomp");
  std::vector<std::string> runtime_env = {"HOSTNAME=" + hostname};
  if (o.tty) runtime_env.push_back("TERM=xterm");
  auto env = merge_env(img->config.env, user_env, runtime_env);
  bool has_home = false;
  for (const auto& e : env) has_home |= e.rfind("HOME=", 0) == 0;
  if (!has_home) env.push_back("HOME=" + (user.home.empty() ? std::string("/") : user.home));
  if (o.init) args.insert(args.begin(), "/dev/init");
  std::string cwd = o.workdir.empty() ? img->config.working_dir : o.workdir;
  if (cwd.empty()) cwd = "/";
  if (cwd.front() != '/')
    throw Error("the working directory '" + cwd + "' is invalid", "it needs to be an absolute path");

  // ---- published ports: bound now, so a conflict is exact and nothing exists yet ----
  std::vector<network::BoundPort> ports = bind_container_ports(publish);

  // ---- names are unique: hold the names lock from the check until the record exists ----
  StoreLock names_lock(paths::state_root() + "/locks", "names");
  std::string name = o.name.empty() ? generate_name() : o.name;
  if (!o.name.empty() && name_taken(name))
    throw Error("Conflict. The container name \"/" + name + "\" is already in use",
                "remove that container (berth container rm " + name + ") or choose another name");
  record_name(name, id);

  ContainerPaths cp = container_paths(id);
  fs::mkdir_p_spread(paths::state_root() + "/containers", 0700);
  fs::mkdir_p_spread(paths::run_root() + "/containers", 0700);
  fs::mkdir_p(cp.state_dir, 0700);
  ContainerNetwork net;
  bool defer = false;
  try {
    fs::mkdir_p(cp.run_dir, 0700);
    fs::mkdir_p(cp.state_dir + "/rootfs/upper", 0755);
    fs::mkdir_p(cp.state_dir + "/rootfs/work", 0700);
    fs::mkdir_p(cp.run_dir + "/rootfs", 0700);
    // The network namespace and veths (bridge modes): addresses first, the /etc files name them.
    // Deferred: the veth is the caller's to configure, while the supervisor builds the container.
    // Not when the user sets a net.* sysctl: the namespace's defaults (IPv6 off, ...) would race
    // the container's own sysctls, where the user's must win.
    defer = deferred_network != nullptr &&
            std::none_of(user_sysctls.begin(), user_sysctls.end(),
                         [](const auto& kv) { return kv.first.rfind("net.", 0) == 0; });
    net = setup_container_network(id, name, net_req, !defer);
    std::string address = net.endpoints.empty() ? "" : network::format_ipv4(net.endpoints[0].address);
    fs::write_file(cp.state_dir + "/hostname", hostname + "\n", 0644);
    if (!joined_id.empty()) {
      auto other = container_paths(joined_id).state_dir;
      fs::write_file(cp.state_dir + "/hosts", fs::read_file(other + "/hosts"), 0644);
      fs::write_file(cp.state_dir + "/resolv.conf", fs::read_file(other + "/resolv.conf"), 0644);
    } else {
      fs::write_file(cp.state_dir + "/hosts", hosts_file(hostname, net_req.mode, address, extra_hosts), 0644);
      fs::write_file(cp.state_dir + "/resolv.conf", resolv_conf(net.dns, o), 0644);
    }

    runtime::LaunchPlan plan;
    plan.id = id;
    plan.hostname = hostname;
    for (auto it = img->layer_dirs.rbegin(); it != img->layer_dirs.rend(); ++it) plan.lower_dirs.push_back(*it);
    plan.upper_dir = cp.state_dir + "/rootfs/upper";
    plan.work_dir = cp.state_dir + "/rootfs/work";
    plan.rootfs_dir = cp.run_dir + "/rootfs";
    plan.readonly_rootfs = o.read_only;
    plan.mounts = default_mounts(o, layout);
    unsigned long etc_flags = o.read_only ? MS_RDONLY : 0;
    plan.mounts.push_back({cp.state_dir + "/hostname", "/etc/hostname", "bind", etc_flags, "", false, true});
    plan.mounts.push_back({cp.state_dir + "/hosts", "/etc/hosts", "bind", etc_flags, "", false, true});
    plan.mounts.push_back({cp.state_dir + "/resolv.conf", "/etc/resolv.conf", "bind", etc_flags, "", false, true});
    if (o.init)
      plan.mounts.push_back({paths::libexec_dir() + "/berth-init", "/dev/init", "bind", MS_RDONLY, "", true, true});
    for (const auto& t : tmpfs) plan.mounts.push_back({"tmpfs", t.target, "tmpfs", t.flags, t.data, false, false});
    // Data mounts. The volumes lock is held until the record naming the volumes is saved, so
    // `volume rm` and prune never take a volume from under a container being created.
    volume::Store volume_store;
    FileLock volumes_lock = volume_store.lock();
    json mounts_record = json::array();
    for (const auto& m : volume::prepare_mounts(volume_store, mount_requests, img->layer_dirs, img->config.volumes,
                                                id, o.autoremove)) {
      unsigned long flags = m.readonly ? static_cast<unsigned long>(MS_RDONLY) : 0ul;
      if (m.fstype == "tmpfs") flags |= kNoSuidExecDev;
      runtime::MountSpec spec{m.source, m.target, m.fstype, flags, m.data, m.readonly && m.fstype == "bind", false};
      static const std::map<std::string, unsigned long> kPropagation = {
          {"shared", MS_SHARED}, {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},
          {"rslave", MS_SLAVE | MS_REC}, {"private", MS_PRIVATE}};  // rprivate: already so
      if (auto p = kPropagation.find(m.record.value("Propagation", "")); p != kPropagation.end() && m.fstype == "bind")
        spec.propagation = p->second;
      plan.mounts.push_back(spec);
      mounts_record.push_back(m.record);
      if (o.autoremove && m.record.value("Type", "") == "volume")
        if (auto v = volume_store.find(m.record.value("Name", "")); v && v->anonymous) plan.autoremove_dirs.push_back(v->dir);
    }
    if (!o.privileged) {
      plan.masked_paths = masked_paths();
      plan.readonly_paths = kReadonlyPaths;
    }
    plan.namespaces = {{"pid", ""}, {"mnt", ""}, {"uts", ""}, {"ipc", ""}, {"cgroup", ""}};
    if (!net.netns_path.empty()) plan.namespaces.push_back({"net", net.netns_path});
    else if (!joined_netns.empty()) plan.namespaces.push_back({"net", joined_netns});
    if (net_req.mode != "host") {
      if (net.netns_path.empty() && joined_netns.empty()) plan.namespaces.push_back({"net", ""});
      plan.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "0"},
                      {"net.ipv4.ping_group_range", "0 2147483647"}};
    }
    for (const auto& [key, value] : user_sysctls) plan.sysctls[key] = value;  // the user's win
    if (!o.domainname.empty()) plan.sysctls["kernel.domainname"] = o.domainname;
    plan.args = args;
    plan.env = env;
    plan.cwd = cwd;
    plan.uid = user.uid;
    plan.gid = user.gid;
    plan.additional_gids = user.additional_gids;
    plan.capabilities = cap_mask;
    plan.no_new_privileges = no_new_privs;
    plan.seccomp_bpf = seccomp_bpf;
    plan.rlimits = rlimits;
    plan.terminal = o.tty;
    plan.stdin_open = o.interactive;
    plan.privileged = o.privileged;
    plan.cgroups = cgroup::to_json(cg);
    plan.log_path = o.log_driver == "none" ? "" : cp.state_dir + "/" + id + "-json.log";
    plan.healthcheck = healthcheck;
    plan.log_max_size = log_max_size;
    plan.log_max_files = log_max_files;
    plan.autoremove = o.autoremove;
    plan.restart_policy = restart_policy;
    plan.restart_max = restart_max;
    std::string sig = stop_signal.empty() ? img->config.stop_signal : stop_signal;
    plan.stop_signal = sig.empty() ? 15 : parse_signal(sig);
    plan.stop_timeout_s = o.stop_timeout.value_or(10);
    plan.state_dir = cp.state_dir;
    plan.run_dir = cp.run_dir;
    plan.netns_path = net.netns_path;
    for (const auto& [n, ep] : net.settings.items()) plan.networks.push_back(n);
    if (net.dns) {
      // Upstreams: --dns, else BERTH_DNS_UPSTREAM (ip[:port],...: the supervisor has no environment
      // of ours), else the supervisor reads the host's resolv.conf.
      std::vector<std::string> upstreams = o.dns;
      if (const char* env = std::getenv("BERTH_DNS_UPSTREAM"); env && *env && upstreams.empty())
        upstreams = str::split(env, ',');
      plan.dns = {{"Namespace", net.netns_path}, {"Records", net.dns_records}, {"Forward", net.dns_forward},
                  {"Upstreams", upstreams}};
    }
    json port_map = json::object();
    for (const auto& p : ports) {
      plan.ports.push_back({{"Proto", p.binding.proto}, {"HostIp", p.binding.host_ip},
                            {"HostPort", p.binding.host_port}, {"ContainerPort", p.binding.container_port},
                            {"Target", address}});
      port_map[std::to_string(p.binding.container_port) + "/" + p.binding.proto].push_back(
          {{"HostIp", p.binding.host_ip.empty() ? "0.0.0.0" : p.binding.host_ip},
           {"HostPort", std::to_string(p.binding.host_port)}});
    }
    save_json_atomic(cp.run_dir + "/launch.json", runtime::to_json(plan));

    json config = {{"Hostname", hostname},
                   {"Domainname", o.domainname},
                   {"User", user_spec},
                   {"Env", env},
                   {"Cmd", o.cmd.empty() && !o.entrypoint ? json(img->config.cmd) : json(o.cmd)},
                   {"Entrypoint", o.entrypoint ? json(str::split(*o.entrypoint, ' ')) : json(img->config.entrypoint)},
                   {"Image", o.image},
                   {"WorkingDir", cwd},
                   {"Labels", labels},
                   {"Tty", o.tty},
                   {"OpenStdin", o.interactive},
                   {"StopSignal", stop_signal.empty() ? img->config.stop_signal : stop_signal},
                   {"Healthcheck", healthcheck}};
    json host = {{"Memory", res.memory},
                 {"MemorySwap", res.memory_swap},
                 {"NanoCpus", res.nano_cpus},
                 {"CpuShares", res.cpu_shares},
                 {"PidsLimit", res.pids_limit},
                 {"Privileged", o.privileged},
                 {"CapAdd", o.cap_add},
                 {"CapDrop", o.cap_drop},
                 {"ReadonlyRootfs", o.read_only},
                 {"AutoRemove", o.autoremove},
                 {"RestartPolicy", {{"Name", restart_policy}, {"MaximumRetryCount", restart_max}}},
                 {"LogConfig", {{"Type", o.log_driver}, {"Config", log_config}}},
                 {"NetworkMode", net_req.mode},
                 {"PortBindings", network::host_config_port_bindings_json(publish)},
                 {"PublishAllPorts", o.publish_all},
                 {"Dns", o.dns},
                 {"DnsSearch", o.dns_search},
                 {"DnsOptions", o.dns_options},
                 {"ExtraHosts", o.add_hosts},
                 {"Init", o.init},
                 {"SecurityOpt", o.security_opt},
                 {"Tmpfs", o.tmpfs},
                 {"Binds", o.volumes},
                 {"Ulimits", o.ulimits},
                 {"Sysctls", user_sysctls},
                 {"ShmSize", shm_bytes ? shm_bytes : 67108864},
                 {"GroupAdd", o.group_add}};
    json record = {{"Id", id},
                   {"Name", "/" + name},
                   {"Created", timeutil::rfc3339_nano(timeutil::now_ns())},
                   {"Path", args.front()},
                   {"Args", json(std::vector<std::string>(args.begin() + 1, args.end()))},
                   {"Image", img->id},
                   {"Config", config},
                   {"HostConfig", host},
                   {"LogPath", plan.log_path},
                   {"NetworkSettings", {{"SandboxKey", net.netns_path},
                                        {"IPAddress", net_req.mode == "bridge" ? address : ""},
                                        {"Ports", port_map},
                                        {"Networks", net.settings}}},
                   {"Mounts", mounts_record},
                   {"Berth", {{"Capabilities", cap_names_from_mask(cap_mask)}, {"Networks", plan.networks}}}};
    save_json_atomic(cp.state_dir + "/config.json", record);
  } catch (...) {
    teardown_container_network(id);
    fs::remove_tree(cp.run_dir);
    fs::remove_tree(cp.state_dir);
    throw;
  }
  cgroup::ensure_parents(layout, paths::cgroup_parent());
  if (port_fds)
    for (auto& p : ports) port_fds->push_back(std::move(p.fd));
  if (defer) *deferred_network = std::move(net);
  return id;
}

std::string names_dir() { return paths::state_root() + "/names"; }

bool name_taken(const std::string& name) {
  index_names_once();
  const std::string entry = names_dir() + "/" + name;
  auto id = fs::read_file_if_exists(entry);
  if (!id) return false;
  auto rec = read_json_if_valid(container_paths(*id).state_dir + "/config.json");
  if (rec && rec->value("Name", "") == "/" + name) return true;
  ::unlink(entry.c_str());  // stale: its container was removed or renamed
  return false;
}

void forget_name(const std::string& name, const std::string& id) {
  const std::string entry = names_dir() + "/" + name;
  if (fs::read_file_if_exists(entry) == id) ::unlink(entry.c_str());
}

void rename_container(const std::string& ref, const std::string& new_name) {
  std::string id = resolve_container(ref);
  validate_name(new_name);
  std::string name = new_name[0] == '/' ? new_name.substr(1) : new_name;
  StoreLock names_lock(paths::state_root() + "/locks", "names");
  const std::string record_path = container_paths(id).state_dir + "/config.json";
  json record = load_json_file(record_path);
  std::string old_name = record.value("Name", "/");
  if (old_name == "/" + name) return;
  if (name_taken(name))
    throw Error("Conflict. The container name \"/" + name + "\" is already in use",
                "remove (or rename) that container to be able to reuse that name", 1);
  record_name(name, id);
  record["Name"] = "/" + name;
  save_json_atomic(record_path, record);
  forget_name(old_name.substr(1), id);
  // DNS on user networks answers to the new name from now on.
  network::NetworkStore networks(paths::state_root());
  for (const auto& net : networks.networks_of(id)) networks.rename_endpoint(net, id, old_name.substr(1), name);
}

}  // namespace berth::engine
