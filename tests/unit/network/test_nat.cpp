// Outbound NAT: the ruleset as text, the setting, and (root + libnftables only) a dry run that the
// kernel checks without committing. Nothing here changes the host's firewall or forwarding.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "berth/network/nat.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"

using namespace berth::network;

namespace {

// An environment variable set for one scope, restored afterwards.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(std::string n, const char* value) : name(std::move(n)) {
    if (const char* v = std::getenv(name.c_str())) old = v;
    if (value) ::setenv(name.c_str(), value, 1);
    else ::unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/berth-nat-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempRoot() { berth::fs::remove_tree(path); }
};

// Given out of order: the text must come out sorted by name.
std::vector<NatNetwork> three_networks() {
  return {{"web_default", "br-0123456789ab", "172.18.0.0/16", false},
          {"bridge", "berth0", "172.17.0.0/16", false},
          {"secret", "br-ba9876543210", "10.251.3.0/24", true}};
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("outbound ruleset: exact text for two networks and an internal one") {
  const std::string expected =
      "add table inet berth\n"
      "delete table inet berth\n"
      "table inet berth {\n"
      "\tchain forward {\n"
      "\t\ttype filter hook forward priority filter; policy accept;\n"
      "\t\tiifname \"berth0\" oifname \"berth0\" accept\n"
      "\t\tiifname \"br-ba9876543210\" oifname \"br-ba9876543210\" accept\n"
      "\t\tiifname \"br-0123456789ab\" oifname \"br-0123456789ab\" accept\n"
      "\t\tiifname \"berth0\" oifname \"br-ba9876543210\" drop\n"
      "\t\tiifname \"berth0\" oifname \"br-0123456789ab\" drop\n"
      "\t\tiifname \"br-ba9876543210\" oifname \"berth0\" drop\n"
      "\t\tiifname \"br-ba9876543210\" oifname \"br-0123456789ab\" drop\n"
      "\t\tiifname \"br-0123456789ab\" oifname \"berth0\" drop\n"
      "\t\tiifname \"br-0123456789ab\" oifname \"br-ba9876543210\" drop\n"
      "\t\tiifname \"br-ba9876543210\" drop\n"
      "\t\toifname \"br-ba9876543210\" drop\n"
      "\t\toifname \"berth0\" ct state established,related accept\n"
      "\t\toifname \"berth0\" drop\n"
      "\t\tiifname \"berth0\" accept\n"
      "\t\toifname \"br-0123456789ab\" ct state established,related accept\n"
      "\t\toifname \"br-0123456789ab\" drop\n"
      "\t\tiifname \"br-0123456789ab\" accept\n"
      "\t}\n"
      "\tchain postrouting {\n"
      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
      "\t\tip saddr 172.17.0.0/16 oifname != \"berth0\" masquerade\n"
      "\t\tip saddr 172.18.0.0/16 oifname != \"br-0123456789ab\" masquerade\n"
      "\t}\n"
      "}\n";
  CHECK(outbound_ruleset(three_networks()) == expected);
}

TEST_CASE("outbound ruleset: deterministic whatever the input order") {
  auto nets = three_networks();
  std::string first = outbound_ruleset(nets);
  std::swap(nets[0], nets[2]);
  CHECK(outbound_ruleset(nets) == first);
}

TEST_CASE("outbound ruleset: every pair of networks is isolated in both directions") {
  std::vector<NatNetwork> nets;
  for (int i = 0; i < 5; ++i)
    nets.push_back({"n" + std::to_string(i), "btest" + std::to_string(i), "10.99." + std::to_string(i) + ".0/24",
                    i == 3});
  std::string text = outbound_ruleset(nets);
  for (const auto& a : nets)
    for (const auto& b : nets) {
      std::string rule = "iifname \"" + a.bridge + "\" oifname \"" + b.bridge + "\" ";
      if (a.bridge == b.bridge) CHECK(count(text, rule + "accept\n") == 1);
      else CHECK(count(text, rule + "drop\n") == 1);
    }
  CHECK(count(text, "drop\n") == 5 * 4 + 2 + 4);  // pairs, internal both ways, new inbound of 4
  // Isolation comes before any accept of traffic leaving a bridge.
  CHECK(text.find("ct state") > text.find("iifname \"btest4\" oifname \"btest3\" drop\n"));
  CHECK(text.find("iifname \"btest0\" accept") > text.find("\t\toifname \"btest3\" drop\n"));
}

TEST_CASE("outbound ruleset: an internal network is closed and never masqueraded") {
  std::string text = outbound_ruleset({{"priv", "btestpriv", "10.251.3.0/24", true}});
  CHECK(text.find("\t\tiifname \"btestpriv\" drop\n") != std::string::npos);
  CHECK(text.find("\t\toifname \"btestpriv\" drop\n") != std::string::npos);
  CHECK(text.find("masquerade") == std::string::npos);
  CHECK(text.find("ct state") == std::string::npos);
  CHECK(text.find("iifname \"btestpriv\" accept") == std::string::npos);
  CHECK(text.find("10.251.3.0") == std::string::npos);
}

TEST_CASE("outbound ruleset: no networks only deletes the table") {
  CHECK(outbound_ruleset({}) == "add table inet berth\ndelete table inet berth\n");
}

TEST_CASE("outbound ruleset: bad devices and subnets are refused, nothing injected") {
  auto with = [](std::string bridge, std::string subnet) {
    return std::vector<NatNetwork>{{"n", std::move(bridge), std::move(subnet), false}};
  };
  for (const char* bad : {"", "br-0123456789abc" /* 16 */, "br\"; flush ruleset", "br x", "br\n", "br/0",
                          "br;", "brä", "br{"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(outbound_ruleset(with(bad, "10.0.0.0/24")), berth::Error);
  }
  CHECK_NOTHROW(outbound_ruleset(with("br-0123456789ab", "10.0.0.0/24")));  // 15: the maximum
  for (const char* bad : {"", "10.0.0.0", "10.0.0.1/24", "10.0.0.0/33", "10.0.0.0/24 masquerade",
                          "10.0.0.0/24\"", "fd00::/64", "300.0.0.0/8", "10.0.0.0/24; flush ruleset"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(outbound_ruleset(with("btest0", bad)), berth::Error);
  }
  // Two networks on one device would turn the isolation rules against the network itself.
  CHECK_THROWS_AS(outbound_ruleset({{"a", "btest0", "10.0.0.0/24", false}, {"b", "btest0", "10.0.1.0/24", false}}),
                  berth::Error);
}

TEST_CASE("outbound NAT setting: environment, berth.json, and which wins") {
  TempRoot root;
  ScopedEnv root_env("BERTH_ROOT", root.path.c_str());
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", nullptr);
    CHECK_FALSE(outbound_nat_enabled());  // absent everywhere: off
  }
  for (const char* on : {"1", "true", "yes", "TRUE", "Yes"}) {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", on);
    CHECK(outbound_nat_enabled());
  }
  for (const char* off : {"0", "false", "no"}) {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", off);
    CHECK_FALSE(outbound_nat_enabled());
  }
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", "maybe");
    CHECK_THROWS_AS(outbound_nat_enabled(), berth::Error);
  }

  berth::fs::write_file(root.path + "/berth.json", R"({"outbound-nat": true})");
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", nullptr);
    CHECK(outbound_nat_enabled());  // the file turns it on
  }
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", "");
    CHECK(outbound_nat_enabled());  // empty counts as unset
  }
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", "0");
    CHECK_FALSE(outbound_nat_enabled());  // the environment wins
  }
  berth::fs::write_file(root.path + "/berth.json", R"({"outbound-nat": false})");
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", "1");
    CHECK(outbound_nat_enabled());  // both ways
  }
  {
    ScopedEnv nat("BERTH_OUTBOUND_NAT", nullptr);
    CHECK_FALSE(outbound_nat_enabled());
    berth::fs::write_file(root.path + "/berth.json", R"({"other": 1})");
    CHECK_FALSE(outbound_nat_enabled());
    berth::fs::write_file(root.path + "/berth.json", R"({"outbound-nat": "yes"})");
    CHECK_THROWS_AS(outbound_nat_enabled(), berth::Error);
    berth::fs::write_file(root.path + "/berth.json", "{not json");
    CHECK_THROWS_AS(outbound_nat_enabled(), berth::Error);
  }
}

TEST_CASE("outbound ruleset: libnftables accepts it in a dry run (root only; nothing committed)") {
  if (!Nftables::available()) {
    MESSAGE("skipped: libnftables.so.1 cannot be loaded");
    return;
  }
  if (::geteuid() != 0) {
    MESSAGE("skipped: the kernel checks nft commands only for root");
    return;
  }
  auto tables = [] { return Nftables().run("list tables"); };
  std::string before = tables();
  if (before.find("inet berth") != std::string::npos) {
    MESSAGE("skipped: this host already has table inet berth (outbound NAT in use)");
    return;
  }
  std::vector<NatNetwork> nets = {{"btest-a", "btestnat0", "10.250.90.0/24", false},
                                  {"btest-b", "btestnat1", "10.250.91.0/24", true}};
  CHECK_NOTHROW(apply_outbound_nat(nets, true));
  CHECK_NOTHROW(apply_outbound_nat({}, true));
  // A broken script is reported, not half-applied.
  CHECK_THROWS_AS(Nftables(true).run("table inet berth { chain c { nonsense } }"), berth::Error);
  std::string after = tables();
  CHECK(after.find("inet berth") == std::string::npos);
  CHECK(after == before);
}
