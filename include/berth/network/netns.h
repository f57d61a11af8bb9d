#pragma once
// Network namespaces bind-mounted at <run>/netns/<container id>, and the container-side and
// bridge-side setup built on netlink.h. CLI only (links libmnl).
#include <string>

#include "berth/network/store.h"
#include "berth/util/fd.h"

namespace berth::network {

// A new network namespace bind-mounted on `path` (file created 0600). Nothing is left on failure.
// Done from the calling (single-threaded) process: unshare(CLONE_NEWNET), bind mount
// /proc/thread-self/ns/net, setns back.
void create_netns(const std::string& path);
// umount2(MNT_DETACH) and unlink; no error when absent.
void remove_netns(const std::string& path);
bool netns_mounted(const std::string& path);  // an nsfs mount is on path
UniqueFd open_netns(const std::string& path);

// Inside the namespace: lo up, accept_ra=0 (all/default), IPv6 disabled (IPv4-only networks),
// net.ipv4.ip_unprivileged_port_start=0 and net.ipv4.ping_group_range="0 2147483647" (Docker's).
void setup_namespace_defaults(int netns_fd);

// The bridge of a network record: created when missing (MTU, gateway address/prefix, up,
// IPv6 off on it); a present bridge is left as it is (its address added if missing).
void ensure_bridge(const Endpoint& ep);
void remove_bridge(const std::string& bridge);  // no error when absent

// One endpoint: veth host_veth <-> `ifname` in the namespace, host side on the bridge and up,
// in the namespace: MAC, address/prefix, up, default route via the gateway unless ep.internal
// or !default_route (only the first non-internal network gets the default route).
void setup_endpoint(int netns_fd, const Endpoint& ep, const std::string& ifname, bool default_route);
// Deletes the host-side veth (the peer goes with it); no error when absent.
void teardown_endpoint(const std::string& host_veth);

}  // namespace berth::network
