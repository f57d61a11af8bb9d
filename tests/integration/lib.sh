# shellcheck shell=bash
# Shared harness for the root integration tests (tests/integration/test_*.sh), sourced first.
#
# It gives each test file a private world: its own BERTH_ROOT, BERTH_RUN and cgroup parent, the
# busybox test image imported into that root, TAP-like check helpers, and an EXIT trap that
# force-removes every container and runs the ONE shared leak check. A test fails if anything it
# made is left behind (mounts, cgroups, processes, netns, links, records), and says what.
#
# Environment (set by ctest, see CMakeLists.txt; defaults let a developer run a script by hand):
#   BERTH_BIN        berth binary (berth-supervisor and berth-init sit beside it)
#   BERTH_PROBE      static probe binary copied into the image as /usr/bin/probe
#   BERTH_BUILD_DIR  build dir; BERTH_SOURCE_DIR  source tree
#   BERTH_MAKE_TEST_IMAGE  overrides scripts/make-test-image (for developing the harness)
#   BERTH_TEST_CACHE       rootfs tar cache (default /var/tmp/berth-test-cache)

if [ "$(id -u)" -ne 0 ]; then
  echo "# SKIP $(basename "$0"): root integration tests need root"
  exit 77
fi

BERTH_SOURCE_DIR=${BERTH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BERTH_BUILD_DIR=${BERTH_BUILD_DIR:-$BERTH_SOURCE_DIR/build}
BERTH_BIN=${BERTH_BIN:-$BERTH_BUILD_DIR/berth}
BERTH_PROBE=${BERTH_PROBE:-$BERTH_BUILD_DIR/berth-test-probe}
export BERTH_SOURCE_DIR BERTH_BUILD_DIR BERTH_BIN BERTH_PROBE

IMAGE=berth-test/busybox:latest
TEST_NAME=$(basename "$0" .sh)
TESTS_RUN=0
TESTS_FAILED=0
TEST_DONE=0
LEAK_IDS=""

# ---------------------------------------------------------------------------------------------
# TAP-like output

_tap() {  # _tap PASSED NAME [DIAGNOSTIC LINES...]
  local passed=$1 name=$2
  shift 2
  TESTS_RUN=$((TESTS_RUN + 1))
  if [ "$passed" = 1 ]; then
    echo "ok $TESTS_RUN - $name"
  else
    TESTS_FAILED=$((TESTS_FAILED + 1))
    echo "not ok $TESTS_RUN - $name"
    local line
    for line in "$@"; do printf '%s\n' "$line" | sed 's/^/#   /'; done
  fi
}

pass() { _tap 1 "$1"; }
fail() { local n=$1; shift; _tap 0 "$n" "$@"; }
note() { echo "# $*"; }

bail_out() {
  echo "Bail out! $*"
  TESTS_FAILED=$((TESTS_FAILED + 1))
  exit 1
}

# The last captured command's output, for diagnostics (trimmed so a log stays readable).
_last_output() {
  printf 'command: %s\nexit: %s\nstdout: %s\nstderr: %s' "${CMD:-}" "${RC:-}" \
    "$(printf '%s' "${OUT:-}" | head -c 1500)" "$(printf '%s' "${ERR:-}" | head -c 1500)"
}

# capture CMD... : runs CMD with a timeout (TIMEOUT, default 60 s) and stdin from /dev/null
# (or from the file CAPTURE_STDIN); sets OUT, ERR, RC and CMD. `berth` means $BERTH_BIN.
capture() {
  local argv=("$@")
  [ "${argv[0]}" = berth ] && argv[0]=$BERTH_BIN
  CMD="$*"
  local o="$TEST_TMP/capture.$BASHPID.out" e="$TEST_TMP/capture.$BASHPID.err"
  timeout -k 5 "${TIMEOUT:-60}" "${argv[@]}" <"${CAPTURE_STDIN:-/dev/null}" >"$o" 2>"$e"
  RC=$?
  OUT=$(<"$o")
  ERR=$(<"$e")
  [ "$RC" = 124 ] && ERR="$ERR
(timed out after ${TIMEOUT:-60}s)"
  return 0
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: '$2'" "got:      '$3'" "$(_last_output)"; fi
}

# expect_match NAME ERE TEXT : TEXT has a line matching the extended regex
expect_match() {
  if printf '%s\n' "$3" | grep -Eq -- "$2"; then
    pass "$1"
  else
    fail "$1" "expected a line matching: $2" "in: $(printf '%s' "$3" | head -c 1500)" "$(_last_output)"
  fi
}

# expect_no_match NAME ERE TEXT
expect_no_match() {
  if printf '%s\n' "$3" | grep -Eq -- "$2"; then
    fail "$1" "expected no line matching: $2" "in: $(printf '%s' "$3" | head -c 1500)"
  else
    pass "$1"
  fi
}

# expect_rc NAME EXPECTED_RC CMD... : captures CMD (OUT/ERR/RC stay set for further checks)
expect_rc() {
  local name=$1 want=$2
  shift 2
  capture "$@"
  if [ "$RC" = "$want" ]; then pass "$name"; else fail "$name" "expected exit $want" "$(_last_output)"; fi
}

# expect_true NAME CMD... : CMD (a shell function or program) succeeds
expect_true() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name" "check failed: $*"; fi
}

# expect_le NAME LIMIT VALUE / expect_ge NAME LIMIT VALUE : numeric bounds
expect_le() {
  if [[ "$3" =~ ^-?[0-9]+$ ]] && [ "$3" -le "$2" ]; then pass "$1"; else fail "$1" "expected a number <= $2, got '$3'"; fi
}
expect_ge() {
  if [[ "$3" =~ ^-?[0-9]+$ ]] && [ "$3" -ge "$2" ]; then pass "$1"; else fail "$1" "expected a number >= $2, got '$3'"; fi
}

# one_clear_line NAME TEXT : an error report is exactly one line (plus an optional "hint:" line),
# and not a usage dump or a stack of messages.
expect_one_clear_line() {
  local lines
  lines=$(printf '%s\n' "$2" | grep -v '^[[:space:]]*hint:' | grep -c .)
  if [ "$lines" = 1 ]; then pass "$1"; else fail "$1" "expected one line (plus an optional hint), got $lines:" "$2"; fi
}

done_testing() {
  TEST_DONE=1
  echo "1..$TESTS_RUN"
  [ "$TESTS_FAILED" -eq 0 ] || echo "# $TEST_NAME: failed $TESTS_FAILED of $TESTS_RUN"
  [ "$TESTS_FAILED" -eq 0 ]
  exit $?
}

# ---------------------------------------------------------------------------------------------
# Small helpers for tests

berth() { "$BERTH_BIN" "$@"; }

# json_get PATH < JSON : prints a value by dotted path (list indexes are numbers); strings raw,
# everything else as JSON (true/false/null/numbers/objects). Empty output and exit 1 if missing.
json_get() {
  "$PYTHON" -c '
import json, sys
try:
    d = json.load(sys.stdin)
    for k in sys.argv[1].split("."):
        d = d[int(k)] if isinstance(d, list) else d[k]
except Exception as e:
    sys.stderr.write("json_get %s: %r\n" % (sys.argv[1], e))
    sys.exit(1)
print(d if isinstance(d, str) else json.dumps(d))
' "$1"
}

# inspect_field NAME|ID PATH : one field of `berth inspect` (PATH relative to the first object)
inspect_field() { timeout 30 "$BERTH_BIN" inspect "$1" | json_get "0.$2"; }

container_id() { inspect_field "$1" Id; }

# cgroup_dir CONTROLLER ID : the container's cgroup directory in one v1 hierarchy
cgroup_dir() {
  local d="/sys/fs/cgroup/$1/$BERTH_CGROUP_PARENT/$2"
  if [ ! -d "$d" ]; then
    local found
    found=$(find "/sys/fs/cgroup/$1" -maxdepth 4 -type d -path "*/$BERTH_CGROUP_PARENT/$2" 2>/dev/null | head -1)
    [ -n "$found" ] && d=$found
  fi
  echo "$d"
}

# wait_for SECONDS CMD... : polls CMD every 50 ms until it succeeds; fails after SECONDS
wait_for() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# http_ok URL : a page comes back (through the host's loopback), for wait_for
http_ok() { "$PYTHON" -c 'import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).read() else 1)' "$1" 2>/dev/null; }
# http_get URL : prints the body (stripped), nothing when the request fails
http_get() { "$PYTHON" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode().strip())' "$1" 2>/dev/null; }

# udp_echo PORT TEXT : sends TEXT to 127.0.0.1:PORT (retrying) and prints the reply
udp_echo() {
  "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(20):
    s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recvfrom(2048)[0].decode()); break
    except socket.timeout:
        pass' "$1" "$2"
}

# simulate_reboot : every supervisor and container of this test killed, network namespaces gone
# (a real reboot loses them), and the recorded boot id changed; the next berth command restores.
simulate_reboot() {
  local f sp cp ns
  for f in "$BERTH_RUN"/containers/*/state.json; do
    [ -e "$f" ] || continue
    sp=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("SupervisorPid", 0))' "$f")
    cp=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("Pid", 0))' "$f")
    [ "$sp" -gt 0 ] && kill -9 "$sp" 2>/dev/null
    [ "$cp" -gt 0 ] && kill -9 "$cp" 2>/dev/null
  done
  sleep 0.5
  for ns in "$BERTH_RUN"/netns/*; do
    [ -e "$ns" ] || continue
    umount -l "$ns" 2>/dev/null
    rm -f "$ns"
  done
  echo "00000000-0000-0000-0000-000000000000" >"$BERTH_RUN/boot_id"
}

# file_has FILE ERE : for wait_for
file_has() { grep -Eq -- "$2" "$1" 2>/dev/null; }

# spawn_default_signals CMD... : runs CMD with SIGINT/SIGQUIT at their defaults. A background
# job of a non-interactive shell starts with them ignored, which would hide the CLI's handling.
spawn_default_signals() {
  "$PYTHON" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])
' "$@"
}

# ---------------------------------------------------------------------------------------------
# The leak check: one definition, run by every test's EXIT trap (and by tests mid-way).
# It is one python3 process rather than a shell loop: forks are slow on a loaded CI machine, and
# a scan of /proc in shell costs seconds.

_LEAK_PY='
import ctypes, glob, os, signal, subprocess, sys, time
mode, tmp, root, run, parent, ids, shell_pid, bridges = sys.argv[1:9]
ids = ids.split()
bridges = bridges.split()

def links_of_test():
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    out = [n for n in names if any(n.startswith("bt" + i[:11]) for i in ids)]
    out += [n for n in names if n in bridges]
    return out
tmp_prefix = tmp.rstrip("/") + "/"

def read(path, binary=False):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data if binary else data.decode("utf-8", "replace")
    except OSError:
        return None

def link(path):
    try:
        return os.readlink(path)
    except OSError:
        return None

def ppid_of(pid):
    stat = read("/proc/%s/stat" % pid)
    return stat.rsplit(")", 1)[1].split()[1] if stat else None

shell_exe = link("/proc/%s/exe" % shell_pid)

def is_test_shell(pid):
    # The test shell and its subshells share its cwd and fds: not leaks.
    if pid in (shell_pid, str(os.getpid())):
        return True
    if link("/proc/%s/exe" % pid) != shell_exe:
        return False
    p = pid
    for _ in range(30):
        p = ppid_of(p)
        if p is None or p in ("0", "1"):
            return False
        if p == shell_pid:
            return True
    return False

def process_reason(pid):
    d = "/proc/" + pid
    status = read(d + "/status") or ""
    state = next((l.split()[1] for l in status.splitlines() if l.startswith("State:")), "")
    if state in ("", "Z", "X"):
        return None
    cg = read(d + "/cgroup") or ""
    for line in cg.splitlines():
        if "/%s/" % parent in line or line.endswith("/" + parent):
            return "in cgroup " + line
    for name in ("cwd", "root", "exe"):
        target = link(d + "/" + name)
        if target and (target == tmp or target.startswith(tmp_prefix)):
            return "%s -> %s" % (name, target)
    cmdline = (read(d + "/cmdline", True) or b"").replace(b"\0", b" ").decode("utf-8", "replace")
    if tmp in cmdline:
        return "cmdline references " + tmp
    exe = os.path.basename(link(d + "/exe") or "")
    if exe in ("berth", "berth-supervisor", "berth-init"):
        env = (read(d + "/environ", True) or b"").split(b"\0")
        if ("BERTH_ROOT=" + root).encode() in env or ("BERTH_RUN=" + run).encode() in env:
            return exe + " of this test root"
    try:
        fds = os.listdir(d + "/fd")
    except OSError:
        fds = []
    for fd in fds:
        target = link(d + "/fd/" + fd)
        if target and target.startswith(tmp_prefix):
            return "holds fd %s -> %s" % (fd, target)
    return None

def parent_dirs():
    found = []
    for depth in ("*", "*/*", "*/*/*"):
        found += [p for p in glob.glob("/sys/fs/cgroup/%s/%s" % (depth, parent)) if os.path.isdir(p)]
    return found

def leaked_processes():
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        why = process_reason(pid)
        if why and not is_test_shell(pid):
            cmd = (read("/proc/%s/cmdline" % pid, True) or b"").replace(b"\0", b" ").decode("utf-8", "replace")
            out.append((pid, "process: %s (%s): %s" % (pid, cmd[:120].strip(), why)))
    return out

def leaks():
    found = []
    for line in open("/proc/self/mountinfo"):
        if tmp in line:
            f = line.split()
            fstype = f[f.index("-") + 1] if "-" in f else "?"
            found.append("mount: %s (%s)" % (f[4], fstype))
    for p in parent_dirs():
        for child in sorted(os.listdir(p)):
            if os.path.isdir(os.path.join(p, child)):
                found.append("cgroup: " + os.path.join(p, child))
    found += [line for _, line in leaked_processes()]
    netns = os.path.join(run, "netns")
    if os.path.isdir(netns):
        found += ["netns: " + os.path.join(netns, n) for n in os.listdir(netns)]
    found += ["link: " + n for n in links_of_test()]
    for rec in glob.glob(os.path.join(root, "networks", "*.json")):
        try:
            import json as _json
            data = _json.load(open(rec))
        except Exception:
            continue
        for cid in data.get("Containers") or {}:
            found.append("address allocation: %s in %s" % (cid[:12], rec))
        if data.get("Name") != "bridge":
            found.append("network record: " + rec)
    for base in (root, run):
        for kind in ("containers", "trash"):  # trash: what a --rm supervisor has yet to delete
            d = os.path.join(base, kind)
            if os.path.isdir(d):
                found += ["record: " + os.path.join(d, n) for n in sorted(os.listdir(d))]
    names = os.path.join(root, "names")  # the name index: an entry per existing container
    if os.path.isdir(names):
        found += ["name index entry: " + os.path.join(names, n) for n in sorted(os.listdir(names))]
    return found

if mode == "check":
    # Teardown is partly asynchronous (a dying pid namespace; PID 1 here reaps late): a leak must
    # persist for about 3 s to count.
    deadline = time.time() + 3
    while True:
        found = leaks()
        if not found or time.time() > deadline:
            break
        time.sleep(0.1)
    print("\n".join(found))
    sys.exit(1 if found else 0)

# mode == "cleanup": remove what is left so one failing test does not break the next ones.
for pid, _ in leaked_processes():
    try:
        os.kill(int(pid), signal.SIGKILL)
    except OSError:
        pass
time.sleep(0.2)
libc = ctypes.CDLL(None, use_errno=True)
mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if tmp in l]
for m in sorted(mounts, key=len, reverse=True):
    libc.umount2(m.encode(), 2)  # MNT_DETACH
for n in links_of_test():
    subprocess.call(["ip", "link", "del", n], stderr=subprocess.DEVNULL)
for attempt in range(20):
    for p in parent_dirs():
        for dirpath, dirnames, _ in sorted(os.walk(p, topdown=False), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    if not parent_dirs():
        break
    time.sleep(0.1)
left = parent_dirs()
if left:
    print("could not remove cgroup dirs: " + " ".join(left))
    sys.exit(1)
'

# Remembers every container id this test's roots and cgroups know of, for the link check, and
# every bridge its network records name.
LEAK_BRIDGES=""
_collect_ids() {
  local d b
  for b in $("$PYTHON" -c '
import glob, json, sys
for f in glob.glob(sys.argv[1] + "/networks/*.json"):
    try:
        d = json.load(open(f))
        if d.get("Name") != "bridge":  # the default bridge stays up by design (as docker0)
            print(d.get("BridgeName", ""))
    except Exception:
        pass' "$BERTH_ROOT" 2>/dev/null); do
    case " $LEAK_BRIDGES " in *" $b "*) ;; *) LEAK_BRIDGES="$LEAK_BRIDGES $b" ;; esac
  done
  for d in "$BERTH_ROOT"/containers/* "$BERTH_RUN"/containers/* \
    /sys/fs/cgroup/*/"$BERTH_CGROUP_PARENT"/*/; do
    [ -e "$d" ] || continue
    d=${d%/}
    d=${d##*/}
    case " $LEAK_IDS " in *" $d "*) ;; *) LEAK_IDS="$LEAK_IDS $d" ;; esac
  done
}

# leak_check : prints the leaks (one line each) and returns 1 if any.
leak_check() {
  _collect_ids
  "$PYTHON" -c "$_LEAK_PY" check "$TEST_TMP" "$BERTH_ROOT" "$BERTH_RUN" "$BERTH_CGROUP_PARENT" "$LEAK_IDS" "$$" "$LEAK_BRIDGES"
}

_force_cleanup() {
  "$PYTHON" -c "$_LEAK_PY" cleanup "$TEST_TMP" "$BERTH_ROOT" "$BERTH_RUN" "$BERTH_CGROUP_PARENT" "$LEAK_IDS" "$$" "$LEAK_BRIDGES"
}

_on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ -n "${TEST_TMP:-}" ] && [ -d "$TEST_TMP" ]; then
    _collect_ids
    # Force-remove every container the CLI knows of.
    local ids
    ids=$(timeout 60 "$BERTH_BIN" container ls -aq 2>/dev/null)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      timeout 120 "$BERTH_BIN" container rm -f $ids >/dev/null 2>"$TEST_TMP/rm-f.err" ||
        note "container rm -f at exit failed: $(head -c 500 "$TEST_TMP/rm-f.err")"
    fi
    # Networks the test left (a test that checks its own cleanup has removed them already), then
    # the default bridge, which stays up by design as docker0 does.
    timeout 60 "$BERTH_BIN" network prune -f >/dev/null 2>&1
    local default_bridge
    default_bridge=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("BridgeName",""))' \
      "$BERTH_ROOT/networks/bridge.json" 2>/dev/null)
    [ -n "$default_bridge" ] && ip link del "$default_bridge" 2>/dev/null
    local leaks
    if ! leaks=$(leak_check); then
      _tap 0 "leak check: nothing left behind after $TEST_NAME" "$leaks"
      [ "$TEST_DONE" = 1 ] && echo "1..$TESTS_RUN"
      rc=1
    elif [ "$TEST_DONE" = 1 ]; then
      # Report the leak check as one more test after the plan would be wrong; just say it.
      note "leak check: clean"
    fi
    # Removes leftovers; the parent cgroup dirs must be removable now.
    local left
    left=$(_force_cleanup) || { note "$left"; rc=1; }
    if grep -qF -- "$TEST_TMP" /proc/self/mountinfo; then
      note "mounts still under $TEST_TMP; not removing it"
      rc=1
    else
      rm -rf --one-file-system "$TEST_TMP"
    fi
  fi
  if [ "$TEST_DONE" != 1 ] && [ "$rc" = 0 ]; then
    note "$TEST_NAME ended before done_testing"
    rc=1
  fi
  [ "$TESTS_FAILED" -gt 0 ] && rc=1
  exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# Setup: private roots, then the test image.

[ -x "$BERTH_BIN" ] || { echo "Bail out! BERTH_BIN '$BERTH_BIN' is not an executable (build target berth)"; exit 1; }
# /usr/bin/python3 directly: a pyenv shim in PATH costs seconds per call on a loaded machine.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3) || { echo "Bail out! python3 is needed (JSON, leak check)"; exit 1; }

# Short paths: unix socket paths under the run root must stay well within 108 bytes.
TEST_TMP=$(mktemp -d "/tmp/bt-${TEST_NAME#test_}.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
export BERTH_ROOT="$TEST_TMP/root"
export BERTH_RUN="$TEST_TMP/run"
export BERTH_CGROUP_PARENT="berth-test-$$"
mkdir -p "$BERTH_ROOT" "$BERTH_RUN"
trap _on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
note "$TEST_NAME: BERTH_ROOT=$BERTH_ROOT BERTH_RUN=$BERTH_RUN BERTH_CGROUP_PARENT=$BERTH_CGROUP_PARENT"

# A stand-in for berth while make-test-image runs: it keeps a copy of the tar and the import
# arguments in the cache, then imports for real. Later test files replay the import from the
# cache into their own root, so the image is built once per (probe, script, busybox) version.
_write_import_shim() {
  cat >"$1" <<'EOF'
#!/bin/bash
if [ "$1" = image ] && [ "$2" = import ]; then
  args=("$@") src_index=-1
  for i in "${!args[@]}"; do
    [ "$i" -lt 2 ] && continue
    a=${args[$i]}
    if [ "$a" = - ] || { [ "${a#-}" = "$a" ] && [ -f "$a" ]; }; then src_index=$i; break; fi
  done
  if [ "$src_index" -ge 0 ]; then
    if [ "${args[$src_index]}" = - ]; then cat >"$SHIM_OUT/rootfs.tar"; else cp "${args[$src_index]}" "$SHIM_OUT/rootfs.tar"; fi || exit 125
    args[$src_index]=@ROOTFS@
    : >"$SHIM_OUT/args"
    for a in "${args[@]}"; do printf '%s\0' "$a" >>"$SHIM_OUT/args"; done
    args[$src_index]=$SHIM_OUT/rootfs.tar
    exec "$SHIM_REAL" "${args[@]}"
  fi
fi
exec "$SHIM_REAL" "$@"
EOF
  chmod 755 "$1"
}

_import_from_cache() {  # _import_from_cache DIR : replays the recorded import into our root
  local args=() a
  while IFS= read -r -d '' a; do
    [ "$a" = @ROOTFS@ ] && a="$1/rootfs.tar"
    args+=("$a")
  done <"$1/args"
  timeout 120 "$BERTH_BIN" "${args[@]}" >"$TEST_TMP/import.out" 2>&1
}

setup_test_image() {
  local script=${BERTH_MAKE_TEST_IMAGE:-$BERTH_SOURCE_DIR/scripts/make-test-image}
  [ -x "$script" ] || bail_out "test image script $script is missing or not executable"
  [ -f "$BERTH_PROBE" ] || bail_out "BERTH_PROBE '$BERTH_PROBE' does not exist (build target berth-test-probe)"
  local cache=${BERTH_TEST_CACHE:-/var/tmp/berth-test-cache} key
  key=$({ echo harness-v1; cat "$BERTH_PROBE" "$script" "$(command -v busybox 2>/dev/null || echo /dev/null)"; } | sha256sum | cut -c1-16)
  local dir="$cache/$key"
  mkdir -p "$cache"
  if [ ! -s "$dir/args" ]; then
    (
      flock 9
      [ -s "$dir/args" ] && exit 2  # another test file built it meanwhile
      local tmp="$cache/.build.$$"
      rm -rf "$tmp"
      mkdir -p "$tmp/bin"
      _write_import_shim "$tmp/bin/berth"
      SHIM_OUT=$tmp SHIM_REAL=$BERTH_BIN BERTH_BIN=$tmp/bin/berth timeout 300 "$script" >"$TEST_TMP/make-image.log" 2>&1 ||
        { echo "make-test-image failed:"; tail -20 "$TEST_TMP/make-image.log"; rm -rf "$tmp"; exit 1; }
      [ -s "$tmp/args" ] || { echo "make-test-image did not call '\$BERTH_BIN image import'"; tail -20 "$TEST_TMP/make-image.log"; rm -rf "$tmp"; exit 1; }
      rm -rf "$tmp/bin"
      rm -rf "$dir"
      mv "$tmp" "$dir"
    ) 9>"$cache/lock"
    case $? in
      0) TEST_ROOTFS_TAR=$dir/rootfs.tar; return 0 ;;  # imported while building
      2) ;;
      *) bail_out "could not build the test image (see above)" ;;
    esac
  fi
  _import_from_cache "$dir" || bail_out "image import of the cached test image failed: $(tail -5 "$TEST_TMP/import.out")"
  TEST_ROOTFS_TAR=$dir/rootfs.tar
}

if [ "${BERTH_TEST_NO_IMAGE:-}" != 1 ]; then
  setup_test_image
fi
