#pragma once
// The container's DNS: a minimal RFC 1035 codec and the answers Berth gives at 127.0.0.11.
// Pure functions: unit-tested without sockets.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::network::dns {

inline constexpr uint16_t kTypeA = 1, kTypePTR = 12, kTypeAAAA = 28, kClassIN = 1;
inline constexpr uint8_t kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4,
                         kRefused = 5;

struct Query {
  uint16_t id = 0;
  bool recursion_desired = false;
  std::string name;  // lower-case, no trailing dot
  uint16_t type = 0, qclass = 0;
  size_t question_end = 0;  // offset just past the question, for building the answer
};
// nullopt for anything that is not a well-formed standard query with exactly one question.
std::optional<Query> parse_query(const uint8_t* data, size_t len);
// A response to `packet` (the query's bytes): header with QR/RA, rcode, the question copied,
// one A record (TTL 600 as Docker) per address (host byte order).
std::vector<uint8_t> build_response(const uint8_t* packet, const Query& q, uint8_t rcode,
                                    const std::vector<uint32_t>& a_records);
// The same with one PTR record pointing at `target` (a reverse lookup's answer), or none when
// target is empty.
std::vector<uint8_t> build_ptr_response(const uint8_t* packet, const Query& q, uint8_t rcode,
                                        const std::string& target);
// A header-only response (no question) with `rcode`, for queries parse_query rejects but that are
// still DNS queries (FORMERR, NOTIMP). Empty when `packet` is shorter than a header.
std::vector<uint8_t> build_error_response(const uint8_t* packet, size_t len, uint8_t rcode);

// Addresses for `name` from the container's networks (records as in network/store.h): every
// endpoint whose DNSNames contains name (case-insensitive) on any of those networks.
// found=false: no network knows the name (forward it, or NXDOMAIN when forwarding is off).
struct Lookup {
  bool found = false;
  std::vector<uint32_t> addresses;
};
Lookup lookup(const std::vector<json>& networks, const std::string& name);

// Reverse lookups ("4.0.18.172.in-addr.arpa"), as Docker's resolver answers them: the endpoint
// holding that address gives "<container name>.<network name>". in_our_subnet: the address lies
// in one of these networks (then a miss is NXDOMAIN here; no upstream knows these private names).
struct ReverseLookup {
  std::string target;  // empty: no endpoint holds the address
  bool in_our_subnet = false;
};
// nullopt when `name` is not an IPv4 in-addr.arpa name of a full address.
std::optional<uint32_t> parse_reverse_name(const std::string& name);
ReverseLookup reverse_lookup(const std::vector<json>& networks, uint32_t address);

// The upstream resolvers from a resolv.conf text: nameserver lines, IPv4 only, loopback skipped
// (Docker's rule: the container could not reach them).
std::vector<std::string> upstream_servers(const std::string& resolv_conf);

}  // namespace berth::network::dns
