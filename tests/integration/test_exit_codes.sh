#!/bin/bash
# Exit status as Docker reports it (the program's code; 125 Berth's own error; 126 not executable;
# 127 not found; 128+N killed by signal N), signals sent to `berth container run` reaching the
# container, and --rm.
. "$(dirname "$0")/lib.sh"

expect_rc "true exits 0" 0 berth container run --rm "$IMAGE" true
expect_rc "exit 3 is passed through" 3 berth container run --rm "$IMAGE" sh -c 'exit 3'
expect_rc "exit 255 is passed through" 255 berth container run --rm "$IMAGE" sh -c 'exit 255'

expect_rc "an unknown option is Berth's error: 125" 125 berth container run --rm --no-such-option "$IMAGE" true
expect_rc "an unknown image is Berth's error: 125" 125 berth container run --rm berth-test/no-such-image:latest true
expect_match "the unknown image is named in the message" 'no-such-image' "$ERR"

expect_rc "a non-executable file as command: 126" 126 berth container run --rm "$IMAGE" /etc/passwd
expect_match "126 names the command" '/etc/passwd' "$ERR"
expect_rc "a directory as command: 126" 126 berth container run --rm "$IMAGE" /tmp
expect_rc "a missing absolute command: 127" 127 berth container run --rm "$IMAGE" /no/such/command
expect_match "127 names the command" '/no/such/command' "$ERR"
expect_rc "a command not on PATH: 127" 127 berth container run --rm "$IMAGE" no-such-command
expect_rc "a command not found by the shell: 127 (shell's own code)" 127 berth container run --rm "$IMAGE" sh -c 'no-such-command'

expect_rc "--init: the command killing itself with SIGKILL gives 137" 137 berth container run --rm --init "$IMAGE" sh -c 'kill -9 $$'
expect_rc "--init: SIGTERM to itself gives 143" 143 berth container run --rm --init "$IMAGE" sh -c 'kill -15 $$'
expect_rc "--init passes the exit code through" 5 berth container run --rm --init "$IMAGE" sh -c 'exit 5'
expect_rc "--init: berth-init is PID 1, the command is not" 0 berth container run --rm --init "$IMAGE" sh -c 'test $$ != 1 && test "$(cat /proc/1/comm)" != sh'
expect_rc "--init reaps orphaned zombies" 0 berth container run --rm --init "$IMAGE" \
  sh -c '(sleep 0.1 &); sleep 0.6; ! grep -l "^State:.*Z" /proc/[0-9]*/status'

# Output is relayed to the right stream.
capture berth container run --rm "$IMAGE" sh -c 'echo to-stdout; echo to-stderr >&2'
expect_eq "stdout is relayed" to-stdout "$OUT"
expect_match "stderr is relayed to stderr" '^to-stderr$' "$ERR"

# Signals to the CLI reach the container. The container traps and answers with its own code, so
# the CLI's exit status proves the signal got through (the CLI dying of it would give 143/130).
signal_test() {  # signal_test SIGNAL EXPECTED_RC INIT? CMD...
  local sig=$1 want=$2 init=$3
  shift 3
  local out="$TEST_TMP/sig-$sig.out" pid rc
  local opts=(--rm)
  [ "$init" = init ] && opts+=(--init)
  spawn_default_signals timeout -k 5 60 "$BERTH_BIN" container run "${opts[@]}" "$IMAGE" "$@" >"$out" 2>&1 &
  pid=$!
  if ! wait_for 20 file_has "$out" '^ready$'; then
    fail "SIG$sig: the container printed ready" "$(cat "$out")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return
  fi
  # Signal the berth CLI itself (the child of `timeout`), as a terminal's Ctrl-C or a
  # supervisor's kill would; timeout's own forwarding is not what is under test.
  local cli
  cli=$(pgrep -P "$pid" -f "container run" | head -n1)
  kill -s "$sig" "${cli:-$pid}"
  wait "$pid"
  rc=$?
  CMD="berth container run ${opts[*]} $IMAGE $* (background, then SIG$sig)" RC=$rc OUT=$(<"$out") ERR=""
  expect_eq "SIG$sig to berth container run ($init) ends it with $want" "$want" "$rc"
  # The container ended too (a CLI that merely died of the signal would leave it running).
  if wait_for 5 sh -c "[ -z \"\$('$BERTH_BIN' container ls -aq)\" ]"; then
    pass "SIG$sig ($init): the container ended and --rm removed it"
  else
    fail "SIG$sig ($init): the container ended and --rm removed it" "$(timeout 10 "$BERTH_BIN" container ls -a 2>&1)"
    timeout 30 "$BERTH_BIN" container rm -f $(timeout 10 "$BERTH_BIN" container ls -aq) >/dev/null 2>&1
  fi
  [ "$want" != 143 ] && [ "$want" != 130 ] && expect_match "SIG$sig reached the container's trap" "^got-$sig$" "$(cat "$out")"
}
trap_script='trap "echo got-$0; exit $1" $0; echo ready; while :; do sleep 1 & wait $!; done'
signal_test TERM 0 noinit sh -c "$trap_script" TERM 0
signal_test INT 42 noinit sh -c "$trap_script" INT 42
# Without a handler, PID 1 ignores SIGTERM; berth-init forwards it and reports 128+15.
signal_test TERM 143 init sh -c 'echo ready; exec sleep 30'

# --rm removes the record; without it the record stays with the exit status.
expect_rc "--rm --name run exits 0" 0 berth container run --rm --name rm-me "$IMAGE" true
capture berth container ls -aq
expect_eq "--rm: container ls -a shows nothing" "" "$OUT"
expect_eq "--rm: no record left in the state root" "" "$(ls -A "$BERTH_ROOT/containers" 2>/dev/null)"
capture berth inspect rm-me
expect_true "--rm: inspect of the removed container fails (Docker: 1, 'No such object')" test "$RC" != 0
expect_rc "--rm after a 127 start failure exits 127" 127 berth container run --rm --name rm-me2 "$IMAGE" /no/such
capture berth container ls -aq
expect_eq "--rm after a start failure leaves no record" "" "$OUT"

expect_rc "a kept container exits 3" 3 berth container run --name keep-me "$IMAGE" sh -c 'exit 3'
capture berth container ls -a
expect_match "container ls -a shows the exited container" 'keep-me' "$OUT"
expect_match "container ls -a has Docker's columns" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES' "$OUT"
expect_match "container ls -a says Exited (3)" 'Exited \(3\)' "$OUT"
capture berth container ls
expect_no_match "container ls (no -a) hides exited containers" 'keep-me' "$OUT"
capture berth inspect keep-me
expect_eq "inspect: State.Status exited" exited "$(printf '%s' "$OUT" | json_get 0.State.Status)"
expect_eq "inspect: State.ExitCode 3" 3 "$(printf '%s' "$OUT" | json_get 0.State.ExitCode)"
expect_eq "inspect: State.Running false" false "$(printf '%s' "$OUT" | json_get 0.State.Running)"
expect_eq "inspect: State.OOMKilled false" false "$(printf '%s' "$OUT" | json_get 0.State.OOMKilled)"
expect_eq "inspect: Name is /keep-me" /keep-me "$(printf '%s' "$OUT" | json_get 0.Name)"
expect_eq "inspect: Path is sh" sh "$(printf '%s' "$OUT" | json_get 0.Path)"
expect_eq "inspect: Config.Image" "$IMAGE" "$(printf '%s' "$OUT" | json_get 0.Config.Image)"
expect_eq "inspect: HostConfig.AutoRemove false" false "$(printf '%s' "$OUT" | json_get 0.HostConfig.AutoRemove)"
expect_rc "container rm keep-me" 0 berth container rm keep-me

expect_rc "a failed start without --rm exits 127" 127 berth container run --name failed-start "$IMAGE" /no/such
capture berth inspect failed-start
expect_eq "inspect of a failed start: ExitCode 127" 127 "$(printf '%s' "$OUT" | json_get 0.State.ExitCode)"
expect_match "inspect of a failed start: State.Error names the command" '/no/such' "$(printf '%s' "$OUT" | json_get 0.State.Error)"
expect_rc "container prune -f removes stopped containers" 0 berth container prune -f
capture berth container ls -aq
expect_eq "prune left nothing" "" "$OUT"

done_testing
