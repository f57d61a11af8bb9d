#!/bin/bash
# Volumes and mounts: named volumes outlive containers, copy-up keeps owners and modes,
# volume-nocopy, a non-root user writes its copied-up volume, prune and rm -v take only what they
# should, --mount bind refuses a missing source, volume rm refuses a volume in use.
. "$(dirname "$0")/lib.sh"

vols="$BERTH_ROOT/volumes"

# A test image with /data owned by 999:999, mode 0750, holding a file (and a nested dir).
tar_plain="$TEST_TMP/rootfs.tar"
if gzip -t "$TEST_ROOTFS_TAR" 2>/dev/null; then gzip -dc "$TEST_ROOTFS_TAR" >"$tar_plain"; else cp "$TEST_ROOTFS_TAR" "$tar_plain"; fi
"$PYTHON" - "$tar_plain" "$TEST_TMP/data-image.tar" <<'PY'
import io, sys, tarfile
src, dst = sys.argv[1:3]
with tarfile.open(src) as i, tarfile.open(dst, "w") as o:
    for m in i.getmembers():
        o.addfile(m, i.extractfile(m) if m.isreg() else None)
    def add(name, kind, mode, data=b""):
        t = tarfile.TarInfo(name)
        t.type, t.mode, t.uid, t.gid = kind, mode, 999, 999
        t.size = len(data) if kind == tarfile.REGTYPE else 0
        o.addfile(t, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    add("data", tarfile.DIRTYPE, 0o750)
    add("data/seed.txt", tarfile.REGTYPE, 0o640, b"seeded by the image\n")
    add("data/conf", tarfile.DIRTYPE, 0o700)
    add("data/conf/app.cnf", tarfile.REGTYPE, 0o600, b"[app]\n")
PY
expect_rc "import the /data test image" 0 berth image import "$TEST_TMP/data-image.tar" it/data:1
DIMG=it/data:1

# ---- berth volume create / ls / inspect ----
expect_rc "volume create" 0 berth volume create --label tier=db v-one
expect_eq "volume create prints the name" v-one "$OUT"
expect_rc "volume create of an existing name is fine (Docker)" 0 berth volume create v-one
capture berth volume ls
expect_match "volume ls has Docker's columns" '^DRIVER +VOLUME NAME$' "$OUT"
expect_match "volume ls lists v-one" '^local +v-one$' "$OUT"
capture berth volume inspect v-one
expect_eq "volume inspect: Mountpoint is <root>/volumes/NAME/_data" "$vols/v-one/_data" "$(printf '%s' "$OUT" | json_get 0.Mountpoint)"
expect_eq "volume inspect: label kept" db "$(printf '%s' "$OUT" | json_get 0.Labels.tier)"
expect_eq "<root>/volumes is 0700" 700 "$(stat -c %a "$vols")"
expect_rc "volume create with a bad name: 125" 125 berth volume create 'a/b'
expect_rc "volume inspect of a missing volume: exit 1" 1 berth volume inspect nope

# ---- data survives container rm ----
expect_rc "write and fsync into a named volume" 0 berth container run --network none --name writer -v v-one:/data "$IMAGE" \
  sh -c 'echo persisted >/data/file && sync'
expect_rc "remove the writer" 0 berth container rm writer
expect_rc "a new container reads the volume" 0 berth container run --network none --rm -v v-one:/data "$IMAGE" cat /data/file
expect_eq "the data survived container rm" persisted "$OUT"
expect_eq "the data is in _data on the host" persisted "$(cat "$vols/v-one/_data/file")"
capture berth container run --network none --rm --mount type=volume,source=v-one,target=/d,readonly "$IMAGE" sh -c 'echo x >/d/other'
expect_eq "--mount readonly volume refuses writes" 1 "$RC"

# ---- copy-up ----
expect_rc "run with an empty named volume over /data" 0 berth container run --network none --rm -v cu:/data "$DIMG" \
  sh -c 'stat -c "%u:%g %a" /data; cat /data/seed.txt; stat -c "%u:%g %a" /data/conf/app.cnf'
expect_eq "copy-up keeps the owner, mode and content" "999:999 750
seeded by the image
999:999 600" "$OUT"
expect_eq "copy-up: the host _data is 999:999 0750" "999:999 750" "$(stat -c '%u:%g %a' "$vols/cu/_data")"
expect_rc "non-root (-u 999:999) writes into its copied-up volume" 0 berth container run --network none --rm -u 999:999 \
  -v cu:/data "$DIMG" sh -c 'echo mine >/data/new && cat /data/new && id -u'
expect_eq "the non-root write worked" "mine
999" "$OUT"
expect_rc "empty the volume from a container" 0 berth container run --network none --rm -v cu:/data "$DIMG" sh -c 'rm -rf /data/* /data/.[!.]*; ls -A /data | wc -l'
capture berth container run --network none --rm -v cu:/data "$DIMG" ls -A /data
expect_eq "an emptied, initialised volume is not refilled" "" "$OUT"

expect_rc "-v NAME:/data:nocopy" 0 berth container run --network none --rm -v nc1:/data:nocopy "$DIMG" ls -A /data
expect_eq "nocopy: the volume stays empty" "" "$OUT"
expect_rc "--mount volume-nocopy" 0 berth container run --network none --rm --mount type=volume,src=nc2,dst=/data,volume-nocopy "$DIMG" ls -A /data
expect_eq "volume-nocopy: the volume stays empty" "" "$OUT"
expect_eq "volume-nocopy: _data on the host is empty" "" "$(ls -A "$vols/nc2/_data")"

# ---- anonymous volumes, rm -v, --rm ----
expect_rc "container with an anonymous and a named volume" 0 berth container run --network none --name anon1 -v /anon -v keepme:/named "$IMAGE" \
  sh -c 'echo a >/anon/f; echo n >/named/f'
anon1=$(berth inspect anon1 | json_get 0.Mounts.0.Name)
expect_match "the anonymous volume has a 64-hex name" '^[0-9a-f]{64}$' "$anon1"
expect_rc "container with an anonymous volume, removed without -v" 0 berth container run --network none --name anon2 -v /anon "$IMAGE" true
anon2=$(berth inspect anon2 | json_get 0.Mounts.0.Name)
expect_rc "container rm -v" 0 berth container rm -v anon1
expect_true "rm -v removed the anonymous volume" test ! -e "$vols/$anon1"
capture berth volume ls -q
expect_match "rm -v kept the named volume" '^keepme$' "$OUT"
expect_rc "container rm without -v" 0 berth container rm anon2
capture berth volume ls -q --filter dangling=true
expect_match "without -v the anonymous volume stays, dangling" "^$anon2\$" "$OUT"
before=$(ls "$BERTH_ROOT/volumes" | grep -c .)
expect_rc "run --rm with an anonymous volume" 0 berth container run --network none --rm -v /scratch "$IMAGE" true
# Counted on disk, not with `volume ls` (which would sweep leftovers itself): the supervisor's --rm did it.
expect_eq "--rm takes its anonymous volume along at once" "$before" "$(ls "$BERTH_ROOT/volumes" | grep -c .)"

# ---- image VOLUME declarations ----
expect_rc "import the /data image with VOLUME /data" 0 berth image import --change 'VOLUME /data' "$TEST_TMP/data-image.tar" it/data:vol
expect_rc "run an image that declares VOLUME /data" 0 berth container run --network none --name iv it/data:vol cat /data/seed.txt
expect_eq "the image VOLUME got an anonymous volume, copied up" "seeded by the image" "$OUT"
ivname=$(berth inspect iv | json_get 0.Mounts.0.Name)
expect_match "the image VOLUME is a 64-hex anonymous volume" '^[0-9a-f]{64}$' "$ivname"
expect_eq "its owner and mode came from the image" "999:999 750" "$(stat -c '%u:%g %a' "$vols/$ivname/_data")"
expect_rc "container rm -v of the VOLUME image's container" 0 berth container rm -v iv
expect_true "its anonymous volume is gone" test ! -e "$vols/$ivname"
before=$(berth volume ls -q | grep -c .)
expect_rc "a named volume over the image VOLUME path" 0 berth container run --network none --rm -v ivnamed:/data it/data:vol true
expect_eq "no anonymous volume besides the named one" "$((before + 1))" "$(berth volume ls -q | grep -c .)"

# ---- volume rm of a volume in use, prune ----
expect_rc "a stopped container keeps a volume in use" 0 berth container run --network none --name holder -v held:/data "$IMAGE" true
expect_rc "volume rm of a volume in use: exit 1" 1 berth volume rm held
expect_match "the error names the container" 'volume is in use - \[holder\]' "$ERR"
expect_rc "volume rm -f of a volume in use still refuses" 1 berth volume rm -f held
expect_match "rm -f: the error names the container" 'volume is in use - \[holder\]' "$ERR"
expect_true "the volume in use is still there" test -d "$vols/held/_data"

capture berth volume prune -f
expect_match "prune (default) removes the unused anonymous volume" "^$anon2\$" "$OUT"
expect_no_match "prune (default) keeps unused named volumes" '^(keepme|v-one)$' "$OUT"
expect_match "prune reports reclaimed space" '^Total reclaimed space: ' "$OUT"
capture berth volume prune -a -f
expect_match "prune -a removes unused named volumes" '^keepme$' "$OUT"
expect_no_match "prune -a keeps the volume in use" '^held$' "$OUT"
expect_true "held survived prune -a" test -d "$vols/held/_data"
expect_rc "remove the holder" 0 berth container rm holder
expect_rc "volume rm once unused" 0 berth volume rm held
expect_rc "volume rm of a missing volume: exit 1" 1 berth volume rm held
expect_rc "volume rm -f of a missing volume: fine" 0 berth volume rm -f held

# ---- binds ----
missing="$TEST_TMP/no-such-dir"
expect_rc "--mount bind of a missing source: 125" 125 berth container run --network none --rm --mount "type=bind,source=$missing,target=/x" "$IMAGE" true
expect_eq "the error is Docker's" "berth: invalid mount config for type \"bind\": bind source path does not exist: $missing" "$(printf '%s\n' "$ERR" | head -1)"
expect_one_clear_line "one clear line" "$ERR"
expect_true "nothing was created" test ! -e "$missing"
capture berth container ls -aq
expect_eq "no container record was left" "" "$OUT"
expect_rc "-v of a missing host dir creates it" 0 berth container run --network none --rm -v "$missing:/x" "$IMAGE" sh -c 'echo via-bind >/x/f'
expect_eq "the short -v bind worked" via-bind "$(cat "$missing/f" 2>/dev/null)"
expect_rc "--mount bind of an existing dir, read-only (the write fails: exit 1)" 1 berth container run --network none --rm --mount "type=bind,src=$missing,dst=/x,ro" "$IMAGE" sh -c 'cat /x/f; echo no >/x/g'
expect_match "read-only bind: readable" '^via-bind$' "$OUT"
expect_true "read-only bind: not writable" test ! -e "$missing/g"
expect_rc "--mount tmpfs with size and mode" 0 berth container run --network none --rm --mount type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770 "$IMAGE" \
  sh -c 'stat -c %a /t; grep " /t " /proc/mounts'
expect_match "tmpfs mode" '^1770$' "$OUT"
expect_match "tmpfs size" 'size=1024k' "$OUT"
expect_rc "--mount with a bad key: 125" 125 berth container run --network none --rm --mount type=volume,dst=/x,colour=red "$IMAGE" true
expect_match "bad key message" "unexpected key 'colour' in 'colour=red'" "$ERR"

expect_no_match "no volume mount is left on the host" "$vols" "$(cat /proc/self/mountinfo)"
mkdir -p "$TEST_TMP/prop"
# ---- :z / :Z without SELinux ----
expect_rc "-v with :z runs" 0 berth container run --network none --rm -v "$TEST_TMP/prop:/p:z" "$IMAGE" true
expect_match "a warning says :z is ignored" ':z ignored' "$ERR"

# ---- bind propagation ----
expect_rc "--mount bind-propagation=rshared" 0 berth container run --network none --rm \
  --mount type=bind,source="$TEST_TMP/prop",target=/prop,bind-propagation=rshared "$IMAGE" grep ' /prop ' /proc/self/mountinfo
expect_match "the bind is a shared mount in the container" 'shared:[0-9]+' "$OUT"
expect_rc "default propagation stays private" 0 berth container run --network none --rm \
  --mount type=bind,source="$TEST_TMP/prop",target=/prop "$IMAGE" grep ' /prop ' /proc/self/mountinfo
expect_no_match "no shared: tag by default" 'shared:' "$OUT"

done_testing
