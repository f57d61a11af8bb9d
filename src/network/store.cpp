#include "berth/network/store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "berth/util/error.h"
#include "berth/util/file_lock.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"

namespace berth::network {
namespace {

constexpr const char* kBridgeNameOption = "com.docker.network.bridge.name";
constexpr const char* kMtuOption = "com.docker.network.driver.mtu";
constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool valid_network_name(const std::string& name) {
  if (name.empty() || !is_alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Error not_found(const std::string& name) {
  return Error("network " + name + " not found", "list networks with: berth network ls", 1);
}

std::string networks_dir(const std::string& root) { return root + "/networks"; }

std::optional<json> load_record(const std::string& path) {
  auto text = fs::read_file_if_exists(path);
  if (!text) return std::nullopt;
  try {
    return json::parse(*text);
  } catch (const json::exception&) {
    return std::nullopt;  // a damaged record reads as absent rather than breaking ls and DNS
  }
}

std::vector<json> load_all(const std::string& root) {
  std::vector<json> out;
  for (const auto& file : fs::list_dir(networks_dir(root))) {
    if (!ends_with(file, ".json")) continue;  // skips write_file_atomic's temp files
    if (auto record = load_record(networks_dir(root) + "/" + file)) out.push_back(std::move(*record));
  }
  return out;
}

std::optional<json> find_in(const std::string& root, const std::string& name_or_id) {
  if (name_or_id.empty()) return std::nullopt;
  if (valid_network_name(name_or_id))
    if (auto record = load_record(networks_dir(root) + "/" + name_or_id + ".json")) return record;
  auto all = load_all(root);
  for (const auto& record : all)
    if (record.value("Id", "") == name_or_id) return record;
  std::vector<const json*> matches;
  for (const auto& record : all)
    if (record.value("Id", "").rfind(name_or_id, 0) == 0) matches.push_back(&record);
  if (matches.size() > 1)
    throw Error("network " + name_or_id + " is ambiguous (" + std::to_string(matches.size()) +
                    " matches found based on ID)",
                "use more characters of the ID, or the network's name");
  if (matches.size() == 1) return *matches[0];
  return std::nullopt;
}

void save_record(const std::string& root, const json& record) {
  fs::mkdir_p(networks_dir(root), 0700);
  save_json_atomic(networks_dir(root) + "/" + record.at("Name").get<std::string>() + ".json", record);
}

struct NetworkAddresses {
  Ipv4Net subnet;
  uint32_t gateway = 0;
  std::optional<Ipv4Net> range;
};

NetworkAddresses addresses_of(const json& record) {
  const json& config = record.at("IPAM").at("Config").at(0);
  NetworkAddresses out;
  out.subnet = parse_cidr(config.at("Subnet").get<std::string>(), "subnet");
  out.gateway = parse_ipv4(config.at("Gateway").get<std::string>(), "gateway");
  if (config.contains("IPRange") && !config["IPRange"].get<std::string>().empty())
    out.range = parse_cidr(config["IPRange"].get<std::string>(), "ip-range");
  return out;
}

std::optional<Ipv4Net> subnet_of(const json& record) {
  try {
    return addresses_of(record).subnet;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int parse_mtu(const std::string& text) {
  int mtu = 0;
  bool digits = !text.empty() && text.size() <= 5 &&
                std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) mtu = std::stoi(text);
  if (!digits || mtu < 68 || mtu > 65535)
    throw Error("invalid " + std::string(kMtuOption) + " \"" + text + "\": the MTU must be a number from 68 to 65535",
                "use a value such as 1500, or leave the option out");
  return mtu;
}

void validate_bridge_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= kMaxInterfaceName && name != "." && name != ".." &&
            std::none_of(name.begin(), name.end(), [](char c) { return c == '/' || c == ':' || c <= ' ' || c == 127; });
  if (!ok)
    throw Error("invalid " + std::string(kBridgeNameOption) + " \"" + name + "\"",
                "an interface name has 1 to 15 characters and no '/', ':' or spaces");
}

// The record, validated against the other networks; the caller holds the networks lock.
json build_record(const std::string& root, const NetworkSpec& spec, const std::string& bridge_device) {
  int mtu = 1500;
  if (auto it = spec.options.find(kMtuOption); it != spec.options.end()) mtu = parse_mtu(it->second);

  std::optional<Ipv4Net> subnet;
  if (!spec.subnet.empty()) {
    subnet = parse_cidr(spec.subnet, "subnet");
    if (subnet->prefix > 30)
      throw Error("subnet " + spec.subnet + " of network " + spec.name + " is too small",
                  "use a prefix of /30 or shorter: it needs a gateway and at least one container address");
  } else if (!spec.gateway.empty() || !spec.ip_range.empty()) {
    throw Error("every ip-range or gateway must have a corresponding subnet",
                "add --subnet for network " + spec.name);
  }

  auto others = load_all(root);
  std::vector<Ipv4Net> taken;
  for (const auto& route : spec.taken)
    if (route.prefix > 0) taken.push_back(route);  // a default route overlaps everything
  for (const auto& other : others) {
    if (other.value("BridgeName", "") == bridge_device)
      throw Error("bridge name " + bridge_device + " is already used by network " + other.value("Name", ""),
                  "choose another " + std::string(kBridgeNameOption));
    auto other_subnet = subnet_of(other);
    if (!other_subnet) continue;
    if (subnet && overlaps(*subnet, *other_subnet))
      throw Error("Pool overlaps with other one on this address space",
                  "subnet " + spec.subnet + " overlaps network " + other.value("Name", "") + " (" +
                      format_cidr(*other_subnet) + "): choose another --subnet");
    taken.push_back(*other_subnet);
  }
  if (subnet) {
    for (const auto& route : spec.taken)
      if (route.prefix > 0 && overlaps(*subnet, route))
        throw Error("Pool overlaps with other one on this address space",
                    "subnet " + spec.subnet + " overlaps the host route " + format_cidr(route) +
                        ": choose another --subnet");
  } else {
    subnet = pick_subnet(taken);
    if (!subnet)
      throw Error("could not find an available, non-overlapping IPv4 address pool among the defaults to "
                  "assign to the network",
                  "give network " + spec.name + " an explicit --subnet, or remove unused networks (berth network prune)");
  }

  uint32_t gateway = subnet->addr + 1;
  if (!spec.gateway.empty()) {
    gateway = parse_ipv4(spec.gateway, "gateway");
    if (!contains(*subnet, gateway))
      throw Error("no matching subnet for gateway " + spec.gateway,
                  "the gateway must be an address inside " + format_cidr(*subnet));
    if (gateway == subnet->addr || gateway == broadcast(*subnet))
      throw Error("invalid gateway " + spec.gateway + ": it is the network or broadcast address of " +
                      format_cidr(*subnet),
                  "use a host address, such as " + format_ipv4(subnet->addr + 1));
  }

  json config = {{"Subnet", format_cidr(*subnet)}, {"Gateway", format_ipv4(gateway)}};
  if (!spec.ip_range.empty()) {
    Ipv4Net range = parse_cidr(spec.ip_range, "ip-range");
    if (range.prefix < subnet->prefix || !contains(*subnet, range.addr))
      throw Error("no matching subnet for range " + spec.ip_range,
                  "the ip-range must lie inside " + format_cidr(*subnet));
    config["IPRange"] = format_cidr(range);
  }

  json options = json::object();
  for (const auto& [key, value] : spec.options) options[key] = value;
  json labels = json::object();
  for (const auto& [key, value] : spec.labels) labels[key] = value;
  return json{{"Name", spec.name},
              {"Id", ""},
              {"Created", timeutil::rfc3339_nano(timeutil::now_ns())},
              {"Scope", "local"},
              {"Driver", "bridge"},
              {"EnableIPv6", false},
              {"Internal", spec.internal},
              {"Attachable", false},
              {"IPAM", {{"Driver", "default"}, {"Options", json::object()}, {"Config", json::array({config})}}},
              {"Options", options},
              {"Labels", labels},
              {"BridgeName", bridge_device},
              {"MTU", mtu},
              {"Containers", json::object()}};
}

Error already_exists(const std::string& name) {
  return Error("network with name " + name + " already exists",
               "choose another name, or remove the existing one: berth network rm " + name);
}

// Creates the record under the lock. With `existing_ok`, a record of that name is returned as is.
json create_locked(const std::string& root, const NetworkSpec& spec, bool existing_ok) {
  if (!valid_network_name(spec.name))
    throw Error("invalid network name \"" + spec.name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                "start with a letter or digit; use letters, digits, '_', '.' and '-'");
  std::string id = random_hex_id();
  std::string bridge_device = "br-" + short_id(id);
  if (auto it = spec.options.find(kBridgeNameOption); it != spec.options.end()) {
    validate_bridge_name(it->second);
    bridge_device = it->second;
  }

  FileLock lock(root + "/locks", "networks");
  if (auto current = load_record(networks_dir(root) + "/" + spec.name + ".json")) {
    if (existing_ok) return *current;
    throw already_exists(spec.name);
  }
  json record = build_record(root, spec, bridge_device);
  record["Id"] = id;
  save_record(root, record);
  return record;
}

}  // namespace

NetworkStore::NetworkStore(std::string root) : root_(std::move(root)) {}

std::string NetworkStore::record_path(const std::string& name) const {
  return networks_dir(root_) + "/" + name + ".json";
}

json NetworkStore::create(const NetworkSpec& spec) {
  // Docker's predefined networks: "bridge" is made by ensure_default, host and none need no record.
  if (spec.name == kDefaultBridgeNetwork || spec.name == "host" || spec.name == "none")
    throw already_exists(spec.name);
  if (auto it = spec.options.find(kBridgeNameOption); it != spec.options.end() && it->second == kDefaultBridgeDevice)
    throw Error("bridge name " + it->second + " is reserved for the default network " + kDefaultBridgeNetwork,
                "choose another " + std::string(kBridgeNameOption));
  return create_locked(root_, spec, false);
}

json NetworkStore::ensure_default(const std::vector<Ipv4Net>& taken, const std::string& device) {
  if (auto current = load_record(record_path(kDefaultBridgeNetwork))) return *current;
  NetworkSpec spec;
  spec.name = kDefaultBridgeNetwork;
  spec.taken = taken;
  spec.options = {{kBridgeNameOption, device},
                  {"com.docker.network.bridge.default_bridge", "true"},
                  {kMtuOption, "1500"}};
  return create_locked(root_, spec, true);
}

std::optional<json> NetworkStore::find(const std::string& name_or_id) const { return find_in(root_, name_or_id); }

std::vector<json> NetworkStore::list() const {
  auto all = load_all(root_);
  std::sort(all.begin(), all.end(),
            [](const json& a, const json& b) { return a.value("Name", "") < b.value("Name", ""); });
  return all;
}

void NetworkStore::remove(const std::string& name, bool force) {
  FileLock lock(root_ + "/locks", "networks");
  auto record = find_in(root_, name);
  if (!record) throw not_found(name);
  std::string real_name = record->at("Name").get<std::string>();
  if (real_name == kDefaultBridgeNetwork && !force)
    throw Error(real_name + " is a pre-defined network and cannot be removed",
                "containers started without --network use it");
  const json& containers = (*record)["Containers"];
  if (!force && containers.is_object() && !containers.empty()) {
    std::vector<std::string> names;
    for (const auto& [id, endpoint] : containers.items()) names.push_back(endpoint.value("Name", short_id(id)));
    std::sort(names.begin(), names.end());
    throw Error("error while removing network: network " + real_name + " has active endpoints (names: " +
                    str::join(names, ", ") + ")",
                "disconnect or remove those containers first (berth network disconnect " + real_name +
                    " <container>, or berth rm -f)");
  }
  std::string path = record_path(real_name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("remove " + path);
}

Endpoint NetworkStore::attach(const std::string& network, const EndpointRequest& req) {
  FileLock lock(root_ + "/locks", "networks");
  auto found = find_in(root_, network);
  if (!found) throw not_found(network);
  json& record = *found;
  std::string name = record.at("Name").get<std::string>();
  json& containers = record["Containers"];
  if (!containers.is_object()) containers = json::object();
  if (containers.contains(req.container_id)) return endpoint_from_record(record, req.container_id);

  NetworkAddresses net = addresses_of(record);
  std::vector<uint32_t> used{net.gateway};
  std::map<uint32_t, std::string> holders;  // address -> container name, for the error message
  for (const auto& [id, endpoint] : containers.items()) {
    auto addr = parse_cidr(endpoint.value("IPv4Address", ""), "IPv4Address", true).addr;
    used.push_back(addr);
    holders[addr] = endpoint.value("Name", short_id(id));
  }

  uint32_t address = 0;
  if (!req.requested_ip.empty()) {
    if (name == kDefaultBridgeNetwork)
      throw Error("user specified IP address is supported on user defined networks only",
                  "create a network with --subnet and connect the container to it");
    address = parse_ipv4(req.requested_ip, "IPv4 address");
    Ipv4Net allowed = net.range.value_or(net.subnet);
    if (!contains(net.subnet, address) || !contains(allowed, address))
      throw Error("no configured subnet or ip-range contain the IP address " + req.requested_ip,
                  "network " + name + " assigns addresses from " + format_cidr(allowed));
    if (net.subnet.prefix <= 30 && (address == net.subnet.addr || address == broadcast(net.subnet)))
      throw Error("invalid IPv4 address " + req.requested_ip + ": it is the network or broadcast address of " +
                      format_cidr(net.subnet),
                  "choose a host address of network " + name);
    if (address == net.gateway)
      throw Error("Address already in use: " + req.requested_ip + " is the gateway of network " + name,
                  "choose another --ip");
    if (auto holder = holders.find(address); holder != holders.end())
      throw Error("Address already in use: " + req.requested_ip + " is held by container " + holder->second +
                      " on network " + name,
                  "choose another --ip, or remove container " + holder->second);
  } else {
    auto free = next_free_address(net.subnet, net.range, used);
    if (!free)
      throw Error("no available IPv4 addresses on this network's address pools: " + name + " (" +
                      short_id(record.value("Id", "")) + ")",
                  "remove unused containers from it, or create a network with a larger --subnet");
    address = *free;
  }

  containers[req.container_id] = {
      {"Name", req.container_name},
      {"EndpointID", random_hex_id()},
      {"MacAddress", req.requested_mac.empty() ? mac_for_address(address) : req.requested_mac},
      {"IPv4Address", format_cidr({address, net.subnet.prefix})},
      {"IPv6Address", ""},
      {"DNSNames", req.dns_names},
      {"HostVeth", req.host_veth}};
  save_record(root_, record);
  return endpoint_from_record(record, req.container_id);
}

void NetworkStore::detach(const std::string& network, const std::string& container_id) {
  FileLock lock(root_ + "/locks", "networks");
  auto record = find_in(root_, network);
  if (!record) return;  // removed with force: nothing left to forget
  json& containers = (*record)["Containers"];
  if (!containers.is_object() || !containers.contains(container_id)) return;
  containers.erase(container_id);
  save_record(root_, *record);
}

void NetworkStore::rename_endpoint(const std::string& network, const std::string& container_id,
                                   const std::string& old_name, const std::string& new_name) {
  FileLock lock(root_ + "/locks", "networks");
  auto record = find_in(root_, network);
  if (!record) return;
  json& containers = (*record)["Containers"];
  if (!containers.is_object() || !containers.contains(container_id)) return;
  json& endpoint = containers[container_id];
  endpoint["Name"] = new_name;
  if (endpoint.contains("DNSNames") && endpoint["DNSNames"].is_array())
    for (auto& n : endpoint["DNSNames"])
      if (n == old_name) n = new_name;
  save_record(root_, *record);
}

std::vector<std::string> NetworkStore::networks_of(const std::string& container_id) const {
  std::vector<std::string> names;
  for (const auto& record : list()) {
    auto it = record.find("Containers");
    if (it != record.end() && it->is_object() && it->contains(container_id))
      names.push_back(record.value("Name", ""));
  }
  return names;
}

Endpoint endpoint_from_record(const json& network, const std::string& container_id) {
  std::string name = network.value("Name", "");
  auto containers = network.find("Containers");
  if (containers == network.end() || !containers->is_object() || !containers->contains(container_id))
    throw Error("container " + short_id(container_id) + " has no endpoint on network " + name,
                "connect it first: berth network connect " + name + " <container>");
  const json& entry = (*containers)[container_id];
  NetworkAddresses net = addresses_of(network);
  Ipv4Net address = parse_cidr(entry.value("IPv4Address", ""), "IPv4Address", true);
  Endpoint ep;
  ep.network = name;
  ep.network_id = network.value("Id", "");
  ep.bridge = network.value("BridgeName", "");
  ep.mtu = network.value("MTU", 1500);
  ep.address = address.addr;
  ep.gateway = net.gateway;
  ep.prefix = address.prefix;
  ep.mac = entry.value("MacAddress", "");
  ep.endpoint_id = entry.value("EndpointID", "");
  ep.host_veth = entry.value("HostVeth", "");
  ep.internal = network.value("Internal", false);
  return ep;
}

}  // namespace berth::network
