// --mount parsing and validation: Docker's syntax and error words.
#include <doctest/doctest.h>

#include <string>

#include "berth/util/error.h"
#include "berth/volume/mounts.h"

using berth::volume::MountRequest;
using berth::volume::parse_mount_flag;
using berth::volume::validate_mounts;

namespace {
std::string error_of(const std::string& spec) {
  try {
    parse_mount_flag(spec);
  } catch (const berth::Error& e) {
    CHECK(e.exit_code() == 125);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("--mount: a named volume with aliases and flags") {
  auto r = parse_mount_flag("type=volume,src=data,dst=/var/lib/data/,ro,volume-nocopy");
  CHECK(r.type == "volume");
  CHECK(r.source == "data");
  CHECK(r.target == "/var/lib/data");
  CHECK(r.readonly);
  CHECK(r.nocopy);
  auto d = parse_mount_flag("target=/x");  // type defaults to volume, no source: anonymous
  CHECK(d.type == "volume");
  CHECK(d.source.empty());
  CHECK(parse_mount_flag("destination=/x,readonly=false").readonly == false);
  CHECK(parse_mount_flag("Type=VOLUME,Target=/x,RO=1").readonly);
}

TEST_CASE("--mount: bind with propagation, default rprivate") {
  auto r = parse_mount_flag("type=bind,source=/srv//a/../b,target=/b,bind-propagation=rshared");
  CHECK(r.type == "bind");
  CHECK(r.source == "/srv/b");
  CHECK(r.propagation == "rshared");
  CHECK_FALSE(r.create_host_dir);
  CHECK(parse_mount_flag("type=bind,source=/srv,target=/b").propagation == "rprivate");
}

TEST_CASE("--mount: tmpfs size and mode") {
  auto r = parse_mount_flag("type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1777");
  CHECK(r.type == "tmpfs");
  CHECK(r.tmpfs_size == 64 * 1024 * 1024);
  CHECK(r.tmpfs_mode == 01777);
  CHECK(parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=1.5k").tmpfs_size == 1536);
}

TEST_CASE("--mount: errors in Docker's words") {
  CHECK(error_of("type=bind,source=/x") == "invalid argument \"type=bind,source=/x\" for \"--mount\" flag: target is required");
  CHECK(error_of("type=volume,target=/x,bogus") ==
        "invalid argument \"type=volume,target=/x,bogus\" for \"--mount\" flag: invalid field 'bogus' must be a key=value pair");
  CHECK(error_of("type=volume,target=/x,foo=bar").find("unexpected key 'foo' in 'foo=bar'") != std::string::npos);
  CHECK(error_of("type=volume,target=/x,ro=maybe").find("invalid value for ro: maybe") != std::string::npos);
  CHECK(error_of("type=tmpfs,target=/x,tmpfs-size=lots").find("invalid value for tmpfs-size: lots") != std::string::npos);
  CHECK(error_of("type=tmpfs,target=/x,tmpfs-mode=999").find("invalid value for tmpfs-mode: 999") != std::string::npos);
  CHECK(error_of("type=bind,source=/a,target=/x,volume-nocopy").find("cannot mix 'volume-*' options with mount type 'bind'") != std::string::npos);
  CHECK(error_of("type=volume,target=/x,bind-propagation=shared").find("cannot mix 'bind-*' options with mount type 'volume'") != std::string::npos);
  CHECK(error_of("type=bind,target=/x,tmpfs-size=1m").find("cannot mix 'tmpfs-*' options with mount type 'bind'") != std::string::npos);
  CHECK(error_of("type=nfs,target=/x") == "invalid mount config for type \"nfs\": mount type unknown");
  CHECK(error_of("type=bind,target=/x") == "invalid mount config for type \"bind\": field Source must not be empty");
  CHECK(error_of("type=bind,source=rel,target=/x") ==
        "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute");
  CHECK(error_of("type=volume,source=v1,target=rel") ==
        "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute");
  CHECK(error_of("type=tmpfs,source=x,target=/x") == "invalid mount config for type \"tmpfs\": field Source must not be specified");
  CHECK(error_of("type=bind,source=/a,target=/x,bind-propagation=weird") ==
        "invalid mount config for type \"bind\": invalid propagation mode: weird");
  CHECK(error_of("type=volume,source=bad/name,target=/x").find("includes invalid characters for a local volume name") != std::string::npos);
  CHECK(error_of("type=volume,source=v1,target=/") ==
        "invalid mount config for type \"volume\": invalid specification: destination can't be '/'");
}

TEST_CASE("validate_mounts: missing --mount bind source, duplicates; -v binds may be created") {
  auto missing = parse_mount_flag("type=bind,source=/nonexistent/berth-unit,target=/x");
  try {
    validate_mounts({missing});
    FAIL("expected an error");
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()) ==
          "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent/berth-unit");
    CHECK(e.exit_code() == 125);
  }
  missing.create_host_dir = true;
  CHECK_NOTHROW(validate_mounts({missing}));
  auto a = parse_mount_flag("type=volume,source=one,target=/d");
  auto b = parse_mount_flag("type=tmpfs,target=/d");
  CHECK_THROWS_WITH_AS(validate_mounts({a, b}), "Duplicate mount point: /d", berth::Error);
}
