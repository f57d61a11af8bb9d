#pragma once
// Network records: <root>/networks/<name>.json, Docker's `network inspect` shape plus what Berth
// needs (bridge name, MTU, endpoints with their DNS names and host veth). Writers hold
// <root>/locks/networks.lock (lock order: names -> project -> networks -> ports); readers
// (ls, inspect, the DNS responder) take no lock: files are replaced atomically.
//
// Record (JSON):
// { "Name": "web_default", "Id": "<64 hex>", "Created": "<RFC3339Nano>", "Scope": "local",
//   "Driver": "bridge", "EnableIPv6": false, "Internal": false, "Attachable": false,
//   "IPAM": {"Driver": "default", "Options": {}, "Config": [{"Subnet": "172.18.0.0/16",
//            "Gateway": "172.18.0.1", "IPRange": "172.18.5.0/24"  (only when given)}]},
//   "Options": {"com.docker.network.bridge.name": "...", "com.docker.network.driver.mtu": "1500"},
//   "Labels": {},
//   "BridgeName": "br-<12 hex of Id>" (or the option), "MTU": 1500,
//   "Containers": { "<container id>": { "Name": "web-1", "EndpointID": "<64 hex>",
//        "MacAddress": "02:42:ac:12:00:02", "IPv4Address": "172.18.0.2/16", "IPv6Address": "",
//        "DNSNames": ["web-1", "web", "<12 hex id>"], "HostVeth": "bt<11 hex>0" } } }
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "berth/network/ipam.h"
#include "berth/util/json.h"

namespace berth::network {

inline constexpr const char* kDefaultBridgeNetwork = "bridge";  // `container run` without --network
inline constexpr const char* kDefaultBridgeDevice = "berth0";

struct NetworkSpec {
  std::string name;
  std::string subnet, gateway, ip_range;  // empty: picked / first address / whole subnet
  bool internal = false;
  std::map<std::string, std::string> labels, options;  // -o com.docker.network.bridge.name=, ...mtu=
  std::vector<Ipv4Net> taken;  // host routes to avoid when picking a subnet (the caller reads them)
};

struct EndpointRequest {
  std::string container_id, container_name;
  std::vector<std::string> dns_names;  // name, aliases, short id: what the DNS responder answers
  std::string requested_ip;            // --ip; empty: next free
  std::string requested_mac;           // --mac-address; empty: derived from the address
  std::string host_veth;
};

struct Endpoint {
  std::string network, network_id, bridge;
  int mtu = 1500;
  uint32_t address = 0, gateway = 0;
  int prefix = 16;
  std::string mac, endpoint_id, host_veth;
  bool internal = false;
};

class NetworkStore {
 public:
  explicit NetworkStore(std::string root);  // the state root (paths::state_root())

  // Validates (name [a-zA-Z0-9][a-zA-Z0-9_.-]*, unique; subnet/gateway/range consistent and not
  // overlapping another network or `taken`), picks a subnet when none is given, writes the record.
  // Errors name the network and say how to fix it; exit code 125 (Docker's).
  json create(const NetworkSpec& spec);
  // The default "bridge" network, created on first use (device berth0, subnet from the pools).
  // device: berth0 for the default state root; the engine names it per root so test roots never
  // share a bridge.
  json ensure_default(const std::vector<Ipv4Net>& taken, const std::string& device = kDefaultBridgeDevice);
  // By full name, else full id, else unique id prefix. nullopt when absent.
  std::optional<json> find(const std::string& name_or_id) const;
  std::vector<json> list() const;  // sorted by name
  // Refuses (Error naming the containers) while endpoints remain, unless force.
  void remove(const std::string& name, bool force = false);

  // Under the lock: reserve an address (requested_ip must be in the subnet/range and free) and
  // record the endpoint. Re-attaching the same container id returns its existing endpoint.
  Endpoint attach(const std::string& network, const EndpointRequest& req);
  // Under the lock: forget the container's endpoint (no error when absent).
  void detach(const std::string& network, const std::string& container_id);
  // The endpoint's container name and the DNS name that was the old name (container rename).
  void rename_endpoint(const std::string& network, const std::string& container_id, const std::string& old_name,
                       const std::string& new_name);
  // Every network naming this container (for rm -f and prune after a kill -9).
  std::vector<std::string> networks_of(const std::string& container_id) const;

  std::string record_path(const std::string& name) const;  // <root>/networks/<name>.json

 private:
  std::string root_;
};

// An Endpoint from a record's Containers entry (for restore and teardown).
Endpoint endpoint_from_record(const json& network, const std::string& container_id);

}  // namespace berth::network
