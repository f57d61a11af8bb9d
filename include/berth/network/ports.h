#pragma once
// Published ports: `-p` parsing (Docker's rules), and binding the host sockets in the CLI before
// anything is created, so a conflict is exact, names the holder and leaves nothing behind.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "berth/util/fd.h"
#include "berth/util/json.h"

namespace berth::network {

struct PortBinding {
  std::string proto = "tcp";  // tcp | udp
  std::string host_ip;        // "" = every address (0.0.0.0)
  uint16_t host_port = 0;     // 0 = pick a free one (-p 80, -P)
  uint16_t container_port = 0;
  uint16_t host_port_end = 0;  // "8000-8010:80": try host_port..host_port_end, first free wins
};

// -p [IP:][HOST[-HOST]:]CTR[-CTR][/PROTO], IPv6 host in brackets ("[::1]:80:80" rejected for now
// with a clear error). Ranges expand to one binding per port: "8000-8010:80-90" maps one to one;
// "8000-8010:80" is one binding with host_port_end set (bind_ports takes the first free port of
// the range); any other length mismatch is an Error.
std::vector<PortBinding> parse_publish(const std::string& spec);
// -P: every ExposedPorts key of the image ("80/tcp") to a random host port on every address.
std::vector<PortBinding> publish_all(const json& exposed_ports);

// Who holds a host port, for the conflict message: the callback answers for Berth containers
// (e.g. "container web-1 (3f2a1b...)"), else the process is found through /proc
// (/proc/net/{tcp,udp} inode -> /proc/<pid>/fd), e.g. "process 1234 (nginx)".
using HolderLookup = std::function<std::string(const PortBinding&)>;

struct BoundPort {
  PortBinding binding;  // host_port filled in when it was 0
  UniqueFd fd;          // listening (tcp) or bound (udp) socket, nonblocking, CLOEXEC
};
// Binds every binding (SO_REUSEADDR for tcp as Docker's proxy does). On the first failure closes
// what it bound and throws Error("Bind for 0.0.0.0:8080 failed: port is already allocated by
// <holder>", hint) with exit code 125.
std::vector<BoundPort> bind_ports(const std::vector<PortBinding>& bindings,
                                  const HolderLookup& berth_holder = {});

// Docker's inspect shapes: HostConfig.PortBindings and NetworkSettings.Ports
// {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}.
json port_bindings_json(const std::vector<PortBinding>& b);
// HostConfig.PortBindings as requested: HostIp "" when not given, HostPort "" (random) or "8000-8010".
json host_config_port_bindings_json(const std::vector<PortBinding>& b);
// `container port` lines: "80/tcp -> 0.0.0.0:8080".
std::vector<std::string> port_lines(const json& ports);

}  // namespace berth::network
