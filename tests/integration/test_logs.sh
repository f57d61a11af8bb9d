#!/bin/bash
# berth container logs: the json-file log written by the supervisor of a detached container, read
# back with --tail, -t, --since/--until, stdout/stderr kept apart, and -f following new lines until
# the container exits or is removed. (Rotation itself is covered by tests/unit/engine/log_reader_test.cpp.)
. "$(dirname "$0")/lib.sh"

status_is() { [ "$(inspect_field "$1" State.Status 2>/dev/null)" = "$2" ]; }

# Many lines, some on stderr, from a detached container.
capture berth container run -d --name many "$IMAGE" sh -c \
  'i=0; while [ $i -lt 5000 ]; do echo "line $i"; i=$((i+1)); done; sleep 0.3; echo "oops 1" >&2; echo "oops 2" >&2; sleep 0.3; echo "done"'
expect_eq "run -d many exits 0" 0 "$RC"
expect_true "the container exits" wait_for 30 status_is many exited

capture berth container logs many
expect_eq "logs exits 0" 0 "$RC"
expect_eq "all 5000 lines on stdout" 5000 "$(printf '%s\n' "$OUT" | grep -c '^line ')"
expect_eq "first line first" "line 0" "$(printf '%s\n' "$OUT" | head -1)"
expect_eq "stdout holds the last stdout line last" "done" "$(printf '%s\n' "$OUT" | tail -1)"
expect_no_match "stderr lines are not on stdout" '^oops' "$OUT"
expect_eq "stderr lines on stderr, exactly" "oops 1
oops 2" "$ERR"

capture berth container logs --tail 3 many
expect_eq "--tail 3 (stdout part)" "done" "$OUT"
expect_eq "--tail 3 (stderr part)" "oops 1
oops 2" "$ERR"
capture berth container logs --tail 4 many
expect_eq "--tail 4 reaches back to the last line before" "line 4999
done" "$OUT"
capture berth container logs --tail 0 many
expect_eq "--tail 0 prints nothing" "" "$OUT$ERR"
capture berth container logs --tail all many
expect_eq "--tail all prints everything" 5001 "$(printf '%s\n' "$OUT" | wc -l)"
expect_rc "--tail with a bad value fails (125)" 125 berth container logs --tail abc many
expect_one_clear_line "--tail abc: one clear line" "$ERR"

capture berth container logs -t --tail 2 many
expect_match "-t prefixes an RFC 3339 timestamp with nine digits and a space" \
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z done$' "$OUT"
expect_match "-t on stderr too" '^[0-9T:.-]+Z oops 2$' "$ERR"

# --since / --until around a pause in the output.
capture berth container run -d --name timed "$IMAGE" sh -c 'echo early; sleep 1.5; echo late'
expect_true "timed exits" wait_for 30 status_is timed exited
capture berth container logs -t timed
late_ts=$(printf '%s\n' "$OUT" | awk '$2 == "late" {print $1}')
early_ts=$(printf '%s\n' "$OUT" | awk '$2 == "early" {print $1}')
expect_match "late has a timestamp" '^[0-9]{4}-' "$late_ts"
capture berth container logs --since "$late_ts" timed
expect_eq "--since RFC 3339 (inclusive) shows only the later line" late "$OUT"
capture berth container logs --until "$early_ts" timed
expect_eq "--until RFC 3339 shows only the earlier line" early "$OUT"
capture berth container logs --since 10m timed
expect_eq "--since 10m shows both" "early
late" "$OUT"
capture berth container logs --since 2099-01-01T00:00:00Z timed
expect_eq "--since in the future shows nothing" "" "$OUT"
capture berth container logs --until 1h timed
expect_eq "--until 1h (an hour ago) shows nothing" "" "$OUT"
expect_rc "--since with a bad value fails (125)" 125 berth container logs --since yesterday timed
expect_one_clear_line "--since yesterday: one clear line" "$ERR"

# -f sees lines written after it started and ends when the container exits.
capture berth container run -d --name follow "$IMAGE" sh -c 'echo first; sleep 1; echo second; sleep 1; echo third >&2; sleep 0.5'
expect_eq "run -d follow exits 0" 0 "$RC"
start=$SECONDS
timeout 30 "$BERTH_BIN" container logs -f follow >"$TEST_TMP/f.out" 2>"$TEST_TMP/f.err"
frc=$?
expect_eq "logs -f ends by itself with 0 when the container exits" 0 "$frc"
expect_eq "logs -f saw the stdout lines written later" "first
second" "$(cat "$TEST_TMP/f.out")"
expect_eq "logs -f saw the stderr line written later" third "$(cat "$TEST_TMP/f.err")"
expect_le "logs -f ended within a few seconds" 10 $((SECONDS - start))

# -f prints lines as they come (not at the end) and ends when the container is removed.
capture berth container run -d --name forever "$IMAGE" sh -c 'echo hello; while true; do sleep 0.2; echo tick; done'
has_tick() { "$BERTH_BIN" container logs forever 2>/dev/null | grep -q '^tick$'; }
expect_true "forever has written a tick" wait_for 10 has_tick
timeout 30 "$BERTH_BIN" container logs -f --tail 1 forever >"$TEST_TMP/g.out" 2>&1 &
fpid=$!
expect_true "logs -f shows lines while the container runs" wait_for 10 file_has "$TEST_TMP/g.out" '^tick$'
expect_rc "rm -f forever" 0 berth container rm -f forever
ended() { ! kill -0 "$fpid" 2>/dev/null; }
expect_true "logs -f ends once the container is removed" wait_for 10 ended
wait "$fpid" 2>/dev/null
expect_no_match "--tail 1 skipped the first line" '^hello$' "$(cat "$TEST_TMP/g.out")"

expect_rc "logs of an unknown container fails (1)" 1 berth container logs no-such-container
expect_match "the error names the container" 'No such container: no-such-container' "$ERR"

# --log-opt rotation: at most max-file files, and logs -f keeps seeing lines across rotations.
capture berth container run -d --name rotating --log-opt max-size=2k --log-opt max-file=3 "$IMAGE" sh -c \
  'i=0; while [ $i -lt 400 ]; do echo "line $i"; i=$((i+1)); sleep 0.005; done; echo last-line'
expect_eq "run -d with --log-opt exits 0" 0 "$RC"
timeout 60 "$BERTH_BIN" container logs -f rotating >"$TEST_TMP/r.out" 2>&1
expect_match "logs -f across rotations saw the last line" '^last-line$' "$(cat "$TEST_TMP/r.out")"
logpath=$(berth inspect rotating | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["LogPath"])')
nfiles=$(ls "$logpath"* 2>/dev/null | wc -l)
expect_le "rotation keeps at most max-file (3) files" 3 "$nfiles"
expect_ge "rotation happened (more than one file)" 2 "$nfiles"
expect_match "logs after rotation still ends with the last line" 'last-line$' "$(berth container logs --tail 1 rotating 2>&1)"
capture berth container run -d --log-opt max-file=2 "$IMAGE" true
expect_eq "max-file without max-size is refused (125)" 125 "$RC"
capture berth container run -d --name silent --log-driver none "$IMAGE" echo hidden
expect_eq "--log-driver none runs" 0 "$RC"
capture berth container logs silent
expect_match "logs of a none-driver container says it cannot read" 'does not support reading' "$ERR"

done_testing
