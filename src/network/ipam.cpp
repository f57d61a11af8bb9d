#include "berth/network/ipam.h"

#include <algorithm>
#include <cstdio>

#include "berth/util/error.h"

namespace berth::network {
namespace {

uint32_t mask_of(int prefix) { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }

// Strict decimal 0..max: no sign, no leading zeros (Go's parser, hence Docker's, rejects them).
std::optional<uint32_t> parse_decimal(const std::string& s, uint32_t max) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint32_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

std::optional<uint32_t> try_parse_ipv4(const std::string& s) {
  uint32_t addr = 0;
  size_t start = 0;
  for (int part = 0; part < 4; ++part) {
    size_t end = part == 3 ? s.size() : s.find('.', start);
    if (end == std::string::npos) return std::nullopt;
    auto octet = parse_decimal(s.substr(start, end - start), 255);
    if (!octet) return std::nullopt;
    addr = addr << 8 | *octet;
    start = end + 1;
  }
  return addr;
}

}  // namespace

uint32_t parse_ipv4(const std::string& s, const std::string& what) {
  auto addr = try_parse_ipv4(s);
  if (!addr)
    throw Error("invalid " + what + " \"" + s + "\": not an IPv4 address",
                "write it as four decimal numbers, like 172.18.0.1");
  return *addr;
}

Ipv4Net parse_cidr(const std::string& s, const std::string& what, bool allow_host_bits) {
  size_t slash = s.find('/');
  std::optional<uint32_t> addr, prefix;
  if (slash != std::string::npos) {
    addr = try_parse_ipv4(s.substr(0, slash));
    prefix = parse_decimal(s.substr(slash + 1), 32);
  }
  if (!addr || !prefix)
    throw Error("invalid " + what + " " + s + ": invalid CIDR block notation",
                "write it as an IPv4 address and a prefix length, like 172.20.0.0/16");
  Ipv4Net net{*addr, static_cast<int>(*prefix)};
  uint32_t network = net.addr & mask_of(net.prefix);
  if (!allow_host_bits && network != net.addr)
    throw Error("invalid " + what + " " + s + ": it should be " +
                    format_cidr({network, net.prefix}),
                "a subnet starts at its network address: clear the host bits");
  return net;
}

std::string format_ipv4(uint32_t addr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255,
                addr & 255);
  return buf;
}

std::string format_cidr(const Ipv4Net& n) { return format_ipv4(n.addr) + "/" + std::to_string(n.prefix); }

bool contains(const Ipv4Net& net, uint32_t addr) {
  uint32_t mask = mask_of(net.prefix);
  return (addr & mask) == (net.addr & mask);
}

bool overlaps(const Ipv4Net& a, const Ipv4Net& b) {
  // Two prefixes overlap exactly when the shorter one contains the other's network address.
  return a.prefix <= b.prefix ? contains(a, b.addr) : contains(b, a.addr);
}

uint32_t broadcast(const Ipv4Net& n) { return (n.addr & mask_of(n.prefix)) | ~mask_of(n.prefix); }

const std::vector<Ipv4Net>& default_pools() {
  static const std::vector<Ipv4Net> pools = [] {
    std::vector<Ipv4Net> out;
    for (uint32_t second = 17; second <= 31; ++second) out.push_back({(172u << 24) | (second << 16), 16});
    for (uint32_t third = 0; third < 256; third += 16)
      out.push_back({(192u << 24) | (168u << 16) | (third << 8), 20});
    return out;
  }();
  return pools;
}

std::optional<Ipv4Net> pick_subnet(const std::vector<Ipv4Net>& taken, const std::vector<Ipv4Net>& pools) {
  for (const auto& pool : pools) {
    bool free = std::none_of(taken.begin(), taken.end(),
                             [&](const Ipv4Net& t) { return overlaps(pool, t); });
    if (free) return pool;
  }
  return std::nullopt;
}

std::optional<uint32_t> next_free_address(const Ipv4Net& subnet, const std::optional<Ipv4Net>& range,
                                          const std::vector<uint32_t>& used) {
  uint32_t first = subnet.addr & mask_of(subnet.prefix);
  uint32_t last = broadcast(subnet);
  if (subnet.prefix <= 30) {  // /31 and /32 have no network or broadcast address (RFC 3021)
    ++first;
    --last;
  }
  if (range) {
    if (!overlaps(subnet, *range)) return std::nullopt;
    first = std::max(first, range->addr & mask_of(range->prefix));
    last = std::min(last, broadcast(*range));
    if (first > last) return std::nullopt;
  }
  std::vector<uint32_t> sorted = used;
  std::sort(sorted.begin(), sorted.end());
  // Walk the sorted used list once: the candidate moves past each address it meets.
  uint64_t candidate = first;
  for (auto it = std::lower_bound(sorted.begin(), sorted.end(), first); it != sorted.end(); ++it) {
    if (*it == candidate) ++candidate;
    else if (*it > candidate) break;
  }
  if (candidate > last) return std::nullopt;
  return static_cast<uint32_t>(candidate);
}

std::string mac_for_address(uint32_t addr) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "02:42:%02x:%02x:%02x:%02x", addr >> 24, (addr >> 16) & 255,
                (addr >> 8) & 255, addr & 255);
  return buf;
}

}  // namespace berth::network
