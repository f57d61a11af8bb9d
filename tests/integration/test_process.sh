#!/bin/bash
# The container's process as Docker sets it up: env, working dir, entrypoint/cmd merge, stdin,
# pseudo-terminal, labels and the config shown by inspect.
. "$(dirname "$0")/lib.sh"

capture berth container run --rm -e FOO=bar -e EMPTY= "$IMAGE" sh -c 'echo "FOO=$FOO"; echo "EMPTY=[${EMPTY-unset}]"; echo "PATH=$PATH"; echo "HOSTNAME=$HOSTNAME"; echo "HOME=$HOME"'
expect_match "-e FOO=bar is set" '^FOO=bar$' "$OUT"
expect_match "-e EMPTY= is set and empty" '^EMPTY=\[\]$' "$OUT"
expect_match "PATH has a default" '^PATH=.*/bin' "$OUT"
expect_match "HOSTNAME is set (as Docker)" '^HOSTNAME=[0-9a-f]{12}$' "$OUT"
expect_match "HOME is root's home" '^HOME=/root$' "$OUT"

printf 'A=1\n# a comment\nB=two words\n\n' >"$TEST_TMP/env"
capture berth container run --rm --env-file "$TEST_TMP/env" -e A=override "$IMAGE" sh -c 'echo "A=$A"; echo "B=$B"'
expect_match "--env-file sets B" '^B=two words$' "$OUT"
expect_match "-e wins over --env-file" '^A=override$' "$OUT"

capture berth container run --rm -w /tmp/newdir "$IMAGE" pwd
expect_eq "-w sets the working directory (created when missing)" /tmp/newdir "$OUT"

capture berth container run --rm "$IMAGE"
expect_eq "no command: the image's CMD [sh] runs (stdin empty, exits 0)" 0 "$RC"
capture berth container run --rm --entrypoint echo "$IMAGE" hello world
expect_eq "--entrypoint with args: entrypoint + cmd" "hello world" "$OUT"
capture berth container run --rm --entrypoint /bin/echo "$IMAGE"
expect_eq "--entrypoint replaces the image CMD (Docker resets Cmd)" "" "$OUT"
expect_eq "--entrypoint alone exits 0" 0 "$RC"

echo from-stdin >"$TEST_TMP/stdin"
CAPTURE_STDIN="$TEST_TMP/stdin" capture berth container run --rm -i "$IMAGE" cat
expect_eq "-i passes stdin" from-stdin "$OUT"
CAPTURE_STDIN="$TEST_TMP/stdin" capture berth container run --rm "$IMAGE" cat
expect_eq "without -i the container's stdin is empty" "" "$OUT"
expect_eq "without -i cat sees EOF and exits 0" 0 "$RC"
CAPTURE_STDIN="$TEST_TMP/stdin" capture berth container run --rm -i "$IMAGE" sh -c 'wc -c; exit 7'
expect_eq "-i: exit code after stdin EOF" 7 "$RC"

capture berth container run --rm -t "$IMAGE" sh -c 'test -t 0 && test -t 1 && echo tty; tty'
expect_match "-t gives the container a terminal" '^tty' "$OUT"
expect_match "-t: the terminal is a pty of the container's own devpts" '^/dev/(pts/[0-9]+|console)' "$(printf '%s' "$OUT" | tr -d '\r')"
capture berth container run --rm "$IMAGE" sh -c 'test -t 1 && echo tty || echo notty'
expect_eq "without -t stdout is not a terminal" notty "$OUT"

# Signal dispositions: none ignored, none blocked, whatever the CLI inherited (a shell's
# background job starts with SIGINT and SIGQUIT ignored; the supervisor ignores SIGPIPE, and
# posix_spawn leaves glibc's own 32 and 33 ignored: SIG_IGN survives execve).
capture sh -c "trap '' INT QUIT PIPE; exec \"$BERTH_BIN\" container run --rm \"$IMAGE\" grep -E '^Sig(Ign|Blk):' /proc/self/status"
expect_eq "run: no signal is ignored or blocked in the container" \
  "$(printf 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000')" "$OUT"

# A long output goes through the relay complete.
capture berth container run --rm "$IMAGE" sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done'
expect_eq "20000 lines are relayed in full" 20000 "$(printf '%s\n' "$OUT" | grep -c '^line ')"
expect_match "the last line arrives" '^line 19999$' "$OUT"

capture berth container run --name proc-cfg --label tier=web --label owner=it -e X=1 -u 1000 -w /tmp --hostname h1 "$IMAGE" echo a b
expect_eq "configured run exits 0" 0 "$RC"
capture berth inspect proc-cfg
j=$OUT
expect_eq "inspect: Config.Labels.tier" web "$(printf '%s' "$j" | json_get 0.Config.Labels.tier)"
expect_eq "inspect: Config.User" 1000 "$(printf '%s' "$j" | json_get 0.Config.User)"
expect_eq "inspect: Config.WorkingDir" /tmp "$(printf '%s' "$j" | json_get 0.Config.WorkingDir)"
expect_eq "inspect: Config.Hostname" h1 "$(printf '%s' "$j" | json_get 0.Config.Hostname)"
expect_eq "inspect: Config.Cmd" '["echo", "a", "b"]' "$(printf '%s' "$j" | json_get 0.Config.Cmd)"
expect_match "inspect: Config.Env has X=1" '"X=1"' "$(printf '%s' "$j" | json_get 0.Config.Env)"
expect_eq "inspect: Args" '["a", "b"]' "$(printf '%s' "$j" | json_get 0.Args)"
expect_match "inspect: Created is RFC 3339" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+' "$(printf '%s' "$j" | json_get 0.Created)"
expect_match "inspect: Image is a digest" '^sha256:[0-9a-f]{64}$' "$(printf '%s' "$j" | json_get 0.Image)"
capture berth inspect "$(printf '%s' "$j" | json_get 0.Id | cut -c1-12)"
expect_eq "inspect by a 12-digit id prefix" 0 "$RC"
expect_rc "container rm by name" 0 berth container rm proc-cfg

expect_rc "a second container with a taken name is refused (125)" 125 sh -c \
  "'$BERTH_BIN' container run --name dup '$IMAGE' true && '$BERTH_BIN' container run --name dup '$IMAGE' true"
expect_match "the name conflict is named" 'dup' "$ERR"
expect_rc "container rm dup" 0 berth container rm dup

done_testing
