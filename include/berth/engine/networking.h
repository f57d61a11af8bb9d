#pragma once
// Networks as the engine sees them: `berth network …` on the records of network/store.h, and a
// container's side of them — its network namespace (<run>/netns/<id>), one veth per network,
// published ports — set up by the CLI (the supervisor never links netlink) and torn down on
// removal. Everything is named from the container id, so `rm -f` and `prune` find what a killed
// command left even when no record lists it.
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "berth/network/ports.h"
#include "berth/network/store.h"
#include "berth/util/json.h"

namespace berth::engine {

// ---- berth network … ----
json create_network(network::NetworkSpec spec);  // picks a subnet off the host's routes
std::vector<json> list_networks();               // the default "bridge" network included once created
json inspect_network(const std::string& name_or_id);
// Refused while containers use it. links: a batch that deletes the bridge with other links.
class LinkBatch;
void remove_network(const std::string& name_or_id, LinkBatch* links = nullptr);
std::vector<std::string> prune_networks();           // unused user networks; returns names
// Host routes a new subnet must not overlap (the default route excluded).
std::vector<network::Ipv4Net> host_routes();
// The default network's record (created on first use); its device is berth0 for the default
// state root, else a name derived from the root, so test roots never share a bridge.
json ensure_default_network();
std::string default_bridge_device();
// Opt-in outbound NAT (docs/networking.md): when the setting is on, table inet berth is rebuilt
// from every bridge record; a failure only warns. Called after network changes and a reboot.
void sync_outbound_nat();

// ---- one container ----
struct NetworkRequest {
  std::string mode;  // "bridge" | "none" | "host" | "container:<ref>" | a user network name
  std::vector<std::string> aliases;  // --network-alias (user networks only, as Docker)
  std::string ip, mac;               // --ip, --mac-address (first network)
};
inline bool is_bridge_mode(const std::string& mode) {
  return mode != "none" && mode != "host" && mode.rfind("container:", 0) != 0;
}
std::string netns_path(const std::string& container_id);  // <run>/netns/<id>

struct ContainerNetwork {
  std::string netns_path;                     // empty: no namespace of ours (host, none, container:)
  std::vector<network::Endpoint> endpoints;   // in attach order; endpoints[0] is eth0
  std::vector<std::string> dns_records;       // network record files the DNS responder reads
  bool dns = false;                           // on a user network: answer at 127.0.0.11
  bool dns_forward = false;                   // some network is not internal
  json settings;                              // NetworkSettings.Networks
};
// Validates the request (network exists, --ip inside it, aliases only on user networks).
void validate_network_request(const NetworkRequest& req);
// Allocates addresses, creates the namespace and (configure) the veths. On failure undoes what it
// did. Without configure the namespace is empty until configure_container_network.
ContainerNetwork setup_container_network(const std::string& id, const std::string& name,
                                         const NetworkRequest& req, bool configure = true);
// The namespace's defaults (lo, sysctls), the bridge and eth0 with its address and route. A
// failure leaves the rest to teardown_container_network (rm).
void configure_container_network(const ContainerNetwork& net);
// Removing several containers and networks at once (`down`): their host veths and bridges are
// deleted together at flush() (netlink::delete_links, one kernel batch) rather than one by one.
// Thread-safe.
class LinkBatch {
 public:
  LinkBatch() = default;
  LinkBatch(const LinkBatch&) = delete;
  LinkBatch& operator=(const LinkBatch&) = delete;
  ~LinkBatch();  // flushes; an error there is only logged (call flush() to get it)
  void add_container(const std::string& id);
  void add_link(const std::string& name);
  void flush();

 private:
  std::mutex mu_;
  std::vector<std::string> prefixes_;  // veth name prefixes of the containers added
  std::vector<std::string> names_;     // links by name (bridges)
};
// Bytes the container received and sent on its veths (read from their host sides), for `stats`.
struct NetworkIo {
  uint64_t rx = 0, tx = 0;
};
NetworkIo container_network_io(const std::string& id);
// Deletes the host veths (bt<11 hex of id><n>), the namespace and the address allocations.
// Idempotent; used by rm, prune and after a failed create. With a batch the veths are left to
// it (until its flush the kernel may also delete them, as their namespace is gone).
void teardown_container_network(const std::string& id, LinkBatch* batch = nullptr);
// After a reboot: the namespace and veths again, with the addresses the records keep.
void restore_container_network(const std::string& id, const json& record);
// Connect a live or stopped container to one more network (`network connect`), and back.
void connect_container(const std::string& network, const std::string& container_ref,
                       const std::vector<std::string>& aliases, const std::string& ip);
void disconnect_container(const std::string& network, const std::string& container_ref);

// Published ports of a record (HostConfig.PortBindings), bound now; conflicts name the holder
// (a Berth container by name, else a process).
std::vector<network::BoundPort> bind_container_ports(const std::vector<network::PortBinding>& b);
std::vector<network::PortBinding> port_bindings_of(const json& record);

}  // namespace berth::engine
