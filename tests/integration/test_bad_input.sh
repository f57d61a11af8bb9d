#!/bin/bash
# Bad input: one clear line naming the problem (and the fix), exit 125, and nothing left behind.
. "$(dirname "$0")/lib.sh"

nothing_left() {  # nothing_left WHAT : no container record and no leak after a refused run
  capture berth container ls -aq
  expect_eq "$1: container ls -a is empty" "" "$OUT"
  local leaks
  if leaks=$(leak_check); then pass "$1: the leak check finds nothing"; else fail "$1: the leak check finds nothing" "$leaks"; fi
}

bad_run() {  # bad_run WHAT ERE_NAMING_THE_PROBLEM ARGS...
  local what=$1 re=$2
  shift 2
  expect_rc "$what: exit 125" 125 berth container run --rm --name bad "$@"
  expect_one_clear_line "$what: one clear line" "$ERR"
  expect_match "$what: the message names the problem" "$re" "$ERR"
  expect_eq "$what: nothing on stdout" "" "$OUT"
  BAD_ERR=$ERR
  nothing_left "$what"
}

# --version is answered before any initialiser (main.cpp answer_version_early): still a plain line.
for flag in --version version; do
  capture berth $flag
  expect_eq "berth $flag exits 0" 0 "$RC"
  expect_match "berth $flag prints the version" '^Berth version [0-9]+\.[0-9]+\.[0-9]+$' "$OUT"
done
capture berth --version --help  # three words: CLI11's version flag answers, not the constructor
expect_eq "berth --version --help exits 0" 0 "$RC"
expect_match "berth --version --help prints the version" '^Berth version [0-9]+\.[0-9]+\.[0-9]+$' "$OUT"

bad_run "unknown image" 'berth-test/nope(:latest)?' berth-test/nope:latest true
expect_match "unknown image: the message points at image import" '(import|image ls|not found|no such image)' "$BAD_ERR"
bad_run "bad memory string -m 12x" '12x' -m 12x "$IMAGE" true
bad_run "negative memory -m -5m" '\-5m' -m -5m "$IMAGE" true
bad_run "bad user -u nosuchuser" 'nosuchuser' -u nosuchuser "$IMAGE" true
bad_run "bad group -u 1000:nosuchgroup" 'nosuchgroup' -u 1000:nosuchgroup "$IMAGE" true
bad_run "bad --cpus" 'cpus|abc' --cpus abc "$IMAGE" true
bad_run "unknown capability" 'NOT_A_CAP' --cap-add NOT_A_CAP "$IMAGE" true
bad_run "bad --ulimit" 'nofile|ulimit' --ulimit nofile=abc "$IMAGE" true
bad_run "bad --security-opt" 'security-opt|bogus' --security-opt bogus "$IMAGE" true
bad_run "missing seccomp profile file" 'no-such-profile' --security-opt seccomp=/no-such-profile.json "$IMAGE" true
bad_run "bind source that does not exist" '/no/such/host/dir' --mount type=bind,source=/no/such/host/dir,target=/data "$IMAGE" true
bad_run "relative bind target" 'relative|absolute|data' -v /tmp:data "$IMAGE" true
bad_run "bad --env-file" 'no-such-env-file' --env-file /no-such-env-file "$IMAGE" true
bad_run "bad --mac-address" 'zz:zz' --mac-address zz:zz "$IMAGE" true

# A used name is refused before anything is created (the first container stays intact).
expect_rc "a kept container named taken" 0 berth container run --name taken "$IMAGE" true
expect_rc "the same name again: 125" 125 berth container run --name taken "$IMAGE" true
expect_one_clear_line "name conflict: one clear line" "$ERR"
expect_match "name conflict: names the name" 'taken' "$ERR"
capture berth container ls -aq
expect_eq "name conflict: only the first container exists" 1 "$(printf '%s\n' "$OUT" | grep -c .)"
expect_rc "container rm taken" 0 berth container rm taken

# Unknown objects for rm/inspect.
capture berth container rm no-such-ctr
expect_true "container rm of an unknown name fails" test "$RC" != 0
expect_match "container rm unknown: names it" 'no-such-ctr' "$ERR"
capture berth inspect no-such-ctr
expect_true "inspect of an unknown name fails (Docker: exit 1)" test "$RC" != 0
expect_one_clear_line "inspect unknown: one clear line" "$ERR"
expect_match "inspect unknown: names it" 'no-such-ctr' "$ERR"

# Without root privileges: one line that says so, exit 125, nothing created anywhere.
capture setpriv --reuid=65534 --regid=65534 --clear-groups "$BERTH_BIN" container run --rm "$IMAGE" true
expect_eq "as nobody: exit 125" 125 "$RC"
expect_one_clear_line "as nobody: one clear line" "$ERR"
expect_match "as nobody: the message says root is needed" '(root|privilege)' "$ERR"
nothing_left "as nobody"

# A supervisor that exits before it takes the launch plan (here a stand-in that exits at once):
# with --rm the container is removed, as Docker removes a --rm container that failed to start;
# without, it stays "Created" for `container start` or `rm`.
mkdir -p "$TEST_TMP/libexec"
for f in berth-init berth-heavy; do ln -s "$(dirname "$BERTH_BIN")/$f" "$TEST_TMP/libexec/$f"; done
printf '#!/bin/sh\nexit 0\n' >"$TEST_TMP/libexec/berth-supervisor"
chmod +x "$TEST_TMP/libexec/berth-supervisor"
BERTH_LIBEXEC=$TEST_TMP/libexec capture berth container run --rm "$IMAGE" true
expect_eq "supervisor gone before the plan, --rm: exit 125" 125 "$RC"
# (Which of the two depends on whether it was still there when the plan was sent.)
expect_match "... says so" 'supervisor of container [0-9a-f]{12} exited (before it got its launch plan|without a report)' "$ERR"
expect_match "... and that --rm removed the container" 'removed \(--rm\)' "$ERR"
nothing_left "supervisor gone before the plan, --rm"
BERTH_LIBEXEC=$TEST_TMP/libexec capture berth container run --name kept "$IMAGE" true
expect_eq "the same without --rm: exit 125" 125 "$RC"
expect_rc "... the container stays, Created" 0 berth container ls -a --filter name=kept --format json
expect_match "... state created" '"State":"created"' "$OUT"
expect_rc "... and rm removes it" 0 berth container rm kept
nothing_left "supervisor gone before the plan, then rm"

capture berth container run --rm "$IMAGE" true
expect_eq "a normal run still works after the refused ones" 0 "$RC"

# The C++ standard streams are initialized only when used (include/berth/util/std_streams.h):
# every path that prints through CLI11 or reads std::cin.
capture berth --help
expect_eq "--help exits 0" 0 "$RC"
expect_match "--help prints the usage" '^Usage: .*SUBCOMMAND' "$OUT"
capture berth container ls --bogus
expect_eq "an unknown flag exits 125" 125 "$RC"
expect_match "an unknown flag is named (CLI11's message on stderr)" 'not expected: --bogus' "$ERR"
printf 'services:\n  web:\n    image: busybox\n' >"$TEST_TMP/stdin-compose.yaml"
CAPTURE_STDIN="$TEST_TMP/stdin-compose.yaml" capture berth -f - config
expect_match "-f - reads the Compose file from stdin" '^ +image: busybox$' "$OUT"
echo n >"$TEST_TMP/answer-no"
CAPTURE_STDIN="$TEST_TMP/answer-no" capture berth volume prune
expect_eq "volume prune answered n exits 0" 0 "$RC"
expect_match "volume prune asks first" 'Are you sure you want to continue' "$OUT"

done_testing
