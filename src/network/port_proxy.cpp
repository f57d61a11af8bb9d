// The supervisor's userland proxy for published ports. Everything is nonblocking and driven by the
// supervisor's poll loop; TCP bytes move with splice(2) through kernel pipes, so a connection costs
// a few fds and ~100 bytes of our memory, not a user-space buffer.
#include "berth/network/port_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>

namespace berth::network {
namespace {

constexpr int64_t kConnectWindowMs = 2000;  // how long a starting service may refuse connections
constexpr int64_t kRetryEveryMs = 50;
constexpr int64_t kUdpIdleMs = 30000;
constexpr int64_t kAcceptPauseMs = 100;  // after EMFILE/ENFILE, instead of spinning on POLLIN
constexpr size_t kMaxUdpFlows = 4096;
constexpr size_t kSpliceChunk = 1 << 20;  // the kernel moves at most the pipe's capacity

sockaddr_in target_sockaddr(const ProxiedPort& p) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(p.target_addr);
  sa.sin_port = htons(p.target_port);
  return sa;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// One direction of a TCP relay: source socket -> pipe -> destination socket.
struct Pipe {
  int read_end = -1, write_end = -1;
  size_t queued = 0;     // bytes in the pipe
  bool source_eof = false;
  bool shut = false;     // SHUT_WR sent to the destination
  bool open() {
    int p[2];
    if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return false;
    read_end = p[0];
    write_end = p[1];
    return true;
  }
  void close() {
    close_fd(read_end);
    close_fd(write_end);
  }
};

enum class TcpState { kWaitRetry, kConnecting, kRelaying };

struct TcpConn {
  size_t listener = 0;
  int client = -1, target = -1;
  TcpState state = TcpState::kWaitRetry;
  int64_t give_up_at = 0;  // end of the connect window
  int64_t retry_at = 0;
  Pipe up, down;           // up: client -> target, down: target -> client
  bool dead = false;
  bool reset = false;      // one side reset: pass an RST to the other
};

struct UdpFlow {
  size_t listener = 0;
  sockaddr_in client{};
  int fd = -1;  // connected to the target
  int64_t last_active = 0;
};

struct Listener {
  ProxiedPort port;
  sockaddr_in target{};
  bool tcp = true;
  int64_t paused_until = 0;
};

// splice(2) into a socket the peer has reset raises SIGPIPE (it cannot take MSG_NOSIGNAL). A no-op
// handler rather than SIG_IGN: handlers reset to default across execve, an ignored signal would be
// inherited by the container's processes.
void on_sigpipe(int) {}
void catch_sigpipe() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return;
  struct sigaction quiet {};
  quiet.sa_handler = on_sigpipe;
  quiet.sa_flags = SA_RESTART;
  sigemptyset(&quiet.sa_mask);
  ::sigaction(SIGPIPE, &quiet, nullptr);
}

uint64_t flow_key(size_t listener, const sockaddr_in& client) {
  return (uint64_t(listener) << 48) | (uint64_t(ntohl(client.sin_addr.s_addr)) << 16) | ntohs(client.sin_port);
}

}  // namespace

struct PortProxy::Impl {
  std::vector<Listener> listeners;
  std::vector<std::unique_ptr<TcpConn>> conns;
  std::map<uint64_t, std::unique_ptr<UdpFlow>> flows;
  std::unique_ptr<char[]> datagram;  // one shared buffer for every UDP port

  // What each pollfd added by add_fds stands for, in order.
  enum class Kind : uint8_t { kListener, kClient, kTarget, kFlow };
  struct Slot {
    Kind kind;
    size_t listener;
    void* object;
  };
  std::vector<Slot> slots;
  size_t first_slot = 0;
  int64_t now = 0;

  void start_connect(TcpConn& c);
  void check_connect(TcpConn& c);
  void on_connect_failed(TcpConn& c);
  void start_relay(TcpConn& c);
  void pump(TcpConn& c);
  bool pump_direction(TcpConn& c, Pipe& p, int source, int destination);
  void kill(TcpConn& c);
  void accept_tcp(size_t index);
  void receive_udp(size_t index);
  void reply_udp(UdpFlow& f);
};

void PortProxy::Impl::kill(TcpConn& c) {
  if (c.reset && c.client >= 0) {
    linger hard{1, 0};  // the target reset us: reset the client too rather than a clean FIN
    ::setsockopt(c.client, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  close_fd(c.client);
  close_fd(c.target);
  c.up.close();
  c.down.close();
  c.dead = true;
}

void PortProxy::Impl::start_connect(TcpConn& c) {
  close_fd(c.target);
  c.target = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.target < 0) return kill(c);
  const sockaddr_in& sa = listeners[c.listener].target;
  if (::connect(c.target, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return start_relay(c);
  if (errno == EINPROGRESS) {
    c.state = TcpState::kConnecting;
    // Over a local bridge or loopback the handshake is usually done by now: saves a loop turn.
    pollfd ready{c.target, POLLOUT, 0};
    if (::poll(&ready, 1, 0) == 1) check_connect(c);
    return;
  }
  on_connect_failed(c);
}

void PortProxy::Impl::check_connect(TcpConn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(c.target, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) return start_relay(c);
  on_connect_failed(c);
}

// Refused, unreachable (the container's network is not up yet): try again until the window closes.
void PortProxy::Impl::on_connect_failed(TcpConn& c) {
  close_fd(c.target);
  if (now + kRetryEveryMs > c.give_up_at) return kill(c);
  c.state = TcpState::kWaitRetry;
  c.retry_at = now + kRetryEveryMs;
}

void PortProxy::Impl::start_relay(TcpConn& c) {
  if (!c.up.open() || !c.down.open()) return kill(c);
  int one = 1;  // splice writes what arrived; Nagle would only add delay to small exchanges
  ::setsockopt(c.target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(c.client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.state = TcpState::kRelaying;
  pump(c);  // the client may have sent its request while we were connecting
}

// Moves what it can without blocking; false when the connection must go.
bool PortProxy::Impl::pump_direction(TcpConn& c, Pipe& p, int source, int destination) {
  for (int round = 0; round < 16; ++round) {
    bool progress = false;
    if (!p.source_eof) {
      ssize_t n = ::splice(source, nullptr, p.write_end, nullptr, kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        p.queued += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        p.source_eof = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        c.reset = true;
        return false;
      }
    }
    if (p.queued > 0) {
      ssize_t n = ::splice(p.read_end, nullptr, destination, nullptr, p.queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        p.queued -= static_cast<size_t>(n);
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        c.reset = true;
        return false;
      }
    }
    if (p.source_eof && p.queued == 0 && !p.shut) {
      ::shutdown(destination, SHUT_WR);  // pass the half-close on; the other direction may go on
      p.shut = true;
    }
    if (!progress) break;
  }
  return true;
}

void PortProxy::Impl::pump(TcpConn& c) {
  if (!pump_direction(c, c.up, c.client, c.target) || !pump_direction(c, c.down, c.target, c.client))
    return kill(c);
  if (c.up.shut && c.down.shut) kill(c);
}

void PortProxy::Impl::accept_tcp(size_t index) {
  Listener& l = listeners[index];
  for (int i = 0; i < 64; ++i) {
    int fd = ::accept4(l.port.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) l.paused_until = now + kAcceptPauseMs;
      return;  // EAGAIN, or an aborted handshake (ECONNABORTED): nothing to do
    }
    auto c = std::make_unique<TcpConn>();
    c->listener = index;
    c->client = fd;
    c->give_up_at = now + kConnectWindowMs;
    TcpConn& conn = *c;
    conns.push_back(std::move(c));
    start_connect(conn);
  }
}

void PortProxy::Impl::receive_udp(size_t index) {
  Listener& l = listeners[index];
  if (!datagram) datagram = std::make_unique<char[]>(65536);
  for (int i = 0; i < 64; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(l.port.listen_fd, datagram.get(), 65536, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return;
    if (from.sin_family != AF_INET) continue;
    uint64_t key = flow_key(index, from);
    auto it = flows.find(key);
    if (it == flows.end()) {
      if (flows.size() >= kMaxUdpFlows) continue;  // drop rather than grow without bound
      int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&l.target), sizeof l.target) != 0) {
        ::close(fd);
        continue;
      }
      auto f = std::make_unique<UdpFlow>();
      f->listener = index;
      f->client = from;
      f->fd = fd;
      it = flows.emplace(key, std::move(f)).first;
    }
    it->second->last_active = now;
    ::send(it->second->fd, datagram.get(), static_cast<size_t>(n), MSG_DONTWAIT);  // UDP: loss is allowed
  }
}

void PortProxy::Impl::reply_udp(UdpFlow& f) {
  if (!datagram) datagram = std::make_unique<char[]>(65536);
  int listen_fd = listeners[f.listener].port.listen_fd;
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::recv(f.fd, datagram.get(), 65536, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN, or ECONNREFUSED from an ICMP error: the flow stays
    f.last_active = now;
    ::sendto(listen_fd, datagram.get(), static_cast<size_t>(n), MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&f.client), sizeof f.client);
  }
}

PortProxy::PortProxy(std::vector<ProxiedPort> ports) : impl_(new Impl) {
  catch_sigpipe();
  for (ProxiedPort& p : ports) {
    Listener l;
    l.port = p;
    l.tcp = p.proto != "udp";
    l.target = target_sockaddr(p);
    int flags = ::fcntl(p.listen_fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(p.listen_fd, F_SETFL, flags | O_NONBLOCK);
    impl_->listeners.push_back(l);
  }
}

PortProxy::~PortProxy() {
  for (auto& c : impl_->conns) impl_->kill(*c);
  for (auto& [key, f] : impl_->flows) close_fd(f->fd);
  for (Listener& l : impl_->listeners) close_fd(l.port.listen_fd);
  delete impl_;
}

void PortProxy::add_fds(std::vector<pollfd>& fds) {
  Impl& m = *impl_;
  m.first_slot = fds.size();
  m.slots.clear();
  auto add = [&](int fd, short events, Impl::Kind kind, size_t listener, void* object) {
    fds.push_back(pollfd{fd, events, 0});
    m.slots.push_back(Impl::Slot{kind, listener, object});
  };
  for (size_t i = 0; i < m.listeners.size(); ++i) {
    // A paused listener is still polled (events 0) so the slots stay aligned; handle() skips it.
    add(m.listeners[i].port.listen_fd, m.listeners[i].paused_until ? 0 : POLLIN, Impl::Kind::kListener, i, nullptr);
  }
  for (auto& owned : m.conns) {
    TcpConn& c = *owned;
    if (c.state == TcpState::kConnecting) {
      add(c.target, POLLOUT, Impl::Kind::kTarget, c.listener, &c);
    } else if (c.state == TcpState::kRelaying) {
      // Read a source only when its pipe is empty; write a destination only when its pipe holds data.
      short client_events = 0, target_events = 0;
      if (!c.up.source_eof && c.up.queued == 0) client_events |= POLLIN;
      if (c.up.queued > 0) target_events |= POLLOUT;
      if (!c.down.source_eof && c.down.queued == 0) target_events |= POLLIN;
      if (c.down.queued > 0) client_events |= POLLOUT;
      add(c.client, client_events, Impl::Kind::kClient, c.listener, &c);
      add(c.target, target_events, Impl::Kind::kTarget, c.listener, &c);
    }
  }
  for (auto& [key, f] : m.flows) add(f->fd, POLLIN, Impl::Kind::kFlow, f->listener, f.get());
}

void PortProxy::handle(const std::vector<pollfd>& fds, int64_t now_ms) {
  Impl& m = *impl_;
  m.now = now_ms;
  size_t count = m.slots.size();
  if (m.first_slot + count > fds.size()) count = fds.size() > m.first_slot ? fds.size() - m.first_slot : 0;
  // Accepting appends to conns, so act on the slots (stable pointers) and sweep the dead at the end.
  for (size_t i = 0; i < count; ++i) {
    const pollfd& p = fds[m.first_slot + i];
    if (!p.revents) continue;
    const Impl::Slot& s = m.slots[i];
    switch (s.kind) {
      case Impl::Kind::kListener:
        if (m.listeners[s.listener].tcp) m.accept_tcp(s.listener);
        else m.receive_udp(s.listener);
        break;
      case Impl::Kind::kClient:
      case Impl::Kind::kTarget: {
        auto& c = *static_cast<TcpConn*>(s.object);
        if (c.dead) break;
        if (c.state == TcpState::kConnecting) m.check_connect(c);
        else if (c.state == TcpState::kRelaying) m.pump(c);
        break;
      }
      case Impl::Kind::kFlow:
        m.reply_udp(*static_cast<UdpFlow*>(s.object));
        break;
    }
  }
  m.slots.clear();  // stale from here on; the next add_fds rebuilds them

  for (Listener& l : m.listeners)
    if (l.paused_until && l.paused_until <= now_ms) l.paused_until = 0;
  for (size_t i = 0; i < m.conns.size(); ++i) {  // by index: start_connect never appends
    TcpConn& c = *m.conns[i];
    if (c.dead) continue;
    if (c.state == TcpState::kWaitRetry && c.retry_at <= now_ms) m.start_connect(c);
    else if (c.state == TcpState::kConnecting && c.give_up_at <= now_ms) m.kill(c);
  }
  std::erase_if(m.conns, [](const std::unique_ptr<TcpConn>& c) { return c->dead; });
  std::erase_if(m.flows, [&](const auto& entry) {
    if (entry.second->last_active + kUdpIdleMs > now_ms) return false;
    close_fd(entry.second->fd);
    return true;
  });
}

int64_t PortProxy::next_deadline_ms() const {
  const Impl& m = *impl_;
  int64_t next = 0;
  auto consider = [&](int64_t t) {
    if (t && (!next || t < next)) next = t;
  };
  for (const Listener& l : m.listeners) consider(l.paused_until);
  for (const auto& c : m.conns) {
    if (c->state == TcpState::kWaitRetry) consider(c->retry_at);
    else if (c->state == TcpState::kConnecting) consider(c->give_up_at);
  }
  for (const auto& [key, f] : m.flows) consider(f->last_active + kUdpIdleMs);
  return next;
}

size_t PortProxy::active_connections() const { return impl_->conns.size() + impl_->flows.size(); }

}  // namespace berth::network
