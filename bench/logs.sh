#!/bin/bash
# `berth container logs` of a 100 000-line json-file log (issue 3's target: <= 100 ms), written by
# the supervisor of a detached container that prints 100 000 lines, plus --tail 10 and -t.
# Usage: sudo bench/logs.sh [RUNS]   (BERTH_BIN=path/to/berth, default build/berth)
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${1:-20}
LINES=100000
bench_setup
bench_image

"$BERTH_BIN" container run -d --name logbench "$BENCH_IMAGE" sh -c \
  "i=0; while [ \$i -lt $LINES ]; do echo \"log line number \$i of the benchmark\"; i=\$((i+1)); done" >/dev/null ||
  bench_die "run -d failed"
for _ in $(seq 600); do
  [ "$("$BERTH_BIN" inspect logbench | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["State"]["Status"])')" = exited ] && break
  sleep 0.1
done
got=$("$BERTH_BIN" container logs logbench | wc -l)
[ "$got" = "$LINES" ] || bench_die "expected $LINES lines in the log, got $got"
log_path=$("$BERTH_BIN" inspect logbench | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["LogPath"])')

bench_measure "container logs (100k lines)" "$RUNS" 3 "$BERTH_BIN" container logs logbench
bench_measure "container logs -t (100k lines)" "$RUNS" 3 "$BERTH_BIN" container logs -t logbench
bench_measure "container logs --tail 10 (100k lines)" "$RUNS" 3 "$BERTH_BIN" container logs --tail 10 logbench
bench_measure "cat of the log file (floor)" "$RUNS" 3 cat "$log_path"

echo
echo "container logs on $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "log: $LINES lines, $(stat -c %s "$log_path") bytes"
bench_table
echo
all=$(bench_median "container logs (100k lines)")
verdict=$(awk -v v="${all:-}" 'BEGIN { if (v == "") print "n/a"; else print (v <= 100) ? "ok" : "OVER" }')
echo "container logs (100k lines) median: ${all:-n/a} ms (target <= 100 ms: $verdict)"
