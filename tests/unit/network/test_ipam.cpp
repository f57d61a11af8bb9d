#include <doctest/doctest.h>

#include "berth/network/ipam.h"
#include "berth/util/error.h"

using namespace berth::network;

namespace {
uint32_t ip(const char* s) { return parse_ipv4(s, "address"); }
Ipv4Net net(const char* s) { return parse_cidr(s, "subnet"); }

std::string error_of(auto&& fn) {
  try {
    fn();
  } catch (const berth::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("ipam: parse and format IPv4 addresses") {
  CHECK(ip("172.18.0.1") == 0xAC120001u);
  CHECK(ip("0.0.0.0") == 0u);
  CHECK(ip("255.255.255.255") == 0xFFFFFFFFu);
  CHECK(format_ipv4(0xAC120001u) == "172.18.0.1");
  CHECK(format_ipv4(0xFFFFFFFFu) == "255.255.255.255");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..2.3", "a.b.c.d",
                          "1.2.3.4 ", "1.2.3.4/24", "1234.1.1.1"})
    CHECK_THROWS_AS(parse_ipv4(bad, "--gateway"), berth::Error);
  CHECK(error_of([] { parse_ipv4("10.1.1", "--gateway"); }) ==
        "invalid --gateway \"10.1.1\": not an IPv4 address");
}

TEST_CASE("ipam: parse and format CIDRs") {
  CHECK(net("172.18.0.0/16") == Ipv4Net{0xAC120000u, 16});
  CHECK(net("0.0.0.0/0") == Ipv4Net{0, 0});
  CHECK(net("10.1.2.3/32") == Ipv4Net{0x0A010203u, 32});
  CHECK(format_cidr(net("192.168.16.0/20")) == "192.168.16.0/20");
  CHECK(parse_cidr("172.18.0.2/16", "IPv4Address", true) == Ipv4Net{0xAC120002u, 16});
  CHECK(error_of([] { parse_cidr("10.1.1.1/24", "subnet"); }) == "invalid subnet 10.1.1.1/24: it should be 10.1.1.0/24");
  CHECK(error_of([] { parse_cidr("10.0.0.0/33", "subnet"); }) ==
        "invalid subnet 10.0.0.0/33: invalid CIDR block notation");
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/-1", "10.0.0/8", "/8", "10.0.0.0/08x"})
    CHECK_THROWS_AS(parse_cidr(bad, "subnet"), berth::Error);
}

TEST_CASE("ipam: contains, overlaps, broadcast") {
  CHECK(contains(net("172.18.0.0/16"), ip("172.18.255.254")));
  CHECK_FALSE(contains(net("172.18.0.0/16"), ip("172.19.0.1")));
  CHECK(contains(net("0.0.0.0/0"), ip("8.8.8.8")));
  CHECK(overlaps(net("10.0.0.0/8"), net("10.200.0.0/16")));
  CHECK(overlaps(net("10.200.0.0/16"), net("10.0.0.0/8")));
  CHECK(overlaps(net("10.1.0.0/16"), net("10.1.0.0/16")));
  CHECK_FALSE(overlaps(net("10.1.0.0/16"), net("10.2.0.0/16")));
  CHECK_FALSE(overlaps(net("192.168.0.0/20"), net("192.168.16.0/20")));
  CHECK(broadcast(net("172.18.0.0/16")) == ip("172.18.255.255"));
  CHECK(broadcast(net("10.1.2.4/30")) == ip("10.1.2.7"));
  CHECK(broadcast(net("0.0.0.0/0")) == 0xFFFFFFFFu);
  CHECK(broadcast(net("10.1.2.3/32")) == ip("10.1.2.3"));
}

TEST_CASE("ipam: Docker's default pools") {
  const auto& pools = default_pools();
  REQUIRE(pools.size() == 31);
  CHECK(format_cidr(pools.front()) == "172.17.0.0/16");
  CHECK(format_cidr(pools[14]) == "172.31.0.0/16");
  CHECK(format_cidr(pools[15]) == "192.168.0.0/20");
  CHECK(format_cidr(pools[16]) == "192.168.16.0/20");
  CHECK(format_cidr(pools.back()) == "192.168.240.0/20");
}

TEST_CASE("ipam: pick_subnet avoids taken routes and networks") {
  CHECK(format_cidr(*pick_subnet({})) == "172.17.0.0/16");
  // A host route inside 172.17 and a network on 172.18: the next pool is 172.19.
  CHECK(format_cidr(*pick_subnet({net("172.17.5.0/24"), net("172.18.0.0/16")})) == "172.19.0.0/16");
  // A wide route (172.16.0.0/12) covers every 172 pool.
  CHECK(format_cidr(*pick_subnet({net("172.16.0.0/12")})) == "192.168.0.0/20");
  CHECK(format_cidr(*pick_subnet({net("172.16.0.0/12"), net("192.168.1.0/24")})) == "192.168.16.0/20");
  CHECK_FALSE(pick_subnet({net("172.16.0.0/12"), net("192.168.0.0/16")}).has_value());
  CHECK(format_cidr(*pick_subnet({net("10.0.0.0/8")}, {net("10.0.0.0/16"), net("100.64.0.0/16")})) ==
        "100.64.0.0/16");
}

TEST_CASE("ipam: next_free_address") {
  Ipv4Net subnet = net("172.18.0.0/16");
  CHECK(format_ipv4(*next_free_address(subnet, std::nullopt, {ip("172.18.0.1")})) == "172.18.0.2");
  CHECK(format_ipv4(*next_free_address(subnet, std::nullopt, {})) == "172.18.0.1");
  // Holes are filled lowest first; duplicates and unsorted input are fine.
  CHECK(format_ipv4(*next_free_address(subnet, std::nullopt,
                                       {ip("172.18.0.4"), ip("172.18.0.1"), ip("172.18.0.2"), ip("172.18.0.2")})) ==
        "172.18.0.3");

  SUBCASE("a range starts at its own first address, the subnet's network address is never used") {
    CHECK(format_ipv4(*next_free_address(subnet, net("172.18.5.0/24"), {ip("172.18.0.1")})) == "172.18.5.0");
    CHECK(format_ipv4(*next_free_address(subnet, net("172.18.0.0/24"), {ip("172.18.0.1")})) == "172.18.0.2");
    CHECK(format_ipv4(*next_free_address(subnet, net("172.18.255.252/30"), {})) == "172.18.255.252");
    // The subnet's broadcast address stays out even when the range covers it.
    CHECK_FALSE(next_free_address(subnet, net("172.18.255.255/32"), {}).has_value());
    CHECK_FALSE(next_free_address(subnet, net("10.0.0.0/24"), {}).has_value());
  }
  SUBCASE("exhaustion") {
    Ipv4Net small = net("10.9.0.0/29");  // hosts .1 .. .6
    std::vector<uint32_t> used{ip("10.9.0.1")};
    for (int i = 2; i <= 6; ++i) {
      auto next = next_free_address(small, std::nullopt, used);
      REQUIRE(next);
      CHECK(*next == ip("10.9.0.0") + static_cast<uint32_t>(i));
      used.push_back(*next);
    }
    CHECK_FALSE(next_free_address(small, std::nullopt, used).has_value());
    Ipv4Net range = net("10.9.0.4/30");  // .4 .. .7, .7 is the broadcast
    CHECK_FALSE(next_free_address(small, range, {ip("10.9.0.4"), ip("10.9.0.5"), ip("10.9.0.6")}).has_value());
  }
  SUBCASE("at the top of the address space") {
    Ipv4Net top = net("255.255.255.252/30");
    CHECK(format_ipv4(*next_free_address(top, std::nullopt, {ip("255.255.255.253")})) == "255.255.255.254");
    CHECK_FALSE(next_free_address(top, std::nullopt, {ip("255.255.255.253"), ip("255.255.255.254")}).has_value());
  }
}

TEST_CASE("ipam: mac_for_address") {
  CHECK(mac_for_address(ip("172.17.0.2")) == "02:42:ac:11:00:02");
  CHECK(mac_for_address(ip("10.255.0.16")) == "02:42:0a:ff:00:10");
}
