// Published ports: -p parsing, host binding with exact conflicts, and the userland proxy end to end
// over loopback (no root).
#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "berth/network/port_proxy.h"
#include "berth/network/ports.h"
#include "berth/util/error.h"

using namespace berth::network;
using berth::Error;
using berth::UniqueFd;

namespace {

int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
double cpu_s() {  // this process, every thread: a figure that load on the machine bends less
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
double mono_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::string error_of(const std::string& spec) {
  try {
    parse_publish(spec);
  } catch (const Error& e) {
    CHECK(e.exit_code() == 125);
    CHECK(!e.hint().empty());
    return e.what();
  }
  return "(no error)";
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  return sa;
}

uint16_t local_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

// A socket bound on 127.0.0.1 with a kernel-picked port (listening when asked).
UniqueFd bound_socket(int type, bool listening, uint16_t port = 0) {
  UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in sa = loopback(port);
  REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  if (listening) REQUIRE(listen(fd.get(), 128) == 0);
  return fd;
}

size_t open_fd_count() {
  size_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

std::string own_comm() {
  std::ifstream in("/proc/self/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

UniqueFd connect_to(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa = loopback(port);
  REQUIRE(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  return fd;
}

// The supervisor's loop in miniature: add_fds, poll until the next deadline, handle.
class ProxyLoop {
 public:
  explicit ProxyLoop(std::vector<ProxiedPort> ports) : proxy_(std::move(ports)) {
    thread_ = std::thread([this] {
      std::vector<pollfd> fds;
      while (!stop_) {
        fds.clear();
        proxy_.add_fds(fds);
        int timeout = 20;  // also the stop check
        if (int64_t deadline = proxy_.next_deadline_ms())
          timeout = int(std::clamp<int64_t>(deadline - mono_ms(), 0, 20));
        poll(fds.data(), fds.size(), timeout);
        proxy_.handle(fds, mono_ms());
        active_ = proxy_.active_connections();
      }
    });
  }
  ~ProxyLoop() {
    stop_ = true;
    thread_.join();
  }
  size_t active() const { return active_; }
  bool wait_idle(int ms) {
    for (int64_t end = mono_ms() + ms; mono_ms() < end;) {
      if (active_ == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

 private:
  PortProxy proxy_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> active_{0};
  std::thread thread_;
};

// A published port on 127.0.0.1 (kernel-picked) forwarding to 127.0.0.1:target.
std::vector<ProxiedPort> publish_to(const std::string& proto, uint16_t target, uint16_t* published) {
  PortBinding b;
  b.proto = proto;
  b.host_ip = "127.0.0.1";
  b.container_port = target;
  auto bound = bind_ports({b});
  *published = bound[0].binding.host_port;
  ProxiedPort p;
  p.proto = proto;
  p.listen_fd = bound[0].fd.release();
  p.target_addr = INADDR_LOOPBACK;
  p.target_port = target;
  return {p};
}

// TCP echo on an already bound socket; listens after `delay_ms` (a service that starts late).
class EchoServer {
 public:
  explicit EchoServer(UniqueFd listener, int delay_ms = 0) : listener_(std::move(listener)) {
    REQUIRE(pipe2(stop_pipe_, O_CLOEXEC) == 0);
    if (delay_ms == 0) listen(listener_.get(), 128);  // ready when the constructor returns
    thread_ = std::thread([this, delay_ms] { run(delay_ms); });
  }
  ~EchoServer() {
    (void)!write(stop_pipe_[1], "x", 1);
    thread_.join();
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

 private:
  void run(int delay_ms) {
    if (delay_ms) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      listen(listener_.get(), 128);
    }
    std::vector<UniqueFd> conns;
    std::vector<char> buf(65536);
    for (;;) {
      std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      for (auto& c : conns) fds.push_back({c.get(), POLLIN, 0});
      poll(fds.data(), fds.size(), -1);
      if (fds[0].revents) return;
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = read(fds[i].fd, buf.data(), buf.size());
        if (n <= 0) {
          conns[i - 2].reset();
          continue;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(fds[i].fd, buf.data() + off, size_t(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
      std::erase_if(conns, [](const UniqueFd& c) { return !c; });
      if (fds[1].revents) conns.emplace_back(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    }
  }
  UniqueFd listener_;
  int stop_pipe_[2];
  std::thread thread_;
};

// Sends `data` and reads everything back until EOF, both at once (the echo pushes back as we send).
std::string echo_exchange(int fd, const std::string& data) {
  fcntl(fd, F_SETFL, O_NONBLOCK);
  std::string received;
  size_t sent = 0;
  bool shut = false;
  std::vector<char> buf(65536);
  for (int64_t end = mono_ms() + 10000; mono_ms() < end;) {
    pollfd p{fd, short(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
    poll(&p, 1, 100);
    if (sent < data.size()) {
      ssize_t w = write(fd, data.data() + sent, std::min<size_t>(data.size() - sent, 65536));
      if (w > 0) sent += size_t(w);
    } else if (!shut) {
      shutdown(fd, SHUT_WR);
      shut = true;
    }
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n > 0) received.append(buf.data(), size_t(n));
  }
  return received;
}

std::string pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = char((i * 7919) >> 3);
  return s;
}

}  // namespace

TEST_CASE("parse_publish: Docker's forms") {
  auto one = [](const std::string& spec) {
    auto v = parse_publish(spec);
    REQUIRE(v.size() == 1);
    return v[0];
  };
  PortBinding b = one("80");
  CHECK((b.proto == "tcp" && b.host_ip.empty() && b.host_port == 0 && b.container_port == 80 && b.host_port_end == 0));
  b = one("8080:80");
  CHECK((b.host_port == 8080 && b.container_port == 80 && b.host_ip.empty()));
  b = one("127.0.0.1:8080:80");
  CHECK((b.host_ip == "127.0.0.1" && b.host_port == 8080 && b.container_port == 80));
  b = one("127.0.0.1::80");
  CHECK((b.host_ip == "127.0.0.1" && b.host_port == 0 && b.container_port == 80));
  b = one("53:53/udp");
  CHECK((b.proto == "udp" && b.host_port == 53 && b.container_port == 53));
  CHECK(one("80/tcp").proto == "tcp");
  CHECK(one("80/UDP").proto == "udp");
  CHECK(one("80/").proto == "tcp");
  b = one("8000-8010:80");  // a pool of host ports for one container port
  CHECK((b.host_port == 8000 && b.host_port_end == 8010 && b.container_port == 80));

  auto range = parse_publish("8000-8010:80-90");
  REQUIRE(range.size() == 11);
  for (size_t i = 0; i < range.size(); ++i) {
    CHECK(range[i].host_port == 8000 + i);
    CHECK(range[i].container_port == 80 + i);
    CHECK(range[i].host_port_end == 0);
  }
  auto random = parse_publish("127.0.0.1::7000-7002/udp");
  REQUIRE(random.size() == 3);
  CHECK((random[2].host_port == 0 && random[2].container_port == 7002 && random[2].proto == "udp" &&
         random[2].host_ip == "127.0.0.1"));
}

TEST_CASE("parse_publish: Docker's errors, exit code 125 with a hint") {
  CHECK(error_of("x") == "invalid containerPort: x");
  CHECK(error_of("8080:x") == "invalid containerPort: x");
  CHECK(error_of("0") == "invalid containerPort: 0");
  CHECK(error_of("65536") == "invalid containerPort: 65536");
  CHECK(error_of("90-80") == "invalid containerPort: 90-80");
  CHECK(error_of("x:80") == "invalid hostPort: x");
  CHECK(error_of("8010-8000:80") == "invalid hostPort: 8010-8000");
  CHECK(error_of("80/sctpx") == "invalid proto: sctpx");
  CHECK(error_of("80/sctp") == "publishing sctp ports is not supported");
  CHECK(error_of("1.2.3:80:80") == "invalid ip address: 1.2.3");
  CHECK(error_of("localhost:80:80") == "invalid ip address: localhost");
  CHECK(error_of("[::1]:80:80") == "IPv6 host addresses are not supported yet: [::1]");
  CHECK(error_of("::1:80:80") == "IPv6 host addresses are not supported yet: ::1");
  CHECK(error_of("8000-8010:80-85") == "invalid ranges specified for container and host Ports: 80-85 and 8000-8010");
  CHECK(error_of("8000:80-85") == "invalid ranges specified for container and host Ports: 80-85 and 8000");
  CHECK(error_of("") == "no port specified: <empty>");
  CHECK(error_of("8080:") == "no port specified: 8080:<empty>");
}

TEST_CASE("publish_all: every exposed port, random host port, tcp by default") {
  auto all = publish_all(berth::json{{"80/tcp", berth::json::object()}, {"53/udp", berth::json::object()},
                                     {"443", berth::json::object()}});
  REQUIRE(all.size() == 3);
  CHECK((all[0].container_port == 53 && all[0].proto == "udp" && all[0].host_port == 0 && all[0].host_ip.empty()));
  CHECK((all[1].container_port == 80 && all[1].proto == "tcp"));
  CHECK((all[2].container_port == 443 && all[2].proto == "tcp"));
  CHECK(publish_all(nullptr).empty());
}

TEST_CASE("inspect shapes and `container port` lines") {
  std::vector<PortBinding> bs = parse_publish("127.0.0.1:8080:80");
  bs.push_back(parse_publish("9000:80")[0]);
  bs.push_back(parse_publish("5353:53/udp")[0]);
  berth::json j = port_bindings_json(bs);
  CHECK(j == berth::json::parse(R"({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"},
                                               {"HostIp": "0.0.0.0", "HostPort": "9000"}],
                                    "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}]})"));
  j["443/tcp"] = nullptr;  // exposed, not published
  CHECK(port_lines(j) == std::vector<std::string>{"53/udp -> 0.0.0.0:5353", "80/tcp -> 127.0.0.1:8080",
                                                  "80/tcp -> 0.0.0.0:9000"});
  CHECK(port_lines(berth::json::parse(R"({"80/tcp":[{"HostIp":"::","HostPort":"8080"}]})")) ==
        std::vector<std::string>{"80/tcp -> [::]:8080"});
  CHECK(host_config_port_bindings_json(parse_publish("8000-8010:80")) ==
        berth::json::parse(R"({"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}]})"));
}

TEST_CASE("bind_ports: port 0 gets a kernel-picked port, sockets are nonblocking and CLOEXEC") {
  auto bound = bind_ports({parse_publish("127.0.0.1::80")[0], parse_publish("127.0.0.1::53/udp")[0]});
  REQUIRE(bound.size() == 2);
  for (auto& b : bound) {
    CHECK(b.binding.host_port != 0);
    CHECK(b.binding.host_port == local_port(b.fd.get()));
    CHECK((fcntl(b.fd.get(), F_GETFL) & O_NONBLOCK));
    CHECK((fcntl(b.fd.get(), F_GETFD) & FD_CLOEXEC));
  }
  int type = 0;
  socklen_t len = sizeof type;
  getsockopt(bound[1].fd.get(), SOL_SOCKET, SO_TYPE, &type, &len);
  CHECK(type == SOCK_DGRAM);
}

TEST_CASE("bind_ports: a conflict names the process holding the port and leaves nothing bound") {
  UniqueFd holder = bound_socket(SOCK_STREAM, true);
  uint16_t held = local_port(holder.get());
  uint16_t free_port = local_port(bound_socket(SOCK_STREAM, false).get());  // closed again at once
  const std::string who = "process " + std::to_string(getpid()) + " (" + own_comm() + ")";

  std::vector<PortBinding> request = parse_publish("127.0.0.1:" + std::to_string(free_port) + ":80");
  request.push_back(parse_publish("127.0.0.1:" + std::to_string(held) + ":81")[0]);
  size_t fds_before = open_fd_count();
  try {
    bind_ports(request);
    FAIL("bind_ports must fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "Bind for 127.0.0.1:" + std::to_string(held) + " failed: port is already allocated by " + who);
    CHECK(e.exit_code() == 125);
    CHECK(e.hint().find("stop that process or choose another host port, e.g. -p 127.0.0.1:") == 0);
    CHECK(e.hint().find(":81") != std::string::npos);
    MESSAGE(std::string(e.what()) << " -- " << e.hint());
  }
  CHECK(open_fd_count() == fds_before);
  // The port bound before the failure was released: binding it alone works now.
  CHECK(bind_ports({request[0]}).at(0).binding.host_port == free_port);

  // The wildcard address conflicts with the specific one too; UDP is looked up in /proc/net/udp.
  try {
    bind_ports(parse_publish(std::to_string(held) + ":80"));
    FAIL("bind_ports must fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "Bind for 0.0.0.0:" + std::to_string(held) + " failed: port is already allocated by " + who);
  }
  UniqueFd udp_holder = bound_socket(SOCK_DGRAM, false);
  uint16_t udp_held = local_port(udp_holder.get());
  try {
    bind_ports(parse_publish("127.0.0.1:" + std::to_string(udp_held) + ":53/udp"));
    FAIL("bind_ports must fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "Bind for 127.0.0.1:" + std::to_string(udp_held) + "/udp failed: port is already allocated by " + who);
  }
}

TEST_CASE("bind_ports: the Berth holder callback answers first; two -p of one request collide") {
  UniqueFd holder = bound_socket(SOCK_STREAM, true);
  std::string held = std::to_string(local_port(holder.get()));
  HolderLookup lookup = [&](const PortBinding& b) {
    CHECK(std::to_string(b.host_port) == held);
    return std::string("container web-1 (3f2a1b4c5d6e)");
  };
  try {
    bind_ports(parse_publish("127.0.0.1:" + held + ":80"), lookup);
    FAIL("bind_ports must fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "Bind for 127.0.0.1:" + held + " failed: port is already allocated by container web-1 (3f2a1b4c5d6e)");
    CHECK(e.hint().find("stop that container") == 0);
  }
  holder.reset();
  auto twice = parse_publish("127.0.0.1:" + held + ":80");
  twice.push_back(parse_publish("127.0.0.1:" + held + ":81")[0]);
  try {
    bind_ports(twice);
    FAIL("bind_ports must fail");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "Bind for 127.0.0.1:" + held +
                                       " failed: port is already allocated by another -p of this same container "
                                       "(127.0.0.1:" + held + ":80)");
  }
}

TEST_CASE("bind_ports: a host range takes its first free port") {
  UniqueFd holder = bound_socket(SOCK_STREAM, true);
  uint16_t held = local_port(holder.get());
  if (held > 65530) return;
  auto bound = bind_ports(parse_publish("127.0.0.1:" + std::to_string(held) + "-" + std::to_string(held + 5) + ":80"));
  REQUIRE(bound.size() == 1);
  CHECK(bound[0].binding.host_port > held);
  CHECK(bound[0].binding.host_port <= held + 5);
  CHECK(bound[0].binding.host_port_end == 0);
}

TEST_CASE("proxy: TCP relays 1 MiB both ways and closes cleanly") {
  UniqueFd target = bound_socket(SOCK_STREAM, false);
  uint16_t target_port = local_port(target.get());
  EchoServer echo(std::move(target));
  uint16_t published = 0;
  ProxyLoop loop(publish_to("tcp", target_port, &published));

  std::string data = pattern(1 << 20);
  UniqueFd client = connect_to(published);
  std::string back = echo_exchange(client.get(), data);
  CHECK(back.size() == data.size());
  CHECK(back == data);
  client.reset();
  CHECK(loop.wait_idle(2000));
}

TEST_CASE("proxy: a target that starts listening 500 ms late is retried, not reset") {
  UniqueFd target = bound_socket(SOCK_STREAM, false);  // bound, not listening: connects are refused
  uint16_t target_port = local_port(target.get());
  uint16_t published = 0;
  ProxyLoop loop(publish_to("tcp", target_port, &published));
  UniqueFd client = connect_to(published);
  double start = mono_s();
  EchoServer echo(std::move(target), 500);
  CHECK(echo_exchange(client.get(), "hello, late service") == "hello, late service");
  double waited = mono_s() - start;
  CHECK(waited >= 0.45);
  CHECK(waited < 1.5);
  client.reset();
  CHECK(loop.wait_idle(2000));
}

TEST_CASE("proxy: a target's reset reaches the client (and SIGPIPE does not kill the process)") {
  UniqueFd target = bound_socket(SOCK_STREAM, true);
  uint16_t target_port = local_port(target.get());
  std::thread resetter([&] {
    UniqueFd c(accept4(target.get(), nullptr, nullptr, SOCK_CLOEXEC));
    char buf[4096];
    (void)!read(c.get(), buf, sizeof buf);
    linger hard{1, 0};
    setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  });
  uint16_t published = 0;
  ProxyLoop loop(publish_to("tcp", target_port, &published));
  UniqueFd client = connect_to(published);
  std::string chunk(65536, 'r');
  int err = 0;
  for (int64_t end = mono_ms() + 5000; mono_ms() < end && !err;) {
    pollfd p{client.get(), POLLOUT, 0};
    poll(&p, 1, 100);
    if (send(client.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) err = errno;
  }
  resetter.join();
  CHECK((err == ECONNRESET || err == EPIPE));
  CHECK(loop.wait_idle(1000));
}

TEST_CASE("proxy: a target that never listens closes the client after ~2 s") {
  UniqueFd target = bound_socket(SOCK_STREAM, false);
  uint16_t published = 0;
  ProxyLoop loop(publish_to("tcp", local_port(target.get()), &published));
  UniqueFd client = connect_to(published);
  double start = mono_s();
  char c;
  pollfd p{client.get(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 5000) == 1);
  CHECK(read(client.get(), &c, 1) <= 0);
  double waited = mono_s() - start;
  CHECK(waited > 1.8);
  CHECK(waited < 2.5);
  CHECK(loop.wait_idle(500));
}

TEST_CASE("proxy: UDP echo through a published port, one flow per client") {
  UniqueFd target = bound_socket(SOCK_DGRAM, false);
  uint16_t target_port = local_port(target.get());
  std::atomic<bool> stop{false};
  std::thread echo([&] {
    char buf[2048];
    while (!stop) {
      pollfd p{target.get(), POLLIN, 0};
      if (poll(&p, 1, 20) != 1) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(target.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 0) sendto(target.get(), buf, size_t(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  });
  uint16_t published = 0;
  ProxyLoop loop(publish_to("udp", target_port, &published));
  for (int client_no = 0; client_no < 2; ++client_no) {
    UniqueFd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = loopback(published);
    REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    for (int i = 0; i < 3; ++i) {
      std::string msg = "datagram " + std::to_string(client_no) + "." + std::to_string(i);
      REQUIRE(send(client.get(), msg.data(), msg.size(), 0) == ssize_t(msg.size()));
      pollfd p{client.get(), POLLIN, 0};
      REQUIRE(poll(&p, 1, 2000) == 1);
      char buf[2048];
      ssize_t n = recv(client.get(), buf, sizeof buf, 0);
      CHECK(std::string(buf, size_t(std::max<ssize_t>(n, 0))) == msg);
    }
  }
  CHECK(loop.active() == 2);  // flows live on until 30 s idle
  stop = true;
  echo.join();
}

TEST_CASE("proxy: an idle UDP flow is dropped after 30 s, driven by next_deadline_ms") {
  UniqueFd target = bound_socket(SOCK_DGRAM, false);
  uint16_t published = 0;
  PortProxy proxy(publish_to("udp", local_port(target.get()), &published));
  CHECK(proxy.next_deadline_ms() == 0);
  UniqueFd client(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa = loopback(published);
  REQUIRE(sendto(client.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 4);
  std::vector<pollfd> fds;
  proxy.add_fds(fds);
  REQUIRE(poll(fds.data(), fds.size(), 1000) == 1);
  int64_t now = mono_ms();
  proxy.handle(fds, now);
  CHECK(proxy.active_connections() == 1);
  char buf[16];
  pollfd p{target.get(), POLLIN, 0};
  REQUIRE(poll(&p, 1, 1000) == 1);
  CHECK(recv(target.get(), buf, sizeof buf, 0) == 4);  // forwarded to the target
  CHECK(proxy.next_deadline_ms() == now + 30000);
  fds.clear();
  proxy.add_fds(fds);  // nothing ready: the deadline alone runs handle()
  proxy.handle(fds, now + 29999);
  CHECK(proxy.active_connections() == 1);
  fds.clear();
  proxy.add_fds(fds);
  proxy.handle(fds, now + 30000);
  CHECK(proxy.active_connections() == 0);
  CHECK(proxy.next_deadline_ms() == 0);
}

TEST_CASE("proxy: throughput and connection setup, through the proxy vs direct (printout only)") {
  // Sink: reads one connection to EOF, then closes.
  auto sink_transfer = [](uint16_t connect_port, UniqueFd& sink_listener, size_t total, double* cpu) {
    std::atomic<size_t> got{0};
    std::thread sink([&] {
      UniqueFd c(accept4(sink_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      std::vector<char> buf(1 << 18);
      size_t n_total = 0;
      for (ssize_t n; (n = read(c.get(), buf.data(), buf.size())) > 0;) n_total += size_t(n);
      got = n_total;
    });
    std::vector<char> chunk(1 << 18, 'x');
    double start = mono_s(), cpu_start = cpu_s();
    UniqueFd client = connect_to(connect_port);
    for (size_t sent = 0; sent < total;) {
      ssize_t w = write(client.get(), chunk.data(), std::min(chunk.size(), total - sent));
      if (w <= 0) break;
      sent += size_t(w);
    }
    shutdown(client.get(), SHUT_WR);
    sink.join();
    double secs = mono_s() - start;
    *cpu = cpu_s() - cpu_start;
    CHECK(got == total);
    return double(total) / secs / (1 << 20);
  };
  constexpr size_t kTotal = size_t(256) << 20;
  UniqueFd sink_listener = bound_socket(SOCK_STREAM, true);
  uint16_t sink_port = local_port(sink_listener.get());
  uint16_t published = 0;
  double direct_mibs = 0, proxied_mibs = 0, direct_cpu = 0, proxied_cpu = 0;
  {
    ProxyLoop loop(publish_to("tcp", sink_port, &published));
    direct_mibs = sink_transfer(sink_port, sink_listener, kTotal, &direct_cpu);
    proxied_mibs = sink_transfer(published, sink_listener, kTotal, &proxied_cpu);
  }

  // Setup latency: connect, one byte there and back, close; median of 200.
  UniqueFd echo_socket = bound_socket(SOCK_STREAM, false);
  uint16_t echo_port = local_port(echo_socket.get());
  EchoServer echo(std::move(echo_socket));
  ProxyLoop loop(publish_to("tcp", echo_port, &published));
  auto median_setup_us = [](uint16_t port) {
    std::vector<double> us;
    for (int i = 0; i < 200; ++i) {
      double start = mono_s();
      UniqueFd c = connect_to(port);
      char byte = 'x';
      REQUIRE(write(c.get(), &byte, 1) == 1);
      REQUIRE(read(c.get(), &byte, 1) == 1);
      us.push_back((mono_s() - start) * 1e6);
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  };
  double direct_us = median_setup_us(echo_port);
  double proxied_us = median_setup_us(published);
  std::printf("port proxy: throughput 256 MiB direct %.0f MiB/s, proxied %.0f MiB/s (%.0f%%); "
              "CPU direct %.2f s, proxied %.2f s; setup+1 byte echo median direct %.0f us, proxied %.0f us "
              "(+%.0f us)\n",
              direct_mibs, proxied_mibs, 100 * proxied_mibs / direct_mibs, direct_cpu, proxied_cpu, direct_us,
              proxied_us, proxied_us - direct_us);
}
