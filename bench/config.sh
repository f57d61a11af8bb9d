#!/bin/bash
# `berth config -q` on generated 10/100/1000-service files: median wall time of N runs, and the
# per-service cost, to show that load time grows linearly. Needs no root.
# Targets (issue 6): 100 services ≤ 10 ms, 1000 services ≤ 100 ms.
# Environment: BERTH_BIN (default build/berth), RUNS (default 21).
set -euo pipefail
BERTH_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BERTH_BIN=${BERTH_BIN:-$BERTH_SOURCE_DIR/build/berth}
RUNS=${RUNS:-21}
[ -x "$BERTH_BIN" ] || { echo "bench: BERTH_BIN '$BERTH_BIN' is not executable" >&2; exit 1; }
TMP=$(mktemp -d /tmp/berth-bench-config.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# A service the size of a typical web/db entry: ports, env, volumes, healthcheck, depends_on, labels.
gen() {
  local n=$1 f=$2 i
  {
    echo "name: bench"
    echo "x-common: &common"
    echo "  restart: unless-stopped"
    echo "  labels: [com.example.tier=bench]"
    echo "services:"
    for ((i = 0; i < n; i++)); do
      cat <<SVC
  svc$i:
    <<: *common
    image: "registry.example.com/app/svc$i:\${TAG:-1.0}"
    command: ["/bin/app", "--port", "80$((i % 10))"]
    environment:
      - SERVICE_NAME=svc$i
      - LOG_LEVEL=info
    ports: ["$((20000 + i)):80"]
    volumes: ["data$((i % 10)):/var/lib/app", "./conf/svc$i:/etc/app:ro"]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://localhost/health"]
      interval: 10s
      retries: 3
SVC
      if ((i > 0)); then echo "    depends_on: [svc$((i - 1))]"; fi
    done
    echo "volumes:"
    for ((i = 0; i < 10; i++)); do echo "  data$i: {}"; done
  } >"$f"
}

median_ms() {  # "WALL CPU": median wall time and median user+sys CPU of RUNS executions, in ms
  python3 - "$RUNS" "$@" <<'PY'
import resource, subprocess, sys, time
runs = int(sys.argv[1]); cmd = sys.argv[2:]
walls, cpus = [], []
def children_cpu():  # getrusage has µs resolution; os.times() counts 10 ms clock ticks
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for _ in range(runs):
    before = children_cpu()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    walls.append((time.perf_counter() - t) * 1000)
    cpus.append((children_cpu() - before) * 1000)
walls.sort(); cpus.sort()
print(f"{walls[len(walls)//2]:.1f} {cpus[len(cpus)//2]:.1f}")
PY
}

# CPU time is the figure to compare on a shared machine: wall time includes waiting for a core.
printf '%-10s %10s %10s %18s\n' services "wall ms" "cpu ms" "cpu µs/service"
for n in 10 100 1000; do
  gen "$n" "$TMP/compose-$n.yaml"
  read -r wall cpu < <(median_ms "$BERTH_BIN" config -q -f "$TMP/compose-$n.yaml")
  per=$(python3 -c "print(f'{$cpu * 1000 / $n:.0f}')")
  printf '%-10s %10s %10s %18s\n' "$n" "$wall" "$cpu" "$per"
done
true_cpu=$(median_ms /bin/true | cut -d' ' -f1)
echo "(process start baseline: /bin/true takes ${true_cpu} ms wall here)"
