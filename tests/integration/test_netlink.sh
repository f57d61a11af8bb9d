#!/bin/bash
# The netlink layer against the real kernel, through tests/probes/netlink_driver.cpp: network
# namespaces bind-mounted under the run root, a bridge, veth endpoints into two namespaces, a
# ping between them from inside, the error texts, timings, and a teardown that leaves nothing.
# Only btest* links and 10.250.x.x subnets; `ip`/`nsenter` here only to look, never to set up.
# shellcheck disable=SC2034  # read by lib.sh: no image needed here
BERTH_TEST_NO_IMAGE=1
. "$(dirname "$0")/lib.sh"

DRIVER=${BERTH_NETLINK_DRIVER:-$BERTH_BUILD_DIR/berth-netlink-driver}
[ -x "$DRIVER" ] || bail_out "netlink driver '$DRIVER' is missing (build target berth-netlink-driver)"
drv() { capture "$DRIVER" "$@"; }

BRIDGE=btestbr0
BENCH_BRIDGE=btestbr1
VETH_A=btestnla0 VETH_B=btestnlb0 VETH_C=btestnlc0 VETH_X=btestnlx0
NS=$BERTH_RUN/netns
A=$NS/a B=$NS/b C=$NS/c
OUR_LINKS="$BRIDGE $BENCH_BRIDGE btestnly0 $VETH_A $VETH_B $VETH_C $VETH_X $(for i in 0 1 2 3 4 5 6; do echo btestb$i; done)"

for l in $OUR_LINKS; do
  [ -e "/sys/class/net/$l" ] && bail_out "link $l already exists (another netlink test running?)"
done
HOST_PING_RANGE=$(cat /proc/sys/net/ipv4/ping_group_range)

# Links are not under TEST_TMP, so the shared leak check cannot see them: remove ours first.
netlink_cleanup() {
  local l
  for l in $OUR_LINKS; do
    [ -e "/sys/class/net/$l" ] && ip link del "$l" 2>/dev/null
  done
  for l in "$NS"/*; do [ -e "$l" ] && "$DRIVER" remove-netns "$l"; done
  return 0
}
on_exit_netlink() {
  local rc=$?
  netlink_cleanup
  (exit "$rc")  # _on_exit reads the script's exit status from $?
  _on_exit
}
trap on_exit_netlink EXIT

in_ns() { local ns=$1; shift; nsenter --net="$ns" "$@"; }
mounts_on() { grep -c " $1 " /proc/self/mountinfo; }
link_flags() { ip -o link show "$1" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# Namespaces
mkdir -p "$NS"
drv create-netns "$A"
expect_eq "create_netns a" 0 "$RC"
drv create-netns "$B"
expect_eq "create_netns b" 0 "$RC"
expect_match "a is an nsfs mount" " $A rw - nsfs " "$(cat /proc/self/mountinfo)"
drv mounted "$A"
expect_eq "netns_mounted(a)" yes "$OUT"
drv mounted "$NS/none"
expect_eq "netns_mounted(missing)" no "$OUT"
expect_true "a and b are different namespaces" test "$(in_ns "$A" readlink /proc/self/ns/net)" != "$(in_ns "$B" readlink /proc/self/ns/net)"
expect_true "the host namespace is not a's" test "$(readlink /proc/self/ns/net)" != "$(in_ns "$A" readlink /proc/self/ns/net)"

drv create-netns "$A"
expect_eq "create_netns on a mounted path fails" 1 "$RC"
expect_eq "... saying so" "create network namespace $A: File exists" "$ERR"
expect_eq "... and adds no second mount" 1 "$(mounts_on "$A")"
drv create-netns "$NS/missing-dir/x"
expect_eq "create_netns in a missing directory fails" 1 "$RC"
expect_match "... naming the path" "missing-dir/x: No such file or directory" "$ERR"
expect_eq "... and leaves no mount" 0 "$(mounts_on "$NS/missing-dir/x")"
: >"$NS/stale"
drv create-netns "$NS/stale"
expect_eq "create_netns reuses a leftover empty file" yes "$("$DRIVER" mounted "$NS/stale")"
drv remove-netns "$NS/stale"
expect_eq "remove_netns" 0 "$RC"
expect_true "... removes mount and file" test "$(mounts_on "$NS/stale")" = 0 -a ! -e "$NS/stale"
drv remove-netns "$NS/stale"
expect_eq "remove_netns of an absent path is no error" 0 "$RC"
: >"$NS/plain"
drv defaults "$NS/plain"
expect_match "open_netns refuses a file that is not a namespace" "plain: not mounted" "$ERR"
rm -f "$NS/plain"

# ---------------------------------------------------------------------------------------------
# Namespace defaults
drv defaults "$A"
expect_eq "setup_namespace_defaults a" 0 "$RC"
drv defaults "$B"
expect_eq "setup_namespace_defaults b" 0 "$RC"
expect_match "lo is up in a" "<LOOPBACK,UP" "$(in_ns "$A" ip -o link show lo)"
expect_eq "ping_group_range in a" "0	2147483647" "$(in_ns "$A" cat /proc/sys/net/ipv4/ping_group_range)"
expect_eq "ip_unprivileged_port_start in a" 0 "$(in_ns "$A" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
if [ -d /proc/sys/net/ipv6 ]; then
  v6=/proc/sys/net/ipv6/conf
  expect_eq "IPv6 off in a (all, default, lo)" "1 1 1" "$(in_ns "$A" cat $v6/all/disable_ipv6 $v6/default/disable_ipv6 $v6/lo/disable_ipv6 | paste -sd' ')"
  expect_eq "accept_ra 0 in a (all, default)" "0 0" "$(in_ns "$A" cat $v6/all/accept_ra $v6/default/accept_ra | paste -sd' ')"
fi
expect_eq "the host's ping_group_range is untouched" "$HOST_PING_RANGE" "$(cat /proc/sys/net/ipv4/ping_group_range)"

# ---------------------------------------------------------------------------------------------
# Bridge
drv bridge "$BRIDGE" 10.250.0.1/24 1400
expect_eq "ensure_bridge creates $BRIDGE" 0 "$RC"
expect_match "... up" "[<,]UP[,>]" "$(link_flags "$BRIDGE")"
expect_match "... with MTU 1400" "mtu 1400" "$(link_flags "$BRIDGE")"
expect_match "... and the gateway address" "inet 10.250.0.1/24 brd 10.250.0.255" "$(ip -o -4 addr show "$BRIDGE")"
[ -d /proc/sys/net/ipv6 ] && expect_eq "... IPv6 off on it" 1 "$(cat /proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6)"
drv bridge "$BRIDGE" 10.250.0.1/24 1400
expect_eq "ensure_bridge on a present bridge is no error" 0 "$RC"
expect_eq "... and adds no second address" 1 "$(ip -o -4 addr show "$BRIDGE" | grep -c .)"
drv routes
expect_match "ipv4_routes lists the bridge subnet" "^10\.250\.0\.0/24$" "$OUT"
expect_no_match "... and never the default route" "^0\.0\.0\.0/0$" "$OUT"

# ---------------------------------------------------------------------------------------------
# Endpoints
drv endpoint "$A" "$BRIDGE" "$VETH_A" eth0 10.250.0.2/24 10.250.0.1 02:42:0a:fa:00:02 --mtu 1400
expect_eq "setup_endpoint a" 0 "$RC"
drv endpoint "$B" "$BRIDGE" "$VETH_B" eth0 10.250.0.3/24 10.250.0.1 02:42:0a:fa:00:03 --mtu 1400
expect_eq "setup_endpoint b" 0 "$RC"
expect_match "host side is up on the bridge" "master $BRIDGE state UP" "$(link_flags "$VETH_A")"
expect_match "... with the MTU" "mtu 1400" "$(link_flags "$VETH_A")"
expect_eq "the peer is not in the host namespace" "" "$(ip -o link show | grep -F "@$VETH_A:")"
expect_match "eth0 in a: up, MTU, MAC" "eth0@[^:]*: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 .*link/ether 02:42:0a:fa:00:02" "$(in_ns "$A" ip -o link show eth0)"
expect_match "eth0 in a: the address" "inet 10.250.0.2/24 brd 10.250.0.255" "$(in_ns "$A" ip -o -4 addr show eth0)"
expect_match "a: default route via the gateway" "^default via 10.250.0.1 dev eth0" "$(in_ns "$A" ip -4 route show)"
drv links "$A"
expect_eq "link_names in a" "lo eth0" "$(paste -sd' ' <<<"$OUT")"
drv index eth0 "$A"
expect_match "link_index in a" "^[0-9]+$" "$OUT"
drv index "$VETH_X"
expect_eq "link_index of an absent link" absent "$OUT"

drv ping "$A" 10.250.0.3
expect_eq "ping from a to b through the bridge" 0 "$RC"
note "$OUT"
drv ping "$B" 10.250.0.2
expect_eq "ping from b to a" 0 "$RC"
drv ping "$A" 10.250.0.1
expect_eq "ping from a to the gateway" 0 "$RC"

mkdir -p "$NS"
"$DRIVER" create-netns "$C" && "$DRIVER" defaults "$C"
drv endpoint "$C" "$BRIDGE" "$VETH_C" eth0 10.250.0.4/24 10.250.0.1 02:42:0a:fa:00:04 --internal
expect_eq "setup_endpoint on an internal network" 0 "$RC"
expect_eq "... has no default route" "" "$(in_ns "$C" ip -4 route show default)"
drv ping "$C" 10.250.0.2
expect_eq "... but reaches the other endpoints" 0 "$RC"

# Errors: one line naming the link and the operation; nothing half-made left behind.
drv endpoint "$A" "$BRIDGE" "$VETH_A" eth0 10.250.0.2/24 10.250.0.1 02:42:0a:fa:00:02
expect_eq "a second endpoint with the same host veth fails" 1 "$RC"
expect_eq "... saying which" "create veth $VETH_A (peer eth0): File exists" "$ERR"
drv endpoint "$A" "$BRIDGE" "$VETH_X" eth0 10.250.0.9/24 10.250.0.1 02:42:0a:fa:00:09
expect_eq "a second eth0 in the same namespace fails" "create veth $VETH_X (peer eth0): File exists" "$ERR"
drv endpoint "$C" btestnobr0 "$VETH_X" eth1 10.250.0.9/24 10.250.0.1 02:42:0a:fa:00:09
expect_eq "an endpoint on a missing bridge fails" "set master of $VETH_X to btestnobr0: No such device" "$ERR"
expect_eq "... and removes its veth pair (host side)" "" "$(link_flags "$VETH_X")"
expect_eq "... (namespace side)" "" "$(in_ns "$C" ip -o link show eth1 2>/dev/null)"
drv endpoint "$C" "$BRIDGE" "$VETH_X" eth1 10.250.0.9/24 10.250.0.1 not-a-mac
expect_eq "a bad MAC fails" "invalid MAC address 'not-a-mac' for eth1" "$ERR"
expect_eq "... and removes its veth pair" "" "$(link_flags "$VETH_X")"
drv endpoint "$C" "$BRIDGE" btestnl-name-too-long eth1 10.250.0.9/24 10.250.0.1 02:42:0a:fa:00:09
expect_eq "a name over 15 characters fails" "invalid network interface name 'btestnl-name-too-long'" "$ERR"
expect_one_clear_line "... in one line" "$ERR"

# ---------------------------------------------------------------------------------------------
# Teardown
drv teardown "$VETH_A"
expect_eq "teardown_endpoint a" 0 "$RC"
expect_eq "... removes the host side" "" "$(link_flags "$VETH_A")"
expect_eq "... and the peer in a" "lo" "$("$DRIVER" links "$A" | paste -sd' ')"
drv teardown "$VETH_A"
expect_eq "teardown_endpoint of an absent veth is no error" 0 "$RC"
# `down` deletes many links in one kernel batch (a device group of their own): the named ones go,
# with their peers, an absent name is skipped, and a bystander keeps its place and group.
"$DRIVER" bridge btestnly0 10.250.2.1/24
drv delete-links "$VETH_B" btestnlabsent "$VETH_C"
expect_eq "delete_links b, c and an absent one" 0 "$RC"
expect_eq "... removes both host sides" "" "$(link_flags "$VETH_B")$(link_flags "$VETH_C")"
expect_eq "... and their peers" "lo lo" "$("$DRIVER" links "$B" | paste -sd' ') $("$DRIVER" links "$C" | paste -sd' ')"
expect_match "... and leaves another link alone, in its group" "btestnly0: .* group default" "$(link_flags btestnly0)"
"$DRIVER" remove-bridge btestnly0
for ns in "$A" "$B" "$C"; do
  drv remove-netns "$ns"
  expect_eq "remove_netns $(basename "$ns")" 0 "$RC"
done
drv remove-bridge "$BRIDGE"
expect_eq "remove_bridge" 0 "$RC"
drv remove-bridge "$BRIDGE"
expect_eq "remove_bridge of an absent bridge is no error" 0 "$RC"

# ---------------------------------------------------------------------------------------------
# Timings: what a `container run` on a bridge adds (create_netns + defaults + setup_endpoint).
# Wall time on a loaded machine is mostly waiting for a CPU, so the bound is on CPU time.
drv bench "$NS" "$BENCH_BRIDGE" 10.250.1.1/24 7
expect_eq "bench ran" 0 "$RC"
while IFS= read -r line; do note "$line"; done <<<"$OUT"
expect_le "create_netns + defaults + setup_endpoint: median CPU time <= 5 ms" 5 \
  "$(sed -n 's/^total_cpu_ms_median=//p' <<<"$OUT")"

# ---------------------------------------------------------------------------------------------
# Nothing left
leftover=""
for l in $OUR_LINKS; do [ -e "/sys/class/net/$l" ] && leftover="$leftover $l"; done
expect_eq "no btest links left" "" "$leftover"
expect_eq "no mounts left under the test dir" 0 "$(grep -c "$TEST_TMP" /proc/self/mountinfo)"
expect_eq "no namespace files left" "" "$(ls -A "$NS")"

done_testing
