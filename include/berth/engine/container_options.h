#pragma once
// What `berth container run/create` was asked for, as typed flags (parsed and validated by the
// engine, not the CLI, so the orchestrator can fill the same struct from a Compose service).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::engine {

struct ContainerOptions {
  std::string image;
  std::vector<std::string> cmd;
  std::optional<std::string> entrypoint;
  std::string name;
  bool autoremove = false;
  bool detach = false;
  bool interactive = false;
  bool tty = false;
  bool init = false;
  bool privileged = false;
  bool read_only = false;
  std::vector<std::string> env, env_files;
  std::string workdir, user, hostname;
  std::string domainname;               // --domainname (the UTS namespace's NIS domain)
  std::vector<std::string> group_add;   // --group-add: extra groups, names (image /etc/group) or ids
  std::vector<std::string> sysctls;     // --sysctl KEY=VALUE: namespaced keys only (sysctl_refusal)
  std::string shm_size;                 // --shm-size: /dev/shm size ("64m"); empty = 64 MiB
  // bridge (the default network) | none | host | container:<name|id> | a user network's name
  std::string network = "bridge";
  std::vector<std::string> network_aliases;  // --network-alias (user networks)
  std::string ip, mac_address;                // --ip, --mac-address
  std::vector<std::string> add_hosts;         // --add-host host:ip
  std::vector<std::string> dns, dns_search, dns_options;
  std::vector<std::string> publish;           // -p [IP:][HOST:]CTR[/PROTO]
  bool publish_all = false;                   // -P: the image's ExposedPorts
  std::vector<std::string> cap_add, cap_drop, security_opt;
  std::vector<std::string> tmpfs, volumes, ulimits, labels, label_files;
  std::vector<std::string> mounts;  // --mount type=volume|bind|tmpfs,... (volume/mounts.h)
  std::string memory, memory_swap, cpus;
  int64_t cpu_shares = 0;
  int64_t pids_limit = 0;
  std::string stop_signal;
  std::optional<int> stop_timeout;  // seconds; Docker's default is 10
  std::string restart = "no";       // no | always | unless-stopped | on-failure[:N]
  // --health-*: override the image's HEALTHCHECK; durations as Go durations ("30s").
  std::string health_cmd, health_interval, health_timeout, health_start_period, health_start_interval;
  int health_retries = 0;
  // Compose's exact test (["CMD", ...] | ["CMD-SHELL", "..."]); wins over health_cmd when set.
  std::vector<std::string> health_test;
  bool no_healthcheck = false;
  std::string log_driver = "json-file";  // json-file | none
  std::vector<std::string> log_opts;     // max-size=10m, max-file=3
};

}  // namespace berth::engine
