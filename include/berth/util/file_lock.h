#pragma once
// An flock on <dir>/<name>.lock, a file separate from the data it guards (a lock on a file that
// is later replaced by rename would lock a dead inode). O_CLOEXEC: supervisors never inherit it.
#include <fcntl.h>
#include <sys/file.h>

#include <string>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"

namespace berth {

class FileLock {
 public:
  FileLock(const std::string& dir, const std::string& name) {
    fs::mkdir_p(dir, 0700);
    std::string path = dir + "/" + name + ".lock";
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw_errno("open " + path);
    while (::flock(fd_.get(), LOCK_EX) != 0)
      if (errno != EINTR) throw_errno("lock " + path);
  }

 private:
  UniqueFd fd_;
};

}  // namespace berth::engine
