#!/bin/bash
# Issue 4's speed targets, measured (a benchmark, not a timed test):
#   - `berth container run --rm bb true` on a user bridge network (median <= 40 ms), beside the same
#     with --network none and on the default bridge; docker/podman figures quoted from the README.
#   - a published port (Berth's userland proxy) against the container's own address on the bridge,
#     in one run: busybox httpd serving a 10 MiB file, read with wrk (throughput through the port
#     >= 80 % of direct), and the setup latency of a connection: connect + GET of a 6-byte page +
#     close, alternating direct and published (published <= direct + 1 ms, medians).
# Traffic goes only to 127.0.0.1 and to the bridge this script creates (its device is btestbench0).
# Usage: sudo bench/network.sh [RUNS]   (BERTH_BIN=path/to/berth, default build/berth;
#        wrk from the Debian package wrk; without it a python loop reads the file)
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${1:-30}
NET=benchnet
BRIDGE=btestbench0
WRK_SECONDS=${BENCH_WRK_SECONDS:-5}
WRK_ROUNDS=${BENCH_WRK_ROUNDS:-3}
CONNECTS=${BENCH_CONNECTS:-300}

bench_setup
trap 'bench_network_cleanup; bench_cleanup' EXIT
bench_bb_image bb:latest

"$BERTH_BIN" network create -o "com.docker.network.bridge.name=$BRIDGE" "$NET" >/dev/null ||
  bench_die "network create $NET failed"

# --- start latency -------------------------------------------------------------------------------
bench_measure "run --rm bb true (user network $NET)" "$RUNS" 3 \
  "$BERTH_BIN" container run --rm --network "$NET" bb true
bench_measure "run --rm bb true (--network none)" "$RUNS" 3 \
  "$BERTH_BIN" container run --rm --network none bb true
bench_measure "run --rm bb true (default bridge)" "$RUNS" 3 \
  "$BERTH_BIN" container run --rm bb true

# --- published port against direct --------------------------------------------------------------
www="$BENCH_TMP/www"
mkdir -p "$www"
printf 'hello\n' >"$www/index.html"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$www/big"
chmod -R a+rX "$www"
port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BERTH_BIN" container run -d --name benchweb --network "$NET" -p "127.0.0.1:$port:80" \
  -v "$www:/var/www:ro" bb httpd -f -p 80 -h /var/www >/dev/null || bench_die "httpd container did not start"
addr=$("$BERTH_BIN" inspect benchweb | "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
nets = d["NetworkSettings"]["Networks"]
print(nets[sys.argv[1]]["IPAddress"])' "$NET") || bench_die "no address for benchweb in berth inspect"
[ -n "$addr" ] || bench_die "benchweb has no address on $NET"
direct="http://$addr:80"
published="http://127.0.0.1:$port"
# Both must serve the whole file before anything is timed.
for url in "$direct" "$published"; do
  ok=""
  for _ in $(seq 1 50); do
    n=$(curl -s -o /dev/null -w '%{size_download}' --max-time 5 "$url/big" 2>/dev/null) || n=0
    [ "$n" = $((10 * 1024 * 1024)) ] && { ok=1; break; }
    sleep 0.1
  done
  [ -n "$ok" ] || bench_die "$url/big did not answer with 10 MiB"
done

# Throughput: rounds of wrk alternate direct and published so that the machine's load drifts
# into both alike; the median MiB/s of each side is compared.
tool=""
if command -v wrk >/dev/null; then
  tool="wrk -t1 -c4 -d${WRK_SECONDS}s"
  for round in $(seq 1 "$WRK_ROUNDS"); do
    for side in direct published; do
      url=$([ "$side" = direct ] && echo "$direct" || echo "$published")
      wrk -t1 -c4 -d"${WRK_SECONDS}s" "$url/big" >"$BENCH_TMP/wrk-$side-$round.out" 2>&1 ||
        echo "bench: wrk against $url failed: $(tail -2 "$BENCH_TMP/wrk-$side-$round.out")" >&2
    done
  done
  "$PYTHON" - "$BENCH_TMP" "$WRK_ROUNDS" >>"$BENCH_TMP/throughput.tsv" <<'PY'
import re, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
units = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}
for side in ("direct", "published"):
    rates, reqs, errs = [], [], 0
    for r in range(1, rounds + 1):
        text = open("%s/wrk-%s-%d.out" % (tmp, side, r)).read()
        m = re.search(r"Transfer/sec:\s*([\d.]+)([KMG]?B)", text)
        q = re.search(r"Requests/sec:\s*([\d.]+)", text)
        if m:
            rates.append(float(m.group(1)) * units[m.group(2)])
        if q:
            reqs.append(float(q.group(1)))
        e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        if e:
            errs += sum(int(x) for x in e.groups())
        n = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        if n:
            errs += int(n.group(1))
    if rates:
        print("%s\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d" % (side, statistics.median(rates), min(rates), max(rates),
                                                 statistics.median(reqs) if reqs else 0, len(rates), errs))
PY
else
  tool="python loop (wrk is not installed: apt-get install wrk)"
  "$PYTHON" - "$direct/big" "$published/big" "$WRK_SECONDS" "$WRK_ROUNDS" >>"$BENCH_TMP/throughput.tsv" <<'PY'
import statistics, sys, time, urllib.request
direct, published, seconds, rounds = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rates = {"direct": [], "published": []}
reqs = {"direct": [], "published": []}
for _ in range(rounds):
    for side, url in (("direct", direct), ("published", published)):
        total, count, t0 = 0, 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            with urllib.request.urlopen(url, timeout=10) as r:
                while True:
                    b = r.read(1 << 20)
                    if not b:
                        break
                    total += len(b)
            count += 1
        dt = time.perf_counter() - t0
        rates[side].append(total / dt / 2**20)
        reqs[side].append(count / dt)
for side in ("direct", "published"):
    r = rates[side]
    print("%s\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t0" % (side, statistics.median(r), min(r), max(r), statistics.median(reqs[side]), len(r)))
PY
fi

# Connection setup: connect, send a GET of the 6-byte page, read to the close; direct and
# published alternate, one connection at a time.
"$PYTHON" - "$addr" 80 127.0.0.1 "$port" "$CONNECTS" >"$BENCH_TMP/connect.tsv" <<'PY'
import socket, statistics, sys, time
direct, published, n = (sys.argv[1], int(sys.argv[2])), (sys.argv[3], int(sys.argv[4])), int(sys.argv[5])
request = b"GET /index.html HTTP/1.0\r\nHost: bench\r\n\r\n"
def once(target):
    t = time.perf_counter()
    s = socket.create_connection(target, timeout=5)
    connected = time.perf_counter()
    s.sendall(request)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    done = time.perf_counter()
    if not data.endswith(b"hello\n"):
        raise SystemExit("unexpected answer from %s: %r" % (target, data[:100]))
    return (connected - t) * 1000, (done - t) * 1000
for _ in range(20):
    once(direct), once(published)
res = {"direct": ([], []), "published": ([], [])}
for _ in range(n):
    for side, target in (("direct", direct), ("published", published)):
        c, d = once(target)
        res[side][0].append(c)
        res[side][1].append(d)
for side in ("direct", "published"):
    c, d = res[side]
    sd = sorted(d)
    print("%s\t%.3f\t%.3f\t%.3f\t%d" % (side, statistics.median(c), statistics.median(d),
                                        sd[int(round(0.9 * (len(sd) - 1)))], len(d)))
PY
connect_rc=$?

echo
echo "Networking on $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
bench_table
echo
user=$(bench_median "run --rm bb true (user network $NET)")
none=$(bench_median "run --rm bb true (--network none)")
dflt=$(bench_median "run --rm bb true (default bridge)")
echo "run --rm bb true, user network:   ${user:-n/a} ms (target <= 40 ms: $(bench_verdict "$user" 40)); berth/docker (455 ms, README): $(bench_ratio "$user" 455); berth/podman (459 ms): $(bench_ratio "$user" 459)"
echo "run --rm bb true, default bridge: ${dflt:-n/a} ms (target <= 40 ms: $(bench_verdict "$dflt" 40)); berth/docker (455 ms, README): $(bench_ratio "$dflt" 455)"
echo "run --rm bb true, --network none: ${none:-n/a} ms (target <= 15 ms: $(bench_verdict "$none" 15)); berth/docker (335 ms, README): $(bench_ratio "$none" 335); berth/podman (228 ms): $(bench_ratio "$none" 228)"
echo
echo "10 MiB file from busybox httpd, $tool, $WRK_ROUNDS alternating rounds of ${WRK_SECONDS}s each:"
printf '  %-10s %12s %10s %10s %10s %7s %7s\n' side MiB/s_median min max req/s rounds errors
awk -F'\t' '{printf "  %-10s %12s %10s %10s %10s %7s %7s\n", $1, $2, $3, $4, $5, $6, $7}' "$BENCH_TMP/throughput.tsv"
d_rate=$(awk -F'\t' '$1 == "direct" {print $2}' "$BENCH_TMP/throughput.tsv")
p_rate=$(awk -F'\t' '$1 == "published" {print $2}' "$BENCH_TMP/throughput.tsv")
ratio=$(bench_ratio "$p_rate" "$d_rate")
pct=$([ -n "$ratio" ] && awk -v r="$ratio" 'BEGIN { printf "%.0f", r * 100 }')
echo "published / direct throughput: ${pct:-n/a} % (target >= 80 %: $([ -n "$pct" ] && { [ "$pct" -ge 80 ] && echo ok || echo UNDER; } || echo n/a))"
echo
if [ "$connect_rc" -eq 0 ]; then
  echo "connection setup, $CONNECTS alternating connections each (ms):"
  printf '  %-10s %12s %22s %12s\n' side 'connect()' 'connect+GET+close' p90
  awk -F'\t' '{printf "  %-10s %12s %22s %12s\n", $1, $2, $3, $4}' "$BENCH_TMP/connect.tsv"
  d_full=$(awk -F'\t' '$1 == "direct" {print $3}' "$BENCH_TMP/connect.tsv")
  p_full=$(awk -F'\t' '$1 == "published" {print $3}' "$BENCH_TMP/connect.tsv")
  extra=$(awk -v p="$p_full" -v d="$d_full" 'BEGIN { printf "%.3f", p - d }')
  echo "published - direct (connect+GET+close median): $extra ms (target <= 1 ms: $(bench_verdict "$extra" 1))"
else
  echo "connection setup: the python loop failed (see above)"
fi
exit 0
