#!/bin/bash
# Memory of idle supervisors (issue 3's size target): RSS and PSS of the berth-supervisor of
# each of N idle containers, from /proc/<pid>/smaps_rollup. Target: <= 2 MiB RSS and
# <= 0.5 MiB PSS each (conmon: 2.0 MiB RSS; containerd-shim: 12.9 MiB).
# Usage: sudo bench/supervisor-memory.sh [N]   (BERTH_BIN=path/to/berth, default build/berth)
set -u
. "$(dirname "$0")/lib.sh"

N=${1:-10}
bench_setup
bench_image
ids=()
for i in $(seq 1 "$N"); do
  ids+=("$("$BERTH_BIN" container run -d "$BENCH_IMAGE" sleep 300)")
done
sleep 1
"$PYTHON" - "$BERTH_RUN" "${ids[@]}" <<'PY'
import json, statistics, sys
run, ids = sys.argv[1], sys.argv[2:]
rss, pss = [], []
for cid in ids:
    pid = json.load(open(f"{run}/containers/{cid}/state.json"))["SupervisorPid"]
    fields = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            fields[parts[0][:-1]] = int(parts[1])
    rss.append(fields["Rss"]); pss.append(fields["Pss"])
print(f"supervisors: {len(ids)}")
print(f"RSS KiB: median {statistics.median(rss):.0f}  max {max(rss)}   (target <= 2048)")
print(f"PSS KiB: median {statistics.median(pss):.0f}  max {max(pss)}   (target <= 512)")
PY
"$BERTH_BIN" container rm -f "${ids[@]}" >/dev/null
