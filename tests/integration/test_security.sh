#!/bin/bash
# Docker's isolation and security defaults, seen from inside a busybox container (issue 2,
# "From inside a busybox container"), and the options that change them.
. "$(dirname "$0")/lib.sh"

# run_ctr ARGS... : a throw-away foreground container; OUT/ERR/RC as in capture
run_ctr() { capture berth container run --rm "$@"; }
field() { printf '%s\n' "$OUT" | awk -v k="$1" '$1 == k ":" || $1 == k {print $2; exit}'; }

DOCKER_CAPS=00000000a80425fb
HOST_BND=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)

# --- capabilities, seccomp, no_new_privs -------------------------------------------------------
run_ctr "$IMAGE" probe caps
expect_eq "default run exits 0" 0 "$RC"
expect_eq "default CapEff is Docker's 14 capabilities" "$DOCKER_CAPS" "$(field CapEff)"
expect_eq "default CapBnd is Docker's 14 capabilities" "$DOCKER_CAPS" "$(field CapBnd)"
expect_eq "default CapInh is empty" 0000000000000000 "$(field CapInh)"
expect_eq "default CapAmb is empty" 0000000000000000 "$(field CapAmb)"
expect_eq "default Seccomp: 2 (filter)" 2 "$(field Seccomp)"
expect_eq "default NoNewPrivs: 0 (as Docker)" 0 "$(field NoNewPrivs)"

run_ctr --security-opt no-new-privileges "$IMAGE" probe caps
expect_eq "--security-opt no-new-privileges gives NoNewPrivs: 1" 1 "$(field NoNewPrivs)"

run_ctr --cap-drop ALL "$IMAGE" probe caps
expect_eq "--cap-drop ALL gives CapEff 0" 0000000000000000 "$(field CapEff)"
expect_eq "--cap-drop ALL gives CapBnd 0" 0000000000000000 "$(field CapBnd)"

run_ctr --cap-drop NET_RAW --cap-add SYS_PTRACE "$IMAGE" probe caps
# Docker's set minus CAP_NET_RAW (bit 13) plus CAP_SYS_PTRACE (bit 19).
expect_eq "--cap-drop NET_RAW --cap-add SYS_PTRACE changes exactly those bits" 00000000a80c05fb "$(field CapEff)"

run_ctr --privileged "$IMAGE" probe caps
expect_eq "--privileged gives the caller's full bounding set" "$HOST_BND" "$(field CapEff)"
expect_eq "--privileged has no seccomp filter" 0 "$(field Seccomp)"

# --- seccomp decisions (probe makes the raw syscalls) ---------------------------------------------
run_ctr "$IMAGE" sh -c 'for s in getpid unshare mount keyctl add_key vsock setns clone3; do printf "%s " $s; probe syscall $s; done'
expect_match "seccomp allows getpid" '^getpid OK$' "$OUT"
expect_match "seccomp blocks unshare with EPERM" '^unshare EPERM$' "$OUT"
expect_match "seccomp blocks mount with EPERM" '^mount EPERM$' "$OUT"
expect_match "seccomp blocks keyctl with EPERM" '^keyctl EPERM$' "$OUT"
expect_match "seccomp blocks add_key with EPERM" '^add_key EPERM$' "$OUT"
expect_match "seccomp blocks socket(AF_VSOCK) with EPERM" '^vsock EPERM$' "$OUT"
expect_match "seccomp blocks setns with EPERM" '^setns EPERM$' "$OUT"
expect_match "seccomp makes clone3 fail with ENOSYS" '^clone3 ENOSYS$' "$OUT"

run_ctr --cap-add SYS_ADMIN "$IMAGE" sh -c 'printf "clone3 "; probe syscall clone3; printf "unshare "; probe syscall unshare'
expect_match "with CAP_SYS_ADMIN the profile allows clone3 (moby includes)" '^clone3 OK$' "$OUT"
expect_match "with CAP_SYS_ADMIN the profile allows unshare" '^unshare OK$' "$OUT"

run_ctr --security-opt seccomp=unconfined "$IMAGE" sh -c 'probe caps; printf "keyctl "; probe syscall keyctl'
expect_eq "seccomp=unconfined: Seccomp: 0" 0 "$(field Seccomp)"
expect_match "seccomp=unconfined: keyctl is allowed" '^keyctl OK$' "$OUT"

# A custom profile file: allow everything except getpid, returning EPERM (busybox's own applets
# ignore a failing uname(2), so the probe makes the call and reports the errno).
cat >"$TEST_TMP/seccomp.json" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
EOF
run_ctr --security-opt "seccomp=$TEST_TMP/seccomp.json" "$IMAGE" sh -c 'printf "getpid "; probe syscall getpid; probe caps'
expect_match "seccomp=FILE: the profile's rule applies (getpid fails with EPERM)" '^getpid EPERM$' "$OUT"
expect_eq "seccomp=FILE: Seccomp: 2" 2 "$(field Seccomp)"

# --- mounts: mount(8) fails, /proc and /sys protected ------------------------------------------
run_ctr "$IMAGE" sh -c 'mkdir -p /mnt/t; mount -t tmpfs none /mnt/t; echo "mount rc $?"'
expect_match "busybox mount -t tmpfs fails" '^mount rc [1-9]' "$OUT"
expect_match "mount fails with EPERM (permission denied)" '(ermission denied|not permitted)' "$ERR"

run_ctr "$IMAGE" sh -c 'probe write /proc/sys/kernel/domainname; echo x > /proc/sys/vm/drop_caches; echo "shell rc $?"'
expect_eq "writing /proc/sys fails (read-only)" EROFS "$(printf '%s\n' "$OUT" | sed -n 1p)"
expect_match "echo > /proc/sys/... fails in the shell" '^shell rc [1-9]' "$OUT"
if [ -e /proc/sysrq-trigger ]; then
  run_ctr "$IMAGE" probe write /proc/sysrq-trigger
  expect_eq "writing /proc/sysrq-trigger fails (read-only)" EROFS "$OUT"
fi

if [ -e /proc/kcore ]; then
  run_ctr "$IMAGE" probe read /proc/kcore
  expect_eq "/proc/kcore reads empty (masked)" "bytes 0" "$OUT"
else
  run_ctr "$IMAGE" probe read /proc/kcore
  expect_match "/proc/kcore is absent on this host and in the container, or masked" '^(ENOENT|bytes 0)$' "$OUT"
fi
masked_checked=0
for f in /proc/keys /proc/timer_list /proc/interrupts /proc/sched_debug /proc/latency_stats /proc/timer_stats; do
  [ -f "$f" ] || continue
  run_ctr "$IMAGE" probe read "$f"
  expect_eq "masked file $f reads empty" "bytes 0" "$OUT"
  masked_checked=$((masked_checked + 1))
done
for d in /proc/acpi /proc/scsi /proc/asound /sys/firmware /sys/devices/virtual/powercap; do
  [ -d "$d" ] || continue
  run_ctr "$IMAGE" sh -c "ls -A $d | wc -l"
  expect_eq "masked directory $d is empty" 0 "$(echo $OUT)"
  masked_checked=$((masked_checked + 1))
done
expect_ge "at least 3 masked paths were checked on this host" 3 "$masked_checked"

run_ctr "$IMAGE" cat /proc/self/mountinfo
mounts=$OUT
mnt_opts() { printf '%s\n' "$mounts" | awk -v m="$1" '$5 == m {print $6 " " $0}' | tail -1; }
expect_match "/sys is mounted read-only" '^ro[, ]' "$(mnt_opts /sys)"
expect_match "/sys/fs/cgroup is read-only" '^ro[, ]' "$(mnt_opts /sys/fs/cgroup)"
for p in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do
  [ -e "$p" ] || continue
  expect_match "$p is a read-only mount" '^ro[, ]' "$(mnt_opts "$p")"
done
expect_match "/dev is a tmpfs" ' - tmpfs ' "$(mnt_opts /dev)"
expect_match "/dev/pts is a devpts" ' - devpts ' "$(mnt_opts /dev/pts)"
expect_match "/dev/mqueue is an mqueue" ' - mqueue ' "$(mnt_opts /dev/mqueue)"
expect_match "/dev/shm is a 64 MiB tmpfs" ' - tmpfs .*size=65536k' "$(mnt_opts /dev/shm)"
expect_match "/proc is proc" ' - proc ' "$(mnt_opts /proc)"
expect_match "rootfs is overlayfs" ' - overlay ' "$(mnt_opts /)"
expect_match "a --rm container's overlay is volatile (its exit does not sync the host disk)" ' - overlay .*volatile' "$(mnt_opts /)"
capture berth container run -d "$IMAGE" sleep 60
keep_id=$OUT
expect_no_match "a kept container's overlay is not volatile (synced when it stops, as Docker's)" 'volatile' \
  "$(berth container exec "$keep_id" cat /proc/self/mountinfo | awk '$5 == "/"')"
berth container rm -f "$keep_id" >/dev/null
expect_no_match "no host mount point is visible in the container (pivot_root)" "^($TEST_TMP|/work|/var/lib)" "$(printf '%s\n' "$mounts" | awk '{print $5}')"

run_ctr "$IMAGE" sh -c 'for n in null zero full random urandom tty; do [ -c /dev/$n ] || echo missing $n; done
  [ -e /dev/ptmx ] || echo missing ptmx; [ -d /dev/pts ] || echo missing pts
  [ "$(head -c 16 /dev/zero | wc -c)" = 16 ] || echo zero unreadable
  echo x > /dev/null || echo null unwritable
  [ "$(head -c 16 /dev/urandom | wc -c)" = 16 ] || echo urandom unreadable
  echo checked'
expect_eq "/dev has null zero full random urandom tty ptmx pts, usable" checked "$OUT"

# --- device cgroup: a host disk node made with mknod cannot be opened ----------------------------
root_dev=$(awk '$5 == "/" {print $3; exit}' /proc/self/mountinfo)
if [ "${root_dev%%:*}" = 0 ]; then  # overlay/tmpfs root: take the first real disk instead
  root_dev=$(lsblk -dnro MAJ:MIN,TYPE 2>/dev/null | awk '$2 == "disk" {print $1; exit}')
fi
run_ctr "$IMAGE" probe mknod /dev/hostdisk b "${root_dev%%:*}" "${root_dev##*:}"
expect_match "mknod of the host's root disk ($root_dev) works (CAP_MKNOD is default)" '^mknod OK$' "$OUT"
expect_match "the host root disk node ($root_dev) cannot be opened" '^open (EPERM|EACCES)$' "$OUT"
# The root disk may be closed to us even on the host (it is here); the device policy must also
# stop a disk the host CAN open, or this check would pass without it.
open_disk=""
for dev in $(lsblk -dnro MAJ:MIN,TYPE 2>/dev/null | awk '$2 == "disk" {print $1}'); do
  mknod "$TEST_TMP/disk" b "${dev%%:*}" "${dev##*:}" 2>/dev/null || continue
  if [ "$("$BERTH_PROBE" open "$TEST_TMP/disk")" = OK ]; then open_disk=$dev; rm -f "$TEST_TMP/disk"; break; fi
  rm -f "$TEST_TMP/disk"
done
if [ -n "$open_disk" ]; then
  run_ctr "$IMAGE" probe mknod /dev/hostdisk b "${open_disk%%:*}" "${open_disk##*:}"
  expect_match "a host disk the host can open ($open_disk) cannot be opened in the container" '^open (EPERM|EACCES)$' "$OUT"
else
  note "no host disk is openable on the host itself; the device policy check rests on $root_dev"
fi
run_ctr "$IMAGE" probe mknod /dev/kmsg2 c 1 11
expect_match "a char device outside Docker's allow list (1:11 kmsg) cannot be opened" '^open (EPERM|EACCES)$' "$OUT"
run_ctr "$IMAGE" probe mknod /dev/null2 c 1 3
expect_match "a char device on the allow list (1:3 null) can be opened" '^open OK$' "$OUT"
run_ctr --privileged "$IMAGE" probe mknod /dev/null2 c 1 11
expect_match "--privileged lifts the device policy (1:11 opens)" '^open OK$' "$OUT"

# --- pid, uts, ipc, net namespaces ---------------------------------------------------------------
run_ctr "$IMAGE" probe pid
expect_eq "PID 1 is the command" 1 "$OUT"
run_ctr "$IMAGE" sh -c 'echo $$; ls -d /proc/[0-9]* | wc -l'
expect_eq "the shell command is PID 1" 1 "$(printf '%s\n' "$OUT" | sed -n 1p)"
expect_le "host processes are invisible (at most the shell and ls)" 3 "$(printf '%s\n' "$OUT" | sed -n 2p | tr -d ' ')"

capture berth container run --name sec-host "$IMAGE" sh -c 'hostname; cat /etc/hostname; probe syscall sethostname; grep -c localhost /etc/hosts'
expect_eq "named container exits 0" 0 "$RC"
ctr_hostname=$(printf '%s\n' "$OUT" | sed -n 1p)
id=$(container_id sec-host)
expect_match "inspect gives a 64-hex id" '^[0-9a-f]{64}$' "$id"
expect_eq "hostname is the first 12 hex digits of the id" "${id:0:12}" "$ctr_hostname"
expect_eq "/etc/hostname holds the hostname" "${id:0:12}" "$(printf '%s\n' "$OUT" | sed -n 2p)"
expect_eq "sethostname is refused (no CAP_SYS_ADMIN)" EPERM "$(printf '%s\n' "$OUT" | sed -n 3p)"
expect_ge "/etc/hosts names localhost" 1 "$(printf '%s\n' "$OUT" | sed -n 4p)"
expect_eq "the host's hostname is untouched" "$(hostname)" "$(cat /proc/sys/kernel/hostname)"
if [ -n "$id" ]; then
  expect_eq "container state directory is 0700 or 0710" ok \
    "$(case $(stat -c %a "$BERTH_ROOT/containers/$id" 2>/dev/null) in 700 | 710) echo ok ;; *) stat -c %a "$BERTH_ROOT/containers/$id" 2>&1 ;; esac)"
fi
capture berth container rm sec-host
expect_eq "container rm of an exited container exits 0" 0 "$RC"

run_ctr --hostname web1 "$IMAGE" hostname
expect_eq "--hostname sets the hostname" web1 "$OUT"

run_ctr "$IMAGE" sh -c 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range; ls /sys/class/net'
expect_eq "net.ipv4.ip_unprivileged_port_start=0 in the container's netns" 0 "$(printf '%s\n' "$OUT" | sed -n 1p)"
expect_match "net.ipv4.ping_group_range opened to all groups" '^0[[:space:]]+2147483647$' "$(printf '%s\n' "$OUT" | sed -n 2p)"
# (eth0 is the container's own veth end on the default bridge; the host may have an eth0 too)
host_links=$(ls /sys/class/net | grep -Ev '^(lo|eth0)$' | paste -sd'|')
[ -n "$host_links" ] && expect_no_match "no host interface is visible (own network namespace)" "^($host_links)$" "$OUT"

run_ctr "$IMAGE" sh -c "readlink /proc/1/ns/ipc /proc/1/ns/mnt /proc/1/ns/uts /proc/1/ns/pid"
expect_no_match "ipc, mnt, uts, pid namespaces differ from the host's" \
  "$(readlink /proc/self/ns/ipc /proc/self/ns/mnt /proc/self/ns/uts /proc/self/ns/pid | sed 's/[][]/./g' | paste -sd'|')" "$OUT"

run_ctr "$IMAGE" probe fds
expect_eq "only fds 0, 1 and 2 are open in the container" "0 1 2" "$(printf '%s\n' "$OUT" | awk '{print $2}' | paste -sd' ')"

# --- users --------------------------------------------------------------------------------------
run_ctr -u 1000:1000 "$IMAGE" sh -c 'probe ids; probe caps'
expect_match "-u 1000:1000 gives uid 1000" '^uid 1000$' "$OUT"
expect_match "-u 1000:1000 gives gid 1000" '^gid 1000$' "$OUT"
expect_eq "-u 1000:1000 gives CapEff 0" 0000000000000000 "$(field CapEff)"
expect_eq "-u 1000:1000 keeps Docker's bounding set" "$DOCKER_CAPS" "$(field CapBnd)"

run_ctr -u tester "$IMAGE" sh -c 'probe ids; echo "home $HOME"'
expect_match "-u tester resolves to uid 1000" '^uid 1000$' "$OUT"
expect_match "-u tester takes gid 1000 from passwd" '^gid 1000$' "$OUT"
expect_match "-u tester has groups 1000 and 1001" '^groups( [0-9]+)*$' "$OUT"
expect_eq "-u tester supplementary groups are exactly 1000 1001" "1000 1001" \
  "$(printf '%s\n' "$OUT" | awk '/^groups/ {$1=""; print}' | tr ' ' '\n' | grep . | sort -n | uniq | paste -sd' ')"
expect_match "-u tester sets HOME from passwd" '^home /home/tester$' "$OUT"

run_ctr -u tester:extra "$IMAGE" probe ids
expect_match "-u tester:extra gives gid 1001" '^gid 1001$' "$OUT"
run_ctr -u 4242 "$IMAGE" probe ids
expect_match "-u 4242 (no passwd entry) is taken as a uid" '^uid 4242$' "$OUT"
run_ctr -u nobody "$IMAGE" sh -c 'probe ids; probe write /root/x'
expect_match "-u nobody gives uid 65534" '^uid 65534$' "$OUT"
expect_match "-u nobody cannot write root's home" '^EACCES$' "$OUT"

# --- rootfs, bind mounts, tmpfs -----------------------------------------------------------------
run_ctr "$IMAGE" sh -c 'probe write /written; probe write /etc/written'
expect_eq "the default rootfs is writable" "OK OK" "$(echo $OUT)"

run_ctr --read-only "$IMAGE" sh -c 'probe write /written; probe write /etc/x; probe write /tmp/x; probe write /dev/shm/x'
expect_eq "--read-only: rootfs writes fail with EROFS" "EROFS EROFS EROFS" "$(printf '%s\n' "$OUT" | sed -n 1,3p | paste -sd' ')"
expect_eq "--read-only: /dev/shm stays writable" OK "$(printf '%s\n' "$OUT" | sed -n 4p)"

run_ctr --read-only --tmpfs /tmp --tmpfs /scratch:size=1m "$IMAGE" sh -c 'probe write /tmp/x; probe write /scratch/x; grep -E " /(tmp|scratch) " /proc/self/mountinfo'
expect_eq "--tmpfs makes /tmp and /scratch writable on a read-only rootfs" "OK OK" "$(printf '%s\n' "$OUT" | sed -n 1,2p | paste -sd' ')"
expect_match "--tmpfs /tmp is a tmpfs" ' /tmp .* - tmpfs ' "$OUT"
expect_match "--tmpfs /scratch:size=1m has size=1024k" ' /scratch .* - tmpfs .*size=1024k' "$OUT"
expect_match "--tmpfs defaults to nosuid,nodev,noexec (Docker)" ' /tmp [^ ]*nosuid,nodev,noexec' "$OUT"

# Bind mounts: a host dir with a sub-mount, bound read-only, must be read-only all the way down.
vol="$TEST_TMP/vol"
mkdir -p "$vol/sub"
echo host >"$vol/file"
if mount -t tmpfs -o size=1m berth-test-sub "$vol/sub"; then
  echo sub >"$vol/sub/file"
  run_ctr -v "$vol:/data:ro" "$IMAGE" sh -c 'cat /data/file /data/sub/file; probe write /data/new; probe write /data/sub/new'
  expect_eq "-v :ro shows the host files, sub-mount included" "host sub" "$(printf '%s\n' "$OUT" | sed -n 1,2p | paste -sd' ')"
  expect_eq "-v :ro: writing the bind fails" EROFS "$(printf '%s\n' "$OUT" | sed -n 3p)"
  expect_eq "-v :ro is recursive: writing the sub-mount fails" EROFS "$(printf '%s\n' "$OUT" | sed -n 4p)"
  run_ctr -v "$vol:/data" "$IMAGE" sh -c 'probe write /data/new; probe write /data/sub/new'
  expect_eq "-v rw: writes reach the host" "OK OK" "$(echo $OUT)"
  expect_eq "-v rw: the host sees the file" probe "$(cat "$vol/new" 2>&1)"
  expect_eq "the host sub-mount stays writable after the container" OK "$("$BERTH_PROBE" write "$vol/sub/after")"
  umount "$vol/sub"
else
  fail "could not mount a tmpfs for the bind-mount test"
fi

done_testing
