#include "berth/network/dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "berth/network/dns.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"

namespace berth::network {
namespace {

constexpr int64_t kForwardTimeoutMs = 5000;
constexpr size_t kMaxPending = 64;         // a bound on memory; more queries in flight get SERVFAIL
constexpr size_t kPacketsPerWakeup = 64;   // so a flood cannot starve the rest of the loop
constexpr size_t kBufferSize = 4096;       // upstream answers with EDNS can exceed 512 bytes

// "ip" or "ip:port" (IPv4). nullopt for IPv6 (skipped: the forwarding socket is IPv4); throws for
// anything else so a typo is not silently ignored.
std::optional<sockaddr_in> parse_upstream(const std::string& text) {
  std::string host = text, port = "53";
  size_t colons = std::count(text.begin(), text.end(), ':');
  if (colons > 1 || text.find('[') != std::string::npos) return std::nullopt;
  if (colons == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  char* end = nullptr;
  long port_number = std::strtol(port.c_str(), &end, 10);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 || port.empty() || *end != '\0' ||
      port_number < 1 || port_number > 65535)
    throw Error("invalid DNS upstream \"" + text + "\"", "give an IPv4 address, optionally with :port");
  addr.sin_port = htons(static_cast<uint16_t>(port_number));
  return addr;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

std::vector<std::string> configured_upstreams(const DnsConfig& cfg) {
  if (const char* env = std::getenv("BERTH_DNS_UPSTREAM"); env && *env) return split_commas(env);
  if (!cfg.upstreams.empty()) return cfg.upstreams;
  auto servers = dns::upstream_servers(fs::read_file_if_exists("/etc/resolv.conf").value_or(""));
  if (servers.empty()) {
    // systemd-resolved hosts list only 127.0.0.53; the real upstreams are here (Docker does the same).
    servers = dns::upstream_servers(
        fs::read_file_if_exists("/run/systemd/resolve/resolv.conf").value_or(""));
  }
  return servers;
}

bool same_endpoint(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

UniqueFd udp_socket() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("DNS: socket");
  return fd;
}

// The listening socket, created inside `netns_path` when given: a socket keeps the namespace it
// was created in, so after switching back it still serves the container.
UniqueFd bind_server_socket(const DnsConfig& cfg) {
  UniqueFd original_ns, target_ns;
  if (!cfg.netns_path.empty()) {
    original_ns.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!original_ns) throw_errno("DNS: open /proc/thread-self/ns/net");
    target_ns.reset(::open(cfg.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target_ns) throw_errno("DNS: open " + cfg.netns_path);
    if (::setns(target_ns.get(), CLONE_NEWNET) != 0) throw_errno("DNS: setns " + cfg.netns_path);
  }
  UniqueFd fd;
  int saved_errno = 0;
  std::string failed;
  fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    saved_errno = errno;
    failed = "socket";
  } else {
    // The container's lo may not be up yet: bind to 127.0.0.11 anyway (answers name it: send_to).
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(cfg.port));
    if (inet_pton(AF_INET, cfg.bind_address.c_str(), &addr.sin_addr) != 1) {
      saved_errno = EINVAL;
      failed = "invalid bind address " + cfg.bind_address;
    } else if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      saved_errno = errno;
      failed = "bind " + cfg.bind_address + ":" + std::to_string(cfg.port);
    }
  }
  if (original_ns && ::setns(original_ns.get(), CLONE_NEWNET) != 0) {
    // Staying in the container's namespace would send every later socket there: not recoverable.
    throw_errno("DNS: setns back to the original network namespace");
  }
  if (saved_errno != 0) throw SysError("DNS: " + failed, saved_errno);
  return fd;
}

}  // namespace

struct DnsServer::Impl {
  // A network record and the identity of the file it was read from.
  struct RecordFile {
    std::string path;
    bool present = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
  };
  // A query sent upstream, waiting for its answer.
  struct Pending {
    uint16_t upstream_id = 0, client_id = 0;
    sockaddr_in client{};
    size_t upstream_index = 0;
    int64_t deadline_ms = 0;
    bool recursion_desired = false;
    std::vector<uint8_t> question;  // to match the upstream's answer and to build a SERVFAIL
  };

  DnsConfig cfg;
  UniqueFd server_fd, upstream_fd;
  int bound_port = 0;
  in_addr bound_address{};
  std::vector<sockaddr_in> upstreams;
  std::vector<RecordFile> files;
  std::vector<json> records;  // parallel to files; null when missing or unreadable
  std::vector<Pending> pending;
  size_t server_index = SIZE_MAX, upstream_index = SIZE_MAX;  // where add_fds put our fds
  uint32_t rng_state = 0;

  uint16_t random_id() {
    // xorshift32 seeded from getrandom: unpredictable enough for ids, no fd or syscall per query.
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return static_cast<uint16_t>(rng_state >> 8);
  }

  RecordFile plan_file;  // the launch plan: its "dns" section follows network connect/disconnect

  // Whether f is another file than when last seen (identity, size, mtime); remembers the new one.
  static bool changed(RecordFile& f) {
    struct stat st {};
    bool present = ::stat(f.path.c_str(), &st) == 0;
    if (present == f.present &&
        (!present || (st.st_dev == f.dev && st.st_ino == f.ino && st.st_size == f.size &&
                      st.st_mtim.tv_sec == f.mtime.tv_sec && st.st_mtim.tv_nsec == f.mtime.tv_nsec)))
      return false;
    f.present = present;
    f.dev = present ? st.st_dev : 0;
    f.ino = present ? st.st_ino : 0;
    f.size = present ? st.st_size : 0;
    f.mtime = present ? st.st_mtim : timespec{};
    return true;
  }

  // A network connected (or disconnected) after start: the CLI rewrote the plan's record list.
  void refresh_record_list() {
    if (plan_file.path.empty() || !changed(plan_file) || !plan_file.present) return;
    auto text = fs::read_file_if_exists(plan_file.path);
    if (!text) return;
    json plan = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (plan.is_discarded() || !plan.contains("dns") || !plan["dns"].is_object()) return;
    auto paths = plan["dns"].value("Records", std::vector<std::string>{});
    cfg.forward = plan["dns"].value("Forward", cfg.forward);
    if (paths == cfg.network_records) return;
    cfg.network_records = paths;
    files.clear();
    for (const auto& path : paths) files.push_back({.path = path});
    records.assign(files.size(), nullptr);
  }

  void refresh_records() {
    refresh_record_list();
    for (size_t i = 0; i < files.size(); ++i) {
      RecordFile& f = files[i];
      if (!changed(f)) continue;
      records[i] = nullptr;
      if (!f.present) continue;
      // Writers replace records atomically, so a read never sees half a file.
      auto text = fs::read_file_if_exists(f.path);
      if (!text) continue;
      json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (!doc.is_discarded()) records[i] = std::move(doc);
    }
  }

  // An answer leaves from the address the client asked (bound_address), named in IP_PKTINFO:
  // bound while the namespace's lo was still down (`container run` configures the network while
  // the container is built), the socket's own source would be 127.0.0.1, and resolvers drop
  // answers from another address than their server's.
  void send_to(const uint8_t* packet, size_t len, const sockaddr_in& to) {
    if (len == 0) return;
    iovec iov{const_cast<uint8_t*>(packet), len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr_in*>(&to);
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = bound_address;
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    // Nonblocking UDP: a full buffer drops the answer, the client retries.
    (void)::sendmsg(server_fd.get(), &msg, MSG_NOSIGNAL);
  }
  void send_to(const std::vector<uint8_t>& packet, const sockaddr_in& to) {
    send_to(packet.data(), packet.size(), to);
  }

  bool forward(uint8_t* packet, size_t len, const Pending& p) {
    uint16_t id = htons(p.upstream_id);
    std::memcpy(packet, &id, 2);
    const sockaddr_in& to = upstreams[p.upstream_index];
    return ::sendto(upstream_fd.get(), packet, len, MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&to), sizeof to) == static_cast<ssize_t>(len);
  }

  void on_query(uint8_t* packet, size_t len, const sockaddr_in& client, int64_t now_ms) {
    auto q = dns::parse_query(packet, len);
    if (!q) {
      // Ignore garbage and responses; answer real queries we do not handle.
      if (len < 12 || (packet[2] & 0x80)) return;
      unsigned opcode = (packet[2] >> 3) & 0xF;
      send_to(dns::build_error_response(packet, len, opcode != 0 ? dns::kNotImp : dns::kFormErr),
              client);
      return;
    }
    refresh_records();
    // Reverse lookups of the networks' own addresses are answered here (Docker does the same):
    // forwarded, they would wait for an upstream that cannot know them (MariaDB resolves every
    // client's address by default).
    if (q->qclass == dns::kClassIN && (q->type == dns::kTypePTR || q->type == 255))
      if (auto address = dns::parse_reverse_name(q->name)) {
        dns::ReverseLookup reverse = dns::reverse_lookup(records, *address);
        if (!reverse.target.empty() || reverse.in_our_subnet) {
          send_to(dns::build_ptr_response(packet, *q, reverse.target.empty() ? dns::kNxDomain : dns::kNoError,
                                          reverse.target),
                  client);
          return;
        }
      }
    dns::Lookup found = dns::lookup(records, q->name);
    if (found.found) {
      bool wants_a = q->qclass == dns::kClassIN && (q->type == dns::kTypeA || q->type == 255);
      send_to(dns::build_response(packet, *q, dns::kNoError,
                                  wants_a ? found.addresses : std::vector<uint32_t>{}),
              client);
      return;
    }
    if (!cfg.forward || upstreams.empty() || !upstream_fd) {
      send_to(dns::build_response(packet, *q, dns::kNxDomain, {}), client);
      return;
    }
    // The client asking again for the same query: the upstream may be dead, try the next one.
    auto retry = std::find_if(pending.begin(), pending.end(), [&](const Pending& p) {
      return p.client_id == q->id && same_endpoint(p.client, client);
    });
    if (retry != pending.end()) {
      retry->upstream_index = (retry->upstream_index + 1) % upstreams.size();
      retry->deadline_ms = now_ms + kForwardTimeoutMs;
      if (!forward(packet, len, *retry)) {
        send_to(dns::build_response(packet, *q, dns::kServFail, {}), client);
        pending.erase(retry);
      }
      return;
    }
    if (pending.size() >= kMaxPending) {
      send_to(dns::build_response(packet, *q, dns::kServFail, {}), client);
      return;
    }
    Pending p;
    p.client_id = q->id;
    p.client = client;
    p.upstream_index = 0;
    p.deadline_ms = now_ms + kForwardTimeoutMs;
    p.recursion_desired = q->recursion_desired;
    p.question.assign(packet + 12, packet + q->question_end);
    do {
      p.upstream_id = random_id();
    } while (std::any_of(pending.begin(), pending.end(),
                         [&](const Pending& o) { return o.upstream_id == p.upstream_id; }));
    if (!forward(packet, len, p)) {
      send_to(dns::build_response(packet, *q, dns::kServFail, {}), client);
      return;
    }
    pending.push_back(p);
  }

  // An answer that carries a question must carry ours (an error answer may carry none).
  static bool echoes_question(const uint8_t* packet, size_t len, const std::vector<uint8_t>& question) {
    uint16_t qdcount = static_cast<uint16_t>(packet[4] << 8 | packet[5]);
    if (qdcount == 0) return true;
    return qdcount == 1 && len >= 12 + question.size() &&
           std::equal(question.begin(), question.end(), packet + 12,
                      [](uint8_t a, uint8_t b) { return std::tolower(a) == std::tolower(b); });
  }

  void on_upstream_answer(uint8_t* packet, size_t len, const sockaddr_in& from) {
    if (len < 12 || !(packet[2] & 0x80)) return;
    uint16_t id = static_cast<uint16_t>(packet[0] << 8 | packet[1]);
    auto it = std::find_if(pending.begin(), pending.end(), [&](const Pending& p) {
      return p.upstream_id == id && same_endpoint(upstreams[p.upstream_index], from) &&
             echoes_question(packet, len, p.question);
    });
    if (it == pending.end()) return;  // late, spoofed or from another upstream
    uint16_t client_id = htons(it->client_id);
    std::memcpy(packet, &client_id, 2);
    send_to(packet, len, it->client);
    pending.erase(it);
  }

  void expire(int64_t now_ms) {
    // No answer in time: tell the client now rather than let it wait for its own timeout.
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->deadline_ms > now_ms) {
        ++it;
        continue;
      }
      // The question is echoed: resolvers drop answers whose question differs from theirs.
      std::vector<uint8_t> query(12, 0);
      query.insert(query.end(), it->question.begin(), it->question.end());
      dns::Query q;
      q.id = it->client_id;
      q.recursion_desired = it->recursion_desired;
      q.question_end = query.size();
      send_to(dns::build_response(query.data(), q, dns::kServFail, {}), it->client);
      it = pending.erase(it);
    }
  }

  template <typename OnPacket>
  void drain(int fd, OnPacket on_packet) {
    uint8_t buffer[kBufferSize];
    for (size_t i = 0; i < kPacketsPerWakeup; ++i) {
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      ssize_t n = ::recvfrom(fd, buffer, sizeof buffer, MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or an ICMP error reported on the socket: nothing to read
      }
      if (from_len != sizeof from || from.sin_family != AF_INET) continue;
      on_packet(buffer, static_cast<size_t>(n), from);
    }
  }
};

DnsServer::DnsServer(DnsConfig cfg) : impl_(new Impl) {
  std::unique_ptr<Impl> guard(impl_);
  Impl& d = *impl_;
  d.cfg = std::move(cfg);
  if (d.cfg.forward) {
    for (const auto& text : configured_upstreams(d.cfg))
      if (auto addr = parse_upstream(text)) d.upstreams.push_back(*addr);
    // Created before entering the container's namespace: forwarding leaves from the host.
    if (!d.upstreams.empty()) d.upstream_fd = udp_socket();
  }
  d.server_fd = bind_server_socket(d.cfg);
  sockaddr_in bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(d.server_fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0)
    throw_errno("DNS: getsockname");
  d.bound_port = ntohs(bound.sin_port);
  d.bound_address = bound.sin_addr;
  for (const auto& path : d.cfg.network_records) d.files.push_back({.path = path});
  d.plan_file.path = d.cfg.launch_plan_path;
  d.changed(d.plan_file);  // the list above is this version's
  d.records.resize(d.files.size());
  if (::getrandom(&d.rng_state, sizeof d.rng_state, GRND_NONBLOCK) != sizeof d.rng_state ||
      d.rng_state == 0)
    d.rng_state = static_cast<uint32_t>(::getpid()) * 2654435761u | 1;
  d.refresh_records();
  guard.release();
}

DnsServer::~DnsServer() { delete impl_; }

int DnsServer::port() const { return impl_->bound_port; }

void DnsServer::add_fds(std::vector<pollfd>& fds) {
  impl_->server_index = fds.size();
  fds.push_back({impl_->server_fd.get(), POLLIN, 0});
  impl_->upstream_index = SIZE_MAX;
  if (impl_->upstream_fd) {
    impl_->upstream_index = fds.size();
    fds.push_back({impl_->upstream_fd.get(), POLLIN, 0});
  }
}

void DnsServer::handle(const std::vector<pollfd>& fds, int64_t now_ms) {
  Impl& d = *impl_;
  auto ready = [&](size_t index, int fd) {
    return index < fds.size() && fds[index].fd == fd &&
           (fds[index].revents & (POLLIN | POLLERR)) != 0;
  };
  if (ready(d.server_index, d.server_fd.get())) {
    d.drain(d.server_fd.get(), [&](uint8_t* packet, size_t len, const sockaddr_in& from) {
      d.on_query(packet, len, from, now_ms);
    });
  }
  if (d.upstream_fd && ready(d.upstream_index, d.upstream_fd.get())) {
    d.drain(d.upstream_fd.get(), [&](uint8_t* packet, size_t len, const sockaddr_in& from) {
      d.on_upstream_answer(packet, len, from);
    });
  }
  d.expire(now_ms);
}

int64_t DnsServer::next_deadline_ms() const {
  int64_t earliest = 0;
  for (const auto& p : impl_->pending)
    if (earliest == 0 || p.deadline_ms < earliest) earliest = p.deadline_ms;
  return earliest;
}

}  // namespace berth::network
