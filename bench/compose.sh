#!/bin/bash
# Issue 7's speed targets, measured on ../shared/bench/compose-5.yml (a benchmark, not a timed test):
#   - 10 cycles of `berth -p bench up -d` (median <= 150 ms, the published port answering when it
#     returns), `ps` and `logs` (<= 15 ms each), `down -v` (<= 150 ms); ratios to docker-compose
#     1.29.2's 2101/1079/530/717 ms from the README (docker is not run here).
#   - a generated stack of N `sleep` services on one network, N = 25, 50, 100: `up -d` and `down -v`
#     (3 runs each; 100 services <= 3 s) and the cost per service, to show whether it grows linearly.
# Usage: sudo bench/compose.sh [CYCLES]   (BERTH_BIN=path/to/berth, default build/berth;
#        BENCH_COMPOSE_FILE, default /work/shared/bench/compose-5.yml; BENCH_SIZES, default "25 50 100")
set -u
. "$(dirname "$0")/lib.sh"

CYCLES=${1:-10}
COMPOSE_FILE=${BENCH_COMPOSE_FILE:-/work/shared/bench/compose-5.yml}
SIZES=${BENCH_SIZES:-25 50 100}
PORT_URL=http://127.0.0.1:18081/
[ -f "$COMPOSE_FILE" ] || bench_die "no compose file $COMPOSE_FILE"

bench_setup
PROJECTS="bench"
# Every project this script may have started goes down first, then networks, then the rest.
# shellcheck disable=SC2317  # called from the EXIT trap
compose_cleanup() {
  for p in $PROJECTS; do timeout 120 "$BERTH_BIN" -p "$p" down -v -t 1 >/dev/null 2>&1; done
  bench_network_cleanup
  bench_cleanup
}
trap compose_cleanup EXIT
bench_bb_image bb:latest

proj="$BENCH_TMP/compose5"
mkdir -p "$proj"
cp "$COMPOSE_FILE" "$proj/compose.yml"

# The cycles: each step depends on the one before, so one python loop times them all (the same
# clock for every step) and fetches the port right after `up` returns, in the same process (no
# curl start-up in the way). Rows go to results.tsv in bench_measure's format.
(cd "$proj" && "$PYTHON" - "$BERTH_BIN" "$CYCLES" "$PORT_URL" "$BENCH_TMP/results.tsv" "$BENCH_TMP/cycles.log") <<'PY'
import statistics, subprocess, sys, time, urllib.request
berth, cycles, url, results, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
steps = {"up -d": ["-p", "bench", "up", "-d"], "ps": ["-p", "bench", "ps"],
         "logs": ["-p", "bench", "logs"], "down -v": ["-p", "bench", "down", "-v"]}
times = {k: [] for k in steps}
fetch_ms, answered, failures = [], 0, {}
logf = open(log, "w")

def run(step):
    t = time.perf_counter()
    p = subprocess.run([berth] + steps[step], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ms = (time.perf_counter() - t) * 1000
    logf.write("== %s rc=%d %.1f ms\n%s\n" % (step, p.returncode, ms, p.stdout.decode(errors="replace")[-2000:]))
    if p.returncode != 0:
        failures.setdefault(step, p.stdout.decode(errors="replace").strip().replace("\n", " ")[:200])
        return False
    times[step].append(ms)
    return True

for cycle in range(cycles):
    if run("up -d"):
        t = time.perf_counter()
        try:
            body = urllib.request.urlopen(url, timeout=5).read()
            if body.strip() == b"hello":
                answered += 1
            else:
                logf.write("cycle %d: port answered %r\n" % (cycle, body[:80]))
        except Exception as e:
            logf.write("cycle %d: port did not answer: %s\n" % (cycle, e))
        fetch_ms.append((time.perf_counter() - t) * 1000)
    run("ps")
    run("logs")
    run("down -v")

def row(name, ms, note=""):
    if not ms:
        return "%s\tFAILED\t-\t-\t-\t-\t0\t%s\n" % (name, note)
    s = sorted(ms)
    p90 = s[min(len(s) - 1, int(round(0.9 * (len(s) - 1))))]
    return "%s\tok\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\n" % (name, statistics.median(s), p90, statistics.mean(s), s[0], len(s), note)

with open(results, "a") as out:
    for step in steps:
        note = ("%d failed: %s" % (cycles - len(times[step]), failures[step])) if step in failures else ""
        out.write(row("compose-5: up -d" if step == "up -d" else "compose-5: " + step, times[step], note))
    out.write(row("compose-5: GET :18081 right after up", fetch_ms, "%d/%d answered hello" % (answered, len(fetch_ms))))
PY

# ps and logs do not change anything: hyperfine times them on a running stack with more runs.
if (cd "$proj" && "$BERTH_BIN" -p bench up -d >/dev/null 2>&1); then
  (cd "$proj" && bench_measure "compose-5: ps (hyperfine, stack up)" 30 3 "$BERTH_BIN" -p bench ps)
  (cd "$proj" && bench_measure "compose-5: logs (hyperfine, stack up)" 30 3 "$BERTH_BIN" -p bench logs)
  (cd "$proj" && "$BERTH_BIN" -p bench down -v >/dev/null 2>&1)
fi

# Generated stacks: N services of `sleep` on one network, the TERM trap as in compose-5.yml so
# that `down` measures the orchestrator rather than a stop timeout.
gen_stack() {  # gen_stack N FILE
  {
    echo "services:"
    for i in $(seq 1 "$1"); do
      printf '  s%d:\n    image: bb:latest\n' "$i"
      printf '    command: ["sh", "-c", "trap '"'"'exit 0'"'"' TERM; sleep 2147483647 & wait"]\n'
      printf '    networks: [net]\n'
    done
    printf 'networks:\n  net:\n    driver: bridge\n'
  } >"$2"
}
for n in $SIZES; do
  dir="$BENCH_TMP/gen$n"
  mkdir -p "$dir"
  gen_stack "$n" "$dir/compose.yml"
  PROJECTS="$PROJECTS gen$n"
  (cd "$dir" && "$PYTHON" - "$BERTH_BIN" "gen$n" "$n" 3 "$BENCH_TMP/results.tsv" "$BENCH_TMP/gen$n.log") <<'PY'
import statistics, subprocess, sys, time
berth, project, n, runs, results, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
times = {"up -d": [], "down -v": []}
errors = {}
logf = open(log, "w")
for _ in range(runs):
    for step, args in (("up -d", ["up", "-d"]), ("down -v", ["down", "-v"])):
        t = time.perf_counter()
        p = subprocess.run([berth, "-p", project] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ms = (time.perf_counter() - t) * 1000
        logf.write("== %s rc=%d %.1f ms\n%s\n" % (step, p.returncode, ms, p.stdout.decode(errors="replace")[-2000:]))
        if p.returncode == 0:
            times[step].append(ms)
        else:
            errors.setdefault(step, p.stdout.decode(errors="replace").strip().replace("\n", " ")[:200])
with open(results, "a") as out:
    for step, ms in times.items():
        name = "%d sleep services: %s" % (n, step)
        if not ms:
            out.write("%s\tFAILED\t-\t-\t-\t-\t0\t%s\n" % (name, errors.get(step, "")))
            continue
        s = sorted(ms)
        med = statistics.median(s)
        note = "%.1f ms/service" % (med / n) + (("; some runs failed: " + errors[step]) if step in errors else "")
        out.write("%s\tok\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\n" % (name, med, s[-1], statistics.mean(s), s[0], len(s), note))
PY
done

echo
echo "Compose on $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "(the generated stacks' p90 column is the slowest of 3 runs)"
bench_table
echo
up=$(bench_median "compose-5: up -d")
ps=$(bench_median "compose-5: ps")
logs=$(bench_median "compose-5: logs")
down=$(bench_median "compose-5: down -v")
fetch_note=$(awk -F'\t' '$1 == "compose-5: GET :18081 right after up" {print $8}' "$BENCH_TMP/results.tsv")
report() {  # report LABEL MEDIAN TARGET DOCKER_COMPOSE_MS
  local ratio
  ratio=$(bench_ratio "$2" "$4")
  printf '%-10s median %8s ms  target <= %3s ms: %-4s  berth/docker-compose (%s ms, README): %s\n' \
    "$1" "${2:-n/a}" "$3" "$(bench_verdict "$2" "$3")" "$4" "${ratio:-n/a}"
}
report "up -d" "$up" 150 2101
report "ps" "$ps" 15 530
report "logs" "$logs" 15 717
report "down -v" "$down" 150 1079
echo "port 18081 right after up -d returned: ${fetch_note:-n/a}"
echo
echo "growth with the service count (median up -d / down -v, per service):"
prev_n="" prev_up=""
for n in $SIZES; do
  u=$(bench_median "$n sleep services: up -d")
  d=$(bench_median "$n sleep services: down -v")
  per_up=$([ -n "$u" ] && awk -v v="$u" -v n="$n" 'BEGIN { printf "%.1f", v / n }')
  per_down=$([ -n "$d" ] && awk -v v="$d" -v n="$n" 'BEGIN { printf "%.1f", v / n }')
  marginal=""
  if [ -n "$prev_up" ] && [ -n "$u" ]; then
    marginal=$(awk -v a="$prev_up" -v b="$u" -v m="$prev_n" -v n="$n" 'BEGIN { printf "; marginal up -d %.1f ms/service from %d to %d", (b - a) / (n - m), m, n }')
  fi
  echo "  $n services: up -d ${u:-n/a} ms (${per_up:-n/a} ms/service), down -v ${d:-n/a} ms (${per_down:-n/a} ms/service)$marginal"
  prev_n=$n prev_up=$u
done
u100=$(bench_median "100 sleep services: up -d")
d100=$(bench_median "100 sleep services: down -v")
echo "100 services up -d: ${u100:-n/a} ms (target <= 3000 ms: $(bench_verdict "$u100" 3000)); down -v: ${d100:-n/a} ms"
echo "docker-compose (README): 50 services up -d 9.3 s, down -v 4.1 s, about 185 ms per service"
u50=$(bench_median "50 sleep services: up -d")
[ -n "$u50" ] && echo "berth/docker-compose at 50 services: up -d $(bench_ratio "$u50" 9300), down -v $(bench_ratio "$(bench_median "50 sleep services: down -v")" 4100)"
exit 0
