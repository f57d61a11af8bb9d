# shellcheck shell=bash
# Shared pieces of the benchmarks: a private Berth root, the busybox test image (built the same
# way as the tests build it: scripts/make-test-image), timing through hyperfine (or a python3
# loop when hyperfine is missing), and a small results table.
#
# Environment: BERTH_BIN (default build/berth), BERTH_SOURCE_DIR. Needs root.

BERTH_SOURCE_DIR=${BERTH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BERTH_BIN=${BERTH_BIN:-$BERTH_SOURCE_DIR/build/berth}
BENCH_IMAGE=berth-bench/busybox:latest
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=$(command -v python3)

bench_die() { echo "bench: $*" >&2; exit 1; }

# bench_setup : private roots under a temp dir, removed (with every container) on exit.
bench_setup() {
  [ "$(id -u)" -eq 0 ] || bench_die "needs root (containers)"
  [ -x "$BERTH_BIN" ] || bench_die "BERTH_BIN '$BERTH_BIN' is not executable (build target berth)"
  [ -n "$PYTHON" ] || bench_die "needs python3"
  BENCH_TMP=$(mktemp -d /tmp/berth-bench.XXXXXX)
  export BERTH_ROOT="$BENCH_TMP/root" BERTH_RUN="$BENCH_TMP/run" BERTH_CGROUP_PARENT="berth-bench-$$"
  mkdir -p "$BERTH_ROOT" "$BERTH_RUN"
  : >"$BENCH_TMP/results.tsv"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local ids
  ids=$(timeout 30 "$BERTH_BIN" container ls -aq 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && timeout 60 "$BERTH_BIN" container rm -f $ids >/dev/null 2>&1
  # Networks a bench left, then the default network's bridge, which stays up by design (as
  # docker0): this root is going, so it goes too.
  timeout 60 "$BERTH_BIN" network prune -f >/dev/null 2>&1
  local default_bridge
  default_bridge=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("BridgeName",""))' \
    "$BERTH_ROOT/networks/bridge.json" 2>/dev/null)
  [ -n "$default_bridge" ] && ip link del "$default_bridge" 2>/dev/null
  find /sys/fs/cgroup -maxdepth 3 -type d -name "$BERTH_CGROUP_PARENT" 2>/dev/null |
    while IFS= read -r d; do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  if grep -qF "$BENCH_TMP" /proc/self/mountinfo; then
    echo "bench: mounts left under $BENCH_TMP; not removing it" >&2
  else
    rm -rf --one-file-system "$BENCH_TMP"
  fi
}

# bench_image : imports the busybox image as $BENCH_IMAGE and keeps its rootfs tar as
# $BENCH_TMP/rootfs.tar (for runc). make-test-image calls "$BERTH_BIN image import … TAR NAME";
# a stand-in binary keeps a copy of TAR on the way.
bench_image() {
  mkdir -p "$BENCH_TMP/shim"
  cat >"$BENCH_TMP/shim/berth" <<'SHIM'
#!/bin/bash
if [ "$1" = image ] && [ "$2" = import ]; then
  for a in "${@:3}"; do
    if [ "${a#-}" = "$a" ] && [ -f "$a" ]; then cp "$a" "$BENCH_TAR"; break; fi
  done
fi
exec "$SHIM_REAL" "$@"
SHIM
  chmod 755 "$BENCH_TMP/shim/berth"
  BENCH_TAR="$BENCH_TMP/rootfs.tar" SHIM_REAL=$BERTH_BIN BERTH_BIN="$BENCH_TMP/shim/berth" BERTH_PROBE="" \
    "$BERTH_SOURCE_DIR/scripts/make-test-image" "$BENCH_IMAGE" >"$BENCH_TMP/make-image.log" 2>&1 ||
    bench_die "make-test-image failed: $(tail -5 "$BENCH_TMP/make-image.log")"
  [ -s "$BENCH_TMP/rootfs.tar" ] || bench_die "make-test-image did not import a tar"
}

# bench_measure NAME RUNS WARMUP CMD... : times CMD (no shell in between) and appends one row
# (name, status, median, p90, mean, min, runs, note; times in ms) to results.tsv. A failing
# command is reported in the table, not fatal.
# BENCH_GAP=SECONDS: sleep that long before each timed run (as a user types commands: kernel
# state that back-to-back runs keep warm, such as the cgroup migration lock, goes cold).
bench_measure() {
  local name=$1 runs=$2 warmup=$3
  shift 3
  local gap=${BENCH_GAP:-}
  local json="$BENCH_TMP/$(echo "$name" | tr -c 'A-Za-z0-9' _).json" err="$BENCH_TMP/last.err"
  # One plain run first: a command that fails is reported with its own message.
  if ! timeout 60 "$@" >/dev/null 2>"$err"; then
    printf '%s\tFAILED\t-\t-\t-\t-\t0\t%s\n' "$name" "$(head -c 200 "$err" | tr '\n\t' '  ')" >>"$BENCH_TMP/results.tsv"
    return 1
  fi
  if command -v hyperfine >/dev/null; then
    local quoted
    quoted=$(printf '%q ' "$@")
    local prepare=()
    [ -n "$gap" ] && prepare=(--prepare "sleep $gap")
    if ! hyperfine -N --style none --warmup "$warmup" --runs "$runs" "${prepare[@]}" --export-json "$json" "$quoted" \
      >"$BENCH_TMP/hyperfine.out" 2>&1; then
      printf '%s\tFAILED\t-\t-\t-\t-\t0\t%s\n' "$name" "hyperfine: $(tail -3 "$BENCH_TMP/hyperfine.out" | tr '\n\t' '  ' | head -c 200)" \
        >>"$BENCH_TMP/results.tsv"
      return 1
    fi
  else
    BENCH_GAP=$gap "$PYTHON" - "$json" "$runs" "$warmup" "$@" <<'PY' || { printf '%s\tFAILED\t-\t-\t-\t-\t0\tpython timing loop failed\n' "$name" >>"$BENCH_TMP/results.tsv"; return 1; }
import json, os, subprocess, sys, time
out, runs, warmup, cmd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
gap = float(os.environ.get("BENCH_GAP") or 0)
times = []
for i in range(warmup + runs):
    time.sleep(gap)
    t = time.perf_counter()
    rc = subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rc != 0:
        sys.exit("run %d failed with %d" % (i, rc))
    if i >= warmup:
        times.append(time.perf_counter() - t)
json.dump({"results": [{"times": times}]}, open(out, "w"))
PY
  fi
  "$PYTHON" - "$json" "$name" >>"$BENCH_TMP/results.tsv" <<'PY'
import json, statistics, sys
times = sorted(json.load(open(sys.argv[1]))["results"][0]["times"])
ms = [t * 1000 for t in times]
p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
print("%s\tok\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t" % (sys.argv[2], statistics.median(ms), p90, statistics.mean(ms), ms[0], len(ms)))
PY
}

# bench_block FILE N CMD... : runs CMD N times in a row and appends each wall time (ms) to FILE.
# For interleaved comparisons: this host's speed drifts by 20 % and more over tens of seconds, so
# two commands measured in separate blocks of 50 can differ by the drift alone.
bench_block() {
  local file=$1 n=$2
  shift 2
  "$PYTHON" - "$file" "$n" "$@" <<'PY'
import subprocess, sys, time
out, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with open(out, "a") as f:
    for _ in range(n):
        t = time.perf_counter()
        if subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
            sys.exit("failed: " + " ".join(cmd))
        f.write("%.4f\n" % ((time.perf_counter() - t) * 1000))
PY
}

# bench_file_median FILE : the median of the numbers in FILE, empty when it has none
bench_file_median() {
  [ -s "$1" ] || return 0
  "$PYTHON" -c 'import statistics, sys; print("%.2f" % statistics.median(float(l) for l in open(sys.argv[1]) if l.strip()))' "$1"
}

# bench_median NAME : the median (ms) of a measured row, empty if it failed
bench_median() { awk -F'\t' -v n="$1" '$1 == n && $2 == "ok" {print $3}' "$BENCH_TMP/results.tsv"; }

bench_table() {
  printf '%-44s %8s %10s %10s %10s %10s %5s  %s\n' benchmark status median_ms p90_ms mean_ms min_ms runs note
  awk -F'\t' '{printf "%-44s %8s %10s %10s %10s %10s %5s  %s\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$BENCH_TMP/results.tsv"
}

# bench_bb_image [NAME] : the peers' image (../shared/bench/README.md), default bb:latest: Debian's
# static busybox with the symlinks of `busybox --install -s` (run chrooted, so they land in /bin,
# /sbin, /usr/bin, /usr/sbin as on the peers' machine), /etc/passwd and /etc/group with root,
# /var/www/index.html "hello", /tmp 1777; packed as a tar ($BENCH_TMP/bb.tar) and imported.
bench_bb_image() {
  local name=${1:-bb:latest} root="$BENCH_TMP/bb-rootfs"
  [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 ||
    bench_die "needs Debian's busybox-static (apt-get install busybox-static)"
  mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/root" \
    "$root/var/www" "$root/tmp" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  chroot "$root" /bin/busybox --install -s || bench_die "busybox --install -s failed in $root"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  printf 'hello\n' >"$root/var/www/index.html"
  chmod 1777 "$root/tmp"
  chmod 700 "$root/root"
  tar --create --file "$BENCH_TMP/bb.tar" --directory "$root" --numeric-owner --owner=0 --group=0 \
    --sort=name --mtime='2024-01-01 00:00:00Z' . || bench_die "tar of $root failed"
  "$BERTH_BIN" image import --change 'CMD ["sh"]' "$BENCH_TMP/bb.tar" "$name" >"$BENCH_TMP/bb-import.log" 2>&1 ||
    bench_die "berth image import failed: $(tail -3 "$BENCH_TMP/bb-import.log")"
}

# bench_network_cleanup : what the containers left behind in the network layer, run before
# bench_cleanup (which removes $BERTH_ROOT): every container, every user network (their bridges go
# with them), then the default network's bridge device, named in $BERTH_ROOT/networks/bridge.json.
# Scripts that use networks install it with: trap 'bench_network_cleanup; bench_cleanup' EXIT
bench_network_cleanup() {
  local ids nets dev
  ids=$(timeout 30 "$BERTH_BIN" container ls -aq 2>/dev/null)
  # shellcheck disable=SC2086
  [ -n "$ids" ] && timeout 60 "$BERTH_BIN" container rm -f $ids >/dev/null 2>&1
  nets=$(timeout 30 "$BERTH_BIN" network ls --format json 2>/dev/null |
    "$PYTHON" -c 'import json,sys
text = sys.stdin.read().strip()
rows = json.loads(text) if text.startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
print(" ".join(r.get("Name", "") for r in rows if r.get("Name") not in ("bridge", "host", "none", "")))' 2>/dev/null)
  for n in $nets; do timeout 30 "$BERTH_BIN" network rm "$n" >/dev/null 2>&1; done
  if [ -f "$BERTH_ROOT/networks/bridge.json" ]; then
    dev=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("BridgeName", ""))' \
      "$BERTH_ROOT/networks/bridge.json" 2>/dev/null)
    [ -n "$dev" ] && [ -e "/sys/class/net/$dev" ] && ip link del dev "$dev" 2>/dev/null
  fi
  return 0
}

# bench_verdict VALUE LIMIT : "ok" when VALUE <= LIMIT, "OVER" when not, "n/a" without a value
bench_verdict() {
  [ -z "$1" ] && { echo "n/a"; return; }
  awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "ok" : "OVER" }'
}

# bench_ratio A B : A / B with two decimals, empty without both values
bench_ratio() {
  [ -n "$1" ] && [ -n "$2" ] || return 0
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}
