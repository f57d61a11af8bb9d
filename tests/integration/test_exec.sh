#!/bin/bash
# berth container exec (issue 3): exit codes, users, the container's mounts, hostname and pid
# namespace, environment and working directory, terminals, refusals; and that exec cannot be used
# to read the host (no Berth image, no host fd, the container's seccomp and capabilities).
. "$(dirname "$0")/lib.sh"

DOCKER_CAPS=00000000a80425fb
HOST_BND=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
field() { printf '%s\n' "$OUT" | awk -v k="$1" '$1 == k ":" || $1 == k {print $2; exit}'; }

capture berth container run -d --name ex --hostname exhost --tmpfs /scratch -e FOO=base -e KEEP=kept \
  "$IMAGE" sh -c 'echo marker >/scratch/m; exec sleep 300'
expect_eq "run -d starts the container to exec into" 0 "$RC"
ID=$(container_id ex)
[ -n "$ID" ] || bail_out "no id for container ex"
container_file_ready() { berth container exec ex test -s /scratch/m 2>/dev/null; }
wait_for 10 container_file_ready || note "the container's marker file did not appear"

# --- exit codes ---------------------------------------------------------------------------------
expect_rc "exec true exits 0" 0 berth container exec ex true
capture sh -c "trap '' INT QUIT PIPE; exec \"$BERTH_BIN\" container exec ex grep -E '^Sig(Ign|Blk):' /proc/self/status"
expect_eq "exec: no signal is ignored or blocked in the exec'd process" \
  "$(printf 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000')" "$OUT"
expect_rc "exec sh -c 'exit 3' exits 3" 3 berth container exec ex sh -c 'exit 3'
expect_rc "exec of a command killed by SIGKILL exits 137" 137 berth container exec ex sh -c 'kill -9 $$'
expect_rc "exec of a missing command exits 127" 127 berth container exec ex nosuch
expect_match "missing command: Docker's message" \
  '^berth: OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuch": executable file not found in \$PATH: unknown$' "$ERR"
expect_one_clear_line "missing command: one line" "$ERR"
expect_rc "exec of a missing path exits 127" 127 berth container exec ex /no/such
expect_rc "exec of a non-executable file exits 126" 126 berth container exec ex /etc/passwd
expect_match "non-executable: permission denied" 'exec: "/etc/passwd": permission denied' "$ERR"
capture berth container exec ex sh -c 'echo out; echo err >&2'
expect_eq "stdout is relayed" out "$OUT"
expect_eq "stderr is relayed apart" err "$ERR"

# --- users ----------------------------------------------------------------------------------------
capture berth container exec ex id
expect_match "default user is the container's (root)" '^uid=0\(root\) gid=0\(root\)' "$OUT"
capture berth container exec -u tester ex id
expect_match "-u tester: uid 1000, gid 1000 from the container's passwd" '^uid=1000\(tester\) gid=1000\(testers\)' "$OUT"
expect_match "-u tester: supplementary group extra (1001) from the container's group file" 'groups=.*1001\(extra\)' "$OUT"
capture berth container exec -u tester ex sh -c 'echo $HOME'
expect_eq "-u tester: HOME is tester's home" /home/tester "$OUT"
capture berth container exec -u 1000:1001 ex id
expect_match "-u 1000:1001: numeric uid and gid" '^uid=1000\(tester\) gid=1001\(extra\)' "$OUT"
capture berth container exec -u 0 ex id
expect_match "-u 0: root" '^uid=0\(root\) gid=0\(root\)' "$OUT"
expect_rc "-u nosuch is refused with 126" 126 berth container exec -u nosuch ex true
expect_match "-u nosuch: the passwd message" 'unable to find user nosuch: no matching entries in passwd file' "$ERR"
capture berth container exec -u tester ex probe caps
expect_eq "-u tester: no effective capabilities" 0000000000000000 "$(field CapEff)"

# --- the container's world: hostname, mounts, pid namespace, cgroup ------------------------------
capture berth container exec ex hostname
expect_eq "exec sees the container's hostname" exhost "$OUT"
capture berth container exec ex cat /scratch/m
expect_eq "exec sees the container's --tmpfs mount and its content" marker "$OUT"
capture berth container exec ex grep ' /scratch ' /proc/mounts
expect_match "/scratch is a tmpfs in exec's mount table" '^tmpfs /scratch tmpfs' "$OUT"
capture berth container exec ex ps -o pid,args
expect_match "ps shows the container's PID 1" '^ *1 +sleep 300' "$OUT"
expect_no_match "ps shows no host process (no berth)" 'berth' "$OUT"
capture berth container exec ex sh -c 'echo $$'
expect_le "exec'd pid is small (inside the pid namespace)" 50 "$OUT"
capture berth container exec ex cat /proc/self/cgroup
expect_no_match "cgroup paths are the container's cgroup namespace root" ':/.+$' "$OUT"

# --- cannot read the host -------------------------------------------------------------------------
capture berth container exec ex readlink /proc/self/exe
expect_eq "/proc/self/exe is the container's busybox" /bin/busybox "$OUT"
exec 7</etc/hostname  # a host fd the CLI holds: it must not reach the container
capture berth container exec ex ls /proc/self/fd
exec 7<&-
expect_eq "only stdio (and ls's own directory fd 3) are open" "0 1 2 3" "$(echo $OUT)"
capture berth container exec ex ls -l /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2
expect_eq "stdout and stderr are pipes, stdin the container's /dev/null" \
  "/dev/null pipe pipe" "$(printf '%s\n' "$OUT" | awk '{sub(/:.*/, "", $NF); print $NF}' | tr '\n' ' ' | sed 's/ $//')"
capture berth container exec ex probe caps
expect_eq "exec runs with Docker's 14 capabilities" "$DOCKER_CAPS" "$(field CapEff)"
expect_eq "exec's bounding set is the container's" "$DOCKER_CAPS" "$(field CapBnd)"
expect_eq "exec runs under the container's seccomp filter" 2 "$(field Seccomp)"
capture berth container exec ex sh -c 'printf "unshare "; probe syscall unshare; printf "mount "; probe syscall mount'
expect_match "seccomp blocks unshare in exec" '^unshare EPERM$' "$OUT"
expect_match "seccomp blocks mount in exec" '^mount EPERM$' "$OUT"
capture berth container exec --privileged ex probe caps
expect_eq "exec --privileged: the caller's bounding set" "$HOST_BND" "$(field CapEff)"
expect_eq "exec --privileged: no seccomp" 0 "$(field Seccomp)"

# A detached exec seen from the host: its image, fds and cgroup.
expect_rc "exec -d returns at once with 0" 0 berth container exec -d ex sleep 123
# Its host pid, from the container's cgroup (the only place it can be besides /proc).
find_sleep_123() {
  local p
  for p in $(cat "$(cgroup_dir memory "$ID")/cgroup.procs" "$(cgroup_dir pids "$ID")/cgroup.procs" 2>/dev/null); do
    [ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" = "sleep 123 " ] && { echo "$p"; return 0; }
  done
  return 1
}
SLEEP_PID=""
wait_for 5 eval 'SLEEP_PID=$(find_sleep_123)'
if [ -n "$SLEEP_PID" ]; then
  EXE=$(readlink "/proc/$SLEEP_PID/exe")
  expect_match "host view: the exec'd process's exe is busybox" '/bin/busybox$' "$EXE"
  expect_no_match "host view: the exec'd process's exe is not Berth" 'berth' "$EXE"
  expect_eq "host view: it holds exactly fds 0 1 2" "0 1 2" "$(ls "/proc/$SLEEP_PID/fd" | sort -n | tr '\n' ' ' | sed 's/ $//')"
  expect_match "host view: it sits in the container's cgroup" "$ID" "$(cat "/proc/$SLEEP_PID/cgroup")"
  expect_eq "host view: it is in the container's pid namespace" "$(readlink "/proc/$(inspect_field ex State.Pid)/ns/pid")" \
    "$(readlink "/proc/$SLEEP_PID/ns/pid")"
  expect_eq "host view: it is in the container's mount namespace" "$(readlink "/proc/$(inspect_field ex State.Pid)/ns/mnt")" \
    "$(readlink "/proc/$SLEEP_PID/ns/mnt")"
else
  fail "exec -d: the detached sleep 123 runs" "not found in /proc"
fi

# --- environment, working directory -------------------------------------------------------------
capture berth container exec ex sh -c 'echo $FOO $KEEP'
expect_eq "exec gets the container's environment" "base kept" "$OUT"
capture berth container exec -e FOO=over -e NEW=1 ex sh -c 'echo $FOO $KEEP $NEW'
expect_eq "-e overrides and adds" "over kept 1" "$OUT"
capture berth container exec ex pwd
expect_eq "default working directory is the container's" / "$OUT"
capture berth container exec -w /tmp ex pwd
expect_eq "-w /tmp" /tmp "$OUT"
expect_rc "-w to a missing directory exits 126" 126 berth container exec -w /nosuch ex true
expect_match "-w missing: runc's message" 'chdir to cwd \("/nosuch"\) set in config.json failed: no such file or directory' "$ERR"

# --- stdin and terminals ----------------------------------------------------------------------------
printf 'line1\nline2\n' >"$TEST_TMP/stdin.txt"
CAPTURE_STDIN=$TEST_TMP/stdin.txt capture berth container exec -i ex cat
expect_eq "-i relays stdin to the process and EOF ends it" "line1
line2" "$OUT"
CAPTURE_STDIN=$TEST_TMP/stdin.txt capture berth container exec ex cat
expect_eq "without -i stdin is empty" "" "$OUT"
capture berth container exec ex tty
expect_eq "without -t there is no terminal" 1 "$RC"
if command -v script >/dev/null; then
  capture script -qec "$BERTH_BIN container exec -t ex sh -c 'tty; echo \$TERM'" /dev/null
  expect_match "-t gives a pty of the container's devpts" '^/dev/pts/[0-9]+' "$(printf '%s' "$OUT" | tr -d '\r')"
  expect_match "-t sets TERM=xterm" '^xterm' "$(printf '%s' "$OUT" | tr -d '\r')"
  capture script -qec "$BERTH_BIN container exec -t ex sh -c 'exit 7'" /dev/null
  expect_eq "-t: the exit code comes back" 7 "$RC"
  capture script -qec "printf 'echo hi-from-stdin; exit 4\n' | $BERTH_BIN container exec -i ex sh" /dev/null
  expect_match "-i under a terminal relays input" 'hi-from-stdin' "$OUT"
else
  note "script(1) missing: terminal checks skipped"
fi

# --- refusals ---------------------------------------------------------------------------------------
capture berth container run -d --name stopped "$IMAGE" true
stopped_exited() { [ "$(inspect_field stopped State.Status)" = exited ]; }
wait_for 10 stopped_exited || note "container stopped did not exit"
expect_rc "exec into a stopped container exits 1" 1 berth container exec stopped true
expect_match "stopped: container X is not running" 'container stopped is not running' "$ERR"
expect_rc "exec into a missing container exits 1" 1 berth container exec nosuchcontainer true
expect_match "missing: No such container" 'No such container: nosuchcontainer' "$ERR"
expect_rc "exec without a command is a usage error" 125 berth container exec ex

FREEZER=$(cgroup_dir freezer "$ID")
if [ -f "$FREEZER/freezer.state" ]; then
  echo FROZEN >"$FREEZER/freezer.state"
  expect_rc "exec into a paused container exits 1" 1 berth container exec ex true
  expect_match "paused: a clear message" 'cannot exec in a paused container: unpause it first \(berth container unpause ex\)' "$ERR"
  echo THAWED >"$FREEZER/freezer.state"
  expect_rc "after thaw exec works again" 0 berth container exec ex true
else
  note "no v1 freezer for the container: paused check skipped"
fi

done_testing
