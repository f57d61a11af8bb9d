// Drives src/network/netlink/ from tests/integration/test_netlink.sh, one operation per call,
// so the script can check the kernel's view (ip, /proc/self/mountinfo) between steps.
//
//   create-netns PATH | remove-netns PATH | mounted PATH | defaults NETNS
//   bridge NAME GATEWAY/PREFIX [MTU] | remove-bridge NAME
//   endpoint NETNS BRIDGE HOST_VETH IFNAME ADDRESS/PREFIX GATEWAY MAC [--no-route] [--internal]
//   [--mtu N] teardown HOST_VETH | links [NETNS] | routes [NETNS] | index NAME [NETNS] ping NETNS
//   ADDRESS            ICMP echo from inside NETNS (a ping socket: needs ping_group_range) bench
//   DIR BRIDGE GATEWAY/PREFIX COUNT   times create_netns, defaults, setup_endpoint, teardown
// Errors go to stderr as the user would see them; exit 1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "berth/network/netlink.h"
#include "berth/network/netns.h"
#include "berth/util/error.h"

using namespace berth;
using namespace berth::network;

namespace {

uint32_t parse_address(const std::string& text) {
  in_addr addr{};
  if (::inet_pton(AF_INET, text.c_str(), &addr) != 1)
    throw Error("bad IPv4 address '" + text + "'");
  return ntohl(addr.s_addr);
}

std::pair<uint32_t, int> parse_cidr_text(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw Error("expected ADDRESS/PREFIX, got '" + text + "'");
  return {parse_address(text.substr(0, slash)), std::stoi(text.substr(slash + 1))};
}

std::string address_text(uint32_t addr) {
  char text[INET_ADDRSTRLEN];
  const uint32_t be = htonl(addr);
  ::inet_ntop(AF_INET, &be, text, sizeof(text));
  return text;
}

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

uint16_t icmp_checksum(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

// One echo request from inside the namespace; true on a reply within the timeout.
bool ping_from(const std::string& netns_path, uint32_t target, int attempts) {
  UniqueFd ns = open_netns(netns_path);
  UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (::setns(ns.get(), CLONE_NEWNET) != 0) throw_errno("enter " + netns_path);
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP));
  const int socket_err = errno;
  if (::setns(original.get(), CLONE_NEWNET) != 0) throw_errno("return to the original namespace");
  if (!sock) throw SysError("ping socket in " + netns_path, socket_err);

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(target);
  for (int i = 0; i < attempts; ++i) {
    icmphdr echo{};
    echo.type = ICMP_ECHO;
    echo.un.echo.sequence = htons(static_cast<uint16_t>(i + 1));
    echo.checksum = icmp_checksum(&echo, sizeof(echo));
    const auto start = std::chrono::steady_clock::now();
    if (::sendto(sock.get(), &echo, sizeof(echo), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) <
        0)
      throw_errno("send echo to " + address_text(target));
    pollfd pfd{sock.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 1000) == 1) {
      icmphdr reply{};
      if (::recv(sock.get(), &reply, sizeof(reply), 0) >= static_cast<ssize_t>(sizeof(reply)) &&
          reply.type == ICMP_ECHOREPLY) {
        std::printf("reply from %s in %.3f ms\n", address_text(target).c_str(), elapsed_ms(start));
        return true;
      }
    }
  }
  return false;
}

Endpoint make_endpoint(const std::string& bridge, const std::string& host_veth,
                       const std::string& cidr, const std::string& gateway,
                       const std::string& mac) {
  Endpoint ep;
  ep.network = "btest";
  ep.bridge = bridge;
  ep.host_veth = host_veth;
  std::tie(ep.address, ep.prefix) = parse_cidr_text(cidr);
  ep.gateway = parse_address(gateway);
  ep.mac = mac;
  return ep;
}

// A socket in NETNS when given, else in ours.
netlink::Socket socket_for(const std::vector<std::string>& args, size_t at) {
  if (args.size() <= at) return netlink::Socket();
  UniqueFd ns = open_netns(args[at]);
  return netlink::Socket(ns.get());
}

// Wall time and this thread's CPU time (user + kernel): on a loaded machine the wall time
// includes waiting for a CPU, the CPU time is what the steps themselves cost.
struct Stopwatch {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = cpu_ms();
  static double cpu_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
  void record(std::vector<double>& walls, std::vector<double>& cpus) const {
    walls.push_back(elapsed_ms(wall));
    cpus.push_back(cpu_ms() - cpu);
  }
};

int bench(const std::string& dir, const std::string& bridge, const std::string& gateway_cidr,
          int count) {
  auto [gateway, prefix] = parse_cidr_text(gateway_cidr);
  Endpoint bridge_ep;
  bridge_ep.bridge = bridge;
  bridge_ep.gateway = gateway;
  bridge_ep.prefix = prefix;
  auto start = std::chrono::steady_clock::now();
  ensure_bridge(bridge_ep);
  std::printf("ensure_bridge (new): %.3f ms\n", elapsed_ms(start));

  enum { kNetns, kDefaults, kEndpoint, kTotal, kTeardown, kRemove, kSteps };
  const char* names[kSteps] = {"create_netns",      "setup_namespace_defaults",
                               "setup_endpoint",    "total (netns+defaults+endpoint)",
                               "teardown_endpoint", "remove_netns"};
  std::vector<double> wall[kSteps], cpu[kSteps];
  for (int i = 0; i < count; ++i) {
    const std::string path = dir + "/bench-" + std::to_string(i);
    const std::string veth = "btestb" + std::to_string(i);
    const uint32_t address = gateway + 100 + static_cast<uint32_t>(i);
    Endpoint ep =
        make_endpoint(bridge, veth, address_text(address) + "/" + std::to_string(prefix),
                      address_text(gateway), "02:42:0a:fa:00:" + std::to_string(10 + i % 80));
    const Stopwatch total;
    Stopwatch step;
    create_netns(path);
    step.record(wall[kNetns], cpu[kNetns]);
    UniqueFd ns = open_netns(path);
    step = Stopwatch();
    setup_namespace_defaults(ns.get());
    step.record(wall[kDefaults], cpu[kDefaults]);
    step = Stopwatch();
    setup_endpoint(ns.get(), ep, "eth0", true);
    step.record(wall[kEndpoint], cpu[kEndpoint]);
    total.record(wall[kTotal], cpu[kTotal]);
    // Each step must have returned to our namespace: the host side is visible from here.
    netlink::Socket here;
    if (!netlink::link_index(here, veth))
      throw Error("bench: " + veth + " is not in the host namespace");
  }
  for (int i = 0; i < count; ++i) {
    Stopwatch step;
    teardown_endpoint("btestb" + std::to_string(i));
    step.record(wall[kTeardown], cpu[kTeardown]);
    step = Stopwatch();
    remove_netns(dir + "/bench-" + std::to_string(i));
    step.record(wall[kRemove], cpu[kRemove]);
  }
  start = std::chrono::steady_clock::now();
  remove_bridge(bridge);
  std::printf("remove_bridge: %.3f ms\n", elapsed_ms(start));
  std::printf("median of %d runs, ms        wall     cpu   (wall min..max)\n", count);
  for (int k = 0; k < kSteps; ++k) {
    std::printf("  %-32s %7.3f %7.3f   (%.3f..%.3f)\n", names[k], median(wall[k]), median(cpu[k]),
                *std::min_element(wall[k].begin(), wall[k].end()),
                *std::max_element(wall[k].begin(), wall[k].end()));
  }
  std::printf("total_wall_ms_median=%d\n", static_cast<int>(median(wall[kTotal]) + 0.999));
  std::printf("total_cpu_ms_median=%d\n", static_cast<int>(median(cpu[kTotal]) + 0.999));
  return 0;
}

int run(const std::vector<std::string>& args) {
  auto need = [&](size_t n) {
    if (args.size() < n) throw Error("too few arguments for " + args[0]);
  };
  const std::string& cmd = args.at(0);
  if (cmd == "create-netns") {
    need(2);
    create_netns(args[1]);
  } else if (cmd == "remove-netns") {
    need(2);
    remove_netns(args[1]);
  } else if (cmd == "mounted") {
    need(2);
    std::puts(netns_mounted(args[1]) ? "yes" : "no");
  } else if (cmd == "defaults") {
    need(2);
    setup_namespace_defaults(open_netns(args[1]).get());
  } else if (cmd == "bridge") {
    need(3);
    Endpoint ep;
    ep.bridge = args[1];
    std::tie(ep.gateway, ep.prefix) = parse_cidr_text(args[2]);
    if (args.size() > 3) ep.mtu = std::stoi(args[3]);
    ensure_bridge(ep);
  } else if (cmd == "remove-bridge") {
    need(2);
    remove_bridge(args[1]);
  } else if (cmd == "endpoint") {
    need(8);
    Endpoint ep = make_endpoint(args[2], args[3], args[5], args[6], args[7]);
    bool default_route = true;
    for (size_t i = 8; i < args.size(); ++i) {
      if (args[i] == "--no-route") default_route = false;
      if (args[i] == "--internal") ep.internal = true;
      if (args[i] == "--mtu" && i + 1 < args.size()) ep.mtu = std::stoi(args[++i]);
    }
    setup_endpoint(open_netns(args[1]).get(), ep, args[4], default_route);
  } else if (cmd == "teardown") {
    need(2);
    teardown_endpoint(args[1]);
  } else if (cmd == "delete-links") {
    netlink::Socket s;
    netlink::delete_links(s, std::vector<std::string>(args.begin() + 1, args.end()));
  } else if (cmd == "links") {
    netlink::Socket s = socket_for(args, 1);
    for (const auto& name : netlink::link_names(s)) std::puts(name.c_str());
  } else if (cmd == "routes") {
    netlink::Socket s = socket_for(args, 1);
    for (const auto& net : netlink::ipv4_routes(s))
      std::printf("%s/%d\n", address_text(net.addr).c_str(), net.prefix);
  } else if (cmd == "index") {
    need(2);
    netlink::Socket s = socket_for(args, 2);
    auto index = netlink::link_index(s, args[1]);
    std::puts(index ? std::to_string(*index).c_str() : "absent");
  } else if (cmd == "ping") {
    need(3);
    return ping_from(args[1], parse_address(args[2]), 3) ? 0 : 2;
  } else if (cmd == "bench") {
    need(5);
    return bench(args[1], args[2], args[3], std::stoi(args[4]));
  } else {
    throw Error("unknown command " + cmd);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COMMAND ARGS... (see the top of netlink_driver.cpp)\n",
                 argv[0]);
    return 1;
  }
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
