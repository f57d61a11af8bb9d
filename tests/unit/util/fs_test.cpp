// fs helpers that touch the real filesystem (a temp dir under /tmp).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "berth/util/fd.h"
#include "berth/util/fs.h"

using namespace berth;

TEST_CASE("mkdir_p_spread makes the directory and marks it a top directory where the filesystem can") {
  char tmpl[] = "/tmp/berth-fs-test.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string base = tmpl;
  const std::string dir = base + "/a/containers";
  fs::mkdir_p_spread(dir, 0700);
  fs::mkdir_p_spread(dir, 0700);  // again: already there and marked
  CHECK(fs::exists(dir));
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  int flags = 0;
  if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) == 0) {
    // ext4 (this project's CI machine): the flag is set; a filesystem without inode flags
    // (tmpfs) answers ENOTTY and the directory is still made.
    CHECK((flags & FS_TOPDIR_FL) != 0);
  }
  fs::remove_tree(base);
}
