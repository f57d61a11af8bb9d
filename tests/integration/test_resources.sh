#!/bin/bash
# Resource limits through cgroups (v1 on this host) and rlimits: the OOM killer under -m, a fork
# bomb under --pids-limit, the CPU quota, and the values Berth writes into every hierarchy.
. "$(dirname "$0")/lib.sh"

# --- memory: OOM kill reported from the cgroup, not guessed from 137 ---------------------------------
TIMEOUT=90 capture berth container run --name oom -m 32m "$IMAGE" probe hog 512
expect_eq "a memory hog under -m 32m is killed: 137" 137 "$RC"
expect_no_match "the hog did not finish" '^hog done' "$OUT"
capture berth inspect oom
expect_eq "inspect: State.OOMKilled true" true "$(printf '%s' "$OUT" | json_get 0.State.OOMKilled)"
expect_eq "inspect: State.ExitCode 137" 137 "$(printf '%s' "$OUT" | json_get 0.State.ExitCode)"
expect_eq "inspect: HostConfig.Memory 32 MiB" 33554432 "$(printf '%s' "$OUT" | json_get 0.HostConfig.Memory)"
expect_rc "container rm oom" 0 berth container rm oom

capture berth container run --name not-oom --init -m 32m "$IMAGE" sh -c 'kill -9 $$'
expect_eq "a self-kill -9 under -m 32m also exits 137" 137 "$RC"
expect_eq "... but OOMKilled stays false (read from the cgroup)" false "$(inspect_field not-oom State.OOMKilled)"
expect_rc "container rm not-oom" 0 berth container rm not-oom

capture berth container run --rm -m 32m "$IMAGE" probe hog 8
expect_eq "a small allocation under -m 32m succeeds" "hog done 8" "$OUT"

# --- the values written into the cgroups of a running container --------------------------------------
out="$TEST_TMP/limits.out"
timeout -k 5 60 "$BERTH_BIN" container run --name limits -m 32m --memory-swap 64m --cpus 0.5 --cpu-shares 512 \
  --pids-limit 20 "$IMAGE" sh -c 'echo ready; exec sleep 30' >"$out" 2>&1 &
cli=$!
if wait_for 20 file_has "$out" '^ready$'; then
  id=$(container_id limits)
  expect_match "a running container has an id" '^[0-9a-f]{64}$' "$id"
  j=$(timeout 30 "$BERTH_BIN" inspect limits)
  expect_eq "inspect: State.Running true" true "$(printf '%s' "$j" | json_get 0.State.Running)"
  expect_eq "inspect: State.Status running" running "$(printf '%s' "$j" | json_get 0.State.Status)"
  pid=$(printf '%s' "$j" | json_get 0.State.Pid)
  expect_match "inspect: State.Pid is a host pid" '^[1-9][0-9]*$' "$pid"
  expect_eq "inspect: HostConfig.MemorySwap" 67108864 "$(printf '%s' "$j" | json_get 0.HostConfig.MemorySwap)"
  expect_eq "inspect: HostConfig.NanoCpus" 500000000 "$(printf '%s' "$j" | json_get 0.HostConfig.NanoCpus)"
  expect_eq "inspect: HostConfig.CpuShares" 512 "$(printf '%s' "$j" | json_get 0.HostConfig.CpuShares)"
  expect_eq "inspect: HostConfig.PidsLimit" 20 "$(printf '%s' "$j" | json_get 0.HostConfig.PidsLimit)"
  capture berth container ls
  expect_match "container ls shows the running container as Up" 'limits$' "$OUT"
  expect_match "container ls says Up" ' Up ' "$OUT"

  expect_eq "-m 32m sets memory.limit_in_bytes" 33554432 "$(cat "$(cgroup_dir memory "$id")/memory.limit_in_bytes" 2>&1)"
  if [ -e "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes" ]; then
    expect_eq "--memory-swap 64m sets memory.memsw.limit_in_bytes" 67108864 \
      "$(cat "$(cgroup_dir memory "$id")/memory.memsw.limit_in_bytes" 2>&1)"
  fi
  expect_eq "--cpus 0.5 sets cpu.cfs_quota_us 50000" 50000 "$(cat "$(cgroup_dir cpu "$id")/cpu.cfs_quota_us" 2>&1)"
  expect_eq "--cpus 0.5 uses cpu.cfs_period_us 100000" 100000 "$(cat "$(cgroup_dir cpu "$id")/cpu.cfs_period_us" 2>&1)"
  expect_eq "--cpu-shares 512 sets cpu.shares" 512 "$(cat "$(cgroup_dir cpu "$id")/cpu.shares" 2>&1)"
  expect_eq "--pids-limit 20 sets pids.max" 20 "$(cat "$(cgroup_dir pids "$id")/pids.max" 2>&1)"
  devices=$(cat "$(cgroup_dir devices "$id")/devices.list" 2>&1)
  expect_no_match "the device cgroup does not allow everything" '^a \*:\* rwm$' "$devices"
  expect_match "the device cgroup allows /dev/null (c 1:3 rwm)" '^c 1:3 rwm$' "$devices"
  # The container's process sits in its cgroup in every v1 hierarchy (absolute paths, not the
  # caller's own cgroup: ours is /process_api/... in memory on this host).
  for h in /sys/fs/cgroup/*/; do
    h=$(basename "$h")
    [ "$h" = unified ] && continue
    [ -e "/sys/fs/cgroup/$h/cgroup.procs" ] || continue
    d=$(cgroup_dir "$h" "$id")
    expect_match "the container's PID 1 is in its $h cgroup" "^$pid\$" "$(cat "$d/cgroup.procs" 2>&1)"
  done
  expect_match "the memory cgroup is /$BERTH_CGROUP_PARENT/<id> from the hierarchy root" \
    "^[0-9]+:memory:/$BERTH_CGROUP_PARENT/$id\$" "$(cat "/proc/$pid/cgroup" 2>&1)"

  capture berth container rm limits
  expect_eq "container rm without -f refuses a running container (Docker: 1)" 1 "$RC"
  expect_rc "container rm -f removes a running container" 0 berth container rm -f limits
  if wait_for 10 sh -c "! kill -0 $cli 2>/dev/null"; then
    wait "$cli"
    expect_eq "the foreground CLI ends with 137 when its container is removed with -f" 137 "$?"
  else
    fail "the foreground CLI ends after container rm -f"
    kill -9 "$cli"
  fi
else
  fail "the limits container started" "$(cat "$out")"
  kill -9 "$cli" 2>/dev/null
fi
wait "$cli" 2>/dev/null

# --- fork bomb under --pids-limit 20 ----------------------------------------------------------------
out="$TEST_TMP/forkbomb.out"
timeout -k 5 60 "$BERTH_BIN" container run --name bomb --pids-limit 20 "$IMAGE" probe forkbomb 3 >"$out" 2>&1 &
cli=$!
max_current=0
id=""
for _ in $(seq 1 40); do  # sample pids.current from the host while the bomb runs (~2 s)
  if [ -z "$id" ]; then
    for d in /sys/fs/cgroup/pids/"$BERTH_CGROUP_PARENT"/*/; do [ -d "$d" ] && id=$(basename "$d"); done
  fi
  if [ -n "$id" ]; then
    c=$(cat "/sys/fs/cgroup/pids/$BERTH_CGROUP_PARENT/$id/pids.current" 2>/dev/null || echo 0)
    [ "$c" -gt "$max_current" ] && max_current=$c
  fi
  sleep 0.05
done
wait "$cli"
rc=$?
expect_eq "the fork bomb container ends normally" 0 "$rc"
result=$(grep '^forkbomb' "$out")
expect_match "the fork bomb ran" '^forkbomb ok=[0-9]+ eagain=[0-9]+' "$result"
ok=$(printf '%s' "$result" | sed -n 's/.*ok=\([0-9]*\).*/\1/p')
eagain=$(printf '%s' "$result" | sed -n 's/.*eagain=\([0-9]*\).*/\1/p')
expect_le "at most 19 children lived at once beside PID 1 (limit 20)" 19 "${ok:-999}"
expect_ge "forks were refused (EAGAIN) at the limit" 1 "${eagain:-0}"
expect_le "pids.current seen from the host stayed <= 20" 20 "$max_current"
expect_ge "pids.current was sampled while the bomb ran" 10 "$max_current"
expect_rc "container rm bomb" 0 berth container rm bomb

# --- rlimits --------------------------------------------------------------------------------------
capture berth container run --rm --ulimit nofile=1024:2048 "$IMAGE" probe rlimit nofile
expect_eq "--ulimit nofile=1024:2048" "1024 2048" "$OUT"
host_hard=$(ulimit -Hn)
capture berth container run --rm "$IMAGE" probe rlimit nofile
hard=$(printf '%s' "$OUT" | awk '{print $2}')
expect_le "the default nofile hard limit is not above the caller's ($host_hard)" "$host_hard" "${hard:-999999999}"
capture berth container run --rm --ulimit "nofile=$((host_hard + 1000)):$((host_hard + 1000))" "$IMAGE" probe rlimit nofile
if [ "$RC" = 125 ]; then
  expect_one_clear_line "an nofile above the hard limit is refused with one line" "$ERR"
else
  expect_le "an nofile above the hard limit is not granted" "$host_hard" "$(printf '%s' "$OUT" | awk '{print $2}')"
fi

done_testing
