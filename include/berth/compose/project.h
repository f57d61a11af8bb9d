#pragma once
// The typed Compose model the orchestrator works with. Built from the loader's canonical JSON
// (the same document `berth config --format json` prints), so both always agree. Optional
// fields are std::optional when "unset" differs from a default; durations are nanoseconds.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::compose {

using StringMap = std::map<std::string, std::string>;

struct BuildConfig {
  std::string context;  // absolute path or URL
  std::string dockerfile;
  std::string dockerfile_inline;
  std::map<std::string, std::optional<std::string>> args;
  StringMap labels;
  std::string target;
  std::string network;
  std::vector<std::string> tags, platforms, cache_from, cache_to, ssh, extra_hosts;
  StringMap additional_contexts;
  bool no_cache = false;
  bool pull = false;
  json raw;  // every attribute as loaded, for builders that need the rest
};

struct PortConfig {
  std::string name;
  std::string mode = "ingress";
  std::string host_ip;
  uint32_t target = 0;
  std::string published;  // "" = ephemeral; may be a range "8000-9000"
  std::string protocol = "tcp";
  std::string app_protocol;
};

struct VolumeMount {
  std::string type;  // bind | volume | tmpfs | image | npipe | cluster
  std::string source;
  std::string target;
  bool read_only = false;
  std::string consistency;
  // bind
  std::string propagation;
  bool create_host_path = true;
  std::string selinux;
  // volume
  bool nocopy = false;
  std::string subpath;
  // tmpfs
  std::optional<int64_t> tmpfs_size;
  std::optional<uint32_t> tmpfs_mode;
};

struct DependsOn {
  std::string condition = "service_started";  // service_healthy | service_completed_successfully
  bool required = true;
  bool restart = false;
};

struct Healthcheck {
  std::vector<std::string> test;  // ["CMD", …] | ["CMD-SHELL", "…"] | ["NONE"]; empty = image's
  std::optional<int64_t> interval_ns, timeout_ns, start_period_ns, start_interval_ns;
  std::optional<int> retries;
  bool disable = false;
};

struct ServiceNetwork {
  std::vector<std::string> aliases;
  std::string ipv4_address, ipv6_address, mac_address, interface_name;
  std::vector<std::string> link_local_ips;
  StringMap driver_opts;
  int priority = 0;
  int gw_priority = 0;
};

struct FileReference {  // service-level secrets and configs
  std::string source;
  std::string target;  // filled with the default (/run/secrets/<source> or /<source>) when absent
  std::string uid, gid;
  std::optional<uint32_t> mode;
};

struct EnvFile {
  std::string path;
  bool required = true;
  std::string format;
};

struct Ulimit {
  int64_t soft = 0;
  int64_t hard = 0;
};

struct Device {
  std::string source, target, permissions;
};

struct Logging {
  std::string driver;
  StringMap options;
};

struct Resources {
  std::optional<double> cpus;
  std::optional<int64_t> memory;
  std::optional<int64_t> pids;
};

struct RestartPolicy {  // deploy.restart_policy
  std::string condition;
  std::optional<int64_t> delay_ns, window_ns;
  std::optional<int> max_attempts;
};

struct Deploy {
  std::string mode;
  std::optional<int> replicas;
  StringMap labels;
  Resources limits, reservations;
  std::optional<RestartPolicy> restart_policy;
  std::string endpoint_mode;
  json raw;  // placement, update_config, … (swarm-only)
};

struct Hook {
  std::vector<std::string> command;
  std::string user, working_dir;
  bool privileged = false;
  StringMap environment;
};

struct Service {
  std::string name;
  std::string image;
  std::optional<BuildConfig> build;
  std::string pull_policy;
  std::string platform;
  std::optional<std::vector<std::string>> command;     // nullopt = image CMD
  std::optional<std::vector<std::string>> entrypoint;  // nullopt = image ENTRYPOINT
  std::string working_dir, user;
  std::vector<std::string> group_add;
  std::map<std::string, std::string> environment;  // env_file merged in, unresolved keys removed
  std::vector<EnvFile> env_file;
  StringMap labels, annotations;
  std::vector<std::string> label_file;
  std::vector<PortConfig> ports;
  std::vector<std::string> expose;
  std::map<std::string, std::optional<ServiceNetwork>> networks;
  std::string network_mode;
  std::string hostname, domainname, mac_address;
  std::vector<std::string> extra_hosts;  // "host=ip"
  std::vector<std::string> dns, dns_search, dns_opt;
  std::vector<std::string> links, external_links;
  std::vector<VolumeMount> volumes;
  std::vector<std::string> volumes_from, tmpfs;
  std::optional<int64_t> shm_size;
  std::vector<FileReference> secrets, configs;
  bool read_only = false;
  std::map<std::string, DependsOn> depends_on;
  std::optional<Healthcheck> healthcheck;
  std::string restart;  // "" = no
  std::optional<int> scale;
  std::string container_name;
  std::vector<std::string> profiles;
  std::optional<Deploy> deploy;
  std::optional<int64_t> stop_grace_period_ns;
  std::string stop_signal;
  bool init = false, tty = false, stdin_open = false, privileged = false;
  std::optional<bool> attach;
  std::vector<std::string> cap_add, cap_drop, security_opt;
  std::string pid, ipc, uts, userns_mode, cgroup, cgroup_parent, runtime, isolation;
  std::map<std::string, Ulimit> ulimits;
  StringMap sysctls, storage_opt;
  std::vector<Device> devices;
  std::vector<std::string> device_cgroup_rules;
  std::optional<double> cpus;
  std::optional<int64_t> cpu_shares, cpu_quota, cpu_period, cpu_count, cpu_percent;
  std::string cpuset;
  std::optional<int64_t> mem_limit, mem_reservation, memswap_limit, mem_swappiness, pids_limit;
  std::optional<bool> oom_kill_disable;
  std::optional<int64_t> oom_score_adj;
  std::optional<Logging> logging;
  std::vector<Hook> post_start, pre_stop;
  json extensions;  // x-* keys
  json raw;         // the service exactly as `config --format json` prints it
};

struct Network {
  std::string name;  // platform name (project-scoped unless external or explicit)
  std::string driver;
  StringMap driver_opts;
  bool external = false, internal = false, attachable = false;
  std::optional<bool> enable_ipv4, enable_ipv6;
  StringMap labels;
  json ipam;
};

struct Volume {
  std::string name;
  std::string driver;
  StringMap driver_opts;
  bool external = false;
  StringMap labels;
};

struct FileObject {  // top-level secrets and configs
  std::string name;
  std::string file;         // absolute path
  std::string environment;  // variable name
  std::string content;      // configs only; secrets from `environment` get the value here
  bool external = false;
  StringMap labels;
};

struct Project {
  std::string name;
  std::string working_dir;
  std::vector<std::string> config_files;
  std::vector<Service> services;  // ordered by name (Compose's order)
  std::map<std::string, Network> networks;
  std::map<std::string, Volume> volumes;
  std::map<std::string, FileObject> secrets, configs;
  std::vector<std::string> disabled_services;  // left out by profiles
  json extensions;

  const Service* service(const std::string& name) const;
};

// The typed model of a loaded JSON document (see loader.h).
Project project_from_json(const json& model);

// Per-service config hash used to decide recreation: SHA-256 of the service JSON without the
// attributes that never require a new container (build, pull_policy, scale, deploy.replicas,
// depends_on, profiles). Throws berth::Error for an unknown service.
std::string config_hash(const Project& project, const std::string& service);

}  // namespace berth::compose
