#!/bin/bash
# The Compose verbs that act on a project's existing containers (issue 7): ps, logs, start, stop,
# restart, kill, rm, pause, unpause, exec, top, port, images, ls, wait, all with only -p NAME from a
# directory without a compose file. The project's containers are made with `container run` and
# Compose's labels, so this test does not depend on `up`.
. "$(dirname "$0")/lib.sh"

unset COMPOSE_PROJECT_NAME COMPOSE_FILE
NOFILE=$TEST_TMP/nofile
mkdir -p "$NOFILE"
cd "$NOFILE" || bail_out "cd $NOFILE"
PORT=$((20000 + $$ % 20000))

status_is() { [ "$(inspect_field "$1" State.Status 2>/dev/null)" = "$2" ]; }

# member PROJECT SERVICE NUMBER ONEOFF NAME [run flags...] -- CMD...
member() {
  local project=$1 service=$2 number=$3 oneoff=$4 name=$5
  shift 5
  local flags=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  capture berth container run -d --init --name "$name" \
    --label com.docker.compose.project="$project" --label com.docker.compose.service="$service" \
    --label com.docker.compose.container-number="$number" --label com.docker.compose.oneoff="$oneoff" \
    --label com.docker.compose.project.config_files=/srv/"$project"/compose.yaml \
    "${flags[@]}" "$IMAGE" "$@"
  [ "$RC" = 0 ] || bail_out "could not create $name: $ERR"
}

# p1: db (1 replica), web (2 replicas, depends on db), and a one-off of web. p2: one exited container.
member p1 db 1 False p1-db-1 -- sh -c 'echo db-ready; exec sleep 300'
member p1 web 1 False p1-web-1 -p 127.0.0.1:$PORT:80 -e IDX=1 \
  --label com.docker.compose.depends_on=db:service_started:false -- sh -c 'echo web one; exec httpd -f -p 80'
member p1 web 2 False p1-web-2 -e IDX=2 \
  --label com.docker.compose.depends_on=db:service_started:false -- sh -c 'echo web two; exec httpd -f -p 80'
member p1 web 1 True p1-web-run-0123abcd -- sleep 300
member p2 app 1 False p2-app-1 -- true
wait_for 10 status_is p2-app-1 exited || bail_out "p2-app-1 did not exit"

# --- ps ------------------------------------------------------------------------------------------
expect_rc "ps -p p1 without a compose file" 0 berth ps -p p1
expect_match "ps: Compose's columns" '^NAME +IMAGE +COMMAND +SERVICE +CREATED +STATUS +PORTS$' "$OUT"
expect_eq "ps: three service containers and the one-off" 4 "$(printf '%s\n' "$OUT" | tail -n +2 | grep -c .)"
expect_match "ps: web-1 row with service, status and published port" \
  "^p1-web-1 +berth-test/busybox:latest +\".*\" +web +.* ago +Up .* +127\.0\.0\.1:$PORT->80/tcp$" "$OUT"
expect_eq "ps: rows sorted by name" "p1-db-1 p1-web-1 p1-web-2 p1-web-run-0123abcd" \
  "$(printf '%s\n' "$OUT" | tail -n +2 | awk '{print $1}' | xargs)"
expect_rc "ps with -p before the verb" 0 berth -p p1 ps -q
expect_eq "ps -q: four full ids" 4 "$(printf '%s\n' "$OUT" | grep -cE '^[0-9a-f]{64}$')"
capture berth ps -p p1 --services
expect_eq "ps --services" "db
web" "$OUT"
capture berth ps -p p1 web
expect_eq "ps web: only web's containers" 3 "$(printf '%s\n' "$OUT" | tail -n +2 | grep -c '^p1-web')"
capture berth ps -p p1 --format json db
expect_eq "ps --format json: Service" db "$(printf '%s' "$OUT" | json_get Service)"
expect_eq "ps --format json: Project" p1 "$(printf '%s' "$OUT" | json_get Project)"
expect_eq "ps --format json: State" running "$(printf '%s' "$OUT" | json_get State)"
capture berth ps -p p1 --format json web
expect_eq "ps --format json: one object per line" 3 "$(printf '%s\n' "$OUT" | grep -c '^{')"
expect_match "ps --format json: Publishers" '"PublishedPort":'"$PORT" "$OUT"
expect_rc "ps of an unknown service fails (exit 1)" 1 berth ps -p p1 nosuch
expect_match "ps nosuch: Compose's message" '^berth: no such service: nosuch$' "$ERR"
expect_rc "ps of a project without containers" 0 berth ps -p nothere
expect_eq "ps nothere: the header only" 1 "$(printf '%s\n' "$OUT" | grep -c .)"
expect_rc "ps without -p and without a compose file fails (14)" 14 berth ps
expect_rc "ps --filter status=exited -p p2 (stopped containers without -a)" 0 berth ps -p p2 --filter status=exited
expect_match "ps --filter status=exited shows the exited container" '^p2-app-1 .*Exited \(0\)' "$OUT"
capture berth ps -p p2
expect_eq "ps without -a hides exited containers" 1 "$(printf '%s\n' "$OUT" | grep -c .)"
capture berth ps -p p2 --status running
expect_eq "ps --status running: none" 1 "$(printf '%s\n' "$OUT" | grep -c .)"
expect_rc "ps --filter with an unknown key fails" 1 berth ps -p p1 --filter name=x

# --- logs ----------------------------------------------------------------------------------------
wait_for 5 file_has "$BERTH_ROOT"/containers/"$(container_id p1-web-2)"/*-json.log 'web two' || note "web-2 log not written yet"
expect_rc "logs -p p1 --no-color" 0 berth logs -p p1 --no-color
expect_match "logs: prefix padded to the longest name" '^db-1  \| db-ready$' "$OUT"
expect_match "logs: web-1's line" '^web-1 \| web one$' "$OUT"
expect_match "logs: web-2's line" '^web-2 \| web two$' "$OUT"
expect_no_match "logs: one-off containers are not shown" 'run-0123abcd' "$OUT"
expect_no_match "logs --no-color: no escape codes" $'\033' "$OUT"
capture berth logs -p p1 --no-log-prefix db
expect_eq "logs --no-log-prefix db" "db-ready" "$OUT"
capture berth logs -p p1 -t --no-color db
expect_match "logs -t: timestamp after the prefix" '^db-1 \| [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z db-ready$' "$OUT"
capture berth logs -p p1 --tail 0 db
expect_eq "logs --tail 0" "" "$OUT"
capture berth --ansi always logs -p p1 db
expect_match "logs --ansi always: coloured prefix" $'^\033\\[[0-9;]+mdb-1 \\| \033\\[0mdb-ready$' "$OUT"
expect_rc "logs of an unknown service fails (exit 1)" 1 berth logs -p p1 nosuch

# -f follows until every followed container is gone.
"$BERTH_BIN" logs -p p1 -f --no-color db >"$TEST_TMP/follow.out" 2>&1 &
follow_pid=$!
expect_true "logs -f prints the existing lines" wait_for 10 file_has "$TEST_TMP/follow.out" '^db-1 \| db-ready$'
sleep 0.3
expect_true "logs -f keeps following while db runs" kill -0 "$follow_pid"

# --- stop, start, restart (dependency order from the depends_on label) ----------------------------
expect_rc "stop -p p1 -t 1" 0 berth stop -p p1 -t 1
expect_match "stop: progress lines on stderr" '^ Container p1-web-1  Stopped$' "$ERR"
expect_eq "stop: db, the dependency, is stopped last" p1-db-1 \
  "$(printf '%s\n' "$ERR" | grep Stopped | tail -1 | awk '{print $2}')"
expect_eq "stop: three Stopped lines" 3 "$(printf '%s\n' "$ERR" | grep -c Stopped)"
expect_eq "stop: the one-off keeps running" running "$(inspect_field p1-web-run-0123abcd State.Status)"
expect_true "logs -f ends when the followed container is gone" wait_for 10 sh -c "! kill -0 $follow_pid 2>/dev/null"
wait "$follow_pid" 2>/dev/null
capture berth ps -p p1
expect_eq "ps after stop: only the one-off runs" "p1-web-run-0123abcd" "$(printf '%s\n' "$OUT" | tail -n +2 | awk '{print $1}' | xargs)"
capture berth ps -p p1 -a
expect_eq "ps -a after stop: all four" 4 "$(printf '%s\n' "$OUT" | tail -n +2 | grep -c .)"

expect_rc "start -p p1" 0 berth start -p p1
expect_eq "start: db first, then web" "p1-db-1 p1-web-1 p1-web-2" \
  "$(printf '%s\n' "$ERR" | grep Started | awk '{print $2}' | xargs)"
expect_match "start: Starting line" '^ Container p1-db-1  Starting$' "$ERR"
for n in p1-db-1 p1-web-1 p1-web-2; do expect_eq "start: $n running" running "$(inspect_field $n State.Status)"; done

started_before=$(inspect_field p1-web-2 State.StartedAt)
expect_rc "restart -p p1 -t 1 web" 0 berth restart -p p1 -t 1 web
expect_match "restart: Restarting line" '^ Container p1-web-2  Restarting$' "$ERR"
expect_match "restart: Started line" '^ Container p1-web-2  Started$' "$ERR"
expect_no_match "restart web does not touch db" 'p1-db-1' "$ERR"
expect_eq "restart: web-2 running again" running "$(inspect_field p1-web-2 State.Status)"
[ "$(inspect_field p1-web-2 State.StartedAt)" != "$started_before" ] && pass "restart: a new StartedAt" ||
  fail "restart: a new StartedAt" "still $started_before"
expect_rc "start -p of a project without containers fails (exit 1)" 1 berth start -p nothere
expect_rc "stop of an unknown service fails (exit 1)" 1 berth stop -p p1 nosuch

# --- pause, unpause --------------------------------------------------------------------------------
expect_rc "pause -p p1 web" 0 berth pause -p p1 web
expect_match "pause: progress" '^ Container p1-web-1  Paused$' "$ERR"
expect_eq "pause: web-1 paused" paused "$(inspect_field p1-web-1 State.Status)"
capture berth ps -p p1 web
expect_match "ps shows (Paused)" '^p1-web-1 .*\(Paused\)' "$OUT"
expect_rc "unpause -p p1 web" 0 berth unpause -p p1 web
expect_match "unpause: progress" '^ Container p1-web-2  Unpaused$' "$ERR"
expect_eq "unpause: web-1 running" running "$(inspect_field p1-web-1 State.Status)"

# --- exec, top, port -------------------------------------------------------------------------------
expect_rc "exec -T: the command's exit code" 3 berth exec -p p1 -T web sh -c 'exit 3'
capture berth exec -p p1 -T web sh -c 'echo $IDX'
expect_eq "exec: container #1 by default" 1 "$OUT"
capture berth exec -p p1 -T --index 2 web sh -c 'echo $IDX'
expect_eq "exec --index 2" 2 "$OUT"
capture berth exec -p p1 -T -e FOO=bar -w /tmp -u 1000 web sh -c 'echo $FOO $(pwd) $(id -u)'
expect_eq "exec -e -w -u" "bar /tmp 1000" "$OUT"
expect_rc "exec --index 3 of a 2-replica service fails (exit 1)" 1 berth exec -p p1 -T --index 3 web true
expect_match "exec --index 3: Compose's message" 'service "web" is not running container #3' "$ERR"
expect_rc "exec of an unknown service fails (exit 1)" 1 berth exec -p p1 -T nosuch true
expect_match "exec nosuch: message" 'no such service: nosuch' "$ERR"

expect_rc "top -p p1 web" 0 berth top -p p1 web
expect_match "top: container name line" '^p1-web-1$' "$OUT"
expect_match "top: the service's process" 'httpd -f -p 80' "$OUT"
expect_no_match "top web: not db" 'p1-db-1' "$OUT"

expect_rc "port -p p1 web 80" 0 berth port -p p1 web 80
expect_eq "port: the published address" "127.0.0.1:$PORT" "$OUT"
expect_rc "port of an unpublished port fails (exit 1)" 1 berth port -p p1 web 81
expect_rc "port --index 2 (web-2 publishes nothing) fails" 1 berth port -p p1 --index 2 web 80
expect_rc "port --protocol udp of a tcp port fails" 1 berth port -p p1 --protocol udp web 80

# --- images, ls ------------------------------------------------------------------------------------
expect_rc "images -p p1" 0 berth images -p p1
expect_match "images: columns" '^CONTAINER +REPOSITORY +TAG +IMAGE ID +SIZE$' "$OUT"
expect_match "images: a row per container" '^p1-web-2 +berth-test/busybox +latest +[0-9a-f]{12} +[0-9.]+[kMG]?B$' "$OUT"
expect_eq "images: four rows" 4 "$(printf '%s\n' "$OUT" | tail -n +2 | grep -c .)"
capture berth images -p p1 -q
expect_eq "images -q: one image id" 1 "$(printf '%s\n' "$OUT" | grep -cE '^[0-9a-f]{12}$')"

expect_rc "ls" 0 berth ls
expect_match "ls: columns" '^NAME +STATUS +CONFIG FILES$' "$OUT"
expect_match "ls: p1 running(4)" '^p1 +running\(4\) +/srv/p1/compose.yaml$' "$OUT"
expect_no_match "ls: stopped projects hidden" '^p2 ' "$OUT"
capture berth ls -a
expect_match "ls -a: p2 exited(1)" '^p2 +exited\(1\) +/srv/p2/compose.yaml$' "$OUT"
capture berth ls -a --format json
expect_eq "ls --format json: a JSON array" "p1 running(4)" \
  "$(printf '%s' "$OUT" | json_get 0.Name) $(printf '%s' "$OUT" | json_get 0.Status)"

# --- kill, wait, rm --------------------------------------------------------------------------------
expect_rc "kill -p p1 -s TERM db" 0 berth kill -p p1 -s TERM db
expect_match "kill: progress" '^ Container p1-db-1  Killed$' "$ERR"
expect_true "kill: db exits" wait_for 10 status_is p1-db-1 exited
expect_rc "kill with nothing running: exit 0" 0 berth kill -p p1 db
expect_match "kill with nothing running: says so" 'no container to kill' "$ERR"

member p3 job 1 False p3-job-1 -- sh -c 'sleep 1; exit 5'
expect_rc "wait -p p3 job: the first exit code" 5 berth wait -p p3 job
expect_match "wait: names the container" 'exited with status code 5' "$OUT"
expect_rc "wait without a service fails (usage)" 125 berth wait -p p3

expect_rc "rm without -f refuses (exit 1)" 1 berth rm -p p1
expect_match "rm without -f: lists what it would remove" '^Going to remove p1-db-1$' "$ERR"
expect_true "rm without -f: db still exists" status_is p1-db-1 exited
expect_rc "rm -f -p p1" 0 berth rm -f -p p1
expect_match "rm -f: progress" '^ Container p1-db-1  Removed$' "$ERR"
expect_no_match "rm -f: running containers stay" 'p1-web' "$ERR"
expect_rc "rm -f again: nothing stopped" 0 berth rm -f -p p1
expect_match "rm: No stopped containers" '^No stopped containers$' "$ERR"
expect_rc "rm -f -s -v web" 0 berth rm -p p1 -f -s -v web
expect_match "rm -s: stops first" '^ Container p1-web-1  Stopped$' "$ERR"
expect_match "rm -s: then removes" '^ Container p1-web-2  Removed$' "$ERR"
capture berth ps -p p1 -a
expect_eq "after rm: only the one-off is left" "p1-web-run-0123abcd" "$(printf '%s\n' "$OUT" | tail -n +2 | awk '{print $1}' | xargs)"

done_testing
