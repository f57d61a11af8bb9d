#!/bin/bash
# Issue 3's speed targets, measured (a benchmark, not a timed test):
#   - `berth container run -d IMAGE sleep` returns          (median <= 20 ms)
#   - `berth container ls -a` with 100 containers            (median <= 15 ms)
# Usage: sudo bench/lifecycle.sh   (BERTH_BIN=path/to/berth, default build/berth)
set -u
. "$(dirname "$0")/lib.sh"

bench_setup
bench_image
bench_measure "berth run -d IMAGE sleep 1000" 30 3 "$BERTH_BIN" container run -d "$BENCH_IMAGE" sleep 1000
# shellcheck disable=SC2046
"$BERTH_BIN" container rm -f $("$BERTH_BIN" container ls -aq) >/dev/null
"$BERTH_BIN" container prune -f >/dev/null
for i in $(seq 1 100); do "$BERTH_BIN" container run --name "c$i" "$BENCH_IMAGE" true >/dev/null; done
bench_measure "berth container ls -a (100 containers)" 100 5 "$BERTH_BIN" container ls -a
bench_table
echo
echo "run -d median:          $(bench_median "berth run -d IMAGE sleep 1000") ms (target <= 20 ms)"
echo "ls -a (100) median:     $(bench_median "berth container ls -a (100 containers)") ms (target <= 15 ms)"
