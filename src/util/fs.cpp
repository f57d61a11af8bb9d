#include "berth/util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/id.h"

namespace berth::fs {

std::optional<std::string> read_file_at(int dir_fd, const std::string& path) {
  UniqueFd fd(::openat(dir_fd, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("open " + path);
  }
  // Read straight into the string, sized from fstat (files under /proc say 0: then grow).
  struct stat st {};
  size_t capacity = ::fstat(fd.get(), &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 4096;
  std::string out(capacity, '\0');
  size_t used = 0;
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read " + path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return out;
}

std::optional<std::string> read_file_if_exists(const std::string& path) { return read_file_at(AT_FDCWD, path); }

std::string read_file(const std::string& path) {
  auto s = read_file_if_exists(path);
  if (!s) throw SysError("open " + path, ENOENT);
  return *s;
}

static void write_all(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("write " + path);
    }
    off += static_cast<size_t>(n);
  }
}

void write_file(const std::string& path, const std::string& data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) throw_errno("open " + path);
  write_all(fd.get(), data, path);
}

void write_file_atomic(const std::string& path, const std::string& data, mode_t mode, bool sync) {
  std::string tmp = path + ".tmp-" + random_hex_id().substr(0, 8);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) throw_errno("create " + tmp);
  try {
    write_all(fd.get(), data, tmp);
    if (sync && ::fsync(fd.get()) != 0) throw_errno("fsync " + tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw SysError("rename " + tmp + " to " + path, e);
  }
}

void mkdir_p(const std::string& path, mode_t mode) {
  if (path.empty()) return;
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return;
  if (errno != ENOENT) throw_errno("mkdir " + path);
  mkdir_p(dirname(path), 0755);
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) throw_errno("mkdir " + path);
}

void mkdir_p_spread(const std::string& path, mode_t mode) {
  mkdir_p(path, mode);
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int flags = 0;
  if (!dir || ::ioctl(dir.get(), FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_TOPDIR_FL)) return;
  flags |= FS_TOPDIR_FL;
  ::ioctl(dir.get(), FS_IOC_SETFLAGS, &flags);  // a hint: a refusal changes nothing else
}

static void remove_children(int dirfd, const std::string& shown) {
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    throw_errno("opendir " + shown);
  }
  struct stat parent {};
  ::fstat(dirfd, &parent);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != parent.st_dev) {  // a mount point: never descend into another filesystem
        ::closedir(d);
        throw SysError("remove " + shown + "/" + name + " (still mounted)", EBUSY);
      }
      int child = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) remove_children(child, shown + "/" + name);
      if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
        int err = errno;
        ::closedir(d);
        throw SysError("rmdir " + shown + "/" + name, err);
      }
    } else if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) {
      int err = errno;
      ::closedir(d);
      throw SysError("unlink " + shown + "/" + name, err);
    }
  }
  ::closedir(d);
}

void remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno("stat " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw_errno("open " + path);
    remove_children(fd, path);
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT) throw_errno("rmdir " + path);
  } else if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw_errno("unlink " + path);
  }
}

std::string move_to_trash(const std::string& dir) {
  const std::string trash = dirname(dirname(dir)) + "/trash";
  if (::mkdir(trash.c_str(), 0700) != 0 && errno != EEXIST) {
    remove_tree(dir);
    return "";
  }
  const std::string target = trash + "/" + basename(dir);
  if (::rename(dir.c_str(), target.c_str()) == 0) return target;
  if (errno != ENOENT) remove_tree(dir);
  return "";
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    throw_errno("opendir " + path);
  }
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string dirname(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string basename(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (a.back() == '/') return b.front() == '/' ? a + b.substr(1) : a + b;
  return b.front() == '/' ? a + b : a + "/" + b;
}

}  // namespace berth::fs
