#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "berth/network/store.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"

using namespace berth::network;
using berth::json;

namespace {

struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/berth-netstore-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempRoot() { berth::fs::remove_tree(path); }
};

NetworkSpec spec_named(const std::string& name, const std::string& subnet = "") {
  NetworkSpec spec;
  spec.name = name;
  spec.subnet = subnet;
  return spec;
}

EndpointRequest request(const std::string& id, const std::string& name, const std::string& ip = "") {
  EndpointRequest req;
  req.container_id = id;
  req.container_name = name;
  req.dns_names = {name, "alias-" + name};
  req.requested_ip = ip;
  req.host_veth = "bt" + id.substr(0, 11) + "0";
  return req;
}

std::string hex_id(int n) {
  char buf[65];
  std::snprintf(buf, sizeof buf, "%064x", n);
  return buf;
}

struct Failure {
  std::string message, hint;
  int exit_code = 0;
};

Failure failure_of(auto&& fn) {
  try {
    fn();
  } catch (const berth::Error& e) {
    return {e.what(), e.hint(), e.exit_code()};
  }
  FAIL("no error thrown");
  return {};
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("store: create writes Docker's record shape") {
  TempRoot root;
  NetworkStore store(root.path);
  NetworkSpec spec = spec_named("web_default", "172.20.0.0/16");
  spec.ip_range = "172.20.5.0/24";
  spec.labels = {{"com.docker.compose.project", "web"}};
  json record = store.create(spec);

  std::string id = record["Id"];
  CHECK(is_hex64(id));
  CHECK(record["Name"] == "web_default");
  CHECK(record["Scope"] == "local");
  CHECK(record["Driver"] == "bridge");
  CHECK(record["EnableIPv6"] == false);
  CHECK(record["Internal"] == false);
  CHECK(record["Attachable"] == false);
  CHECK(record["IPAM"]["Driver"] == "default");
  CHECK(record["IPAM"]["Options"] == json::object());
  CHECK(record["IPAM"]["Config"] ==
        json::array({{{"Subnet", "172.20.0.0/16"}, {"Gateway", "172.20.0.1"}, {"IPRange", "172.20.5.0/24"}}}));
  CHECK(record["Options"] == json::object());
  CHECK(record["Labels"] == json{{"com.docker.compose.project", "web"}});
  CHECK(record["BridgeName"] == "br-" + id.substr(0, 12));
  CHECK(record["MTU"] == 1500);
  CHECK(record["Containers"] == json::object());
  std::string created = record["Created"];
  CHECK(created.size() >= 20);
  CHECK(created.back() == 'Z');

  CHECK(store.record_path("web_default") == root.path + "/networks/web_default.json");
  CHECK(berth::load_json_file(store.record_path("web_default")) == record);
  struct stat st {};
  REQUIRE(::stat((root.path + "/networks").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE("store: options, gateway and internal") {
  TempRoot root;
  NetworkStore store(root.path);
  NetworkSpec spec = spec_named("back", "10.30.0.0/24");
  spec.gateway = "10.30.0.254";
  spec.internal = true;
  spec.options = {{"com.docker.network.bridge.name", "btestbr0"}, {"com.docker.network.driver.mtu", "1400"}};
  json record = store.create(spec);
  CHECK(record["BridgeName"] == "btestbr0");
  CHECK(record["MTU"] == 1400);
  CHECK(record["Internal"] == true);
  CHECK(record["IPAM"]["Config"][0]["Gateway"] == "10.30.0.254");
  CHECK(record["Options"]["com.docker.network.driver.mtu"] == "1400");
  CHECK_FALSE(record["IPAM"]["Config"][0].contains("IPRange"));

  Endpoint ep = store.attach("back", request(hex_id(1), "db-1"));
  CHECK(format_ipv4(ep.address) == "10.30.0.1");  // the gateway sits at the top here
  CHECK(format_ipv4(ep.gateway) == "10.30.0.254");
  CHECK(ep.internal);
  CHECK(ep.mtu == 1400);
  CHECK(ep.bridge == "btestbr0");
  CHECK(ep.prefix == 24);
}

TEST_CASE("store: create picks subnets from the pools, avoiding routes and other networks") {
  TempRoot root;
  NetworkStore store(root.path);
  NetworkSpec first = spec_named("a");
  first.taken = {parse_cidr("0.0.0.0/0", "route"), parse_cidr("172.17.0.0/16", "route")};
  CHECK(store.create(first)["IPAM"]["Config"][0]["Subnet"] == "172.18.0.0/16");
  CHECK(store.create(spec_named("b"))["IPAM"]["Config"][0]["Subnet"] == "172.17.0.0/16");
  CHECK(store.create(spec_named("c"))["IPAM"]["Config"][0]["Subnet"] == "172.19.0.0/16");
  json c = *store.find("c");
  CHECK(c["IPAM"]["Config"][0]["Gateway"] == "172.19.0.1");

  NetworkSpec full = spec_named("d");
  full.taken = {parse_cidr("172.16.0.0/12", "route"), parse_cidr("192.168.0.0/16", "route")};
  Failure f = failure_of([&] { store.create(full); });
  CHECK(f.message ==
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the "
        "network");
  CHECK(f.exit_code == 125);
}

TEST_CASE("store: create errors") {
  TempRoot root;
  NetworkStore store(root.path);
  store.create(spec_named("front", "10.1.0.0/16"));

  Failure dup = failure_of([&] { store.create(spec_named("front", "10.2.0.0/16")); });
  CHECK(dup.message == "network with name front already exists");
  CHECK(dup.exit_code == 125);
  CHECK_FALSE(dup.hint.empty());
  for (const char* predefined : {"bridge", "host", "none"})
    CHECK(failure_of([&] { store.create(spec_named(predefined)); }).message ==
          std::string("network with name ") + predefined + " already exists");

  for (const char* bad : {"", "-x", "_x", ".x", "a b", "a/b", "é"})
    CHECK(failure_of([&] { store.create(spec_named(bad)); }).message.find("invalid network name") == 0);
  CHECK_NOTHROW(store.create(spec_named("A1_b.c-d", "10.99.0.0/24")));

  CHECK(failure_of([&] { store.create(spec_named("o", "10.1.128.0/24")); }).message ==
        "Pool overlaps with other one on this address space");
  CHECK(failure_of([&] { store.create(spec_named("o", "10.0.0.0/8")); }).message ==
        "Pool overlaps with other one on this address space");
  NetworkSpec route = spec_named("o", "192.168.50.0/24");
  route.taken = {parse_cidr("192.168.0.0/16", "route")};
  Failure r = failure_of([&] { store.create(route); });
  CHECK(r.message == "Pool overlaps with other one on this address space");
  CHECK(r.hint.find("192.168.0.0/16") != std::string::npos);

  NetworkSpec gw = spec_named("g", "10.5.0.0/24");
  gw.gateway = "10.1.1.1";
  CHECK(failure_of([&] { store.create(gw); }).message == "no matching subnet for gateway 10.1.1.1");
  gw.gateway = "10.5.0.255";
  CHECK(failure_of([&] { store.create(gw); }).message.find("broadcast") != std::string::npos);
  gw.gateway = "10.5.0";
  CHECK(failure_of([&] { store.create(gw); }).message == "invalid gateway \"10.5.0\": not an IPv4 address");

  NetworkSpec range = spec_named("r", "10.6.0.0/24");
  range.ip_range = "10.6.1.0/28";
  CHECK(failure_of([&] { store.create(range); }).message == "no matching subnet for range 10.6.1.0/28");
  range.ip_range = "10.6.0.0/23";
  CHECK(failure_of([&] { store.create(range); }).message == "no matching subnet for range 10.6.0.0/23");

  NetworkSpec orphan = spec_named("x");
  orphan.gateway = "10.7.0.1";
  CHECK(failure_of([&] { store.create(orphan); }).message ==
        "every ip-range or gateway must have a corresponding subnet");
  CHECK(failure_of([&] { store.create(spec_named("s", "10.8.0.0/24x")); }).message ==
        "invalid subnet 10.8.0.0/24x: invalid CIDR block notation");
  CHECK(failure_of([&] { store.create(spec_named("s", "10.8.0.1/24")); }).message ==
        "invalid subnet 10.8.0.1/24: it should be 10.8.0.0/24");
  CHECK(failure_of([&] { store.create(spec_named("s", "10.8.0.0/31")); }).message.find("too small") !=
        std::string::npos);

  for (const char* mtu : {"67", "65536", "abc", "", "-1", "1500000"}) {
    NetworkSpec m = spec_named("m", "10.9.0.0/24");
    m.options = {{"com.docker.network.driver.mtu", mtu}};
    CHECK(failure_of([&] { store.create(m); }).message.find("invalid com.docker.network.driver.mtu") == 0);
  }
  NetworkSpec m = spec_named("m", "10.9.0.0/24");
  m.options = {{"com.docker.network.driver.mtu", "68"}};
  CHECK(store.create(m)["MTU"] == 68);

  NetworkSpec br = spec_named("br", "10.10.0.0/24");
  br.options = {{"com.docker.network.bridge.name", "btest-much-too-long"}};
  CHECK(failure_of([&] { store.create(br); }).message.find("invalid com.docker.network.bridge.name") == 0);
  br.options = {{"com.docker.network.bridge.name", "berth0"}};
  CHECK(failure_of([&] { store.create(br); }).message.find("reserved") != std::string::npos);
  br.options = {{"com.docker.network.bridge.name", "btestbr1"}};
  store.create(br);
  NetworkSpec br2 = spec_named("br2", "10.11.0.0/24");
  br2.options = br.options;
  CHECK(failure_of([&] { store.create(br2); }).message == "bridge name btestbr1 is already used by network br");

  // Nothing half-written by the failures.
  std::vector<std::string> names;
  for (const auto& n : store.list()) names.push_back(n["Name"]);
  CHECK(names == std::vector<std::string>{"A1_b.c-d", "br", "front", "m"});
}

TEST_CASE("store: ensure_default") {
  TempRoot root;
  NetworkStore store(root.path);
  json bridge = store.ensure_default({parse_cidr("172.17.0.0/16", "route")});
  CHECK(bridge["Name"] == "bridge");
  CHECK(bridge["BridgeName"] == "berth0");
  CHECK(bridge["IPAM"]["Config"][0]["Subnet"] == "172.18.0.0/16");
  CHECK(bridge["Options"]["com.docker.network.bridge.name"] == "berth0");
  CHECK(store.ensure_default({}) == bridge);  // created once
  CHECK(failure_of([&] { store.remove("bridge"); }).message == "bridge is a pre-defined network and cannot be removed");
  CHECK(failure_of([&] { store.attach("bridge", request(hex_id(1), "x", "172.18.0.9")); }).message ==
        "user specified IP address is supported on user defined networks only");
  CHECK(format_ipv4(store.attach("bridge", request(hex_id(1), "x")).address) == "172.18.0.2");
  store.remove("bridge", true);
  CHECK_FALSE(store.find("bridge"));
}

TEST_CASE("store: find by name, id and unique id prefix; list sorted") {
  TempRoot root;
  NetworkStore store(root.path);
  json zeta = store.create(spec_named("zeta", "10.1.0.0/24"));
  json alpha = store.create(spec_named("alpha", "10.2.0.0/24"));
  std::string id = zeta["Id"];

  CHECK((*store.find("zeta"))["Id"] == id);
  CHECK((*store.find(id))["Name"] == "zeta");
  CHECK((*store.find(id.substr(0, 12)))["Name"] == "zeta");
  CHECK_FALSE(store.find("nope"));
  CHECK_FALSE(store.find(""));
  CHECK_FALSE(store.find("../zeta"));

  auto listed = store.list();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["Name"] == "alpha");
  CHECK(listed[1]["Name"] == "zeta");

  // Two ids sharing a prefix: the prefix is ambiguous, a name equal to it still wins.
  json a = *store.find("alpha");
  a["Id"] = "abc" + std::string(61, '1');
  berth::save_json_atomic(store.record_path("alpha"), a);
  json z = *store.find("zeta");
  z["Id"] = "abc" + std::string(61, '2');
  berth::save_json_atomic(store.record_path("zeta"), z);
  CHECK(failure_of([&] { store.find("abc"); }).message == "network abc is ambiguous (2 matches found based on ID)");
  CHECK((*store.find("abc1"))["Name"] == "alpha");
  // A stray temp file from an interrupted write is not a network.
  berth::fs::write_file(root.path + "/networks/alpha.json.tmp-1234", "{", 0600);
  CHECK(store.list().size() == 2);
}

TEST_CASE("store: attach, re-attach, detach, networks_of") {
  TempRoot root;
  NetworkStore store(root.path);
  json record = store.create(spec_named("app", "172.30.0.0/16"));
  store.create(spec_named("other", "172.31.0.0/24"));

  Endpoint web = store.attach("app", request(hex_id(1), "web-1"));
  CHECK(web.network == "app");
  CHECK(web.network_id == record["Id"]);
  CHECK(web.bridge == record["BridgeName"]);
  CHECK(web.mtu == 1500);
  CHECK(format_ipv4(web.address) == "172.30.0.2");
  CHECK(format_ipv4(web.gateway) == "172.30.0.1");
  CHECK(web.prefix == 16);
  CHECK(web.mac == "02:42:ac:1e:00:02");
  CHECK(is_hex64(web.endpoint_id));
  CHECK(web.host_veth == "bt" + hex_id(1).substr(0, 11) + "0");
  CHECK_FALSE(web.internal);

  json entry = (*store.find("app"))["Containers"][hex_id(1)];
  CHECK(entry == json{{"Name", "web-1"},
                      {"EndpointID", web.endpoint_id},
                      {"MacAddress", "02:42:ac:1e:00:02"},
                      {"IPv4Address", "172.30.0.2/16"},
                      {"IPv6Address", ""},
                      {"DNSNames", {"web-1", "alias-web-1"}},
                      {"HostVeth", web.host_veth}});

  // Same container again (even asking for something else): the same endpoint, unchanged.
  Endpoint again = store.attach("app", request(hex_id(1), "renamed", "172.30.9.9"));
  CHECK(again.endpoint_id == web.endpoint_id);
  CHECK(again.address == web.address);
  CHECK((*store.find("app"))["Containers"][hex_id(1)]["Name"] == "web-1");

  Endpoint db = store.attach("app", request(hex_id(2), "db-1", "172.30.1.5"));
  CHECK(format_ipv4(db.address) == "172.30.1.5");
  CHECK(format_ipv4(store.attach("app", request(hex_id(3), "cache-1")).address) == "172.30.0.3");
  store.attach("other", request(hex_id(2), "db-1"));
  CHECK(store.networks_of(hex_id(2)) == std::vector<std::string>{"app", "other"});
  CHECK(store.networks_of(hex_id(1)) == std::vector<std::string>{"app"});
  CHECK(store.networks_of(hex_id(9)).empty());

  Endpoint restored = endpoint_from_record(*store.find("app"), hex_id(2));
  CHECK(restored.address == db.address);
  CHECK(restored.endpoint_id == db.endpoint_id);
  CHECK(restored.mac == "02:42:ac:1e:01:05");
  CHECK_THROWS_AS(endpoint_from_record(*store.find("app"), hex_id(9)), berth::Error);

  // A freed address is handed out again, lowest first.
  store.detach("app", hex_id(1));
  store.detach("app", hex_id(1));           // absent: no error
  store.detach("missing", hex_id(1));       // no such network: no error
  CHECK_FALSE((*store.find("app"))["Containers"].contains(hex_id(1)));
  CHECK(format_ipv4(store.attach("app", request(hex_id(4), "web-2")).address) == "172.30.0.2");
  CHECK(store.networks_of(hex_id(1)).empty());

  // By id works too.
  std::string id = record["Id"];
  CHECK(store.attach(id.substr(0, 10), request(hex_id(5), "x")).network == "app");
}

TEST_CASE("store: attach errors") {
  TempRoot root;
  NetworkStore store(root.path);
  NetworkSpec spec = spec_named("app", "10.40.0.0/24");
  spec.ip_range = "10.40.0.16/30";
  store.create(spec);
  store.attach("app", request(hex_id(1), "web-1", "10.40.0.17"));

  Failure missing = failure_of([&] { store.attach("nope", request(hex_id(2), "x")); });
  CHECK(missing.message == "network nope not found");
  CHECK(missing.exit_code == 1);
  CHECK(failure_of([&] { store.attach("app", request(hex_id(2), "x", "10.41.0.5")); }).message ==
        "no configured subnet or ip-range contain the IP address 10.41.0.5");
  CHECK(failure_of([&] { store.attach("app", request(hex_id(2), "x", "10.40.0.100")); }).message ==
        "no configured subnet or ip-range contain the IP address 10.40.0.100");
  CHECK(failure_of([&] { store.attach("app", request(hex_id(2), "x", "10.40.0.17")); }).message ==
        "Address already in use: 10.40.0.17 is held by container web-1 on network app");
  CHECK(failure_of([&] { store.attach("app", request(hex_id(2), "x", "10.40.0")); }).message ==
        "invalid IPv4 address \"10.40.0\": not an IPv4 address");

  NetworkSpec gw = spec_named("gw", "10.50.0.0/24");
  store.create(gw);
  CHECK(failure_of([&] { store.attach("gw", request(hex_id(2), "x", "10.50.0.1")); }).message ==
        "Address already in use: 10.50.0.1 is the gateway of network gw");
  CHECK(failure_of([&] { store.attach("gw", request(hex_id(2), "x", "10.50.0.255")); }).message.find(
            "broadcast") != std::string::npos);

  // The range 10.40.0.16/30 holds .16 .. .19: .17 is taken, three remain.
  CHECK(format_ipv4(store.attach("app", request(hex_id(2), "a")).address) == "10.40.0.16");
  CHECK(format_ipv4(store.attach("app", request(hex_id(3), "b")).address) == "10.40.0.18");
  CHECK(format_ipv4(store.attach("app", request(hex_id(4), "c")).address) == "10.40.0.19");
  std::string id = (*store.find("app"))["Id"];
  Failure full = failure_of([&] { store.attach("app", request(hex_id(5), "d")); });
  CHECK(full.message == "no available IPv4 addresses on this network's address pools: app (" + id.substr(0, 12) + ")");
}

TEST_CASE("store: remove") {
  TempRoot root;
  NetworkStore store(root.path);
  store.create(spec_named("app", "10.60.0.0/24"));
  store.attach("app", request(hex_id(1), "web-1"));
  store.attach("app", request(hex_id(2), "db-1"));

  Failure busy = failure_of([&] { store.remove("app"); });
  CHECK(busy.message == "error while removing network: network app has active endpoints (names: db-1, web-1)");
  CHECK_FALSE(busy.hint.empty());
  CHECK(busy.exit_code == 125);
  CHECK(store.find("app"));

  store.detach("app", hex_id(1));
  store.detach("app", hex_id(2));
  store.remove("app");
  CHECK_FALSE(store.find("app"));
  CHECK_FALSE(berth::fs::exists(store.record_path("app")));
  Failure gone = failure_of([&] { store.remove("app"); });
  CHECK(gone.message == "network app not found");
  CHECK(gone.exit_code == 1);

  std::string id = store.create(spec_named("forced", "10.61.0.0/24"))["Id"];
  store.attach("forced", request(hex_id(1), "web-1"));
  store.remove(id.substr(0, 8), true);  // by id prefix, with endpoints
  CHECK(store.list().empty());
  // The freed subnet can be used again.
  CHECK_NOTHROW(store.create(spec_named("again", "10.61.0.0/24")));
}

TEST_CASE("store: concurrent attach from 8 processes hands out 80 distinct addresses") {
  TempRoot root;
  NetworkStore store(root.path);
  store.create(spec_named("busy", "10.70.0.0/24"));

  constexpr int kChildren = 8, kEach = 10;
  std::vector<pid_t> pids;
  for (int child = 0; child < kChildren; ++child) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        NetworkStore own(root.path);
        for (int i = 0; i < kEach; ++i) {
          int n = child * kEach + i + 1;
          own.attach("busy", request(hex_id(n), "c-" + std::to_string(n)));
        }
      } catch (...) {
        status = 1;
      }
      ::_exit(status);
    }
    pids.push_back(pid);
  }
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  CHECK(failed == 0);

  json record = *store.find("busy");
  CHECK(record["Containers"].size() == kChildren * kEach);
  std::set<std::string> addresses, macs;
  for (const auto& [id, entry] : record["Containers"].items()) {
    addresses.insert(entry["IPv4Address"].get<std::string>());
    macs.insert(entry["MacAddress"].get<std::string>());
  }
  CHECK(addresses.size() == 80);
  CHECK(macs.size() == 80);
  CHECK(addresses.count("10.70.0.1/24") == 0);  // never the gateway
  // Lowest first: exactly .2 .. .81.
  CHECK(addresses.count("10.70.0.2/24") == 1);
  CHECK(addresses.count("10.70.0.81/24") == 1);
}
