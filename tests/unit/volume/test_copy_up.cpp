// Copy-up from merged layer dirs into a new directory: modes, owners (as root), symlinks,
// hardlinks, FIFOs, sparse files, xattrs, whiteouts and opaque dirs (as root).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/volume/copy_up.h"

using namespace berth;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/berth-unit-copyup.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_tree(path); }
};

struct stat lstat_of(const std::string& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

bool has_user_xattrs(const std::string& dir) {
  std::string probe = dir + "/.xattr-probe";
  fs::write_file(probe, "");
  bool ok = ::setxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
  ::unlink(probe.c_str());
  return ok;
}
}  // namespace

TEST_CASE("copy-up keeps modes, symlinks, hardlinks, FIFOs, sparse files and xattrs") {
  TempDir t;
  const std::string lower = t.path + "/lower", upper = t.path + "/upper";
  fs::mkdir_p(lower + "/data/sub", 0755);
  fs::mkdir_p(upper + "/data", 0755);
  ::chmod((lower + "/data").c_str(), 0750);
  ::chmod((upper + "/data").c_str(), 0750);
  fs::write_file(lower + "/data/a", "lower-a", 0640);
  fs::write_file(upper + "/data/a", "upper-a", 0604);  // the upper layer wins
  fs::write_file(lower + "/data/sub/deep", "deep", 0600);
  ::chmod((lower + "/data/sub").c_str(), 0711);
  fs::write_file(lower + "/data/suid", "#!/bin/sh\n", 0755);
  ::chmod((lower + "/data/suid").c_str(), 04755);
  REQUIRE(::symlink("../etc/passwd", (lower + "/data/link").c_str()) == 0);
  fs::write_file(lower + "/data/hard1", "same inode", 0644);
  REQUIRE(::link((lower + "/data/hard1").c_str(), (lower + "/data/hard2").c_str()) == 0);
  REQUIRE(::mkfifo((lower + "/data/fifo").c_str(), 0620) == 0);
  ::chmod((lower + "/data/fifo").c_str(), 0620);  // past the umask
  {
    int fd = ::open((lower + "/data/sparse").c_str(), O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, "end", 3, 64 << 20) == 3);  // 64 MiB hole, then 3 bytes
    ::close(fd);
  }
  bool xattrs = has_user_xattrs(lower);
  if (xattrs) REQUIRE(::setxattr((lower + "/data/a").c_str(), "user.mark", "v", 1, 0) == 0);
  if (xattrs) REQUIRE(::setxattr((upper + "/data/a").c_str(), "user.mark", "upper", 5, 0) == 0);

  const std::string out = t.path + "/out";
  REQUIRE(volume::copy_up({lower, upper}, "/data", out));
  CHECK((lstat_of(out).st_mode & 07777) == 0750);
  CHECK(fs::read_file(out + "/a") == "upper-a");
  CHECK((lstat_of(out + "/a").st_mode & 07777) == 0604);
  CHECK(fs::read_file(out + "/sub/deep") == "deep");
  CHECK((lstat_of(out + "/sub").st_mode & 07777) == 0711);
  CHECK((lstat_of(out + "/suid").st_mode & 07777) == 04755);
  auto link = lstat_of(out + "/link");
  REQUIRE(S_ISLNK(link.st_mode));
  char target[64] = {};
  REQUIRE(::readlink((out + "/link").c_str(), target, sizeof target - 1) > 0);
  CHECK(std::string(target) == "../etc/passwd");
  CHECK(lstat_of(out + "/hard1").st_ino == lstat_of(out + "/hard2").st_ino);
  CHECK(lstat_of(out + "/hard1").st_ino != lstat_of(lower + "/data/hard1").st_ino);
  auto fifo = lstat_of(out + "/fifo");
  CHECK(S_ISFIFO(fifo.st_mode));
  CHECK((fifo.st_mode & 07777) == 0620);
  auto sparse = lstat_of(out + "/sparse");
  CHECK(sparse.st_size == (64 << 20) + 3);
  CHECK(sparse.st_blocks * 512 < (1 << 20));  // the hole stayed a hole
  if (xattrs) {
    char v[16] = {};
    CHECK(::getxattr((out + "/a").c_str(), "user.mark", v, sizeof v) == 5);
    CHECK(std::string(v) == "upper");
  } else {
    MESSAGE("user xattrs not supported on this filesystem: xattr copy not checked");
  }
  CHECK(lstat_of(out + "/a").st_mtime == lstat_of(upper + "/data/a").st_mtime);
}

TEST_CASE("copy-up: no directory at the path, or a symlink on the way: nothing is created") {
  TempDir t;
  const std::string layer = t.path + "/l";
  fs::mkdir_p(layer + "/real", 0755);
  fs::write_file(layer + "/file", "x");
  REQUIRE(::symlink("/real", (layer + "/via").c_str()) == 0);
  CHECK_FALSE(volume::copy_up({layer}, "/missing", t.path + "/o1"));
  CHECK_FALSE(volume::copy_up({layer}, "/file", t.path + "/o2"));
  CHECK_FALSE(volume::copy_up({layer}, "/via", t.path + "/o3"));
  CHECK_FALSE(fs::exists(t.path + "/o1"));
  CHECK_FALSE(fs::exists(t.path + "/o3"));
  CHECK(volume::copy_up({layer}, "/real", t.path + "/o4"));  // an empty directory still counts
  CHECK(fs::list_dir(t.path + "/o4").empty());
}

TEST_CASE("copy-up as root: owners, whiteouts, opaque dirs, security.capability") {
  if (::geteuid() != 0) {
    MESSAGE("not root: owners, whiteouts and opaque dirs not checked");
    return;
  }
  TempDir t;
  const std::string lower = t.path + "/lower", upper = t.path + "/upper";
  fs::mkdir_p(lower + "/data/old", 0755);
  fs::write_file(lower + "/data/old/x", "x");
  fs::write_file(lower + "/data/gone", "gone");
  fs::write_file(lower + "/data/kept", "kept");
  fs::mkdir_p(upper + "/data/old", 0755);
  fs::write_file(upper + "/data/old/y", "y");
  REQUIRE(::chown((lower + "/data").c_str(), 999, 999) == 0);
  ::chmod((lower + "/data").c_str(), 0750);
  ::chmod((upper + "/data").c_str(), 0750);  // the top layer's directory decides
  REQUIRE(::chown((upper + "/data").c_str(), 999, 999) == 0);
  REQUIRE(::chown((lower + "/data/kept").c_str(), 1234, 5678) == 0);
  REQUIRE(::mknod((upper + "/data/gone").c_str(), S_IFCHR | 0000, makedev(0, 0)) == 0);
  bool opaque = ::setxattr((upper + "/data/old").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0;
  // A file capability (cap_net_bind_service+ep), VFS_CAP_REVISION_2.
  const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  fs::write_file(lower + "/data/capbin", "bin", 0755);
  bool caps = ::setxattr((lower + "/data/capbin").c_str(), "security.capability", cap, sizeof cap, 0) == 0;

  const std::string out = t.path + "/out";
  REQUIRE(volume::copy_up({lower, upper}, "/data", out));
  CHECK(lstat_of(out).st_uid == 999);
  CHECK(lstat_of(out).st_gid == 999);
  CHECK((lstat_of(out).st_mode & 07777) == 0750);
  CHECK(lstat_of(out + "/kept").st_uid == 1234);
  CHECK(lstat_of(out + "/kept").st_gid == 5678);
  CHECK_FALSE(fs::exists(out + "/gone"));
  CHECK(fs::exists(out + "/old/y"));
  if (opaque) CHECK_FALSE(fs::exists(out + "/old/x"));
  if (caps) {
    unsigned char got[20] = {};
    CHECK(::getxattr((out + "/capbin").c_str(), "security.capability", got, sizeof got) == sizeof cap);
    CHECK(got[4] == 0x00);
    CHECK(got[5] == 0x04);
  }
  char v[4];
  CHECK(::getxattr((out + "/old").c_str(), "trusted.overlay.opaque", v, sizeof v) < 0);  // never copied
}
