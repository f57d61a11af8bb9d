#include "berth/network/netns.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

#include "berth/network/netlink.h"
#include "berth/util/error.h"
#include "network/netlink/netns_entry.h"

namespace berth::network {
namespace {

bool is_nsfs(const struct statfs& st) {
  return st.f_type == static_cast<decltype(st.f_type)>(NSFS_MAGIC);
}

// Writes one /proc/sys file of the calling thread's current network namespace. `optional`: a
// kernel without IPv6 has no net/ipv6 directory, which is fine for an IPv4-only network.
void write_sysctl(const std::string& key, const std::string& value, bool optional) {
  const std::string path = "/proc/sys/" + key;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    if (optional && errno == ENOENT) return;
    throw_errno("set " + key + "=" + value);
  }
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    throw_errno("set " + key + "=" + value);
}

}  // namespace

void create_netns(const std::string& path) {
  const UniqueFd original = detail::open_current_netns();
  if (netns_mounted(path)) throw SysError("create network namespace " + path, EEXIST);
  // A leftover empty file (a start killed before its mount) is reused, not an error.
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file) throw_errno("create network namespace file " + path);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error("create network namespace " + path + ": not a regular file");
  }
  file.reset();
  if (::unshare(CLONE_NEWNET) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw SysError("create network namespace " + path, err);
  }
  // The mount keeps the namespace alive after we leave it.
  const int mounted = ::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr);
  const int err = errno;
  detail::return_to_netns(original.get());
  if (mounted != 0) {
    ::unlink(path.c_str());
    throw SysError("mount network namespace on " + path, err);
  }
}

void remove_netns(const std::string& path) {
  // Stacked mounts only come from a bug or a race, but each must go for the namespace to die.
  for (int i = 0; i < 16; ++i) {
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) break;  // not (or no longer) a mount point
    throw_errno("unmount network namespace " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw_errno("remove network namespace file " + path);
}

bool netns_mounted(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && is_nsfs(st);
}

UniqueFd open_netns(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("open network namespace " + path);
  struct statfs st {};
  if (::fstatfs(fd.get(), &st) != 0) throw_errno("open network namespace " + path);
  if (!is_nsfs(st))
    throw Error(
        "open network namespace " + path + ": not mounted",
        "the container's network namespace is gone; remove the container and start it again");
  return fd;
}

void setup_namespace_defaults(int netns_fd) {
  detail::NetnsEntry inside(netns_fd);
  // /proc/sys/net resolves to the namespace of whoever opens the file: open them in here.
  write_sysctl("net/ipv6/conf/all/disable_ipv6", "1", true);
  write_sysctl("net/ipv6/conf/default/disable_ipv6", "1", true);
  write_sysctl("net/ipv6/conf/all/accept_ra", "0", true);
  write_sysctl("net/ipv6/conf/default/accept_ra", "0", true);
  write_sysctl("net/ipv4/ip_unprivileged_port_start", "0", false);
  write_sysctl("net/ipv4/ping_group_range", "0 2147483647", false);
  netlink::Socket socket;  // created in here, so it talks to this namespace
  netlink::set_up(socket, "lo");
}

void ensure_bridge(const Endpoint& ep) {
  netlink::Socket socket;
  bool created = false;
  if (!netlink::link_index(socket, ep.bridge)) {
    try {
      netlink::create_bridge(socket, ep.bridge, ep.mtu);
      created = true;
    } catch (const SysError& e) {
      if (e.err() != EEXIST) throw;  // another command created it meanwhile: use it
    }
  }
  try {
    // Before it goes up, so it never gets an IPv6 link-local address.
    if (created) write_sysctl("net/ipv6/conf/" + ep.bridge + "/disable_ipv6", "1", true);
    netlink::add_address(socket, ep.bridge, ep.gateway, ep.prefix);
    netlink::set_up(socket, ep.bridge);
  } catch (...) {
    if (created) netlink::delete_link(socket, ep.bridge);
    throw;
  }
}

void remove_bridge(const std::string& bridge) {
  netlink::Socket socket;
  netlink::delete_link(socket, bridge);
}

void setup_endpoint(int netns_fd, const Endpoint& ep, const std::string& ifname,
                    bool default_route) {
  netlink::Socket host;
  netlink::create_veth(host, ep.host_veth, ifname, netns_fd, ep.mtu);
  try {
    netlink::set_master(host, ep.host_veth, ep.bridge);
    netlink::set_up(host, ep.host_veth);
    netlink::Socket inside(netns_fd);
    if (!ep.mac.empty()) netlink::set_mac(inside, ifname, ep.mac);
    netlink::add_address(inside, ifname, ep.address, ep.prefix);
    netlink::set_up(inside, ifname);
    if (default_route && !ep.internal) netlink::add_default_route(inside, ep.gateway);
  } catch (...) {
    // The peer goes with the host side: nothing half-configured stays behind.
    try {
      netlink::delete_link(host, ep.host_veth);
    } catch (const Error&) {
    }
    throw;
  }
}

void teardown_endpoint(const std::string& host_veth) {
  netlink::Socket socket;
  netlink::delete_link(socket, host_veth);
}

}  // namespace berth::network
