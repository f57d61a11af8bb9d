#!/bin/bash
# Detached containers and their supervisor (issue 3): restart policies with Docker's back-off,
# healthchecks, stop with a grace period, a killed supervisor, restore after a (simulated) reboot.
. "$(dirname "$0")/lib.sh"

status_is() { [ "$(inspect_field "$1" State.Status 2>/dev/null)" = "$2" ]; }
health_is() { [ "$(inspect_field "$1" State.Health.Status 2>/dev/null)" = "$2" ]; }

# --- restart policies -----------------------------------------------------------------------------
capture berth container run -d --name fail3 --restart on-failure:3 "$IMAGE" sh -c 'echo try; exit 2'
expect_eq "run -d --restart on-failure:3 exits 0" 0 "$RC"
expect_true "on-failure:3 ends exited" wait_for 20 status_is fail3 exited
expect_eq "on-failure:3 restarted exactly 3 times" 3 "$(inspect_field fail3 RestartCount)"
expect_eq "the last exit code is kept" 2 "$(inspect_field fail3 State.ExitCode)"
expect_eq "four runs wrote four lines" 4 "$(berth container logs fail3 | grep -c '^try$')"

capture berth container run -d --name once --restart on-failure:3 "$IMAGE" true
expect_true "on-failure does not restart a clean exit" wait_for 10 status_is once exited
expect_eq "on-failure after exit 0: RestartCount 0" 0 "$(inspect_field once RestartCount)"

capture berth container run -d --name never "$IMAGE" sh -c 'exit 1'
expect_true "restart no: exited" wait_for 10 status_is never exited
sleep 0.5
expect_eq "restart no: never restarted" 0 "$(inspect_field never RestartCount)"

capture berth container run -d --name always --restart always "$IMAGE" sleep 300
pid1=$(inspect_field always State.Pid)
kill -9 "$pid1"
back_up() { [ "$(inspect_field always State.Pid)" != "$pid1" ] && status_is always running; }
expect_true "always restarts after its PID 1 is killed" wait_for 10 back_up
expect_eq "always: RestartCount 1" 1 "$(inspect_field always RestartCount)"

capture berth container run -d --name unless --restart unless-stopped "$IMAGE" sleep 300
expect_rc "stop -t 1 of unless-stopped" 0 berth container stop -t 1 unless
sleep 1
expect_eq "unless-stopped stays down after stop" exited "$(inspect_field unless State.Status)"
expect_eq "unless-stopped: not restarted" 0 "$(inspect_field unless RestartCount)"
capture berth container run --rm --restart always "$IMAGE" true
expect_eq "--restart with --rm is refused (125)" 125 "$RC"

# --- stop: grace period, then SIGKILL; --init stops at once --------------------------------------
capture berth container run -d --name stubborn "$IMAGE" sleep 300
start=$(date +%s%N)
expect_rc "stop -t 2 of a PID 1 that ignores SIGTERM" 0 berth container stop -t 2 stubborn
ms=$((($(date +%s%N) - start) / 1000000))
expect_ge "it took the grace period (>= 1900 ms)" 1900 "$ms"
expect_le "and not much more (<= 6000 ms)" 6000 "$ms"
expect_eq "killed: exit 137" 137 "$(inspect_field stubborn State.ExitCode)"
capture berth container run -d --name gentle --init "$IMAGE" sleep 300
start=$(date +%s%N)
expect_rc "stop of an --init container" 0 berth container stop -t 10 gentle
ms=$((($(date +%s%N) - start) / 1000000))
expect_le "with --init it stops well under a second" 1000 "$ms"
capture berth container wait gentle
expect_eq "wait prints the exit code (143)" 143 "$OUT"

# --- healthchecks ----------------------------------------------------------------------------------
capture berth container run -d --name healthy --health-cmd 'echo probe-ran; true' --health-interval 30s "$IMAGE" sleep 300
expect_true "health goes starting -> healthy within one probe of start" wait_for 5 health_is healthy healthy
expect_match "inspect shows the probe output" 'probe-ran' "$(inspect_field healthy State.Health.Log)"
expect_match "ls shows (healthy)" '\(healthy\)' "$(berth container ls)"
capture berth container run -d --name sick --health-cmd 'echo failing >&2; exit 1' --health-interval 200ms --health-retries 3 "$IMAGE" sleep 300
expect_true "a failing probe makes it unhealthy after retries" wait_for 10 health_is sick unhealthy
expect_ge "FailingStreak reached retries" 3 "$(inspect_field sick State.Health.FailingStreak)"
expect_match "the failing probe's output is in inspect" 'failing' "$(inspect_field sick State.Health.Log)"
capture berth container run -d --name slowprobe --health-cmd 'sleep 5' --health-timeout 300ms --health-interval 30s "$IMAGE" sleep 300
timed_out() { inspect_field slowprobe State.Health.Log 2>/dev/null | grep -q 'exceeded timeout'; }
expect_true "a probe over its timeout is reported as such" wait_for 10 timed_out

# --- a killed supervisor: the truth in ls, and rm -f cleans up ------------------------------------
capture berth container run -d --name orphan "$IMAGE" sleep 300
sup=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["SupervisorPid"])' \
  "$BERTH_RUN/containers/$(inspect_field orphan Id)/state.json")
kill -9 "$sup"
sleep 0.3
expect_match "ls says supervisor lost" 'supervisor lost' "$(berth container ls)"
expect_rc "rm -f of a container whose supervisor was lost" 0 berth container rm -f orphan

# --- restore after a reboot: kill everything, change the recorded boot id ---------------------------
capture berth container run -d --name reboot-always --restart always "$IMAGE" sleep 300
capture berth container run -d --name reboot-stopped --restart unless-stopped "$IMAGE" sleep 300
berth container stop -t 0 reboot-stopped >/dev/null
simulate_reboot
capture berth container ls -a
expect_true "after the reboot, always is running again" wait_for 10 status_is reboot-always running
expect_eq "unless-stopped that was stopped stays down" exited "$(inspect_field reboot-stopped State.Status)"

# --- rename --------------------------------------------------------------------------------------
expect_rc "rename" 0 berth container rename reboot-always renamed-always
expect_eq "the new name is the container's" running "$(inspect_field renamed-always State.Status)"
expect_rc "the old name is free" 1 berth inspect reboot-always
expect_rc "renaming onto a taken name" 1 berth container rename renamed-always reboot-stopped
expect_match "says so" 'name "/reboot-stopped" is already in use' "$ERR"
expect_rc "a --rm container's name" 0 berth container run --rm --name short-lived "$IMAGE" true
expect_rc "is free again once it is gone" 0 berth container run --rm --name short-lived "$IMAGE" true
expect_rc "a renamed container's old name is free" 0 berth container run -d --name reboot-always "$IMAGE" sleep 60
expect_rc "its new name is still taken" 125 berth container run -d --name renamed-always "$IMAGE" true

# --- attach ----------------------------------------------------------------------------------------
capture berth container run -d -i --name attached "$IMAGE" sh -c 'while read l; do echo "got:$l"; [ "$l" = quit ] && exit 7; done'
capture bash -c "(sleep 0.3; echo hello; sleep 0.3; echo quit) | timeout 20 '$BERTH_BIN' container attach attached"
expect_eq "attach relays stdin and output; the container's exit code is attach's" "7 got:hello got:quit" "$RC $(echo $OUT)"
expect_rc "attach to a stopped container" 1 berth container attach attached
expect_match "says so" "cannot attach to a stopped container" "$ERR"
capture berth container run -d --name attached-out "$IMAGE" sh -c 'sleep 0.5; echo out; echo err >&2; exit 4'
TIMEOUT=20 expect_rc "attach without stdin returns the exit code" 4 berth container attach --no-stdin attached-out
expect_eq "stdout and stderr come through" "out err" "$OUT $ERR"

# --- stats ----------------------------------------------------------------------------------------
capture berth container run -d --name spinner "$IMAGE" sh -c 'while :; do :; done'
capture berth container run -d --name stats-idle "$IMAGE" sleep 60
expect_rc "stats --no-stream" 0 berth container stats --no-stream spinner stats-idle
expect_match "Docker's columns" "^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS" "$OUT"
spin_cpu=$(awk '$2 == "spinner" {sub("%", "", $3); print int($3)}' <<<"$OUT")
idle_cpu=$(awk '$2 == "stats-idle" {sub("%", "", $3); print int($3)}' <<<"$OUT")
expect_true "a busy loop shows near one CPU ($spin_cpu %)" test "${spin_cpu:-0}" -ge 30
expect_true "a sleeping container shows ~0 % ($idle_cpu %)" test "${idle_cpu:-100}" -le 5
expect_match "the idle one's row: one process" "stats-idle .* 1\$" "$OUT"
TIMEOUT=20 expect_rc "streaming stats run until interrupted" 124 timeout 3.5 "$BERTH_BIN" container stats spinner
expect_true "... a frame a second" test "$(grep -c '^CONTAINER ID' <<<"$OUT")" -ge 2
expect_rc "stats of all running containers lists both" 0 berth container stats --no-stream
expect_match "... spinner" " spinner " "$OUT"
expect_match "... stats-idle" " stats-idle " "$OUT"
berth container stop -t 0 stats-idle >/dev/null
expect_rc "stats --no-stream of a named, stopped container" 0 berth container stats --no-stream stats-idle
expect_match "... a row of zeros, as Docker's" "stats-idle +0\.00% +0B / 0B +0\.00% +0B / 0B +0B / 0B +0\$" "$OUT"
berth container rm -f spinner stats-idle >/dev/null

done_testing
