#pragma once
// IPv4 address management: subnets, pools, addresses. Pure functions (no I/O): unit-tested.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::network {

struct Ipv4Net {
  uint32_t addr = 0;  // host byte order; for a subnet, the network address
  int prefix = 32;
  bool operator==(const Ipv4Net&) const = default;
};

// "172.18.0.0/16" (host bits must be zero unless allow_host_bits). Error names `what` (e.g. "--subnet").
Ipv4Net parse_cidr(const std::string& s, const std::string& what, bool allow_host_bits = false);
// "172.18.0.1" -> host-order address; Error naming `what` when invalid.
uint32_t parse_ipv4(const std::string& s, const std::string& what);
std::string format_ipv4(uint32_t addr);
std::string format_cidr(const Ipv4Net& n);  // "172.18.0.0/16"
bool contains(const Ipv4Net& net, uint32_t addr);
bool overlaps(const Ipv4Net& a, const Ipv4Net& b);
uint32_t broadcast(const Ipv4Net& n);

// Docker's default pools, in order: 172.17.0.0/16 ... 172.31.0.0/16, then 192.168.0.0/20,
// 192.168.16.0/20, ... 192.168.240.0/20.
const std::vector<Ipv4Net>& default_pools();
// The first pool that overlaps none of `taken` (host routes, other networks); nullopt if none.
std::optional<Ipv4Net> pick_subnet(const std::vector<Ipv4Net>& taken,
                                   const std::vector<Ipv4Net>& pools = default_pools());

// The lowest free host address of `range` (default: the whole subnet) inside `subnet`, skipping
// the network and broadcast addresses and every address in `used` (gateway included by the caller).
std::optional<uint32_t> next_free_address(const Ipv4Net& subnet, const std::optional<Ipv4Net>& range,
                                          const std::vector<uint32_t>& used);

// Docker's MAC for an address: 02:42 followed by the four address bytes ("02:42:ac:11:00:02").
std::string mac_for_address(uint32_t addr);

}  // namespace berth::network
