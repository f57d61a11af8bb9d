#!/bin/bash
# Images, just enough to run: import (plain, gzip, zstd, stdin, --change), ls, tag, inspect, and
# rm refused while a container uses the image (unless -f).
. "$(dirname "$0")/lib.sh"

tar_plain="$TEST_TMP/rootfs.tar"
# The cached test image tar may itself be compressed: make a plain one.
if gzip -t "$TEST_ROOTFS_TAR" 2>/dev/null; then gzip -dc "$TEST_ROOTFS_TAR" >"$tar_plain"; else cp "$TEST_ROOTFS_TAR" "$tar_plain"; fi
gzip -c "$tar_plain" >"$TEST_TMP/rootfs.tar.gz"
layers_dir="$BERTH_ROOT/images/layers"

expect_rc "import a plain tar" 0 berth image import "$tar_plain" it/plain:1
layers_before=$(ls "$layers_dir" 2>/dev/null | grep -c .)
expect_rc "import a gzip tar" 0 berth image import "$TEST_TMP/rootfs.tar.gz" it/gz
if command -v zstd >/dev/null; then
  zstd -q -c "$tar_plain" >"$TEST_TMP/rootfs.tar.zst"
  expect_rc "import a zstd tar" 0 berth image import "$TEST_TMP/rootfs.tar.zst" it/zst:latest
else
  note "zstd is not installed: zstd import not checked"
fi
CAPTURE_STDIN=$tar_plain expect_rc "import from stdin (-)" 0 berth image import - it/stdin:latest
expect_eq "the same layer content is unpacked once (layers by chain id)" "$layers_before" "$(ls "$layers_dir" 2>/dev/null | grep -c .)"

capture berth image ls
expect_match "image ls has Docker's columns" '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE' "$OUT"
expect_match "image ls shows it/plain 1" '^it/plain +1 ' "$OUT"
expect_match "image ls shows it/gz latest (default tag)" '^it/gz +latest ' "$OUT"
expect_match "image ls shows it/stdin" '^it/stdin +latest ' "$OUT"

expect_rc "run from the gzip-imported image" 0 berth container run --rm it/gz echo from-gz
expect_eq "the gzip image runs" from-gz "$OUT"

expect_rc "image tag" 0 berth image tag it/plain:1 it/plain:2
capture berth image ls
expect_match "image ls shows the new tag" '^it/plain +2 ' "$OUT"
id1=$(printf '%s\n' "$OUT" | awk '$1 == "it/plain" && $2 == "1" {print $3}')
id2=$(printf '%s\n' "$OUT" | awk '$1 == "it/plain" && $2 == "2" {print $3}')
expect_eq "both tags name the same image id" "$id1" "$id2"
expect_rc "run by the new tag" 0 berth container run --rm it/plain:2 true
expect_rc "image tag of an unknown image: 125" 125 berth image tag it/nope:1 it/nope:2

capture berth image inspect it/plain:1
expect_eq "image inspect exits 0" 0 "$RC"
j=$OUT
expect_match "image inspect: Id is a sha256 digest" '^sha256:[0-9a-f]{64}$' "$(printf '%s' "$j" | json_get 0.Id)"
expect_match "image inspect: RepoTags has it/plain:1" '"it/plain:1"' "$(printf '%s' "$j" | json_get 0.RepoTags)"
expect_match "image inspect: one layer" '^\["sha256:[0-9a-f]{64}"\]$' "$(printf '%s' "$j" | json_get 0.RootFS.Layers)"
capture berth inspect it/plain:1
expect_eq "berth inspect works on an image too" 0 "$RC"

expect_rc "import with --change" 0 berth image import --change 'CMD ["echo", "changed"]' --change 'ENV GREETING=hi' \
  --change 'WORKDIR /tmp' "$tar_plain" it/changed
capture berth image inspect it/changed
expect_eq "--change CMD is in the config" '["echo", "changed"]' "$(printf '%s' "$OUT" | json_get 0.Config.Cmd)"
expect_rc "the image CMD runs when no command is given" 0 berth container run --rm it/changed
expect_eq "the image CMD printed" changed "$OUT"
capture berth container run --rm it/changed sh -c 'echo "$GREETING $(pwd)"'
expect_eq "image Env and WorkingDir apply" "hi /tmp" "$OUT"

capture berth image import "$TEST_TMP/not-a-tar" it/bad
expect_eq "import of a missing file: 125" 125 "$RC"
echo "this is not a tar" >"$TEST_TMP/garbage"
capture berth image import "$TEST_TMP/garbage" it/bad
expect_eq "import of garbage: 125" 125 "$RC"
expect_one_clear_line "import of garbage: one clear line" "$ERR"
capture berth image ls
expect_no_match "a failed import leaves no image" '^it/bad ' "$OUT"

# rm is refused while a container uses the image.
expect_rc "import it/used" 0 berth image import "$tar_plain" it/used
expect_rc "a kept container of it/used" 0 berth container run --name uses-image it/used true
expect_rc "image rm of a used image is refused: 125" 125 berth image rm it/used
expect_match "the refusal names the container" '(uses-image|[0-9a-f]{12})' "$ERR"
capture berth image ls
expect_match "the used image is still there" '^it/used ' "$OUT"
expect_rc "image rm -f removes it anyway" 0 berth image rm -f it/used
capture berth image ls
expect_no_match "image rm -f removed it" '^it/used ' "$OUT"
expect_rc "the container of a force-removed image can still be removed" 0 berth container rm uses-image

expect_rc "image rm of an unused image" 0 berth image rm it/stdin
capture berth image ls
expect_no_match "image rm removed it/stdin" '^it/stdin ' "$OUT"
expect_rc "image rm of one tag keeps the other" 0 berth image rm it/plain:2
capture berth image ls
expect_match "it/plain:1 is still there" '^it/plain +1 ' "$OUT"
capture berth image rm it/nope
expect_true "image rm of an unknown image fails" test "$RC" != 0

done_testing
