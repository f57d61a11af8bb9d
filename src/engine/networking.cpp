// Networks and a container's network namespace: see include/berth/engine/networking.h.
#include "berth/engine/networking.h"

#include <algorithm>
#include <regex>
#include <cstdio>
#include <cstdlib>

#include "berth/engine/engine.h"
#include "berth/network/nat.h"
#include "berth/network/netlink.h"
#include "berth/network/netns.h"
#include "berth/util/error.h"
#include "berth/util/file_lock.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/paths.h"
#include "berth/util/sha256.h"
#include "berth/util/strings.h"

namespace berth::engine {

namespace {

network::NetworkStore store() { return network::NetworkStore(paths::state_root()); }

// Host-side veth of a container's n-th network: "bt" + 11 hex + n, within IFNAMSIZ (15).
std::string veth_name(const std::string& id, size_t n) { return "bt" + id.substr(0, 11) + std::to_string(n); }
std::string veth_prefix(const std::string& id) { return "bt" + id.substr(0, 11); }

json endpoint_settings(const network::Endpoint& ep, const std::vector<std::string>& aliases,
                       const std::vector<std::string>& dns_names) {
  return {{"NetworkID", ep.network_id},
          {"EndpointID", ep.endpoint_id},
          {"Gateway", ep.internal ? "" : network::format_ipv4(ep.gateway)},
          {"IPAddress", network::format_ipv4(ep.address)},
          {"IPPrefixLen", ep.prefix},
          {"MacAddress", ep.mac},
          {"Aliases", aliases},
          {"DNSNames", dns_names}};
}

std::string record_name(const json& rec) { return rec.value("Name", ""); }

// What ensure_bridge needs from a record: device, gateway/prefix, MTU.
network::Endpoint bridge_of(const json& rec) {
  network::Endpoint ep;
  ep.network = record_name(rec);
  ep.network_id = rec.value("Id", "");
  ep.bridge = rec.value("BridgeName", "");
  ep.mtu = rec.value("MTU", 1500);
  const json& cfg = rec["IPAM"]["Config"][0];
  auto subnet = network::parse_cidr(cfg.value("Subnet", ""), "subnet");
  ep.prefix = subnet.prefix;
  ep.gateway = network::parse_ipv4(cfg.value("Gateway", ""), "gateway");
  ep.internal = rec.value("Internal", false);
  return ep;
}

json find_network_or_throw(const std::string& ref) {
  if (ref == network::kDefaultBridgeNetwork) return ensure_default_network();
  auto rec = store().find(ref);
  if (!rec)
    throw Error("network " + ref + " not found", "create it with berth network create " + ref +
                                                     ", or list them with berth network ls");
  return *rec;
}

// The DNS names a container answers to on a user network: its name, its aliases, its short id.
std::vector<std::string> dns_names_for(const std::string& id, const std::string& name,
                                       const std::vector<std::string>& aliases) {
  std::vector<std::string> names{name};
  for (const auto& a : aliases)
    if (std::find(names.begin(), names.end(), a) == names.end()) names.push_back(a);
  names.push_back(short_id(id));
  return names;
}

// The supervisor's view of the networks (DNS records, --rm release) follows connect and
// disconnect: its DNS responder re-reads the record list when this file changes; the rest takes
// effect when the supervisor (re)starts.
void update_launch_plan_networks(const std::string& id, const std::vector<std::string>& order, const json& record) {
  std::string path = container_paths(id).run_dir + "/launch.json";
  auto text = fs::read_file_if_exists(path);
  if (!text) return;
  json plan = json::parse(*text);
  plan["networks"] = order;
  auto st = store();
  std::vector<std::string> records;
  bool forward = false;
  for (const auto& n : order) {
    if (n == network::kDefaultBridgeNetwork) continue;  // the default bridge has no DNS
    records.push_back(st.record_path(n));
    if (auto rec = st.find(n)) forward |= !rec->value("Internal", false);
  }
  if (records.empty()) {
    plan["dns"] = nullptr;
  } else {
    json dns = plan["dns"].is_object() ? plan["dns"] : json::object();
    dns["Namespace"] = netns_path(id);
    dns["Records"] = records;
    dns["Forward"] = forward;
    // A new section (the first user network of a container that had none): its --dns servers.
    if (!dns.contains("Upstreams"))
      dns["Upstreams"] = record.contains("HostConfig") ? record["HostConfig"].value("Dns", json::array()) : json::array();
    plan["dns"] = dns;
  }
  fs::write_file_atomic(path, plan.dump(), 0600);
}

// A container that started with only the default bridge has no embedded DNS: its resolv.conf
// names the host's resolvers. Its first user network turns the DNS on, as Docker's does: the
// launch plan got a dns section (update_launch_plan_networks, with its --dns servers as
// upstreams), resolv.conf is rewritten in place (the file is bind-mounted: the container sees the
// change) and a running supervisor starts the responder.
void enable_embedded_dns(const std::string& id) {
  std::string path = container_paths(id).state_dir + "/resolv.conf";
  auto current = fs::read_file_if_exists(path);
  if (!current || current->find("nameserver 127.0.0.11") != std::string::npos) return;
  std::string rewritten;
  for (const auto& line : str::split(*current, '\n')) {
    auto t = str::trim(line);
    if (t.rfind("search", 0) == 0 || t.rfind("domain", 0) == 0) rewritten += t + "\n";
  }
  rewritten += "nameserver 127.0.0.11\noptions ndots:0\n";
  fs::write_file(path, rewritten, 0644);
  if (auto reply = supervisor_request(id, {{"op", "dns"}}); reply && !reply->value("ok", false))
    std::fprintf(stderr, "berth: warning: container %s: %s\n", short_id(id).c_str(),
                 reply->value("error", "the DNS responder did not start").c_str());
}

// ---- opt-in outbound NAT (docs/networking.md): table inet berth follows the records ----

void warn(const Error& e, const char* what) {
  std::fprintf(stderr, "berth: warning: %s: %s\n", what, e.what());
  if (!e.hint().empty()) std::fprintf(stderr, "  hint: %s\n", e.hint().c_str());
}

}  // namespace

// Rebuilds the whole table from every bridge network record. Serialised, so the last writer
// read the records after every earlier change. A failure warns: the network itself works
// locally, and forwarding is only turned on once the isolating rules are in.
void sync_outbound_nat() {
  try {
    if (!network::outbound_nat_enabled()) return;
    FileLock lock(paths::state_root() + "/locks", "outbound-nat");
    std::vector<network::NatNetwork> nets;
    for (const auto& rec : store().list()) {
      if (rec.value("Driver", "bridge") != "bridge" || rec.value("BridgeName", "").empty()) continue;
      const json& cfg = rec["IPAM"]["Config"];
      if (!cfg.is_array() || cfg.empty()) continue;
      nets.push_back({record_name(rec), rec.value("BridgeName", ""), cfg[0].value("Subnet", ""),
                      rec.value("Internal", false)});
    }
    network::apply_outbound_nat(nets, false);
  } catch (const Error& e) {
    warn(e, "outbound NAT not applied");
  }
}

namespace {

// A new bridge network: with NAT on, the table gains it; off, say once why nothing gets out.
void after_bridge_network_created(const json& rec) {
  bool enabled = false;
  try {
    enabled = network::outbound_nat_enabled();
  } catch (const Error& e) {
    warn(e, "outbound NAT setting");
    return;
  }
  if (enabled) {
    sync_outbound_nat();
  } else if (!rec.value("Internal", false)) {
    std::fprintf(stderr,
                 "berth: hint: containers on network %s cannot reach beyond this host: outbound NAT is off "
                 "(set BERTH_OUTBOUND_NAT=1; see docs/networking.md)\n",
                 record_name(rec).c_str());
  }
}

}  // namespace

std::vector<network::Ipv4Net> host_routes() {
  network::netlink::Socket s;
  auto routes = network::netlink::ipv4_routes(s);
  std::erase_if(routes, [](const network::Ipv4Net& n) { return n.prefix == 0; });
  return routes;
}

std::string default_bridge_device() {
  std::string root = paths::state_root();
  if (root == "/var/lib/berth") return network::kDefaultBridgeDevice;
  return "berth" + sha256_hex(root).substr(0, 8);
}

json ensure_default_network() {
  auto st = store();
  if (auto rec = st.find(network::kDefaultBridgeNetwork)) return *rec;
  json rec = st.ensure_default(host_routes(), default_bridge_device());
  after_bridge_network_created(rec);
  return rec;
}

json create_network(network::NetworkSpec spec) {
  if (spec.name == network::kDefaultBridgeNetwork || spec.name == "host" || spec.name == "none")
    throw Error("network name " + spec.name + " is reserved (a predefined network)", "choose another name");
  spec.taken = host_routes();
  json rec = store().create(spec);
  // The bridge exists from now on, as Docker's does; a failure leaves no record.
  try {
    network::ensure_bridge(bridge_of(rec));
  } catch (...) {
    store().remove(record_name(rec), true);
    throw;
  }
  after_bridge_network_created(rec);
  return rec;
}

std::vector<json> list_networks() { return store().list(); }

json inspect_network(const std::string& ref) { return find_network_or_throw(ref); }

void remove_network(const std::string& ref, LinkBatch* links) {
  json rec = find_network_or_throw(ref);
  std::string name = record_name(rec);
  if (name == network::kDefaultBridgeNetwork)
    throw Error("bridge is a pre-defined network and cannot be removed", "");
  store().remove(name);
  if (links)
    links->add_link(rec.value("BridgeName", ""));
  else
    network::remove_bridge(rec.value("BridgeName", ""));
  sync_outbound_nat();
}

std::vector<std::string> prune_networks() {
  std::vector<std::string> removed;
  for (const auto& rec : list_networks()) {
    std::string name = record_name(rec);
    if (name == network::kDefaultBridgeNetwork) continue;
    if (rec.contains("Containers") && !rec["Containers"].empty()) continue;
    try {
      store().remove(name);
      network::remove_bridge(rec.value("BridgeName", ""));
      removed.push_back(name);
    } catch (const Error&) {
      // gained an endpoint meanwhile: it is in use
    }
  }
  if (!removed.empty()) sync_outbound_nat();
  return removed;
}

std::string netns_path(const std::string& id) { return paths::run_root() + "/netns/" + id; }

void validate_network_request(const NetworkRequest& req) {
  if (!req.mac.empty()) {
    static const std::regex mac_re("^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$");
    if (!std::regex_match(req.mac, mac_re))
      throw Error("invalid argument \"" + req.mac + "\" for \"--mac-address\" flag: not a valid mac address",
                  "give six hex pairs, e.g. 02:42:ac:11:00:02");
    if (!is_bridge_mode(req.mode))
      throw Error("conflicting options: mac-address and the network mode " + req.mode,
                  "--mac-address needs a bridge network");
  }
  if (!is_bridge_mode(req.mode)) {
    if (!req.aliases.empty())
      throw Error("network-scoped aliases are only supported for user-defined networks",
                  "create a network (berth network create NAME) and use --network NAME");
    if (!req.ip.empty())
      throw Error("--ip needs a user-defined network", "use --network NAME with a network you created");
    return;
  }
  if (req.mode == network::kDefaultBridgeNetwork) {
    if (!req.aliases.empty())
      throw Error("network-scoped aliases are only supported for user-defined networks",
                  "create a network (berth network create NAME) and use --network NAME");
    if (!req.ip.empty())
      throw Error("user specified IP address is supported on user defined networks only",
                  "create a network with --subnet and use --network NAME --ip ADDR");
    return;
  }
  find_network_or_throw(req.mode);
}

ContainerNetwork setup_container_network(const std::string& id, const std::string& name,
                                         const NetworkRequest& req, bool configure) {
  ContainerNetwork out;
  if (!is_bridge_mode(req.mode)) return out;
  json rec = find_network_or_throw(req.mode);
  bool user_network = record_name(rec) != network::kDefaultBridgeNetwork;
  network::EndpointRequest er;
  er.container_id = id;
  er.container_name = name;
  if (user_network) er.dns_names = dns_names_for(id, name, req.aliases);
  er.requested_ip = req.ip;
  er.requested_mac = req.mac;  // kept in the record: a restore after a reboot sets it again
  er.host_veth = veth_name(id, 0);
  auto st = store();
  try {
    network::Endpoint ep = st.attach(record_name(rec), er);
    std::string ns = netns_path(id);
    fs::mkdir_p(paths::run_root() + "/netns", 0700);
    network::create_netns(ns);
    out.netns_path = ns;
    out.endpoints.push_back(ep);
    if (configure) configure_container_network(out);
    out.dns = user_network;
    out.dns_forward = user_network && !ep.internal;
    out.dns_records = {st.record_path(record_name(rec))};
    out.settings = {{record_name(rec), endpoint_settings(ep, req.aliases, er.dns_names)}};
  } catch (...) {
    teardown_container_network(id);
    throw;
  }
  return out;
}

void configure_container_network(const ContainerNetwork& net) {
  if (net.endpoints.empty()) return;
  const network::Endpoint& ep = net.endpoints[0];
  UniqueFd fd = network::open_netns(net.netns_path);
  network::setup_namespace_defaults(fd.get());
  network::ensure_bridge(ep);
  network::setup_endpoint(fd.get(), ep, "eth0", !ep.internal);
}

NetworkIo container_network_io(const std::string& id) {
  NetworkIo io;
  auto counter = [](const std::string& link, const char* name) -> uint64_t {
    auto text = fs::read_file_if_exists("/sys/class/net/" + link + "/statistics/" + name);
    return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
  };
  for (const auto& link : fs::list_dir("/sys/class/net"))
    if (link.rfind(veth_prefix(id), 0) == 0) {
      // What the host side receives, the container sent.
      io.rx += counter(link, "tx_bytes");
      io.tx += counter(link, "rx_bytes");
    }
  return io;
}

LinkBatch::~LinkBatch() {
  try {
    flush();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth: warning: %s\n", e.what());
  }
}

void LinkBatch::add_container(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  prefixes_.push_back(veth_prefix(id));
}

void LinkBatch::add_link(const std::string& name) {
  if (name.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  names_.push_back(name);
}

void LinkBatch::flush() {
  std::vector<std::string> prefixes, doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    prefixes.swap(prefixes_);
    doomed.swap(names_);
  }
  if (prefixes.empty() && doomed.empty()) return;
  network::netlink::Socket s;
  if (!prefixes.empty())
    for (const auto& link : network::netlink::link_names(s))
      for (const auto& prefix : prefixes)
        if (link.rfind(prefix, 0) == 0) doomed.push_back(link);
  network::netlink::delete_links(s, doomed);
}

void teardown_container_network(const std::string& id, LinkBatch* batch) {
  auto st = store();
  auto nets = st.networks_of(id);
  std::string ns = netns_path(id);
  if (nets.empty() && !fs::exists(ns)) return;
  // Host veths explicitly (the kernel would delete them with the namespace, but asynchronously).
  // With a caller's batch they go later, with other containers'; else now, through a batch of one.
  LinkBatch own;
  (batch ? *batch : own).add_container(id);
  own.flush();
  network::remove_netns(ns);
  for (const auto& net : nets) st.detach(net, id);
}

void restore_container_network(const std::string& id, const json& record) {
  const json& berth = record.contains("Berth") ? record["Berth"] : json::object();
  auto order = berth.value("Networks", std::vector<std::string>{});
  if (order.empty()) return;
  std::string ns = netns_path(id);
  if (network::netns_mounted(ns)) return;  // still there: /run survived and so did the namespace
  // Old veths would hold the names: remove them, keep the address allocations.
  {
    network::netlink::Socket s;
    for (const auto& link : network::netlink::link_names(s))
      if (link.rfind(veth_prefix(id), 0) == 0) network::netlink::delete_link(s, link);
  }
  network::remove_netns(ns);
  fs::mkdir_p(paths::run_root() + "/netns", 0700);
  network::create_netns(ns);
  UniqueFd fd = network::open_netns(ns);
  network::setup_namespace_defaults(fd.get());
  bool have_default_route = false;
  for (size_t i = 0; i < order.size(); ++i) {
    json rec = find_network_or_throw(order[i]);
    network::Endpoint ep = network::endpoint_from_record(rec, id);
    network::ensure_bridge(ep);
    bool route = !ep.internal && !have_default_route;
    network::setup_endpoint(fd.get(), ep, "eth" + std::to_string(i), route);
    have_default_route |= route;
  }
}

void connect_container(const std::string& net, const std::string& container_ref,
                       const std::vector<std::string>& aliases, const std::string& ip) {
  std::string id = resolve_container(container_ref);
  auto cp = container_paths(id);
  json record = json::parse(fs::read_file(cp.state_dir + "/config.json"));
  std::string mode = record["HostConfig"].value("NetworkMode", "");
  if (!is_bridge_mode(mode))
    throw Error("container " + container_ref + " uses network mode " + mode + ": it cannot join networks",
                "recreate it with --network NAME");
  json rec = find_network_or_throw(net);
  std::string name = record_name(rec);
  auto order = record["Berth"].value("Networks", std::vector<std::string>{});
  if (std::find(order.begin(), order.end(), name) != order.end())
    throw Error("endpoint with name " + record.value("Name", "/").substr(1) + " already exists in network " + name,
                "it is connected already");
  std::string cname = record.value("Name", "/").substr(1);
  network::EndpointRequest er;
  er.container_id = id;
  er.container_name = cname;
  if (name != network::kDefaultBridgeNetwork) er.dns_names = dns_names_for(id, cname, aliases);
  er.requested_ip = ip;
  er.host_veth = veth_name(id, order.size());
  auto st = store();
  network::Endpoint ep = st.attach(name, er);
  try {
    UniqueFd fd = network::open_netns(netns_path(id));
    network::ensure_bridge(ep);
    network::setup_endpoint(fd.get(), ep, "eth" + std::to_string(order.size()), false);
  } catch (...) {
    network::teardown_endpoint(er.host_veth);
    st.detach(name, id);
    throw;
  }
  order.push_back(name);
  record["Berth"]["Networks"] = order;
  record["NetworkSettings"]["Networks"][name] = endpoint_settings(ep, aliases, er.dns_names);
  fs::write_file_atomic(cp.state_dir + "/config.json", record.dump(), 0600);
  update_launch_plan_networks(id, order, record);
  if (name != network::kDefaultBridgeNetwork) enable_embedded_dns(id);
}

void disconnect_container(const std::string& net, const std::string& container_ref) {
  std::string id = resolve_container(container_ref);
  auto cp = container_paths(id);
  json record = json::parse(fs::read_file(cp.state_dir + "/config.json"));
  json rec = find_network_or_throw(net);
  std::string name = record_name(rec);
  auto order = record["Berth"].value("Networks", std::vector<std::string>{});
  auto it = std::find(order.begin(), order.end(), name);
  if (it == order.end())
    throw Error("container " + container_ref + " is not connected to network " + name, "");
  network::Endpoint ep = network::endpoint_from_record(rec, id);
  if (!ep.host_veth.empty()) network::teardown_endpoint(ep.host_veth);
  store().detach(name, id);
  order.erase(it);
  record["Berth"]["Networks"] = order;
  record["NetworkSettings"]["Networks"].erase(name);
  fs::write_file_atomic(cp.state_dir + "/config.json", record.dump(), 0600);
  update_launch_plan_networks(id, order, record);
}

std::vector<network::PortBinding> port_bindings_of(const json& record) {
  std::vector<network::PortBinding> out;
  const json& host = record.contains("HostConfig") ? record["HostConfig"] : json::object();
  if (!host.contains("PortBindings") || !host["PortBindings"].is_object()) return out;
  for (const auto& [key, list] : host["PortBindings"].items()) {
    auto slash = key.find('/');
    network::PortBinding b;
    b.container_port = static_cast<uint16_t>(std::stoi(key.substr(0, slash)));
    b.proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
    for (const auto& h : list) {
      b.host_ip = h.value("HostIp", "");
      if (b.host_ip == "0.0.0.0") b.host_ip.clear();
      std::string hp = h.value("HostPort", "");
      b.host_port = hp.empty() ? 0 : static_cast<uint16_t>(std::stoi(hp));
      out.push_back(b);
    }
  }
  return out;
}

std::vector<network::BoundPort> bind_container_ports(const std::vector<network::PortBinding>& bindings) {
  if (bindings.empty()) return {};
  raise_fd_limit();  // a wide range holds a socket per port (the container keeps the original limit)
  // A conflict with one of ours names the container: running containers' recorded ports.
  auto holder = [](const network::PortBinding& want) -> std::string {
    for (const auto& v : list_containers()) {
      if (v.status != "running" && v.status != "restarting" && v.status != "paused") continue;
      const json& ports = v.record["NetworkSettings"].contains("Ports") ? v.record["NetworkSettings"]["Ports"]
                                                                        : json::object();
      for (const auto& [key, list] : ports.items()) {
        auto slash = key.find('/');
        std::string proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
        if (proto != want.proto || !list.is_array()) continue;
        for (const auto& h : list)
          if (h.value("HostPort", "") == std::to_string(want.host_port))
            return "container " + v.name + " (" + short_id(v.id) + ")";
      }
    }
    return "";
  };
  return network::bind_ports(bindings, holder);
}

}  // namespace berth::engine
