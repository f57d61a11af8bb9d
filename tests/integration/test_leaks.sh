#!/bin/bash
# No leaks: 200 containers that succeed, fail, get killed and get OOM-killed, then the CLI and the
# supervisor killed with SIGKILL at several points of a start; after `container rm -f` and
# `container prune -f` the shared leak check must find nothing.
. "$(dirname "$0")/lib.sh"

COUNT=${BERTH_LEAK_COUNT:-200}
PARALLEL=4
results="$TEST_TMP/results"
mkdir -p "$TEST_TMP/mix"
: >"$results"

run_one() {  # run_one I : one container of the mix; appends "I WANT GOT" to $results
  local i=$1 want args=() rm=()
  [ $((i / 4 % 2)) = 0 ] && rm=(--rm)  # every kind of run both with and without --rm
  case $((i % 4)) in
    0) want=0 args=("$IMAGE" true) ;;
    1) want=7 args=("$IMAGE" sh -c 'exit 7') ;;
    2) want=137 args=(--init "$IMAGE" sh -c 'kill -9 $$') ;;
    3) want=137 args=(-m 16m "$IMAGE" probe hog 256) ;;
  esac
  timeout -k 5 60 "$BERTH_BIN" container run "${rm[@]}" --name "mix-$i" "${args[@]}" >/dev/null 2>"$TEST_TMP/mix/$i.err"
  echo "$i $want $?" >>"$results"
}

start=$SECONDS
running=0
for i in $(seq 0 $((COUNT - 1))); do
  run_one "$i" &
  running=$((running + 1))
  if [ "$running" -ge "$PARALLEL" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
note "$COUNT containers in $((SECONDS - start)) s ($PARALLEL at a time)"

expect_eq "all $COUNT runs reported" "$COUNT" "$(grep -c . "$results")"
bad=$(awk '$2 != $3' "$results" | sort -n)
if [ -z "$bad" ]; then
  pass "every run exited as expected (0, 7, 137 killed, 137 OOM)"
else
  first=$(printf '%s\n' "$bad" | head -1 | awk '{print $1}')
  fail "every run exited as expected (0, 7, 137 killed, 137 OOM)" \
    "$(printf '%s\n' "$bad" | grep -c .) mismatches (index want got):" "$(printf '%s\n' "$bad" | head -10)" \
    "stderr of run $first: $(head -c 500 "$TEST_TMP/mix/$first.err")"
fi
capture berth container ls -aq
expect_eq "the $((COUNT / 2)) runs without --rm are kept, the --rm ones are gone" $((COUNT / 2)) "$(printf '%s\n' "$OUT" | grep -c .)"
oom_kept=0 oom_killed=0
for i in $(seq 3 4 $((COUNT - 1))); do
  [ $((i / 4 % 2)) = 0 ] && continue
  oom_kept=$((oom_kept + 1))
  [ "$(inspect_field "mix-$i" State.OOMKilled 2>/dev/null)" = true ] && oom_killed=$((oom_killed + 1))
done
expect_eq "every kept OOM run says OOMKilled" "$oom_kept" "$oom_killed"
TIMEOUT=120 expect_rc "container prune -f after the mix" 0 berth container prune -f
capture berth container ls -aq
expect_eq "prune removed every stopped container" "" "$OUT"
if leaks=$(leak_check); then pass "leak check after $COUNT containers: clean"; else fail "leak check after $COUNT containers: clean" "$leaks"; fi

# --- SIGKILL of the CLI at several points of a start ------------------------------------------------
for delay in 0 2 5 10 20 50 200; do
  "$BERTH_BIN" container run --name "cli-kill-$delay" "$IMAGE" sleep 30 >/dev/null 2>&1 &
  cli=$!
  [ "$delay" != 0 ] && sleep "$(printf '0.%03d' "$delay")"
  kill -9 "$cli" 2>/dev/null
  wait "$cli" 2>/dev/null
done

# --- SIGKILL of the supervisor at several points of a start ---------------------------------------
supervisor_of_test() {  # supervisor_of_test PIDS_BEFORE : a berth-supervisor of this test not in PIDS_BEFORE
  local p
  # The cli-kill containers above still run with their supervisors: only a new one is ours.
  for p in $(pgrep -f "berth-supervisor (- )?$TEST_TMP/" 2>/dev/null); do
    case " $1 " in *" $p "*) continue ;; esac
    echo "$p"
    return 0
  done
  return 1
}
sup_killed=0
for delay in 0 1 3 10 30; do
  before=$(pgrep -f "berth-supervisor (- )?$TEST_TMP/" 2>/dev/null | tr '\n' ' ')
  "$BERTH_BIN" container run --name "sup-kill-$delay" "$IMAGE" sleep 30 >"$TEST_TMP/sup-$delay.out" 2>&1 &
  cli=$!
  sup=""
  for _ in $(seq 1 400); do  # up to ~2 s for the supervisor to appear
    sup=$(supervisor_of_test "$before") && break
    kill -0 "$cli" 2>/dev/null || break
  done
  if [ -n "$sup" ]; then
    [ "$delay" != 0 ] && sleep "$(printf '0.%03d' "$delay")"
    kill -9 "$sup" 2>/dev/null && sup_killed=$((sup_killed + 1))
  fi
  # The CLI must notice and end by itself (no hang on a dead supervisor).
  # (An exited CLI stays a zombie until `wait`, and kill -0 succeeds on a zombie.)
  if wait_for 15 sh -c "! kill -0 $cli 2>/dev/null || [ \"\$(cut -d' ' -f3 /proc/$cli/stat 2>/dev/null)\" = Z ]"; then
    wait "$cli"
    rc=$?
    expect_true "the CLI ends after its supervisor is killed at +${delay} ms (rc $rc)" test "$rc" != 0
  else
    fail "the CLI ends after its supervisor is killed at +${delay} ms" "$(cat "$TEST_TMP/sup-$delay.out")"
    kill -9 "$cli" 2>/dev/null
    wait "$cli" 2>/dev/null
  fi
done
expect_ge "supervisors were found and killed mid-start" 3 "$sup_killed"

capture berth container ls -a
note "after the kills: $(printf '%s\n' "$OUT" | tail -n +2 | grep -c .) containers listed"
ids=$(timeout 30 "$BERTH_BIN" container ls -aq)
# shellcheck disable=SC2086
[ -n "$ids" ] && TIMEOUT=120 expect_rc "container rm -f of every container left" 0 berth container rm -f $ids
TIMEOUT=120 expect_rc "container prune -f" 0 berth container prune -f
capture berth container ls -aq
expect_eq "nothing listed after rm -f and prune" "" "$OUT"
if leaks=$(leak_check); then pass "leak check after killed starts: clean"; else fail "leak check after killed starts: clean" "$leaks"; fi

# A --rm container's directories are moved to the trash and emptied after the CLI is told; a
# supervisor killed in between leaves them there, and prune empties the trash.
mkdir -p "$BERTH_ROOT/trash/0123456789ab/rootfs/upper" "$BERTH_RUN/trash/0123456789ab"
echo x >"$BERTH_ROOT/trash/0123456789ab/config.json"
echo x >"$BERTH_RUN/trash/0123456789ab/launch.json"
TIMEOUT=120 expect_rc "container prune -f with a trash left by a killed supervisor" 0 berth container prune -f
expect_eq "prune empties both trash dirs" "" "$(ls -A "$BERTH_ROOT/trash" "$BERTH_RUN/trash" | grep -v ':$' | grep .)"
expect_rc "run --rm exits 0" 0 berth container run --rm "$IMAGE" true
expect_true "after run --rm the trash is empty within 3 s" wait_for 3 sh -c "[ -z \"\$(ls -A '$BERTH_ROOT/trash' '$BERTH_RUN/trash' | grep -v ':\$' | grep .)\" ]"

# The names are free again, and the runtime still works.
expect_rc "a name used by a killed start can be reused" 0 berth container run --rm --name cli-kill-20 "$IMAGE" true

done_testing
