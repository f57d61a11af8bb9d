#include "../temp_dir.h"
#include "berth/runtime/user.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fstream>

#include "berth/util/error.h"
#include "berth/util/fs.h"

using berth::runtime::read_file_in_layers;
using berth::runtime::resolve_user;
using berth::runtime::ResolvedUser;
using Gids = std::vector<uint32_t>;

namespace {

template <typename F>
void check_error(F&& f, const std::string& message) {
  try {
    f();
    FAIL("no error, expected: " << message);
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()) == message);
    CHECK(e.exit_code() == 125);
    CHECK_FALSE(e.hint().empty());
  }
}

const std::string kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "\n"
    "  app:x:1000:1000:App User:/home/app:/bin/sh  \n"
    "nohome:x:1001:1001:::\n"
    "twin:x:1000:7:second entry for uid 1000:/other:/bin/sh\n";
const std::string kGroup =
    "root:x:0:root\n"
    "wheel:x:10:root,app\n"
    "app:x:1000:\n"
    "audio:x:29:app\n"
    "staff:x:50:\n";

using berth::testing::TempDir;

}  // namespace

TEST_CASE("resolve_user: no user is root") {
  auto r = resolve_user("", kPasswd, kGroup);
  CHECK(r.uid == 0);
  CHECK(r.gid == 0);
  CHECK(r.home == "/root");
  CHECK(r.additional_gids == Gids{0, 10});  // root is listed in root and wheel

  auto bare = resolve_user("", std::nullopt, std::nullopt);
  CHECK(bare.uid == 0);
  CHECK(bare.gid == 0);
  CHECK(bare.home == "/");
  CHECK(bare.additional_gids == Gids{0});
}

TEST_CASE("resolve_user: names and ids") {
  auto app = resolve_user("app", kPasswd, kGroup);
  CHECK(app.uid == 1000);
  CHECK(app.gid == 1000);
  CHECK(app.home == "/home/app");
  CHECK(app.additional_gids == Gids{1000, 10, 29});

  auto by_id = resolve_user("1000", kPasswd, kGroup);  // first entry with that uid wins
  CHECK(by_id.uid == 1000);
  CHECK(by_id.gid == 1000);
  CHECK(by_id.home == "/home/app");
  CHECK(by_id.additional_gids == Gids{1000, 10, 29});

  auto unknown_id = resolve_user("4242", kPasswd, kGroup);  // numeric ids need no entry
  CHECK(unknown_id.uid == 4242);
  CHECK(unknown_id.gid == 0);
  CHECK(unknown_id.home == "/");
  CHECK(unknown_id.additional_gids == Gids{0});

  auto both = resolve_user("4242:4343", std::nullopt, std::nullopt);
  CHECK(both.uid == 4242);
  CHECK(both.gid == 4343);
  CHECK(both.additional_gids == Gids{4343});

  CHECK(resolve_user("nohome", kPasswd, kGroup).home == "/");
  CHECK(resolve_user("app:", kPasswd, kGroup).additional_gids == Gids{1000, 10, 29});
}

TEST_CASE("resolve_user: an explicit group replaces the image's supplementary groups") {
  auto named = resolve_user("app:staff", kPasswd, kGroup);
  CHECK(named.uid == 1000);
  CHECK(named.gid == 50);
  CHECK(named.home == "/home/app");
  CHECK(named.additional_gids == Gids{50});
  CHECK(resolve_user("app:50", kPasswd, kGroup).gid == 50);
  CHECK(resolve_user("app:4242", kPasswd, kGroup).gid == 4242);
  CHECK(resolve_user("1000:audio", kPasswd, kGroup).gid == 29);
  CHECK(resolve_user("4242:wheel", kPasswd, kGroup).gid == 10);
  CHECK(resolve_user(":staff", kPasswd, kGroup).uid == 0);
}

TEST_CASE("resolve_user: --group-add") {
  auto r = resolve_user("app", kPasswd, kGroup, {"audio", "777", "staff", "10"});
  CHECK(r.additional_gids == Gids{1000, 10, 29, 777, 50});
  CHECK(resolve_user("4242:4242", std::nullopt, std::nullopt, {"5"}).additional_gids == Gids{4242, 5});
  check_error([] { resolve_user("app", kPasswd, kGroup, {"nope"}); },
              "Unable to find group nope: no matching entries in group file");
}

TEST_CASE("resolve_user: errors") {
  check_error([] { resolve_user("nobody", kPasswd, kGroup); },
              "unable to find user nobody: no matching entries in passwd file");
  check_error([] { resolve_user("app", std::nullopt, kGroup); },
              "unable to find user app: no matching entries in passwd file");
  check_error([] { resolve_user("app:nogroup", kPasswd, kGroup); },
              "unable to find group nogroup: no matching entries in group file");
  check_error([] { resolve_user("4242:staff", kPasswd, std::nullopt); },
              "unable to find group staff: no matching entries in group file");
  check_error([] { resolve_user("-1", kPasswd, kGroup); }, "uids and gids must be in range 0-2147483647");
  check_error([] { resolve_user("2147483648", kPasswd, kGroup); }, "uids and gids must be in range 0-2147483647");
  check_error([] { resolve_user("app:-5", kPasswd, kGroup); }, "uids and gids must be in range 0-2147483647");
}

TEST_CASE("read_file_in_layers: topmost layer wins") {
  TempDir t;
  auto low = t.layer("l0"), mid = t.layer("l1"), top = t.layer("l2");
  t.write("l0/etc/passwd", "low");
  t.write("l0/etc/group", "low group");
  t.write("l1/etc/passwd", "mid");
  t.dir("l2/etc");
  CHECK(read_file_in_layers({low, mid, top}, "/etc/passwd") == std::optional<std::string>("mid"));
  CHECK(read_file_in_layers({low, mid, top}, "etc/group") == std::optional<std::string>("low group"));
  CHECK(read_file_in_layers({low}, "/etc/passwd") == std::optional<std::string>("low"));
  CHECK(read_file_in_layers({low, mid, top}, "/etc/shadow") == std::nullopt);
  CHECK(read_file_in_layers({low, mid, top}, "/etc") == std::nullopt);           // a directory
  CHECK(read_file_in_layers({low, mid, top}, "/etc/passwd/x") == std::nullopt);  // not a directory
  CHECK(read_file_in_layers({low, mid, top}, "/./etc//passwd") == std::optional<std::string>("mid"));
  CHECK(read_file_in_layers({}, "/etc/passwd") == std::nullopt);
}

TEST_CASE("read_file_in_layers: whiteouts and opaque directories") {
  TempDir t;
  auto low = t.layer("l0"), top = t.layer("l1");
  t.write("l0/etc/passwd", "low");
  t.write("l0/etc/group", "low group");
  t.write("l0/usr/lib/os-release", "low os");

  SUBCASE(".wh. file hides the lower file") {
    t.write("l1/etc/.wh.passwd", "");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
    CHECK(read_file_in_layers({low, top}, "/etc/group") == std::optional<std::string>("low group"));
    CHECK(read_file_in_layers({low, top}, "/etc/.wh.passwd") == std::nullopt);
  }
  SUBCASE(".wh. next to a new file in the same layer: the new file is seen") {
    t.write("l1/etc/.wh.passwd", "");
    t.write("l1/etc/passwd", "recreated");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::optional<std::string>("recreated"));
  }
  SUBCASE(".wh. of a directory hides the whole lower tree") {
    t.write("l1/.wh.etc", "");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
  }
  SUBCASE("a re-created directory over its own whiteout is opaque") {
    t.write("l1/.wh.etc", "");
    t.write("l1/etc/group", "new group");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
    CHECK(read_file_in_layers({low, top}, "/etc/group") == std::optional<std::string>("new group"));
  }
  SUBCASE(".wh..wh..opq makes a directory opaque") {
    t.write("l1/etc/.wh..wh..opq", "");
    t.write("l1/etc/group", "top group");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
    CHECK(read_file_in_layers({low, top}, "/etc/group") == std::optional<std::string>("top group"));
    CHECK(read_file_in_layers({low, top}, "/usr/lib/os-release") == std::optional<std::string>("low os"));
  }
  SUBCASE("a file above replaces a directory below") {
    t.write("l1/etc", "not a dir");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
  }
  SUBCASE("a directory above hides a file below") {
    TempDir u;
    auto a = u.layer("a"), b = u.layer("b");
    u.write("a/etc/passwd", "file");
    u.write("b/etc/passwd/inner", "inner");
    CHECK(read_file_in_layers({a, b}, "/etc/passwd") == std::nullopt);
    CHECK(read_file_in_layers({a, b}, "/etc/passwd/inner") == std::optional<std::string>("inner"));
  }
  SUBCASE("a 0:0 character device is a whiteout (needs CAP_MKNOD)") {
    t.dir("l1/etc");
    if (mknod((top + "/etc/passwd").c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      MESSAGE("mknod not permitted here; char-device whiteout not tested");
    } else {
      CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
      CHECK(read_file_in_layers({low, top}, "/etc/group") == std::optional<std::string>("low group"));
    }
  }
  SUBCASE("overlay.opaque xattr makes a directory opaque") {
    t.write("l1/etc/group", "top group");
    std::string etc = top + "/etc";
    bool set = setxattr(etc.c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0 ||
               setxattr(etc.c_str(), "user.overlay.opaque", "y", 1, 0) == 0;
    if (!set) {
      MESSAGE("cannot set overlay.opaque xattrs here; xattr opaque not tested");
    } else {
      CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
      CHECK(read_file_in_layers({low, top}, "/etc/group") == std::optional<std::string>("top group"));
    }
  }
}

TEST_CASE("read_file_in_layers: symlinks stay inside the rootfs") {
  TempDir t;
  auto low = t.layer("l0"), top = t.layer("l1");
  // A host file the container must never see.
  TempDir host;
  auto secret = host.write("secret", "HOST SECRET");

  SUBCASE("absolute escape through /../../..") {
    t.link("l1/etc/passwd", "/../../../../etc/shadow");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
  }
  SUBCASE("relative escape to a real host file") {
    t.link("l1/etc/passwd", "../../../../../../../../.." + secret);
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
    t.link("l1/etc/group", secret);  // absolute host path: looked up inside the rootfs
    CHECK(read_file_in_layers({low, top}, "/etc/group") == std::nullopt);
  }
  SUBCASE("the clamped path inside the rootfs is what is read") {
    t.link("l1/etc/passwd", "../../../../../etc/real-passwd");
    t.write("l0/etc/real-passwd", "inside");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::optional<std::string>("inside"));
  }
  SUBCASE("escape through a directory symlink") {
    t.link("l1/etc", "../../../../../..");
    CHECK(read_file_in_layers({low, top}, "/etc" + secret) == std::nullopt);
    CHECK(read_file_in_layers({low, top}, "/etc/../../.." + secret) == std::nullopt);
  }
  SUBCASE("symlinks resolve across layers") {
    t.link("l1/etc/passwd", "/usr/lib/passwd");
    t.write("l0/usr/lib/passwd", "from usr");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::optional<std::string>("from usr"));
    t.link("l1/etc/group", "../usr/lib/passwd");
    CHECK(read_file_in_layers({low, top}, "/etc/group") == std::optional<std::string>("from usr"));
  }
  SUBCASE("directory symlinks resolve in the merged view") {
    t.link("l1/etc", "private/etc");
    t.write("l0/private/etc/passwd", "private");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::optional<std::string>("private"));
  }
  SUBCASE("a symlink loop is an error") {
    t.link("l1/etc/passwd", "/etc/group");
    t.link("l1/etc/group", "passwd");
    check_error([&] { read_file_in_layers({low, top}, "/etc/passwd"); },
                "too many levels of symbolic links in /etc/passwd");
  }
  SUBCASE("a dangling symlink is a missing file") {
    t.link("l1/etc/passwd", "nowhere");
    CHECK(read_file_in_layers({low, top}, "/etc/passwd") == std::nullopt);
  }
}

TEST_CASE("read_file_in_layers + resolve_user together") {
  TempDir t;
  auto base = t.layer("base"), app = t.layer("app");
  t.write("base/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  t.write("base/etc/group", "root:x:0:root\n");
  t.write("app/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nsvc:x:900:901::/srv:/bin/false\n");
  auto passwd = read_file_in_layers({base, app}, "/etc/passwd");
  auto group = read_file_in_layers({base, app}, "/etc/group");
  auto r = resolve_user("svc", passwd, group);
  CHECK(r.uid == 900);
  CHECK(r.gid == 901);
  CHECK(r.home == "/srv");
  CHECK(r.additional_gids == Gids{901});
}
