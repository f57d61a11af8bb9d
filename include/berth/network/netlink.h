#pragma once
// rtnetlink through libmnl (CLI only: the supervisor never links it). Every call is synchronous
// (NLM_F_ACK) and throws berth::SysError naming the link and the operation on failure.
// Namespaces: a Socket opened with a netns fd talks to that namespace for its whole life
// (the socket is created inside it), so no thread ever stays in a container's namespace.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "berth/network/ipam.h"
#include "berth/util/fd.h"

namespace berth::network::netlink {

class Socket {
 public:
  explicit Socket(int netns_fd = -1);  // -1: the caller's namespace
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  void* handle() const { return nl_; }  // struct mnl_socket*
  uint32_t next_seq() { return ++seq_; }

 private:
  void* nl_ = nullptr;
  uint32_t seq_ = 0;
};

std::optional<int> link_index(Socket& s, const std::string& name);
std::vector<std::string> link_names(Socket& s);
void create_bridge(Socket& s, const std::string& name, int mtu);  // EEXIST is an error
// A veth pair: host_name stays here, peer_name is created directly inside peer_netns_fd.
void create_veth(Socket& s, const std::string& host_name, const std::string& peer_name,
                 int peer_netns_fd, int mtu);
void set_master(Socket& s, const std::string& name, const std::string& master);
void set_mac(Socket& s, const std::string& name, const std::string& mac);
void set_up(Socket& s, const std::string& name);
void add_address(Socket& s, const std::string& name, uint32_t addr, int prefix);  // EEXIST ignored
void add_default_route(Socket& s, uint32_t gateway);
bool delete_link(Socket& s, const std::string& name);  // false when absent
// Several links in one kernel batch (absent ones are skipped): 5 veths take ~55 ms this way
// and ~170 ms one by one here, as each deletion waits for its own RCU grace period.
void delete_links(Socket& s, const std::vector<std::string>& names);
// IPv4 routes of the main table (destination subnets), to keep new networks off them.
std::vector<Ipv4Net> ipv4_routes(Socket& s);

}  // namespace berth::network::netlink
