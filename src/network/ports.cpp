// Published ports: Docker's `-p` grammar (go-connections nat.ParsePortSpec), host sockets bound by
// the CLI, and conflict messages that name who holds the port.
#include "berth/network/ports.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "berth/util/error.h"

namespace berth::network {
namespace {

constexpr const char* kParseHint = "publish as [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp], e.g. -p 8080:80";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return parts;
    start = pos + 1;
  }
}

std::optional<uint16_t> parse_port_number(const std::string& s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// "80" or "80-90" (nat.ParsePortRange); nullopt when malformed or reversed.
std::optional<std::pair<uint16_t, uint16_t>> parse_port_range(const std::string& s) {
  size_t dash = s.find('-');
  if (dash == std::string::npos) {
    auto port = parse_port_number(s);
    if (!port) return std::nullopt;
    return std::make_pair(*port, *port);
  }
  auto start = parse_port_number(s.substr(0, dash));
  auto end = parse_port_number(s.substr(dash + 1));
  if (!start || !end || *end < *start) return std::nullopt;
  return std::make_pair(*start, *end);
}

std::string display_ip(const std::string& host_ip) { return host_ip.empty() ? "0.0.0.0" : host_ip; }

std::string binding_spec(const PortBinding& b, uint16_t host_port) {
  std::string spec;
  if (!b.host_ip.empty()) spec += b.host_ip + ":";
  spec += std::to_string(host_port) + ":" + std::to_string(b.container_port);
  if (b.proto != "tcp") spec += "/" + b.proto;
  return spec;
}

sockaddr_in make_addr(const std::string& host_ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (!host_ip.empty() && inet_pton(AF_INET, host_ip.c_str(), &sa.sin_addr) != 1)
    throw Error("invalid ip address: " + host_ip, kParseHint);
  return sa;
}

// Binds one socket; returns the fd or -errno.
int try_bind(const PortBinding& b, uint16_t port, uint16_t* bound_port) {
  bool tcp = b.proto == "tcp";
  sockaddr_in sa = make_addr(b.host_ip, port);
  int fd = ::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (tcp) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || (tcp && ::listen(fd, 128) != 0)) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *bound_port = ntohs(sa.sin_port);
  return fd;
}

// ---- who holds a port: /proc/net/{tcp,udp}[6] -> socket inode -> /proc/<pid>/fd ----

struct SocketOwner {
  unsigned long inode = 0;
  unsigned uid = 0;
};

// The 32-bit address in /proc/net/tcp is the raw network-order word printed as hex.
bool ipv4_matches(const std::string& hex, const std::string& wanted_ip) {
  uint32_t raw = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
  if (raw == 0 || wanted_ip.empty()) return true;  // either side is the wildcard
  in_addr want{};
  inet_pton(AF_INET, wanted_ip.c_str(), &want);
  return raw == want.s_addr;
}

// tcp6/udp6 lines: "::" conflicts with every IPv4 bind (unless V6ONLY), ::ffff:a.b.c.d with a.b.c.d.
bool ipv6_matches(const std::string& hex, const std::string& wanted_ip) {
  if (hex.size() != 32) return false;
  if (hex == std::string(32, '0')) return true;
  // Four 32-bit words, each printed as a native-order word: ::ffff:x is words 0,0,0000FFFF,x.
  if (hex.substr(0, 16) != std::string(16, '0') || hex.substr(16, 8) != "FFFF0000") return false;
  return ipv4_matches(hex.substr(24, 8), wanted_ip);
}

std::optional<SocketOwner> find_socket(const PortBinding& b, uint16_t port) {
  bool tcp = b.proto == "tcp";
  for (bool v6 : {false, true}) {
    std::string path = std::string("/proc/net/") + (tcp ? "tcp" : "udp") + (v6 ? "6" : "");
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      size_t colon = local.find(':');
      if (colon == std::string::npos || inode.empty()) continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      if (tcp && state != "0A") continue;  // only listeners hold a port against bind
      std::string addr = local.substr(0, colon);
      if (!(v6 ? ipv6_matches(addr, b.host_ip) : ipv4_matches(addr, b.host_ip))) continue;
      SocketOwner owner;
      owner.inode = std::stoul(inode);
      owner.uid = static_cast<unsigned>(std::stoul(uid));
      if (owner.inode != 0) return owner;
    }
  }
  return std::nullopt;
}

std::string read_comm(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// Scans every process's fds we may read (all of them as root, our own otherwise).
std::string process_holding(const SocketOwner& owner) {
  std::string target = "socket:[" + std::to_string(owner.inode) + "]";
  DIR* proc = ::opendir("/proc");
  if (!proc) return {};
  std::string found;
  while (dirent* entry = ::readdir(proc)) {
    std::string pid = entry->d_name;
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    std::string fd_dir = "/proc/" + pid + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (!fds) continue;
    char link[64];
    while (dirent* fd = ::readdir(fds)) {
      if (fd->d_name[0] == '.') continue;
      ssize_t n = ::readlinkat(::dirfd(fds), fd->d_name, link, sizeof link - 1);
      if (n <= 0) continue;
      if (target.compare(0, std::string::npos, link, static_cast<size_t>(n)) == 0) {
        found = "process " + pid + " (" + read_comm(pid) + ")";
        break;
      }
    }
    ::closedir(fds);
    if (!found.empty()) break;
  }
  ::closedir(proc);
  return found;
}

std::string find_holder(const PortBinding& b, uint16_t port, const std::vector<BoundPort>& bound,
                        const HolderLookup& berth_holder) {
  for (const BoundPort& mine : bound) {
    if (mine.binding.proto == b.proto && mine.binding.host_port == port &&
        (mine.binding.host_ip.empty() || b.host_ip.empty() || mine.binding.host_ip == b.host_ip))
      return "another -p of this same container (" + binding_spec(mine.binding, port) + ")";
  }
  if (berth_holder) {
    PortBinding asked = b;
    asked.host_port = port;
    asked.host_port_end = 0;
    std::string holder = berth_holder(asked);
    if (!holder.empty()) return holder;
  }
  auto owner = find_socket(b, port);
  if (!owner) return {};
  std::string process = process_holding(*owner);
  if (!process.empty()) return process;
  return "a process of uid " + std::to_string(owner->uid) + " (not visible to this user)";
}

// A nearby port that is free right now, for the hint.
uint16_t suggest_free_port(const PortBinding& b, uint16_t from) {
  for (unsigned port = from + 1u; port <= 65535 && port < from + 200u; ++port) {
    uint16_t bound = 0;
    int fd = try_bind(b, static_cast<uint16_t>(port), &bound);
    if (fd >= 0) {
      ::close(fd);
      return static_cast<uint16_t>(port);
    }
  }
  return 0;
}

[[noreturn]] void throw_bind_error(const PortBinding& b, int err, const std::vector<BoundPort>& bound,
                                   const HolderLookup& berth_holder) {
  std::string where = display_ip(b.host_ip) + ":" + std::to_string(b.host_port);
  if (b.host_port_end) where += "-" + std::to_string(b.host_port_end);
  if (b.proto != "tcp") where += "/" + b.proto;
  std::string prefix = "Bind for " + where + " failed: ";
  if (err == EADDRINUSE) {
    std::string message = prefix + (b.host_port_end ? "every port in the range is already allocated"
                                                      : "port is already allocated");
    std::string holder = b.host_port_end ? std::string() : find_holder(b, b.host_port, bound, berth_holder);
    if (!holder.empty()) message += " by " + holder;
    uint16_t last = b.host_port_end ? b.host_port_end : b.host_port;
    uint16_t free_port = suggest_free_port(b, last);
    std::string hint = "free that port";
    if (holder.rfind("process", 0) == 0) hint = "stop that process";
    else if (holder.rfind("container", 0) == 0) hint = "stop that container";
    else if (!holder.empty()) hint = "remove that binding";
    hint += " or choose another host port";
    if (free_port) hint += ", e.g. -p " + binding_spec(b, free_port);
    throw Error(message, hint);
  }
  if (err == EACCES)
    throw Error(prefix + "permission denied",
                "ports below net.ipv4.ip_unprivileged_port_start (usually 1024) need root; choose a higher host port");
  if (err == EADDRNOTAVAIL)
    throw Error(prefix + "cannot assign requested address",
                "the address " + display_ip(b.host_ip) + " is not configured on this host; use one of its addresses or 0.0.0.0");
  throw Error(prefix + std::strerror(err), "check the host address and port");
}

}  // namespace

std::vector<PortBinding> parse_publish(const std::string& spec) {
  // splitParts: the last field is the container port, the one before it the host port, the rest the IP.
  std::vector<std::string> parts = split(spec, ':');
  std::string ip, host_port, container_port = parts.back();
  if (parts.size() == 2) {
    host_port = parts[0];
  } else if (parts.size() >= 3) {
    host_port = parts[parts.size() - 2];
    for (size_t i = 0; i + 2 < parts.size(); ++i) ip += (i ? ":" : "") + parts[i];
  }

  // SplitProtoPort: "80" -> tcp, "80/" -> tcp, "80/udp" -> udp.
  std::string proto = "tcp";
  if (size_t slash = container_port.find('/'); slash != std::string::npos) {
    std::string given = container_port.substr(slash + 1);
    container_port.resize(slash);
    if (!given.empty()) proto = given;
  }

  if (!ip.empty()) {
    in6_addr v6{};
    in_addr v4{};
    std::string bare = ip;
    if (bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
    if (inet_pton(AF_INET6, bare.c_str(), &v6) == 1)
      throw Error("IPv6 host addresses are not supported yet: " + ip,
                  "publish on an IPv4 address (e.g. -p 127.0.0.1:8080:80) or on every address (-p 8080:80)");
    if (inet_pton(AF_INET, ip.c_str(), &v4) != 1) throw Error("invalid ip address: " + ip, kParseHint);
  }
  if (container_port.empty()) throw Error("no port specified: " + spec + "<empty>", kParseHint);

  auto container_range = parse_port_range(container_port);
  if (!container_range || container_range->first == 0)
    throw Error("invalid containerPort: " + container_port, kParseHint);
  std::pair<uint16_t, uint16_t> host_range{0, 0};
  if (!host_port.empty()) {
    auto parsed = parse_port_range(host_port);
    if (!parsed) throw Error("invalid hostPort: " + host_port, kParseHint);
    host_range = *parsed;
  }
  unsigned container_count = container_range->second - container_range->first;
  unsigned host_count = host_range.second - host_range.first;
  // A host range with a single container port is a pool to pick from; otherwise lengths must match.
  if (!host_port.empty() && container_count != host_count && container_count != 0)
    throw Error("invalid ranges specified for container and host Ports: " + container_port + " and " + host_port,
                "a container port range needs a host range of the same length, e.g. -p 8000-8010:80-90");

  std::string lowered = proto;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lowered == "sctp")
    throw Error("publishing sctp ports is not supported", "publish tcp or udp ports (-p 8080:80 or -p 53:53/udp)");
  if (lowered != "tcp" && lowered != "udp") throw Error("invalid proto: " + proto, kParseHint);

  std::vector<PortBinding> out;
  for (unsigned i = 0; i <= container_count; ++i) {
    PortBinding b;
    b.proto = lowered;
    b.host_ip = ip;
    b.container_port = static_cast<uint16_t>(container_range->first + i);
    if (!host_port.empty()) b.host_port = static_cast<uint16_t>(host_range.first + i);
    if (container_count == 0 && host_count != 0) b.host_port_end = host_range.second;
    out.push_back(b);
  }
  return out;
}

std::vector<PortBinding> publish_all(const json& exposed_ports) {
  std::vector<PortBinding> out;
  if (!exposed_ports.is_object()) return out;
  for (const auto& [key, value] : exposed_ports.items()) {
    (void)value;
    for (PortBinding b : parse_publish(key)) {
      b.host_ip.clear();
      b.host_port = 0;
      b.host_port_end = 0;
      out.push_back(b);
    }
  }
  std::sort(out.begin(), out.end(), [](const PortBinding& a, const PortBinding& b) {
    return std::tie(a.container_port, a.proto) < std::tie(b.container_port, b.proto);
  });
  return out;
}

std::vector<BoundPort> bind_ports(const std::vector<PortBinding>& bindings, const HolderLookup& berth_holder) {
  std::vector<BoundPort> bound;  // closed by its destructor when we throw
  for (const PortBinding& b : bindings) {
    uint16_t last = b.host_port_end > b.host_port ? b.host_port_end : b.host_port;
    int fd = -EADDRINUSE;
    uint16_t got = 0;
    for (unsigned port = b.host_port; port <= last; ++port) {
      fd = try_bind(b, static_cast<uint16_t>(port), &got);
      if (fd >= 0 || fd != -EADDRINUSE) break;
    }
    if (fd < 0) throw_bind_error(b, -fd, bound, berth_holder);
    BoundPort result;
    result.binding = b;
    result.binding.host_port = got;
    result.binding.host_port_end = 0;
    result.fd = UniqueFd(fd);
    bound.push_back(std::move(result));
  }
  return bound;
}

json port_bindings_json(const std::vector<PortBinding>& bindings) {
  json out = json::object();
  for (const PortBinding& b : bindings) {
    std::string key = std::to_string(b.container_port) + "/" + b.proto;
    if (!out.contains(key)) out[key] = json::array();
    out[key].push_back({{"HostIp", display_ip(b.host_ip)}, {"HostPort", b.host_port ? std::to_string(b.host_port) : ""}});
  }
  return out;
}

json host_config_port_bindings_json(const std::vector<PortBinding>& bindings) {
  json out = json::object();
  for (const PortBinding& b : bindings) {
    std::string key = std::to_string(b.container_port) + "/" + b.proto;
    std::string host_port = b.host_port ? std::to_string(b.host_port) : "";
    if (b.host_port_end > b.host_port) host_port += "-" + std::to_string(b.host_port_end);
    if (!out.contains(key)) out[key] = json::array();
    out[key].push_back({{"HostIp", b.host_ip}, {"HostPort", host_port}});
  }
  return out;
}

std::vector<std::string> port_lines(const json& ports) {
  struct Line {
    unsigned port;
    std::string proto, text;
  };
  std::vector<Line> lines;
  if (!ports.is_object()) return {};
  for (const auto& [key, targets] : ports.items()) {
    if (!targets.is_array()) continue;  // exposed but not published: null
    size_t slash = key.find('/');
    unsigned port = 0;
    std::from_chars(key.data(), key.data() + key.size(), port);
    std::string proto = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
    for (const json& t : targets) {
      std::string ip = t.value("HostIp", "");
      if (ip.empty()) ip = "0.0.0.0";
      if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
      lines.push_back({port, proto, std::to_string(port) + "/" + proto + " -> " + ip + ":" + t.value("HostPort", "")});
    }
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const Line& a, const Line& b) { return std::tie(a.port, a.proto) < std::tie(b.port, b.proto); });
  std::vector<std::string> out;
  for (Line& l : lines) out.push_back(std::move(l.text));
  return out;
}

}  // namespace berth::network
