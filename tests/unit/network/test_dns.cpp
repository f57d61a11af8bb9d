// The container DNS responder: codec, lookup over network records, resolv.conf parsing, and the
// server end to end over loopback sockets (no root: no namespace switch).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "berth/network/dns.h"
#include "berth/network/dns_server.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/json.h"

namespace dns = berth::network::dns;
using berth::json;
using berth::network::DnsConfig;
using berth::network::DnsServer;

namespace {

// A standard query as a stub resolver sends it; `edns` adds an OPT record like dig does.
std::vector<uint8_t> make_query(uint16_t id, const std::string& name, uint16_t type,
                                bool edns = false) {
  std::vector<uint8_t> p = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0,
                            0, uint8_t(edns ? 1 : 0)};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    p.push_back(uint8_t(dot - start));
    p.insert(p.end(), name.begin() + long(start), name.begin() + long(dot));
    start = dot + 1;
  }
  p.push_back(0);
  p.insert(p.end(), {uint8_t(type >> 8), uint8_t(type), 0, 1});
  if (edns) p.insert(p.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  return p;
}

uint16_t get16(const std::vector<uint8_t>& p, size_t at) { return uint16_t(p[at] << 8 | p[at + 1]); }
int rcode_of(const std::vector<uint8_t>& p) { return p[3] & 0xF; }
int answer_count(const std::vector<uint8_t>& p) { return get16(p, 6); }

// The A addresses of a response built by build_response (answers follow the single question).
std::vector<std::string> a_records(const std::vector<uint8_t>& p) {
  std::vector<std::string> out;
  size_t pos = 12;
  while (p[pos] != 0) pos += p[pos] + 1u;
  pos += 5;
  for (int i = 0; i < answer_count(p); ++i) {
    // name: a pointer (2 bytes) or labels
    if ((p[pos] & 0xC0) == 0xC0) {
      pos += 2;
    } else {
      while (p[pos] != 0) pos += p[pos] + 1u;
      pos += 1;
    }
    uint16_t type = get16(p, pos), rdlength = get16(p, pos + 8);
    if (type == dns::kTypeA && rdlength == 4) {
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &p[pos + 10], text, sizeof text);
      out.push_back(text);
    }
    pos += 10u + rdlength;
  }
  return out;
}

json network(const std::string& name, const std::vector<std::pair<std::string, std::vector<std::string>>>& endpoints) {
  json containers = json::object();
  int n = 0;
  for (const auto& [address, names] : endpoints) {
    containers["c" + std::to_string(n++)] = {
        {"Name", names.empty() ? "" : names[0]}, {"IPv4Address", address}, {"DNSNames", names}};
  }
  return {{"Name", name}, {"Containers", containers}};
}

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

berth::UniqueFd bound_udp(int* port) {
  berth::UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  sockaddr_in a = loopback(0);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
  *port = ntohs(a.sin_port);
  return fd;
}

// A fake upstream resolver on loopback: answers every A query with 203.0.113.7 and records the ids.
struct FakeUpstream {
  berth::UniqueFd fd;
  int port = 0;
  int queries = 0;
  std::vector<uint8_t> last_query;
  sockaddr_in last_from{};
  bool silent = false;

  FakeUpstream() { fd = bound_udp(&port); }
  void serve() {
    uint8_t buf[512];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return;
    ++queries;
    last_query.assign(buf, buf + n);
    last_from = from;
    if (silent) return;
    auto q = dns::parse_query(buf, size_t(n));
    REQUIRE(q);
    auto answer = dns::build_response(buf, *q, dns::kNoError, {0xCB007107u});  // 203.0.113.7
    sendto(fd.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
};

// One client socket; ask() sends a query and runs the loop (server + fake upstream) until the
// answer arrives or 2 s pass.
struct Client {
  berth::UniqueFd fd;
  int port = 0;
  Client() { fd = bound_udp(&port); }

  std::vector<uint8_t> ask(DnsServer& server, const std::vector<uint8_t>& query,
                           FakeUpstream* upstream = nullptr, int wait_ms = 2000) {
    sockaddr_in to = loopback(server.port());
    REQUIRE(sendto(fd.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) == ssize_t(query.size()));
    return run(server, upstream, wait_ms);
  }

  std::vector<uint8_t> run(DnsServer& server, FakeUpstream* upstream, int wait_ms) {
    int64_t end = now_ms() + wait_ms;
    while (now_ms() < end) {
      std::vector<pollfd> fds;
      server.add_fds(fds);
      size_t client_at = fds.size();
      fds.push_back({fd.get(), POLLIN, 0});
      size_t upstream_at = fds.size();
      if (upstream) fds.push_back({upstream->fd.get(), POLLIN, 0});
      poll(fds.data(), fds.size(), 50);
      server.handle(fds, now_ms());
      if (upstream && (fds[upstream_at].revents & POLLIN)) upstream->serve();
      if (fds[client_at].revents & POLLIN) {
        uint8_t buf[4096];
        ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
        if (n > 0) return {buf, buf + n};
      }
    }
    return {};
  }
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/berth-dns-test.XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Hides BERTH_DNS_UPSTREAM from the server under test, restores it afterwards.
struct NoUpstreamEnv {
  std::string saved;
  bool had = false;
  NoUpstreamEnv() {
    if (const char* v = getenv("BERTH_DNS_UPSTREAM")) had = true, saved = v;
    unsetenv("BERTH_DNS_UPSTREAM");
  }
  ~NoUpstreamEnv() {
    if (had) setenv("BERTH_DNS_UPSTREAM", saved.c_str(), 1);
  }
};

}  // namespace

TEST_CASE("dns: parse a hand-built query") {
  auto packet = make_query(0xBEEF, "Db.Example.", dns::kTypeA);
  auto q = dns::parse_query(packet.data(), packet.size());
  REQUIRE(q);
  CHECK(q->id == 0xBEEF);
  CHECK(q->recursion_desired);
  CHECK(q->name == "db.example");
  CHECK(q->type == dns::kTypeA);
  CHECK(q->qclass == dns::kClassIN);
  CHECK(q->question_end == packet.size());

  // dig-style query with an EDNS OPT record in the additional section
  auto with_opt = make_query(7, "web", dns::kTypeAAAA, true);
  auto q2 = dns::parse_query(with_opt.data(), with_opt.size());
  REQUIRE(q2);
  CHECK(q2->name == "web");
  CHECK(q2->type == dns::kTypeAAAA);
  CHECK(q2->question_end == with_opt.size() - 11);
}

TEST_CASE("dns: malformed and non-standard packets are rejected") {
  auto good = make_query(1, "db.example", dns::kTypeA);
  for (size_t len = 0; len < good.size(); ++len)
    CHECK_MESSAGE(!dns::parse_query(good.data(), len), "truncated to " << len);
  CHECK(!dns::parse_query(nullptr, 0));

  auto response = good;
  response[2] |= 0x80;
  CHECK(!dns::parse_query(response.data(), response.size()));
  auto notify = good;
  notify[2] |= 4 << 3;  // opcode NOTIFY
  CHECK(!dns::parse_query(notify.data(), notify.size()));
  auto two_questions = good;
  two_questions[5] = 2;
  CHECK(!dns::parse_query(two_questions.data(), two_questions.size()));
  auto with_answer = good;
  with_answer[7] = 1;
  CHECK(!dns::parse_query(with_answer.data(), with_answer.size()));

  // Compression pointers do not belong in a question: rejected, also one pointing at itself.
  std::vector<uint8_t> pointer = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  CHECK(!dns::parse_query(pointer.data(), pointer.size()));
  std::vector<uint8_t> label_then_pointer = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                             2, 'd', 'b', 0xC0, 12, 0, 1, 0, 1};
  CHECK(!dns::parse_query(label_then_pointer.data(), label_then_pointer.size()));

  // A label with a dot in it would alias another name.
  std::vector<uint8_t> dotted = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0, 0, 1, 0, 1};
  CHECK(!dns::parse_query(dotted.data(), dotted.size()));

  // Names longer than 253 characters
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  auto too_long = make_query(1, long_name, dns::kTypeA);
  CHECK(!dns::parse_query(too_long.data(), too_long.size()));
}

TEST_CASE("dns: build_response carries the question, the id and the addresses") {
  auto packet = make_query(0x1234, "web", dns::kTypeA, true);
  auto q = dns::parse_query(packet.data(), packet.size());
  REQUIRE(q);
  auto r = dns::build_response(packet.data(), *q, dns::kNoError, {0xAC120002u, 0xAC120003u});
  CHECK(get16(r, 0) == 0x1234);
  CHECK((r[2] & 0x80) != 0);     // QR
  CHECK((r[2] & 0x01) != 0);     // RD copied
  CHECK((r[3] & 0x80) != 0);     // RA
  CHECK(rcode_of(r) == dns::kNoError);
  CHECK(get16(r, 4) == 1);
  CHECK(answer_count(r) == 2);
  CHECK(get16(r, 10) == 0);      // the OPT record is not echoed
  CHECK(a_records(r) == std::vector<std::string>{"172.18.0.2", "172.18.0.3"});
  // TTL 600 as Docker
  size_t first_answer = q->question_end;
  CHECK(get16(r, first_answer + 6) == 0);
  CHECK(get16(r, first_answer + 8) == 600);

  auto nx = dns::build_response(packet.data(), *q, dns::kNxDomain, {});
  CHECK(rcode_of(nx) == dns::kNxDomain);
  CHECK(answer_count(nx) == 0);
  CHECK(nx.size() == q->question_end);

  // Many replicas: the answer stays within 512 bytes.
  std::vector<uint32_t> many(100, 0x0A000001u);
  auto big = dns::build_response(packet.data(), *q, dns::kNoError, many);
  CHECK(big.size() <= 512);
  CHECK(answer_count(big) == int((512 - q->question_end) / 16));

  auto err = dns::build_error_response(packet.data(), packet.size(), dns::kFormErr);
  REQUIRE(err.size() == 12);
  CHECK(get16(err, 0) == 0x1234);
  CHECK(rcode_of(err) == dns::kFormErr);
  CHECK(get16(err, 4) == 0);
}

TEST_CASE("dns: lookup over two networks") {
  std::vector<json> nets = {
      network("front", {{"172.18.0.2/16", {"web-1", "web", "abcdef012345"}},
                        {"172.18.0.3/16", {"web-2", "web"}},
                        {"172.18.0.4/16", {"DB-1", "db"}}}),
      network("back", {{"172.19.0.5/16", {"db-1", "db"}},
                       {"172.19.0.6/16", {"cache"}},
                       {"not-an-address", {"broken"}}}),
  };
  auto web = dns::lookup(nets, "web");
  CHECK(web.found);
  CHECK(web.addresses == std::vector<uint32_t>{0xAC120002u, 0xAC120003u});
  auto db = dns::lookup(nets, "DB.");
  CHECK(db.found);
  CHECK(db.addresses == std::vector<uint32_t>{0xAC120004u, 0xAC130005u});
  CHECK(dns::lookup(nets, "db-1").addresses.size() == 2);  // case-insensitive on the record side too
  CHECK(dns::lookup(nets, "abcdef012345").addresses == std::vector<uint32_t>{0xAC120002u});
  CHECK(dns::lookup(nets, "cache").addresses == std::vector<uint32_t>{0xAC130006u});
  auto broken = dns::lookup(nets, "broken");
  CHECK(broken.found);
  CHECK(broken.addresses.empty());
  CHECK(!dns::lookup(nets, "nothing").found);
  CHECK(!dns::lookup(nets, "").found);
  // Only the networks given count: isolation.
  CHECK(!dns::lookup({nets[1]}, "web").found);
  // Odd records do not throw.
  std::vector<json> odd = {json(), json::array(), json{{"Containers", 3}},
                           json{{"Containers", {{"x", {{"DNSNames", "web"}}}}}}};
  CHECK(!dns::lookup(odd, "web").found);
}

TEST_CASE("dns: reverse lookups of the networks' addresses") {
  CHECK(dns::parse_reverse_name("2.0.18.172.in-addr.arpa") == 0xAC120002u);
  CHECK(dns::parse_reverse_name("2.0.18.172.in-addr.arpa.") == 0xAC120002u);
  CHECK(!dns::parse_reverse_name("0.18.172.in-addr.arpa"));       // a zone, not an address
  CHECK(!dns::parse_reverse_name("1.2.0.18.172.in-addr.arpa"));
  CHECK(!dns::parse_reverse_name("256.0.18.172.in-addr.arpa"));
  CHECK(!dns::parse_reverse_name("02.0.18.172.in-addr.arpa"));
  CHECK(!dns::parse_reverse_name("x.0.18.172.in-addr.arpa"));
  CHECK(!dns::parse_reverse_name("2..18.172.in-addr.arpa"));
  CHECK(!dns::parse_reverse_name("web"));
  CHECK(!dns::parse_reverse_name("in-addr.arpa"));

  json front = network("front", {{"172.18.0.2/16", {"web-1", "web"}}});
  front["Containers"].begin().value()["Name"] = "proj-web-1";
  front["IPAM"] = {{"Config", json::array({{{"Subnet", "172.18.0.0/16"}}})}};
  std::vector<json> nets = {front};
  auto hit = dns::reverse_lookup(nets, 0xAC120002u);
  CHECK(hit.target == "proj-web-1.front");
  CHECK(hit.in_our_subnet);
  auto miss = dns::reverse_lookup(nets, 0xAC120009u);
  CHECK(miss.target.empty());
  CHECK(miss.in_our_subnet);
  auto outside = dns::reverse_lookup(nets, 0x08080808u);
  CHECK(outside.target.empty());
  CHECK(!outside.in_our_subnet);
  std::vector<json> odd = {json(), json{{"IPAM", 3}}, json{{"IPAM", {{"Config", json::array({{{"Subnet", "bad"}}})}}}}};
  CHECK(dns::reverse_lookup(odd, 0xAC120002u).target.empty());

  auto packet = make_query(0x4321, "2.0.18.172.in-addr.arpa", dns::kTypePTR, true);
  auto q = dns::parse_query(packet.data(), packet.size());
  REQUIRE(q);
  auto r = dns::build_ptr_response(packet.data(), *q, dns::kNoError, "proj-web-1.front");
  CHECK(get16(r, 0) == 0x4321);
  CHECK(rcode_of(r) == dns::kNoError);
  CHECK((r[2] & 0x04) != 0);  // authoritative
  CHECK(answer_count(r) == 1);
  size_t answer = q->question_end;
  CHECK(get16(r, answer) == 0xC00C);
  CHECK(get16(r, answer + 2) == dns::kTypePTR);
  CHECK(get16(r, answer + 4) == dns::kClassIN);
  CHECK(get16(r, answer + 8) == 600);
  const std::vector<uint8_t> wire = {10, 'p', 'r', 'o', 'j', '-', 'w', 'e', 'b', '-', '1', 5, 'f', 'r', 'o', 'n', 't', 0};
  CHECK(get16(r, answer + 10) == wire.size());
  CHECK(std::vector<uint8_t>(r.begin() + static_cast<long>(answer) + 12, r.end()) == wire);
  auto nx = dns::build_ptr_response(packet.data(), *q, dns::kNxDomain, "");
  CHECK(rcode_of(nx) == dns::kNxDomain);
  CHECK(answer_count(nx) == 0);
  // A name over 255 octets cannot be sent either.
  std::string long_target;
  for (int i = 0; i < 5; ++i) long_target += std::string(60, 'a') + ".";
  CHECK(answer_count(dns::build_ptr_response(packet.data(), *q, dns::kNoError, long_target + "front")) == 0);
  // A subnet with a malformed prefix does not make every address "ours".
  json bad = front;
  bad["IPAM"] = {{"Config", json::array({{{"Subnet", "172.18.0.0/abc"}}})}};
  CHECK(!dns::reverse_lookup({bad}, 0x08080808u).in_our_subnet);
  // A label over 63 characters cannot be sent: no answer rather than a broken one.
  CHECK(answer_count(dns::build_ptr_response(packet.data(), *q, dns::kNoError, std::string(64, 'a') + ".front")) == 0);
}

TEST_CASE("dns: upstream servers from resolv.conf") {
  std::string conf =
      "# generated\n"
      "search example.com\n"
      "nameserver 127.0.0.53\n"
      "nameserver 192.0.2.1\n"
      "nameserver\t198.51.100.2 # office\n"
      "nameserver 2001:db8::1\n"
      "nameserver 192.0.2.1\n"
      ";nameserver 192.0.2.9\n"
      "nameservers 192.0.2.8\n"
      "nameserver garbage\n"
      "  nameserver 203.0.113.3\r\n"
      "options ndots:0\n"
      "nameserver 127.1.2.3";
  CHECK(dns::upstream_servers(conf) ==
        std::vector<std::string>{"192.0.2.1", "198.51.100.2", "203.0.113.3"});
  CHECK(dns::upstream_servers("").empty());
  CHECK(dns::upstream_servers("nameserver 127.0.0.1\n").empty());
}

TEST_CASE("dns: 10k random packets do not crash parse_query") {
  std::mt19937 rng(12345);
  auto seed = make_query(42, "service.example", dns::kTypeA, true);
  int parsed = 0;
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> p;
    if (i % 2 == 0) {
      p.resize(rng() % 600);
      for (auto& b : p) b = uint8_t(rng());
      if (p.size() >= 12 && i % 4 == 0) {  // a plausible header so the name parser runs
        p[2] = 1, p[3] = 0, p[4] = 0, p[5] = 1, p[6] = p[7] = p[8] = p[9] = 0;
      }
    } else {
      p = seed;
      int flips = 1 + int(rng() % 4);
      for (int f = 0; f < flips; ++f) p[rng() % p.size()] = uint8_t(rng());
      p.resize(rng() % (p.size() + 1));
    }
    auto q = dns::parse_query(p.data(), p.size());
    if (q) {
      ++parsed;
      REQUIRE(q->question_end <= p.size());
      auto r = dns::build_response(p.data(), *q, dns::kNoError, {1});
      CHECK(r.size() <= 512);
    }
    dns::build_error_response(p.data(), p.size(), dns::kFormErr);
  }
  MESSAGE("parsed " << parsed << " of 10000");
}

TEST_CASE("dns server: answers, forwards and follows record changes over loopback") {
  NoUpstreamEnv env;
  TempDir dir;
  std::string front = dir.path + "/front.json", back = dir.path + "/back.json";
  berth::save_json_atomic(front, network("front", {{"172.18.0.2/16", {"web-1", "web"}},
                                                   {"172.18.0.3/16", {"web-2", "web"}}}));
  berth::save_json_atomic(back, network("back", {{"172.19.0.9/16", {"db-1", "db"}}}));

  FakeUpstream upstream;
  DnsConfig cfg;
  cfg.bind_address = "127.0.0.1";
  cfg.port = 0;
  cfg.network_records = {front, back, dir.path + "/missing.json"};
  cfg.upstreams = {"127.0.0.1:" + std::to_string(upstream.port)};
  DnsServer server(cfg);
  REQUIRE(server.port() > 0);
  Client client;

  SUBCASE("known name, type A: every replica") {
    auto r = client.ask(server, make_query(0x0101, "WEB", dns::kTypeA));
    REQUIRE(!r.empty());
    CHECK(get16(r, 0) == 0x0101);
    CHECK(rcode_of(r) == dns::kNoError);
    CHECK(a_records(r) == std::vector<std::string>{"172.18.0.2", "172.18.0.3"});
    CHECK(a_records(client.ask(server, make_query(2, "db.", dns::kTypeA))) ==
          std::vector<std::string>{"172.19.0.9"});
    CHECK(upstream.queries == 0);
  }
  SUBCASE("known name, AAAA: empty NOERROR at once") {
    auto r = client.ask(server, make_query(0x0202, "web", dns::kTypeAAAA, true));
    REQUIRE(!r.empty());
    CHECK(rcode_of(r) == dns::kNoError);
    CHECK(answer_count(r) == 0);
    CHECK(upstream.queries == 0);
  }
  SUBCASE("unknown name: forwarded, answered with the client's id") {
    auto query = make_query(0x4242, "example.org", dns::kTypeA);
    auto r = client.ask(server, query, &upstream);
    REQUIRE(!r.empty());
    CHECK(upstream.queries == 1);
    // The upstream saw the same query under a new id.
    REQUIRE(upstream.last_query.size() == query.size());
    CHECK(std::equal(query.begin() + 2, query.end(), upstream.last_query.begin() + 2));
    CHECK(get16(r, 0) == 0x4242);
    CHECK(rcode_of(r) == dns::kNoError);
    CHECK(a_records(r) == std::vector<std::string>{"203.0.113.7"});
    CHECK(server.next_deadline_ms() == 0);  // nothing pending any more
  }
  SUBCASE("upstream silent: SERVFAIL at the deadline") {
    upstream.silent = true;
    auto query = make_query(0x5151, "slow.example", dns::kTypeA);
    sockaddr_in to = loopback(server.port());
    sendto(client.fd.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    // One round to receive and forward it.
    int64_t start = now_ms();
    while (server.next_deadline_ms() == 0 && now_ms() - start < 2000) {
      std::vector<pollfd> fds;
      server.add_fds(fds);
      poll(fds.data(), fds.size(), 50);
      server.handle(fds, now_ms());
    }
    int64_t deadline = server.next_deadline_ms();
    REQUIRE(deadline > 0);
    CHECK(deadline - now_ms() <= 5000);
    CHECK(deadline - now_ms() > 4000);
    // Pretend the 5 s have passed.
    std::vector<pollfd> fds;
    server.add_fds(fds);
    server.handle(fds, deadline);
    auto r = client.run(server, nullptr, 500);
    REQUIRE(r.size() >= 12);
    CHECK(get16(r, 0) == 0x5151);
    CHECK(rcode_of(r) == dns::kServFail);
    CHECK(get16(r, 4) == 1);  // the question is echoed
    CHECK(r.size() == query.size());
    CHECK(server.next_deadline_ms() == 0);
  }
  SUBCASE("a recreated container's address is served at once") {
    CHECK(a_records(client.ask(server, make_query(1, "db", dns::kTypeA))) ==
          std::vector<std::string>{"172.19.0.9"});
    berth::save_json_atomic(back, network("back", {{"172.19.0.10/16", {"db-1", "db"}}}));
    CHECK(a_records(client.ask(server, make_query(2, "db", dns::kTypeA))) ==
          std::vector<std::string>{"172.19.0.10"});
    // A network file appearing later counts too.
    berth::save_json_atomic(dir.path + "/missing.json",
                            network("late", {{"172.20.0.2/16", {"late"}}}));
    CHECK(a_records(client.ask(server, make_query(3, "late", dns::kTypeA))) ==
          std::vector<std::string>{"172.20.0.2"});
    // And a removed one stops answering.
    std::filesystem::remove(back);
    auto gone = client.ask(server, make_query(4, "db", dns::kTypeA), &upstream);
    CHECK(upstream.queries == 1);  // unknown now: forwarded
    CHECK(get16(gone, 0) == 4);
  }
  SUBCASE("garbage: FORMERR for a broken query, silence for noise") {
    std::vector<uint8_t> broken = {0x77, 0x77, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0};
    auto r = client.ask(server, broken, nullptr, 500);
    REQUIRE(r.size() == 12);
    CHECK(get16(r, 0) == 0x7777);
    CHECK(rcode_of(r) == dns::kFormErr);
    CHECK(client.ask(server, {1, 2, 3}, nullptr, 200).empty());
    // The server still works afterwards.
    CHECK(!client.ask(server, make_query(9, "web", dns::kTypeA)).empty());
  }
}

TEST_CASE("dns server: NXDOMAIN without forwarding") {
  NoUpstreamEnv env;
  TempDir dir;
  std::string rec = dir.path + "/internal.json";
  berth::save_json_atomic(rec, network("internal", {{"10.1.0.2/24", {"app"}}}));
  FakeUpstream upstream;
  DnsConfig cfg;
  cfg.bind_address = "127.0.0.1";
  cfg.port = 0;
  cfg.network_records = {rec};
  cfg.forward = false;
  cfg.upstreams = {"127.0.0.1:" + std::to_string(upstream.port)};
  DnsServer server(cfg);
  Client client;
  auto r = client.ask(server, make_query(0x0A0A, "example.org", dns::kTypeA), &upstream);
  REQUIRE(!r.empty());
  CHECK(get16(r, 0) == 0x0A0A);
  CHECK(rcode_of(r) == dns::kNxDomain);
  CHECK(upstream.queries == 0);
  CHECK(a_records(client.ask(server, make_query(2, "app", dns::kTypeA))) ==
        std::vector<std::string>{"10.1.0.2"});
}

TEST_CASE("dns server: BERTH_DNS_UPSTREAM overrides the configured upstreams") {
  NoUpstreamEnv env;
  FakeUpstream upstream;
  setenv("BERTH_DNS_UPSTREAM", ("127.0.0.1:" + std::to_string(upstream.port)).c_str(), 1);
  DnsConfig cfg;
  cfg.bind_address = "127.0.0.1";
  cfg.port = 0;
  cfg.upstreams = {"127.0.0.1:1"};  // nothing listens there
  DnsServer server(cfg);
  unsetenv("BERTH_DNS_UPSTREAM");
  Client client;
  auto r = client.ask(server, make_query(0x3333, "example.org", dns::kTypeA), &upstream);
  REQUIRE(!r.empty());
  CHECK(get16(r, 0) == 0x3333);
  CHECK(upstream.queries == 1);
}

TEST_CASE("dns server: configuration errors") {
  NoUpstreamEnv env;
  DnsConfig bad_upstream;
  bad_upstream.bind_address = "127.0.0.1";
  bad_upstream.port = 0;
  bad_upstream.upstreams = {"not-an-ip"};
  CHECK_THROWS_AS(DnsServer{bad_upstream}, berth::Error);
  DnsConfig bad_ns;
  bad_ns.bind_address = "127.0.0.1";
  bad_ns.port = 0;
  bad_ns.netns_path = "/nonexistent/berth-netns";
  CHECK_THROWS_AS(DnsServer{bad_ns}, berth::Error);
}

TEST_CASE("dns server: a client's retry goes to the next upstream; foreign answers are dropped") {
  NoUpstreamEnv env;
  FakeUpstream dead, alive;
  dead.silent = true;
  DnsConfig cfg;
  cfg.bind_address = "127.0.0.1";
  cfg.port = 0;
  cfg.upstreams = {"127.0.0.1:" + std::to_string(dead.port), "127.0.0.1:" + std::to_string(alive.port)};
  DnsServer server(cfg);
  Client client;
  auto query = make_query(0x6161, "example.org", dns::kTypeA);
  CHECK(client.ask(server, query, &dead, 300).empty());
  REQUIRE(dead.queries == 1);

  // An answer with the right id but from somewhere else is ignored.
  FakeUpstream spoofer;
  auto forged_query = dead.last_query;
  auto q = dns::parse_query(forged_query.data(), forged_query.size());
  REQUIRE(q);
  auto forged = dns::build_response(forged_query.data(), *q, dns::kNoError, {0x01020304u});
  sendto(spoofer.fd.get(), forged.data(), forged.size(), 0,
         reinterpret_cast<sockaddr*>(&dead.last_from), sizeof dead.last_from);
  CHECK(client.run(server, nullptr, 300).empty());

  // The stub resolver asks again with the same id: the second upstream answers.
  auto r = client.ask(server, query, &alive);
  REQUIRE(!r.empty());
  CHECK(get16(r, 0) == 0x6161);
  CHECK(alive.queries == 1);
  CHECK(a_records(r) == std::vector<std::string>{"203.0.113.7"});
  CHECK(server.next_deadline_ms() == 0);
}
