#!/bin/bash
# berth container cp and Compose's berth cp (docs/copy.md): Docker's path rules in and out of a
# running and a stopped container, "/." contents, tar streams on stdin/stdout, ownership with and
# without -a, Docker's errors and exit codes, and that no symlink in the container (absolute,
# relative, or swapped during the copy) lets a copy read or write a host file.
. "$(dirname "$0")/lib.sh"

unset COMPOSE_PROJECT_NAME COMPOSE_FILE
W=$TEST_TMP/cpwork
mkdir -p "$W"
cd "$W" || bail_out "cd $W"
status_is() { [ "$(inspect_field "$1" State.Status 2>/dev/null)" = "$2" ]; }
in_ctr() { timeout 30 "$BERTH_BIN" container exec "$@" 2>/dev/null; }

capture berth container run -d --name cpr "$IMAGE" sleep 300
[ "$RC" = 0 ] || bail_out "could not start cpr: $ERR"
capture berth container run -d --name cps "$IMAGE" sh -c 'mkdir -p /data/sub && echo deep >/data/sub/f && echo top >/data/a && chown -R 1000:1000 /data && ln -s a /data/link'
[ "$RC" = 0 ] || bail_out "could not start cps: $ERR"
wait_for 20 status_is cps exited || bail_out "cps did not exit"

# --- host -> running container -------------------------------------------------------------------
printf 'hello\n' >"$W/hello.txt"
chmod 0640 "$W/hello.txt"
touch -d '2001-02-03 04:05:06 UTC' "$W/hello.txt"
expect_rc "cp file into a running container (new name)" 0 berth container cp "$W/hello.txt" cpr:/tmp/copied.txt
expect_eq "the file arrived" hello "$(in_ctr cpr cat /tmp/copied.txt)"
expect_eq "mode and mtime kept" "640 981173106" "$(in_ctr cpr stat -c '%a %Y' /tmp/copied.txt)"
expect_rc "cp file to an existing dir puts it inside" 0 berth container cp "$W/hello.txt" cpr:/tmp
expect_eq "file inside the dir" hello "$(in_ctr cpr cat /tmp/hello.txt)"
chown 1234:2345 "$W/hello.txt"
expect_rc "cp without -a" 0 berth container cp "$W/hello.txt" cpr:/tmp/owned
expect_eq "without -a: owned by root" "0:0" "$(in_ctr cpr stat -c '%u:%g' /tmp/owned)"
expect_rc "cp -a" 0 berth container cp -a "$W/hello.txt" cpr:/tmp/kept
expect_eq "with -a: the source's uid/gid" "1234:2345" "$(in_ctr cpr stat -c '%u:%g' /tmp/kept)"

mkdir -p "$W/tree/sub" && echo one >"$W/tree/one" && echo two >"$W/tree/sub/two" && ln -s one "$W/tree/ln"
expect_rc "cp dir to a new path" 0 berth container cp "$W/tree" cpr:/tmp/newtree
expect_eq "dir copied with its tree" "one two" "$(in_ctr cpr sh -c 'cat /tmp/newtree/one /tmp/newtree/sub/two' | xargs)"
expect_eq "symlink kept as a link" one "$(in_ctr cpr readlink /tmp/newtree/ln)"
expect_rc "cp dir into an existing dir" 0 berth container cp "$W/tree" cpr:/tmp
expect_eq "dir lands inside as tree/" one "$(in_ctr cpr cat /tmp/tree/one)"
in_ctr cpr mkdir /tmp/contents
expect_rc "cp dir/. copies the contents" 0 berth container cp "$W/tree/." cpr:/tmp/contents
expect_eq "contents, not the dir" "ln one sub" "$(in_ctr cpr ls /tmp/contents | xargs)"

# A round trip through both codecs and GNU tar: long names (pax), a 3 MB file, an empty file, a fifo.
LONG="$W/rt/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 70))"
mkdir -p "$LONG" && head -c 3000000 /dev/urandom >"$LONG/$(printf 'f%.0s' $(seq 1 120))" && : >"$W/rt/empty" && mkfifo "$W/rt/fifo"
expect_rc "round trip: in" 0 berth container cp "$W/rt" cpr:/tmp/rt
expect_rc "round trip: out" 0 berth container cp cpr:/tmp/rt "$W/rt.back"
expect_eq "round trip: identical tree" "" "$(diff -r -x fifo --no-dereference "$W/rt" "$W/rt.back" 2>&1)"
expect_eq "round trip: the fifo stays a fifo" fifo "$(stat -c %F "$W/rt.back/fifo")"
mkdir -p "$W/gnu" && capture bash -c "'$BERTH_BIN' container cp cpr:/tmp/rt - | tar -xf - -C '$W/gnu' 2>&1"
expect_eq "GNU tar reads our stream (long names)" "" "$(diff -r -x fifo --no-dereference "$W/rt" "$W/gnu/rt" 2>&1)"

# --- running container -> host ---------------------------------------------------------------------
in_ctr cpr sh -c 'mkdir -p /srv/d/e && echo x >/srv/d/e/x && echo y >/srv/d/y && chown -R 1000:1000 /srv/d && chmod 4755 /srv/d/y'
expect_rc "cp a file out to a new name" 0 berth container cp cpr:/srv/d/y "$W/y.out"
expect_eq "content out" y "$(cat "$W/y.out")"
expect_eq "out without -a: the caller's file, no setuid" "0:0 755" "$(stat -c '%u:%g %a' "$W/y.out")"
expect_rc "cp -a a dir out" 0 berth container cp -a cpr:/srv/d "$W/d-kept"
expect_eq "out with -a: uid/gid and mode kept" "1000:1000 4755" "$(stat -c '%u:%g %a' "$W/d-kept/y")"
mkdir "$W/outdir"
expect_rc "cp a dir out into an existing dir" 0 berth container cp cpr:/srv/d "$W/outdir"
expect_eq "dir inside as d/" x "$(cat "$W/outdir/d/e/x")"
mkdir "$W/outcontents"
expect_rc "cp dir/. out" 0 berth container cp cpr:/srv/d/. "$W/outcontents"
expect_eq "contents only" "e y" "$(cd "$W/outcontents" && echo *)"

# --- tar streams ------------------------------------------------------------------------------------
capture bash -c "'$BERTH_BIN' container cp cpr:/srv/d - | tar -tf - | sort | xargs"
expect_eq "cp CONTAINER:dir - writes a tar" "d/ d/e/ d/e/x d/y" "$OUT"
capture bash -c "tar -cf - -C '$W/tree' . | '$BERTH_BIN' container cp - cpr:/tmp/contents"
expect_eq "cp - reads a tar: exit 0" 0 "$RC"
in_ctr cpr sh -c 'mkdir /tmp/fromtar'
capture bash -c "tar -cf - -C '$W' tree | '$BERTH_BIN' container cp - cpr:/tmp/fromtar"
expect_eq "tar from stdin unpacked" two "$(in_ctr cpr cat /tmp/fromtar/tree/sub/two)"
capture bash -c "tar -cf - -C '$W' tree | '$BERTH_BIN' container cp - cpr:/tmp/copied.txt"
expect_eq "cp - to a file fails (exit 1)" 1 "$RC"
expect_match "cp - needs a directory" 'must be a directory' "$ERR"
# A crafted stream cannot climb out of the destination.
"$PYTHON" - "$W/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned\n"
    i = tarfile.TarInfo("../../../../tmp/evil-from-tar"); i.size = len(data); t.addfile(i, io.BytesIO(data))
EOF
capture bash -c "'$BERTH_BIN' container cp - cpr:/tmp < '$W/evil.tar'"
expect_eq "a '..' entry is refused (exit 1)" 1 "$RC"
expect_eq "nothing written for it" absent "$(in_ctr cpr sh -c 'test -e /tmp/evil-from-tar && echo present || echo absent')"

# --- the helper in the container holds nothing of the host -------------------------------------------
mkfifo "$W/fifo"
"$BERTH_BIN" container cp - cpr:/tmp <"$W/fifo" &
CLI_PID=$!
exec 7>"$W/fifo"
CPID=$(inspect_field cpr State.Pid)
# Joined, and then (a moment later) waiting for the stream that the fifo holds back.
helper_up() {
  HELPER=$(pgrep -P "$CLI_PID" | head -1)
  [ -n "$HELPER" ] && [ "$(readlink /proc/"$HELPER"/ns/mnt)" = "$(readlink /proc/"$CPID"/ns/mnt)" ]
}
if wait_for 10 helper_up && sleep 0.3; then
  FDS=$(for f in /proc/"$HELPER"/fd/*; do printf '%s ' "${f##*/}"; done)
  expect_match "the helper has no stdio of the host and its two sockets as fds 3 and 4" '^([0-2] )*3 4 $' "$FDS"
  expect_eq "fds 3 and 4 are sockets" "socket socket" "$(readlink /proc/"$HELPER"/fd/3 /proc/"$HELPER"/fd/4 | sed 's/:.*//' | xargs)"
  # Any other fd is one the helper opened inside the container: the same inode there.
  OTHER=""
  for f in /proc/"$HELPER"/fd/[0-2]; do
    [ -e "$f" ] || continue
    [ "$(stat -L -c %d:%i "$f")" = "$(stat -L -c %d:%i "/proc/$CPID/root$(readlink "$f")")" ] || OTHER="$OTHER $f->$(readlink "$f")"
  done
  expect_eq "no fd of the host" "" "$OTHER"
  expect_eq "the helper is in the container's mount namespace" "$(readlink /proc/"$CPID"/ns/mnt)" "$(readlink /proc/"$HELPER"/ns/mnt)"
  expect_eq "the helper's root is the container's" "$(stat -L -c %d:%i /proc/"$CPID"/root/)" "$(stat -L -c %d:%i /proc/"$HELPER"/root/)"
  libs() { awk '$6 ~ /\.so/ {print $6}' /proc/"$1"/maps | sort -u | xargs; }
  expect_eq "the helper loaded no library after joining (same as the CLI's)" "$(libs "$CLI_PID")" "$(libs "$HELPER")"
else
  fail "the helper process appeared"
fi
exec 7>&-
wait "$CLI_PID"
expect_eq "an empty stream copies nothing (exit 0)" 0 "$?"

# --- stopped container --------------------------------------------------------------------------------
expect_rc "cp a file out of a stopped container" 0 berth container cp cps:/data/sub/f "$W/f.out"
expect_eq "content from the stopped rootfs" deep "$(cat "$W/f.out")"
expect_rc "cp a dir out of a stopped container" 0 berth container cp -a cps:/data "$W/data.out"
expect_eq "stopped: tree and owner" "top 1000" "$(cat "$W/data.out/a") $(stat -c %u "$W/data.out/a")"
expect_eq "stopped: the link is a link" a "$(readlink "$W/data.out/link")"
expect_rc "cp a file into a stopped container" 0 berth container cp "$W/hello.txt" cps:/data/in.txt
expect_rc "cp a dir into a stopped container" 0 berth container cp "$W/tree" cps:/data/
expect_rc "and back out" 0 berth container cp cps:/data/in.txt "$W/in.back"
expect_eq "stopped: written into the container's own layer" hello "$(cat "$W/in.back")"
expect_rc "-L follows the source link" 0 berth container cp -L cps:/data/link "$W/followed"
expect_eq "-L: the link's target content" top "$(cat "$W/followed")"
expect_rc "without -L the link is copied as a link" 0 berth container cp cps:/data/link "$W/aslink"
expect_eq "the link itself" a "$(readlink "$W/aslink")"
CPS_ID=$(container_id cps)
expect_eq "the stopped copy's rootfs mount stays in its own namespace" "" "$(grep "containers/$CPS_ID/rootfs" /proc/self/mountinfo)"

# --- errors ---------------------------------------------------------------------------------------------
expect_rc "missing source in the container: exit 1" 1 berth container cp cpr:/nope "$W/x"
expect_match "Docker's message" '^berth: Could not find the file /nope in container cpr$' "$ERR"
expect_one_clear_line "missing source: one line" "$ERR"
expect_rc "missing destination parent in the container: exit 1" 1 berth container cp "$W/hello.txt" cpr:/no/such/file
expect_match "missing parent named" 'Could not find the file /no/such in container cpr' "$ERR"
expect_rc "missing host source: exit 1" 1 berth container cp "$W/nothere" cpr:/tmp/
expect_match "lstat message" 'lstat .*/nothere: no such file or directory' "$ERR"
expect_rc "missing host destination parent: exit 1" 1 berth container cp cpr:/srv/d/y "$W/no/such/y"
expect_match "missing host parent: lstat message" 'lstat .*/no/such: no such file or directory' "$ERR"
expect_rc "dir onto a file: exit 1" 1 berth container cp cpr:/srv/d "$W/y.out"
expect_match "dir onto a file: message" 'cannot copy a directory to a file' "$ERR"
expect_rc "a file to a missing dir/: exit 1" 1 berth container cp cpr:/srv/d/y "$W/nodir/"
expect_match "a file to a missing dir/: message" 'destination directory .* does not exist' "$ERR"
expect_rc "between containers: exit 1" 1 berth container cp cpr:/etc/hostname cps:/tmp/
expect_match "between containers: message" 'copying between containers is not supported' "$ERR"
expect_rc "no container at all: exit 1" 1 berth container cp "$W/a" "$W/b"
expect_rc "unknown container: exit 1" 1 berth container cp nosuchctr:/etc/hostname "$W/h"
expect_rc "a file with a trailing slash: exit 1" 1 berth container cp cpr:/srv/d/y/ "$W/z"

# --- symlinks in the container never reach the host -----------------------------------------------------
HOST_SUM=$(sha256sum /etc/passwd | cut -d' ' -f1)
mkdir -p "$W/hostside"
echo secret >"$W/hostside/secret"
in_ctr cpr sh -c "ln -s / /escape; ln -s ../../../../etc/passwd /tmp/rel-passwd; ln -s /etc/passwd /tmp/abs-passwd;
  ln -s '$W/hostside' /hostdir; ln -s '$W/hostside/secret' /hostsecret"
CTR_PASSWD=$(in_ctr cpr cat /etc/passwd)
expect_rc "cp out through /escape -> /" 0 berth container cp cpr:/escape/etc/passwd "$W/p1"
expect_eq "/escape/etc/passwd is the container's passwd" "$CTR_PASSWD" "$(cat "$W/p1")"
expect_rc "cp -L out of a ../../../../etc/passwd link" 0 berth container cp -L cpr:/tmp/rel-passwd "$W/p2"
expect_eq "the relative link resolves in the container" "$CTR_PASSWD" "$(cat "$W/p2")"
expect_rc "cp -L out of an absolute /etc/passwd link" 0 berth container cp -L cpr:/tmp/abs-passwd "$W/p3"
expect_eq "the absolute link resolves in the container" "$CTR_PASSWD" "$(cat "$W/p3")"
expect_rc "cp -L out of a link to a host path" 1 berth container cp -L cpr:/hostsecret "$W/p4"
expect_true "the host file behind it was not read" test ! -e "$W/p4"
expect_rc "cp into /escape/etc/" 0 berth container cp "$W/hello.txt" cpr:/escape/etc/
expect_eq "landed in the container's /etc" hello "$(in_ctr cpr cat /etc/hello.txt)"
expect_true "not in the host's /etc" test ! -e /etc/hello.txt
expect_rc "cp onto the ../../../../etc/passwd link" 0 berth container cp "$W/hello.txt" cpr:/tmp/rel-passwd
expect_eq "the link was replaced in the container" hello "$(in_ctr cpr cat /tmp/rel-passwd)"
expect_rc "cp - with an entry named like the /escape link" 0 bash -c "mkdir -p '$W/t2/escape' && echo z >'$W/t2/escape/zz' && tar -cf - -C '$W/t2' . | '$BERTH_BIN' container cp - cpr:/"
expect_true "a dir entry replaces the container's /escape link: nothing on the host" test ! -e /zz
in_ctr cpr sh -c 'ln -s / /escape2'
"$PYTHON" - "$W/below-link.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned\n"
    i = tarfile.TarInfo("escape2/tmp/below-link"); i.size = len(data); t.addfile(i, io.BytesIO(data))
EOF
capture bash -c "'$BERTH_BIN' container cp - cpr:/ < '$W/below-link.tar'"
expect_eq "an entry below a container symlink is refused (exit 1)" 1 "$RC"
expect_match "refused: symlinks are not followed" 'symlinks are not followed' "$ERR"
expect_true "nothing written on the host through it" test ! -e /tmp/below-link
capture berth container cp "$W/hello.txt" cpr:/hostdir/
expect_eq "cp into a link to a host dir fails (exit 1)" 1 "$RC"
expect_eq "the host dir behind the link stays untouched" secret "$(ls "$W/hostside")"
# A link swapped in and out while copying (CVE-2018-15664).
in_ctr -d cpr sh -c "while :; do mkdir -p /race/d; rm -rf /race/d; ln -s '$W/hostside' /race/d; rm -f /race/d; done"
for _ in $(seq 1 40); do
  "$BERTH_BIN" container cp "$W/hello.txt" cpr:/race/d/raced.txt >/dev/null 2>&1
  "$BERTH_BIN" container cp cpr:/race/d/. "$W/raceout" >/dev/null 2>&1
done
expect_eq "40 racing copies: nothing written to the host dir" secret "$(ls "$W/hostside")"
expect_true "and nothing read from it" test ! -e "$W/raceout/secret"
expect_eq "host /etc/passwd unchanged" "$HOST_SUM" "$(sha256sum /etc/passwd | cut -d' ' -f1)"

# --- Compose cp ----------------------------------------------------------------------------------------
member() {
  capture berth container run -d --name "$1" --label com.docker.compose.project=cpp \
    --label com.docker.compose.service=web --label com.docker.compose.container-number="$2" \
    --label com.docker.compose.oneoff=False "$IMAGE" sleep 300
  [ "$RC" = 0 ] || bail_out "could not create $1: $ERR"
}
member cpp-web-1 1
member cpp-web-2 2
expect_rc "compose cp into a service: every replica" 0 berth cp -p cpp "$W/hello.txt" web:/tmp/svc.txt
expect_eq "replica 1 has it" hello "$(in_ctr cpp-web-1 cat /tmp/svc.txt)"
expect_eq "replica 2 has it" hello "$(in_ctr cpp-web-2 cat /tmp/svc.txt)"
in_ctr cpp-web-2 sh -c 'echo two >/tmp/which'
in_ctr cpp-web-1 sh -c 'echo one >/tmp/which'
expect_rc "compose cp --index 2 out" 0 berth cp -p cpp --index 2 web:/tmp/which "$W/which2"
expect_eq "--index 2 picks replica 2" two "$(cat "$W/which2")"
expect_rc "compose cp out: the first replica by default" 0 berth cp -p cpp web:/tmp/which "$W/which1"
expect_eq "default replica 1" one "$(cat "$W/which1")"
expect_rc "compose cp --index 1 in" 0 berth cp -p cpp --index 1 "$W/tree" web:/tmp/only1
expect_eq "only replica 1 got it" "yes no" "$(in_ctr cpp-web-1 sh -c 'test -d /tmp/only1 && echo yes') $(in_ctr cpp-web-2 sh -c 'test -d /tmp/only1 && echo yes || echo no')"
expect_rc "compose cp: unknown service (exit 1)" 1 berth cp -p cpp "$W/hello.txt" nosvc:/tmp/
expect_rc "compose cp --all out of a service (exit 1)" 1 berth cp -p cpp --all web:/tmp/which "$W/w"
expect_rc "compose cp --index 5: no such replica (exit 1)" 1 berth cp -p cpp --index 5 web:/tmp/which "$W/w"

# --- nothing left behind ---------------------------------------------------------------------------------
capture berth container rm -f cpr cps cpp-web-1 cpp-web-2
expect_eq "containers removed" 0 "$RC"
LEAKS=$(leak_check)
expect_eq "nothing leaked" "" "$LEAKS"

done_testing
