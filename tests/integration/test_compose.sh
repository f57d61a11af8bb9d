#!/bin/bash
# `berth up/down` end to end on busybox images: our own versions of the compose-spec conformance
# cases (lifecycle, service names, network isolation, bind-mounted file, secret, config, UDP port,
# scaling), convergence (only a changed service is recreated, with the reason), depends_on
# conditions and --wait, kill -9 of `up`, concurrent `up`s, restore after a reboot, bad input.
. "$(dirname "$0")/lib.sh"

P=$TEST_TMP/proj
mkdir -p "$P"
cd "$P" || bail_out "cd $P"
running() { [ "$(inspect_field "$1" State.Status 2>/dev/null)" = running ]; }
count_containers() { ls "$BERTH_ROOT/containers" 2>/dev/null | grep -c .; }

echo "bound-file-content" >"$P/bound.txt"
echo "s3cret" >"$P/db_password.txt"
export API_TOKEN=t0ken
cat >"$P/compose.yaml" <<EOF
name: conf
services:
  web:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sh", "-c", "echo web-page >/index.html; exec httpd -f -p 80 -h /"]
    ports: ["127.0.0.1:18180:80"]
    networks: [front]
    volumes: ["/cache"]  # anonymous: kept across a recreate, as Compose does
    environment:
      GREETING: hello
  api:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
    networks: [front, back]
    volumes:
      - ./bound.txt:/etc/bound.txt:ro
      - data:/data
    secrets:
      - db_password
      - {source: api_token, uid: "1000", gid: "1001", mode: 0400}
      - {source: db_password, target: pw_copy, mode: 0440}
    configs:
      - source: app_config
        target: /etc/app.conf
  db:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sh", "-c", "echo db-page >/index.html; exec httpd -f -p 80 -h /"]
    networks: [back]
  udp:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["probe", "udp-echo", "5353"]
    ports: ["127.0.0.1:18153:5353/udp"]
  replica:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
    networks: [front]
    deploy:
      replicas: 3
networks:
  front: {}
  back: {}
volumes:
  data: {}
secrets:
  db_password:
    file: ./db_password.txt
  api_token:
    environment: API_TOKEN
configs:
  app_config:
    content: |
      mode=test
EOF

# --- lifecycle ------------------------------------------------------------------------------
TIMEOUT=120 expect_rc "up -d" 0 berth up -d
expect_match "progress names the containers" "Container conf-web-1 +Started" "$ERR"
expect_true "web is running" running conf-web-1
expect_rc "ps" 0 berth ps
for c in conf-web-1 conf-api-1 conf-db-1 conf-udp-1 conf-replica-1 conf-replica-2 conf-replica-3; do
  expect_match "ps lists $c" "^$c " "$OUT"
done
labels=$(timeout 30 "$BERTH_BIN" inspect conf-web-1 | json_get 0.Config.Labels)
label() { printf '%s' "$labels" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }
expect_eq "labels: project" conf "$(label com.docker.compose.project)"
expect_eq "labels: service" web "$(label com.docker.compose.service)"
expect_eq "labels: container-number" 1 "$(label com.docker.compose.container-number)"
expect_match "labels: config-hash" '^[0-9a-f]{64}$' "$(label com.docker.compose.config-hash)"
expect_match "networks are named <project>_<name>" "conf_front" "$(berth network ls)"

# service names, isolation
expect_rc "api reaches web by service name" 0 berth container exec conf-api-1 timeout 5 wget -q -O - http://web/index.html
expect_eq "web's page" web-page "$OUT"
expect_rc "api (front+back) reaches db by name" 0 berth container exec conf-api-1 timeout 5 wget -q -O - http://db/index.html
expect_eq "db's page" db-page "$OUT"
expect_rc "web (front only) cannot resolve db" 1 berth container exec conf-web-1 nslookup db
expect_true "the published TCP port serves" wait_for 3 http_ok http://127.0.0.1:18180/index.html
expect_eq "a UDP echo through the published UDP port" "echo:hi" "$(udp_echo 18153 hi)"

# files: bind, secret, config
expect_rc "bind-mounted file" 0 berth container exec conf-api-1 cat /etc/bound.txt
expect_eq "the bound file's content" bound-file-content "$OUT"
expect_rc "secret under /run/secrets" 0 berth container exec conf-api-1 cat /run/secrets/db_password
expect_eq "the secret's content" s3cret "$OUT"
expect_rc "config file at its target" 0 berth container exec conf-api-1 cat /etc/app.conf
expect_eq "the config's content" mode=test "$OUT"
expect_rc "stat of a secret with uid, gid and mode" 0 berth container exec conf-api-1 stat -c '%u %g %a' /run/secrets/api_token
expect_eq "the secret has its uid, gid and mode" "1000 1001 400" "$OUT"
expect_rc "its user reads it" 0 berth container exec -u 1000 conf-api-1 cat /run/secrets/api_token
expect_eq "the secret from the environment" t0ken "$OUT"
expect_rc "another user cannot" 1 berth container exec -u 1002 conf-api-1 cat /run/secrets/api_token
expect_rc "a file-based secret with a mode" 0 berth container exec conf-api-1 stat -c '%u %g %a' /run/secrets/pw_copy
expect_eq "is a copy with that mode" "0 0 440" "$OUT"
expect_rc "the copy's content" 0 berth container exec conf-api-1 cat /run/secrets/pw_copy
expect_eq "the copied secret's content" s3cret "$OUT"

# scaling: 3 replicas that a client sees
expect_rc "nslookup replica" 0 berth container exec conf-api-1 nslookup replica
expect_eq "three addresses for the service name" 3 "$(printf '%s\n' "$OUT" | grep -c '^Address: 172\|^Address: 10\.\|^Address: 192')"

# --- convergence ---------------------------------------------------------------------------
web_id=$(container_id conf-web-1)
db_id=$(container_id conf-db-1)
TIMEOUT=60 expect_rc "up -d again with no change" 0 berth up -d
expect_eq "web untouched" "$web_id" "$(container_id conf-web-1)"
expect_no_match "nothing was recreated" "Recreate|Creating" "$ERR"
berth container exec conf-web-1 sh -c 'echo from-the-first-web >/cache/mark; sync'
sed -i 's/GREETING: hello/GREETING: bonjour/' "$P/compose.yaml"
expect_rc "up --dry-run after changing web's environment" 0 berth up -d --dry-run
expect_match "the plan says why web is recreated" "recreate conf-web-1 .*environment\.GREETING changed" "$OUT"
expect_match "db is kept" "keep conf-db-1" "$OUT"
TIMEOUT=60 expect_rc "up -d after the change" 0 berth up -d
expect_true "web was recreated" test "$web_id" != "$(container_id conf-web-1)"
expect_eq "db was not" "$db_id" "$(container_id conf-db-1)"
expect_eq "the new environment" bonjour "$(berth container exec conf-web-1 sh -c 'echo $GREETING')"
expect_eq "the recreated web kept its anonymous volume" from-the-first-web "$(berth container exec conf-web-1 cat /cache/mark)"
expect_match "recreate order: the old one stopped before the new one was created" \
  "conf-web-1 +Stopped.*conf-web-1 +Created.*conf-web-1 +Recreated" "$(printf '%s' "$ERR" | tr '\n' ' ')"
expect_no_match "the renamed old container is gone" "_conf-web-1" "$(berth container ls -a)"

# --- down: nothing left, named volumes survive; down -v removes them --------------------------
berth container exec conf-api-1 sh -c 'echo kept >/data/f; sync'
TIMEOUT=120 expect_rc "down" 0 berth down
expect_true "down removed the generated secret and config files" test ! -e "$BERTH_ROOT/compose/conf"
expect_eq "no container left" 0 "$(count_containers)"
expect_no_match "no project network left" "conf_" "$(berth network ls)"
expect_match "the named volume survives down" "conf_data" "$(berth volume ls)"
TIMEOUT=120 expect_rc "up -d again" 0 berth up -d
expect_rc "the volume's data is back" 0 berth container exec conf-api-1 cat /data/f
expect_eq "kept data" kept "$OUT"
TIMEOUT=120 expect_rc "down -v" 0 berth down -v
expect_no_match "down -v removed the volume" "conf_data" "$(berth volume ls)"
expect_eq "and the anonymous ones" "" "$(berth volume ls -q)"
if leaks=$(leak_check); then pass "after down: no container, network, veth, mount, cgroup or supervisor left"; else fail "after down: nothing left" "$leaks"; fi

# --- depends_on conditions and --wait -------------------------------------------------------
mkdir -p "$TEST_TMP/deps" && cd "$TEST_TMP/deps" || bail_out "cd"
cat >compose.yaml <<EOF
name: deps
services:
  migrate:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sh", "-c", "sleep 0.3; echo migrated >/shared/done"]
    volumes: ["shared:/shared"]
  db:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sh", "-c", "sleep 0.5; touch /ready; exec sleep 600"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      start_interval: 100ms
      start_period: 5s
  app:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sh", "-c", "cat /shared/done; exec sleep 600"]
    volumes: ["shared:/shared"]
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_healthy}
volumes:
  shared: {}
EOF
TIMEOUT=120 expect_rc "up --wait with a one-shot and a healthy dependency" 0 berth up --wait
expect_eq "db was healthy before app started" healthy "$(inspect_field deps-db-1 State.Health.Status)"
expect_eq "migrate ran first and completed" 0 "$(inspect_field deps-migrate-1 State.ExitCode)"
expect_true "app is running" running deps-app-1
capture berth container logs deps-app-1
expect_eq "app saw the migration's result" migrated "$OUT"
TIMEOUT=120 expect_rc "down deps" 0 berth down -v

# --- run: one-off containers ------------------------------------------------------------------
TIMEOUT=120 expect_rc "run returns the one-off's exit code" 3 \
  berth run --rm -e EXTRA=cli app sh -c 'cat /shared/done; echo "EXTRA=$EXTRA"; nslookup db >/dev/null && echo db-resolves; exit 3'
expect_match "the dependencies ran first: the one-shot's result" "migrated" "$OUT"
expect_match "-e reaches the one-off" "EXTRA=cli" "$OUT"
expect_match "the one-off reaches a dependency by name" "db-resolves" "$OUT"
expect_match "it waited for the healthy dependency" "deps-db-1 +Healthy" "$ERR"
expect_eq "--rm removed the one-off; only the dependencies stay" "deps-db-1 deps-migrate-1" \
  "$(berth ps -a --format json | python3 -c 'import json,sys; print(" ".join(sorted(json.loads(l)["Name"] for l in sys.stdin if l.strip())))')"
expect_rc "run -d" 0 berth run -d --name job app sleep 600
expect_match "run -d prints the container id" '^[0-9a-f]{64}$' "$OUT"
expect_eq "the one-off is labelled oneoff" job "$(berth container ls --filter label=com.docker.compose.oneoff=True --format json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["Names"])')"
capture bash -c "echo piped | '$BERTH_BIN' run --rm -T --no-deps app cat"
expect_eq "stdin reaches a one-off (-T)" piped "$OUT"
expect_rc "an unknown service" 1 berth run --rm nosuch true
expect_match "is named" "no such service: nosuch" "$ERR"
TIMEOUT=120 expect_rc "down removes one-off containers too" 0 berth down -v
expect_eq "nothing of the project is left" 0 "$(count_containers)"

# --- down --rmi local: only the images Compose names itself (services with build: and no image:)
mkdir -p "$TEST_TMP/rmi" && cd "$TEST_TMP/rmi" || bail_out "cd"
cat >compose.yaml <<EOF
name: rmi
services:
  built:
    build: .
    init: true
    command: ["sleep", "600"]
  plain:
    image: $IMAGE
    init: true
    command: ["sleep", "600"]
EOF
berth image tag "$IMAGE" rmi-built
"$BERTH_BIN" events --json plain >"$TEST_TMP/events.json" 2>&1 &
events_pid=$!
sleep 0.5
TIMEOUT=60 expect_rc "up -d with an image named for a build: service" 0 berth up -d
# events polls the records: let it see the container running before it goes.
expect_true "events saw the start" wait_for 5 grep -q '"action":"start"' "$TEST_TMP/events.json"
TIMEOUT=60 expect_rc "down --rmi local" 0 berth down --rmi local
sleep 0.4
kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
expect_eq "events --json SERVICE: the service's container was created, started, died, destroyed" \
  "create start die destroy" \
  "$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["action"] for l in open(sys.argv[1]) if l.strip() and json.loads(l)["service"] == "plain"))' "$TEST_TMP/events.json")"
expect_no_match "events of other services are filtered out" '"service":"built"' "$(cat "$TEST_TMP/events.json")"
expect_no_match "removed the project's own image" "rmi-built" "$(berth image ls)"
expect_rc "kept the image the file names" 0 berth image inspect "$IMAGE"
cat >compose.yaml <<EOF
name: sick
services:
  db:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD-SHELL", "echo probe-says-no; exit 1"]
      interval: 200ms
      retries: 2
  app:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
    depends_on:
      db: {condition: service_healthy}
EOF
TIMEOUT=60 expect_rc "a dependency that becomes unhealthy fails up" 1 berth up -d
expect_match "the reason names the container and the probe output" "sick-db-1 is unhealthy.*probe-says-no" "$ERR"
TIMEOUT=60 expect_rc "down sick" 0 berth down

# --- kill -9 of up midway, then up converges; concurrent ups ---------------------------------
cd "$P" || bail_out "cd"
for delay in 0.05 0.15 0.3; do
  "$BERTH_BIN" up -d >/dev/null 2>&1 &
  upid=$!
  sleep "$delay"
  kill -9 "$upid" 2>/dev/null
  wait "$upid" 2>/dev/null
done
TIMEOUT=120 expect_rc "up -d after killed ups converges" 0 berth up -d
expect_eq "one container per replica, no strays" 7 "$(berth ps -q | grep -c .)"
TIMEOUT=120 expect_rc "down after the killed ups" 0 berth down -v
if leaks=$(leak_check); then pass "after kill -9 of up and down: nothing left"; else fail "after kill -9 of up and down: nothing left" "$leaks"; fi

# A create killed inside the name index's atomic write leaves "<name>.tmp-XXXXXXXX" (the kills
# above land there only now and then, so such entries are planted here): down clears them, and
# keeps a real container whose name merely looks like one.
keep=$(berth container run -d --name keep.tmp-0000aaaa "$IMAGE" sleep 600)
printf '%s' "$keep" >"$BERTH_ROOT/names/conf-replica-9.tmp-1234abcd"
: >"$BERTH_ROOT/names/conf-replica-8.tmp-5678cdef"
TIMEOUT=60 expect_rc "down with a killed create's name entries" 0 berth down
expect_eq "... clears both" "keep.tmp-0000aaaa" "$(ls "$BERTH_ROOT/names")"
expect_rc "... and the look-alike name still resolves" 0 berth inspect keep.tmp-0000aaaa
expect_rc "... rm -f it" 0 berth container rm -f keep.tmp-0000aaaa
"$BERTH_BIN" up -d >"$TEST_TMP/up1.out" 2>&1 &
p1=$!
"$BERTH_BIN" up -d >"$TEST_TMP/up2.out" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
expect_eq "two concurrent ups both succeed" "0 0" "$r1 $r2"
expect_eq "one correct stack: 7 containers" 7 "$(count_containers)"

# --- restore after a reboot ---------------------------------------------------------------------
sed -i 's/  web:/  web:\n    restart: always/' compose.yaml
TIMEOUT=120 expect_rc "up -d with web restart: always" 0 berth up -d
web_ip=$(inspect_field conf-web-1 NetworkSettings.Networks.conf_front.IPAddress)
simulate_reboot
capture berth ps -a
expect_true "web (restart: always) is running again" wait_for 10 running conf-web-1
expect_eq "with its address" "$web_ip" "$(inspect_field conf-web-1 NetworkSettings.Networks.conf_front.IPAddress)"
expect_true "its published port serves again" wait_for 3 http_ok http://127.0.0.1:18180/index.html
TIMEOUT=120 expect_rc "down still cleans everything" 0 berth down -v
expect_eq "no container left" 0 "$(count_containers)"

# --- foreground up: prefixed logs, --abort-on-container-exit, --exit-code-from, Ctrl-C ----------
mkdir -p "$TEST_TMP/fg" && cd "$TEST_TMP/fg" || bail_out "cd"
cat >compose.yaml <<EOF
name: fg
services:
  job:
    image: $IMAGE
    command: ["sh", "-c", "sleep 0.3; echo hello-from-job; exit 3"]
  server:
    image: $IMAGE
    init: true
    command: ["sh", "-c", "echo server-up; exec sleep 600"]
EOF
TIMEOUT=60 expect_rc "up --abort-on-container-exit --exit-code-from job: job's exit code" 3 \
  berth up --abort-on-container-exit --exit-code-from job
expect_match "job's output with its prefix" '^job-1 +\| hello-from-job$' "$OUT"
expect_match "server's output with its prefix" '^server-1 +\| server-up$' "$OUT"
expect_eq "the other container was stopped" exited "$(inspect_field fg-server-1 State.Status)"
TIMEOUT=60 expect_rc "down fg" 0 berth down
spawn_default_signals "$BERTH_BIN" up >"$TEST_TMP/fg.out" 2>&1 &
fg_pid=$!
expect_true "foreground up brings the server up" wait_for 20 running fg-server-1
# $! is the subshell running spawn_default_signals; berth is its child.
pkill -INT -P "$fg_pid"
wait "$fg_pid"
expect_eq "Ctrl-C: up exits 130" 130 "$?"
expect_match "Ctrl-C stops gracefully" "Gracefully stopping" "$(cat "$TEST_TMP/fg.out")"
expect_eq "Ctrl-C stopped the server" exited "$(inspect_field fg-server-1 State.Status)"
TIMEOUT=60 expect_rc "down fg again" 0 berth down

# --- bad input ------------------------------------------------------------------------------------
mkdir -p "$TEST_TMP/bad" && cd "$TEST_TMP/bad" || bail_out "cd"
cat >compose.yaml <<EOF
name: bad
services:
  a:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
    depends_on: [b]
  b:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    depends_on: [a]
EOF
expect_rc "a dependency cycle: exit 15" 15 berth up -d
expect_match "the cycle is named" "cycle" "$ERR"
expect_one_clear_line "one clear line" "$ERR"
cat >compose.yaml <<EOF
name: bad
services:
  a:
    image: no-such/image:1
EOF
expect_rc "a missing image: exit 1" 1 berth up -d
expect_match "the message says how to import it" "no such image: no-such/image:1" "$ERR"
expect_match "with the import hint" "berth image import" "$ERR"
cat >compose.yaml <<EOF
name: bad
services:
  a:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
EOF
expect_rc "an unknown service on the command line: exit 1" 1 berth up -d nosuch
expect_match "the service is named" "no such service: nosuch" "$ERR"
"$PYTHON" -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1",18199)); s.listen(); open(sys.argv[1],"w").write("x"); time.sleep(30)' "$TEST_TMP/holder.ready" &
holder=$!
wait_for 5 test -s "$TEST_TMP/holder.ready"
cat >compose.yaml <<EOF
name: bad
services:
  a:
    image: $IMAGE
    init: true  # PID 1 forwards SIGTERM: httpd/sleep as PID 1 would ignore it
    command: ["sleep", "600"]
    ports: ["127.0.0.1:18199:80"]
EOF
expect_rc "a port conflict fails up (exit 1, as Compose)" 1 berth up -d
expect_match "the conflict names the port and the holder" "127\.0\.0\.1:18199.*process $holder" "$ERR"
kill "$holder"; wait "$holder" 2>/dev/null
expect_eq "nothing half-made: no container" 0 "$(count_containers)"
TIMEOUT=60 expect_rc "down bad" 0 berth down

# --- --scale, orphans and where they come from, sysctls in a container -------------------------
mkdir -p "$TEST_TMP/scale" && cd "$TEST_TMP/scale" || bail_out "cd"
cat >compose.yaml <<EOF
name: scl
services:
  worker:
    image: $IMAGE
    init: true
    command: ["sleep", "600"]
    sysctls:
      net.core.somaxconn: 1234
  gone:
    image: $IMAGE
    init: true
    command: ["sleep", "600"]
EOF
TIMEOUT=60 expect_rc "up -d --scale worker=3" 0 berth up -d --scale worker=3
expect_eq "three workers" "scl-worker-1 scl-worker-2 scl-worker-3" "$(berth ps --format json | python3 -c 'import json,sys; print(" ".join(sorted(json.loads(l)["Name"] for l in sys.stdin if l.strip() and json.loads(l)["Service"] == "worker")))')"
expect_eq "sysctls reach the container's namespace" 1234 "$(berth container exec scl-worker-1 cat /proc/sys/net/core/somaxconn)"
TIMEOUT=60 expect_rc "up -d --scale worker=1" 0 berth up -d --scale worker=1
expect_match "scaling down removes the extra replicas" "scl-worker-3 +Removed" "$ERR"
expect_eq "one worker left" 1 "$(berth ps -q worker | grep -c .)"
sed -i '/^  gone:/,$d' compose.yaml
TIMEOUT=60 expect_rc "up -d without the gone service" 0 berth up -d
expect_match "the orphan is named" "Found orphan containers \(\[scl-gone-1\]\)" "$ERR"
mkdir -p "$TEST_TMP/scale2" && cp compose.yaml "$TEST_TMP/scale2/" && cd "$TEST_TMP/scale2" || bail_out "cd"
sed -i '/^  worker:/,$d' compose.yaml
printf '  other:\n    image: %s\n    init: true\n    command: ["sleep", "600"]\n' "$IMAGE" >>compose.yaml
TIMEOUT=60 expect_rc "up -d of the same project name from another directory" 0 berth up -d
expect_match "says where the orphans come from" "scl-worker-1 \(from another directory: $TEST_TMP/scale\)" "$ERR"
TIMEOUT=60 expect_rc "up -d --remove-orphans" 0 berth up -d --remove-orphans
expect_match "removes them" "scl-worker-1 +Removed" "$ERR"
TIMEOUT=60 expect_rc "down scl" 0 berth down
expect_eq "nothing of scl is left" 0 "$(count_containers)"

done_testing
