#include "berth/network/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "berth/util/error.h"
#include "network/netlink/netns_entry.h"

namespace berth::network {

namespace detail {

UniqueFd open_current_netns() {
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open /proc/thread-self/ns/net");
  return fd;
}

void return_to_netns(int original) {
  if (::setns(original, CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "berth: cannot return to the original network namespace: %s\n",
                 std::strerror(errno));
    std::abort();
  }
}

NetnsEntry::NetnsEntry(int netns_fd) : original_(open_current_netns()) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) throw_errno("enter network namespace");
}

NetnsEntry::~NetnsEntry() { return_to_netns(original_.get()); }

}  // namespace detail

namespace netlink {
namespace {

// Large enough for a dump batch: the kernel fills up to the reader's buffer size.
constexpr size_t kReceiveBufferSize = size_t{64} * 1024;
// Requests are a few attributes each.
constexpr size_t kRequestBufferSize = 1024;

mnl_socket* raw(Socket& s) { return static_cast<mnl_socket*>(s.handle()); }

std::string ipv4_text(uint32_t addr) {
  char text[INET_ADDRSTRLEN];
  const uint32_t be = htonl(addr);
  ::inet_ntop(AF_INET, &be, text, sizeof(text));
  return text;
}

void check_ifname(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name.find_first_of("/: \t\n") != std::string::npos)
    throw Error("invalid network interface name '" + name + "'",
                "names have 1 to " + std::to_string(IFNAMSIZ - 1) +
                    " characters, without '/', ':' or spaces");
}

// One request message, built in place.
class Request {
 public:
  Request(Socket& s, uint16_t type, uint16_t flags) {
    nlmsghdr* header = mnl_nlmsg_put_header(buffer_.data());
    header->nlmsg_type = type;
    header->nlmsg_flags = NLM_F_REQUEST | flags;
    header->nlmsg_seq = s.next_seq();
  }
  template <class T>
  T* put_header() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh(), sizeof(T)));
  }
  // Derived from the buffer, never stored: a Request may be returned by copy.
  nlmsghdr* nlh() { return reinterpret_cast<nlmsghdr*>(buffer_.data()); }

 private:
  alignas(nlmsghdr) std::array<char, kRequestBufferSize> buffer_{};
};

using ReplyHandler = std::function<void(const nlmsghdr*)>;

int on_message(const nlmsghdr* nlh, void* data) {
  const auto* handler = static_cast<const ReplyHandler*>(data);
  if (*handler) (*handler)(nlh);
  return MNL_CB_OK;
}

struct DumpInterrupted {};

// Sends one request and reads until its ACK (or NLMSG_DONE for a dump); the kernel's error
// becomes SysError(what, errno). Handlers must not throw: a half-read reply would stay queued.
void transact(Socket& s, Request& request, const std::string& what,
              const ReplyHandler& handler = {}) {
  mnl_socket* nl = raw(s);
  nlmsghdr* nlh = request.nlh();
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) throw_errno(what);
  std::vector<char> buffer(kReceiveBufferSize);
  const unsigned portid = mnl_socket_get_portid(nl);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(what);
    }
    const int rc = mnl_cb_run(buffer.data(), static_cast<size_t>(n), nlh->nlmsg_seq, portid,
                              on_message, const_cast<ReplyHandler*>(&handler));
    if (rc == MNL_CB_ERROR) {
      if (errno == EINTR && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP) {
        // NLM_F_DUMP_INTR: links or routes changed during the dump (parallel `down`s do that).
        // Read the rest of this dump away, then the caller dumps again.
        auto has_done = [&](ssize_t len) {
          int left = static_cast<int>(len);
          for (auto* m = reinterpret_cast<const nlmsghdr*>(buffer.data()); mnl_nlmsg_ok(m, left);
               m = mnl_nlmsg_next(m, &left))
            if (m->nlmsg_type == NLMSG_DONE) return true;
          return false;
        };
        ssize_t len = n;
        while (!has_done(len)) {
          len = mnl_socket_recvfrom(nl, buffer.data(), buffer.size());
          if (len < 0 && errno != EINTR) throw_errno(what);
          if (len < 0) len = 0;
        }
        throw DumpInterrupted{};
      }
      throw SysError(what, errno);
    }
    if (rc == MNL_CB_STOP) return;
  }
}

// A dump, again while the kernel says it was interrupted by a concurrent change.
template <class F>
auto dump_consistently(F f) {
  for (int attempt = 0;; ++attempt) {
    try {
      return f();
    } catch (const DumpInterrupted&) {
      if (attempt >= 20) throw SysError("netlink dump", EINTR);
    }
  }
}

// Every attribute after the fixed header of a message.
template <class F>
void for_each_attr(const nlmsghdr* nlh, size_t header_size, F f) {
  const auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, header_size));
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  while (mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)))) {
    f(attr);
    attr = mnl_attr_next(attr);
  }
}

// RTM_SETLINK on a link named in IFLA_IFNAME (the kernel looks it up by name: one round trip).
Request link_request(Socket& s, const std::string& name) {
  check_ifname(name);
  Request request(s, RTM_SETLINK, NLM_F_ACK);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(request.nlh(), IFLA_IFNAME, name.c_str());
  return request;
}

int required_index(Socket& s, const std::string& name, const std::string& what) {
  auto index = link_index(s, name);
  if (!index) throw SysError(what, ENODEV);
  return *index;
}

std::array<uint8_t, 6> parse_mac(const std::string& name, const std::string& mac) {
  std::array<uint8_t, 6> bytes{};
  unsigned values[6];
  char trailing;
  if (std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &values[0], &values[1], &values[2],
                  &values[3], &values[4], &values[5], &trailing) != 6 ||
      mac.size() != 17)
    throw Error("invalid MAC address '" + mac + "' for " + name,
                "expected six hex pairs like 02:42:ac:11:00:02");
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(values[i]);
  return bytes;
}

}  // namespace

Socket::Socket(int netns_fd) {
  std::optional<detail::NetnsEntry> inside;
  if (netns_fd >= 0) inside.emplace(netns_fd);
  mnl_socket* nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!nl) throw_errno("open rtnetlink socket");
  inside.reset();  // the socket stays in the namespace it was created in
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(nl);
    throw SysError("bind rtnetlink socket", err);
  }
  // Error replies then carry only the header of our request, not all of it.
  int one = 1;
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
  nl_ = nl;
}

Socket::~Socket() {
  if (nl_) mnl_socket_close(static_cast<mnl_socket*>(nl_));
}

std::optional<int> link_index(Socket& s, const std::string& name) {
  check_ifname(name);
  Request request(s, RTM_GETLINK, NLM_F_ACK);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(request.nlh(), IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(request.nlh(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  int index = 0;
  try {
    transact(s, request, "look up link " + name, [&](const nlmsghdr* reply) {
      if (reply->nlmsg_type == RTM_NEWLINK)
        index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(reply))->ifi_index;
    });
  } catch (const SysError& e) {
    if (e.err() == ENODEV) return std::nullopt;
    throw;
  }
  if (index <= 0) return std::nullopt;
  return index;
}

std::vector<std::string> link_names(Socket& s) {
  return dump_consistently([&] {
  Request request(s, RTM_GETLINK, NLM_F_DUMP);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_u32(request.nlh(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<std::string> names;
  transact(s, request, "list links", [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type != RTM_NEWLINK) return;
    for_each_attr(reply, sizeof(ifinfomsg), [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
          mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
        names.emplace_back(mnl_attr_get_str(attr));
    });
  });
  return names;
  });
}

void create_bridge(Socket& s, const std::string& name, int mtu) {
  check_ifname(name);
  Request request(s, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  nlmsghdr* nlh = request.nlh();
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  if (mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, linkinfo);
  transact(s, request, "create bridge " + name);
}

void create_veth(Socket& s, const std::string& host_name, const std::string& peer_name,
                 int peer_netns_fd, int mtu) {
  check_ifname(host_name);
  check_ifname(peer_name);
  Request request(s, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  nlmsghdr* nlh = request.nlh();
  mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name.c_str());
  if (mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // The peer's attributes follow its own ifinfomsg inside the nest.
  auto* peer_ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload_tail(nlh));
  std::memset(peer_ifi, 0, MNL_ALIGN(sizeof(ifinfomsg)));
  peer_ifi->ifi_family = AF_UNSPEC;
  nlh->nlmsg_len += MNL_ALIGN(sizeof(ifinfomsg));
  mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
  if (mtu > 0) mnl_attr_put_u32(nlh, IFLA_MTU, static_cast<uint32_t>(mtu));
  if (peer_netns_fd >= 0)
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(nlh, peer);
  mnl_attr_nest_end(nlh, data);
  mnl_attr_nest_end(nlh, linkinfo);
  transact(s, request, "create veth " + host_name + " (peer " + peer_name + ")");
}

void set_master(Socket& s, const std::string& name, const std::string& master) {
  const std::string what = "set master of " + name + " to " + master;
  const int master_index = required_index(s, master, what);
  Request request = link_request(s, name);
  mnl_attr_put_u32(request.nlh(), IFLA_MASTER, static_cast<uint32_t>(master_index));
  transact(s, request, what);
}

void set_mac(Socket& s, const std::string& name, const std::string& mac) {
  const auto bytes = parse_mac(name, mac);
  Request request = link_request(s, name);
  mnl_attr_put(request.nlh(), IFLA_ADDRESS, bytes.size(), bytes.data());
  transact(s, request, "set MAC address " + mac + " on " + name);
}

void set_up(Socket& s, const std::string& name) {
  Request request = link_request(s, name);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(request.nlh()));
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = IFF_UP;
  transact(s, request, "set " + name + " up");
}

void add_address(Socket& s, const std::string& name, uint32_t addr, int prefix) {
  const std::string what =
      "add address " + ipv4_text(addr) + "/" + std::to_string(prefix) + " to " + name;
  if (prefix < 0 || prefix > 32) throw Error(what + ": invalid prefix length");
  const int index = required_index(s, name, what);
  Request request(s, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
  auto* ifa = request.put_header<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
  nlmsghdr* nlh = request.nlh();
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(addr));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(addr));
  if (prefix < 31) {
    const uint32_t host_mask = prefix == 0 ? 0xffffffffu : (1u << (32 - prefix)) - 1;
    mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(addr | host_mask));
  }
  try {
    transact(s, request, what);
  } catch (const SysError& e) {
    if (e.err() != EEXIST) throw;
  }
}

void add_default_route(Socket& s, uint32_t gateway) {
  // Replace, not exclusive: setting up the same endpoint again converges.
  Request request(s, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK);
  auto* rtm = request.put_header<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(request.nlh(), RTA_GATEWAY, htonl(gateway));
  transact(s, request, "add default route via " + ipv4_text(gateway));
}

bool delete_link(Socket& s, const std::string& name) {
  check_ifname(name);
  Request request(s, RTM_DELLINK, NLM_F_ACK);
  auto* ifi = request.put_header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(request.nlh(), IFLA_IFNAME, name.c_str());
  try {
    transact(s, request, "delete link " + name);
  } catch (const SysError& e) {
    if (e.err() == ENODEV) return false;
    throw;
  }
  return true;
}

void delete_links(Socket& s, const std::vector<std::string>& names) {
  if (names.size() <= 1) {
    for (const auto& name : names) delete_link(s, name);
    return;
  }
  // Tag the links with a device group of their own, then delete that group: the kernel
  // unregisters them together (rtnl_group_dellink), waiting for one RCU grace period instead of
  // one per link. A random group in the top half keeps clear of groups an admin uses.
  uint32_t group = 0;
  if (::getrandom(&group, sizeof group, 0) != sizeof group) throw_errno("getrandom");
  group |= 0x80000000u;
  std::vector<std::string> tagged, one_by_one;
  for (const auto& name : names) {
    Request request = link_request(s, name);
    mnl_attr_put_u32(request.nlh(), IFLA_GROUP, group);
    try {
      transact(s, request, "set device group of " + name);
      tagged.push_back(name);
    } catch (const SysError& e) {
      if (e.err() != ENODEV) one_by_one.push_back(name);  // ENODEV: gone already (its namespace went first)
    }
  }
  if (!tagged.empty()) {
    Request request(s, RTM_DELLINK, NLM_F_ACK);
    auto* ifi = request.put_header<ifinfomsg>();
    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_u32(request.nlh(), IFLA_GROUP, group);
    try {
      transact(s, request, "delete " + std::to_string(tagged.size()) + " links");
    } catch (const SysError& e) {
      // Never leave tagged links behind: each goes on its own then.
      if (e.err() != ENODEV) one_by_one.insert(one_by_one.end(), tagged.begin(), tagged.end());
    }
  }
  // What could not go in the batch goes alone; the first failure is reported after all were tried.
  std::optional<SysError> first_failure;
  for (const auto& name : one_by_one) {
    try {
      delete_link(s, name);
    } catch (const SysError& e) {
      if (!first_failure) first_failure = e;
    }
  }
  if (first_failure) throw *first_failure;
}

std::vector<Ipv4Net> ipv4_routes(Socket& s) {
  return dump_consistently([&] {
  Request request(s, RTM_GETROUTE, NLM_F_DUMP);
  auto* rtm = request.put_header<rtmsg>();
  rtm->rtm_family = AF_INET;
  std::vector<Ipv4Net> routes;
  transact(s, request, "list IPv4 routes", [&](const nlmsghdr* reply) {
    if (reply->nlmsg_type != RTM_NEWROUTE) return;
    const auto* route = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(reply));
    // The default route (prefix 0) would overlap every subnet: it never makes one taken.
    if (route->rtm_family != AF_INET || route->rtm_type != RTN_UNICAST || route->rtm_dst_len == 0)
      return;
    uint32_t table = route->rtm_table;
    uint32_t dst = 0;
    for_each_attr(reply, sizeof(rtmsg), [&](const nlattr* attr) {
      const auto type = mnl_attr_get_type(attr);
      if (type == RTA_TABLE && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
        table = mnl_attr_get_u32(attr);
      if (type == RTA_DST && mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
        dst = ntohl(mnl_attr_get_u32(attr));
    });
    if (table != RT_TABLE_MAIN) return;
    const int prefix = route->rtm_dst_len;
    const uint32_t mask = prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
    routes.push_back(Ipv4Net{dst & mask, prefix});
  });
  return routes;
  });
}

}  // namespace netlink
}  // namespace berth::network
