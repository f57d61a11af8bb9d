#include "berth/network/dns.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

namespace berth::network::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxName = 253;        // text form, without the trailing dot
constexpr size_t kMaxUdpResponse = 512;  // RFC 1035 without EDNS: we never set TC
constexpr uint32_t kTtl = 600;           // Docker's embedded resolver uses 600 s

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

bool equals_ignore_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string without_trailing_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// "172.18.0.2/16" -> host-order address; nullopt for anything else.
std::optional<uint32_t> parse_cidr_address(const std::string& text) {
  std::string addr = text.substr(0, text.find('/'));
  in_addr a{};
  if (addr.empty() || inet_pton(AF_INET, addr.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

}  // namespace

std::optional<Query> parse_query(const uint8_t* data, size_t len) {
  if (data == nullptr || len < kHeaderSize) return std::nullopt;
  uint16_t flags = get16(data + 2);
  bool is_response = flags & 0x8000;
  unsigned opcode = (flags >> 11) & 0xF;
  if (is_response || opcode != 0) return std::nullopt;
  // Exactly one question and no answers/authority; additional records (EDNS OPT) are allowed.
  if (get16(data + 4) != 1 || get16(data + 6) != 0 || get16(data + 8) != 0) return std::nullopt;

  Query q;
  q.id = get16(data);
  q.recursion_desired = flags & 0x0100;
  size_t pos = kHeaderSize;
  for (;;) {
    if (pos >= len) return std::nullopt;
    uint8_t label_len = data[pos++];
    if (label_len == 0) break;
    // 0xC0 is a compression pointer, 0x40/0x80 are obsolete label types: none belong in a question.
    if (label_len > 63) return std::nullopt;
    if (pos + label_len > len) return std::nullopt;
    if (!q.name.empty()) q.name.push_back('.');
    for (size_t i = 0; i < label_len; ++i) {
      char c = static_cast<char>(data[pos + i]);
      // A dot inside a label would make two different names look the same.
      if (c == '.' || c == '\0') return std::nullopt;
      q.name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    pos += label_len;
    if (q.name.size() > kMaxName) return std::nullopt;
  }
  if (pos + 4 > len) return std::nullopt;
  q.type = get16(data + pos);
  q.qclass = get16(data + pos + 2);
  q.question_end = pos + 4;
  return q;
}

std::vector<uint8_t> build_response(const uint8_t* packet, const Query& q, uint8_t rcode,
                                    const std::vector<uint32_t>& a_records) {
  std::vector<uint8_t> out;
  size_t question_len = q.question_end > kHeaderSize ? q.question_end - kHeaderSize : 0;
  constexpr size_t kAnswerSize = 16;  // pointer(2) type(2) class(2) ttl(4) rdlength(2) rdata(4)
  // Without EDNS a UDP answer must fit 512 bytes: send as many addresses as fit rather than set
  // TC (we serve no TCP, and a partial list of replicas is still a correct answer).
  size_t room = kMaxUdpResponse > kHeaderSize + question_len
                    ? (kMaxUdpResponse - kHeaderSize - question_len) / kAnswerSize
                    : 0;
  size_t answers = std::min(a_records.size(), room);
  out.reserve(kHeaderSize + question_len + answers * kAnswerSize);

  put16(out, q.id);
  uint16_t flags = 0x8000;                       // QR
  if (rcode == kNoError && !a_records.empty()) flags |= 0x0400;  // AA: the name is ours
  if (q.recursion_desired) flags |= 0x0100;      // RD copied
  flags |= 0x0080;                               // RA
  flags |= rcode & 0xF;
  put16(out, flags);
  put16(out, question_len ? 1 : 0);
  put16(out, static_cast<uint16_t>(answers));
  put16(out, 0);
  put16(out, 0);
  if (question_len) out.insert(out.end(), packet + kHeaderSize, packet + q.question_end);
  for (size_t i = 0; i < answers; ++i) {
    put16(out, 0xC000 | kHeaderSize);  // the name is the question's
    put16(out, kTypeA);
    put16(out, kClassIN);
    put32(out, kTtl);
    put16(out, 4);
    put32(out, a_records[i]);
  }
  return out;
}

std::vector<uint8_t> build_ptr_response(const uint8_t* packet, const Query& q, uint8_t rcode,
                                        const std::string& target) {
  std::vector<uint8_t> out = build_response(packet, q, rcode, {});
  if (target.empty() || out.size() < kHeaderSize) return out;
  std::vector<uint8_t> rdata;  // the target in wire form: length-prefixed labels, then 0
  size_t start = 0;
  while (start < target.size()) {
    size_t dot = target.find('.', start);
    if (dot == std::string::npos) dot = target.size();
    size_t label = dot - start;
    if (label == 0 || label > 63) return out;  // not a name we can send: no answer
    rdata.push_back(static_cast<uint8_t>(label));
    rdata.insert(rdata.end(), target.begin() + static_cast<std::ptrdiff_t>(start),
                 target.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  rdata.push_back(0);
  // A name is at most 255 octets on the wire (RFC 1035 2.3.4): a longer one gets no answer.
  if (rdata.size() > 255 || out.size() + 12 + rdata.size() > kMaxUdpResponse) return out;
  out[2] |= 0x04;  // AA: the address is ours
  out[7] = 1;      // ANCOUNT
  put16(out, 0xC000 | kHeaderSize);  // the name is the question's
  put16(out, kTypePTR);
  put16(out, kClassIN);
  put32(out, kTtl);
  put16(out, static_cast<uint16_t>(rdata.size()));
  out.insert(out.end(), rdata.begin(), rdata.end());
  return out;
}

std::vector<uint8_t> build_error_response(const uint8_t* packet, size_t len, uint8_t rcode) {
  std::vector<uint8_t> out;
  if (packet == nullptr || len < kHeaderSize) return out;
  uint16_t query_flags = get16(packet + 2);
  out.reserve(kHeaderSize);
  put16(out, get16(packet));
  // QR, the query's opcode and RD, RA, rcode.
  put16(out, static_cast<uint16_t>(0x8000 | (query_flags & 0x7900) | 0x0080 | (rcode & 0xF)));
  for (int i = 0; i < 4; ++i) put16(out, 0);
  return out;
}

Lookup lookup(const std::vector<json>& networks, const std::string& name) {
  Lookup result;
  std::string wanted = without_trailing_dot(name);
  if (wanted.empty()) return result;
  for (const json& network : networks) {
    if (!network.is_object()) continue;
    auto containers = network.find("Containers");
    if (containers == network.end() || !containers->is_object()) continue;
    for (const auto& [id, endpoint] : containers->items()) {
      if (!endpoint.is_object()) continue;
      auto names = endpoint.find("DNSNames");
      if (names == endpoint.end() || !names->is_array()) continue;
      bool matches = std::any_of(names->begin(), names->end(), [&](const json& n) {
        return n.is_string() && equals_ignore_case(without_trailing_dot(n.get<std::string>()), wanted);
      });
      if (!matches) continue;
      result.found = true;
      auto address = endpoint.find("IPv4Address");
      if (address == endpoint.end() || !address->is_string()) continue;
      if (auto a = parse_cidr_address(address->get<std::string>())) {
        if (std::find(result.addresses.begin(), result.addresses.end(), *a) ==
            result.addresses.end())
          result.addresses.push_back(*a);
      }
    }
  }
  return result;
}

std::optional<uint32_t> parse_reverse_name(const std::string& name) {
  constexpr std::string_view kSuffix = ".in-addr.arpa";
  std::string n = without_trailing_dot(name);
  if (n.size() <= kSuffix.size() || n.compare(n.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
    return std::nullopt;
  n.resize(n.size() - kSuffix.size());
  uint32_t address = 0;
  size_t start = 0;
  for (int octet = 0; octet < 4; ++octet) {  // the octets come last-first
    size_t dot = n.find('.', start);
    if ((octet < 3) != (dot != std::string::npos)) return std::nullopt;
    std::string part = n.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    if (part.size() > 1 && part[0] == '0') return std::nullopt;
    unsigned value = static_cast<unsigned>(std::stoul(part));
    if (value > 255) return std::nullopt;
    address |= value << (8 * octet);
    start = dot + 1;
  }
  return address;
}

ReverseLookup reverse_lookup(const std::vector<json>& networks, uint32_t address) {
  ReverseLookup result;
  for (const json& network : networks) {
    if (!network.is_object()) continue;
    auto ipam = network.find("IPAM");
    if (ipam != network.end() && ipam->is_object() && ipam->contains("Config") && (*ipam)["Config"].is_array())
      for (const auto& config : (*ipam)["Config"]) {
        if (!config.is_object() || !config.contains("Subnet") || !config["Subnet"].is_string()) continue;
        std::string subnet = config["Subnet"].get<std::string>();
        auto base = parse_cidr_address(subnet);
        size_t slash = subnet.find('/');
        if (!base || slash == std::string::npos) continue;
        std::string prefix_text = subnet.substr(slash + 1);
        if (prefix_text.empty() || prefix_text.size() > 2 ||
            !std::all_of(prefix_text.begin(), prefix_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
          continue;
        int prefix = std::stoi(prefix_text);
        if (prefix > 32) continue;
        uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
        if ((address & mask) == (*base & mask)) result.in_our_subnet = true;
      }
    auto containers = network.find("Containers");
    if (containers == network.end() || !containers->is_object() || !result.target.empty()) continue;
    for (const auto& [id, endpoint] : containers->items()) {
      if (!endpoint.is_object()) continue;
      auto held = endpoint.find("IPv4Address");
      if (held == endpoint.end() || !held->is_string() || parse_cidr_address(held->get<std::string>()) != address)
        continue;
      std::string container = without_trailing_dot(endpoint.value("Name", ""));
      std::string net = network.value("Name", "");
      if (!container.empty() && !net.empty()) result.target = container + "." + net;
      break;
    }
  }
  return result;
}

std::vector<std::string> upstream_servers(const std::string& resolv_conf) {
  std::vector<std::string> servers;
  size_t start = 0;
  while (start < resolv_conf.size()) {
    size_t end = resolv_conf.find('\n', start);
    if (end == std::string::npos) end = resolv_conf.size();
    std::string line = resolv_conf.substr(start, end - start);
    start = end + 1;
    // Comments start with '#' or ';' at the beginning of a line; keep it simple and cut anywhere.
    line = line.substr(0, line.find_first_of("#;"));
    size_t p = line.find_first_not_of(" \t\r");
    if (p == std::string::npos) continue;
    constexpr std::string_view kKeyword = "nameserver";
    if (line.compare(p, kKeyword.size(), kKeyword) != 0) continue;
    p += kKeyword.size();
    if (p >= line.size() || (line[p] != ' ' && line[p] != '\t')) continue;
    p = line.find_first_not_of(" \t", p);
    if (p == std::string::npos) continue;
    std::string addr = line.substr(p, line.find_first_of(" \t\r", p) - p);
    in_addr a{};
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1) continue;  // IPv6 or garbage
    if ((ntohl(a.s_addr) >> 24) == 127) continue;             // loopback: not reachable from the container
    if (std::find(servers.begin(), servers.end(), addr) == servers.end()) servers.push_back(addr);
  }
  return servers;
}

}  // namespace berth::network::dns
