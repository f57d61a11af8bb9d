// Copy-up from the merged image layers into a new volume directory, by fd, never following a
// symlink (the image is untrusted input; the destination is a fresh tree of our own).
#include "berth/volume/copy_up.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <utility>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

namespace berth::volume {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool is_opaque(int dir_fd) {
  char v[4] = {};
  ssize_t n = ::fgetxattr(dir_fd, "trusted.overlay.opaque", v, sizeof v);
  return n == 1 && v[0] == 'y';
}

std::vector<std::string> entries(int dir_fd) {
  std::vector<std::string> names;
  int fd = ::openat(dir_fd, ".", kDirFlags);
  if (fd < 0) throw_errno("copy-up: open directory");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    throw_errno("copy-up: read directory");
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

enum class Kind { Missing, Whiteout, Dir, Other };

Kind kind_at(int dir_fd, const std::string& name, struct stat* st) {
  if (::fstatat(dir_fd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Kind::Missing;
    throw_errno("copy-up: stat " + name);
  }
  if (is_whiteout(*st)) return Kind::Whiteout;
  return S_ISDIR(st->st_mode) ? Kind::Dir : Kind::Other;
}

// The layers (top first) whose directory `name` below `parents` is part of the merged view:
// from the topmost, down to an opaque one, a whiteout or a non-directory.
std::vector<UniqueFd> merged_dirs(const std::vector<int>& parents, size_t from, const std::string& name) {
  std::vector<UniqueFd> out;
  for (size_t i = from; i < parents.size(); ++i) {
    struct stat st {};
    Kind k = kind_at(parents[i], name, &st);
    if (k == Kind::Missing) continue;
    if (k != Kind::Dir) break;
    UniqueFd fd(::openat(parents[i], name.c_str(), kDirFlags));
    if (!fd) throw_errno("copy-up: open " + name);
    bool opaque = is_opaque(fd.get());
    out.push_back(std::move(fd));
    if (opaque) break;
  }
  return out;
}

bool tolerable_xattr_error(int err) {
  return err == ENOTSUP || err == EOPNOTSUPP || (err == EPERM && ::geteuid() != 0);
}

// Copies the xattrs of src to dst (both real fds of regular files or directories).
void copy_xattrs(int src, int dst, const std::string& what) {
  ssize_t len = ::flistxattr(src, nullptr, 0);
  if (len <= 0) return;
  std::string list(static_cast<size_t>(len), '\0');
  len = ::flistxattr(src, list.data(), list.size());
  if (len <= 0) return;
  list.resize(static_cast<size_t>(len));
  for (const auto& key : str::split(list, '\0')) {
    if (key.empty() || key.rfind("trusted.overlay.", 0) == 0) continue;
    ssize_t vlen = ::fgetxattr(src, key.c_str(), nullptr, 0);
    if (vlen < 0) continue;
    std::string value(static_cast<size_t>(vlen), '\0');
    vlen = ::fgetxattr(src, key.c_str(), value.data(), value.size());
    if (vlen < 0) continue;
    if (::fsetxattr(dst, key.c_str(), value.data(), static_cast<size_t>(vlen), 0) != 0 && !tolerable_xattr_error(errno))
      throw_errno("copy-up: set " + key + " on " + what);
  }
}

// Owner, then mode (a chown clears setuid), then xattrs (a chown clears security.capability).
void copy_attributes(int src, int dst, const struct stat& st, const std::string& what) {
  if (::geteuid() == 0 && ::fchown(dst, st.st_uid, st.st_gid) != 0) throw_errno("copy-up: chown " + what);
  if (::fchmod(dst, st.st_mode & 07777) != 0) throw_errno("copy-up: chmod " + what);
  copy_xattrs(src, dst, what);
}

void copy_data(int src, int dst, const struct stat& st, const std::string& what) {
  std::vector<char> buf(1 << 17);
  off_t off = 0;
  while (off < st.st_size) {
    off_t data = ::lseek(src, off, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole is left
      data = off;                 // no SEEK_DATA here: copy everything
    }
    off_t hole = ::lseek(src, data, SEEK_HOLE);
    if (hole < 0) hole = st.st_size;
    for (off = data; off < hole;) {
      size_t want = static_cast<size_t>(std::min<off_t>(hole - off, static_cast<off_t>(buf.size())));
      ssize_t n = ::pread(src, buf.data(), want, off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("copy-up: read " + what);
      if (n == 0) break;  // shrank under us: the layer is immutable, so never in practice
      for (ssize_t w = 0; w < n;) {
        ssize_t m = ::pwrite(dst, buf.data() + w, static_cast<size_t>(n - w), off + w);
        if (m < 0 && errno == EINTR) continue;
        if (m < 0) throw_errno("copy-up: write " + what);
        w += m;
      }
      off += n;
    }
    off = std::max(off, hole);
  }
  if (::ftruncate(dst, st.st_size) != 0) throw_errno("copy-up: size " + what);  // a trailing hole
}

class Copier {
 public:
  // Fills dst_dir from the merged directories srcs (top first). rel: its path below the copy root.
  void copy_dir(const std::vector<UniqueFd>& srcs, int dst_dir, const std::string& rel) {
    std::vector<int> parents;
    for (const auto& s : srcs) parents.push_back(s.get());
    std::set<std::string> decided;
    for (size_t layer = 0; layer < parents.size(); ++layer) {
      for (const auto& name : entries(parents[layer])) {
        if (!decided.insert(name).second) continue;
        struct stat st {};
        Kind k = kind_at(parents[layer], name, &st);
        std::string child_rel = rel.empty() ? name : rel + "/" + name;
        if (k == Kind::Missing || k == Kind::Whiteout) continue;
        if (k == Kind::Dir) {
          auto subs = merged_dirs(parents, layer, name);
          copy_tree(subs, dst_dir, name, child_rel);
        } else {
          copy_entry(parents[layer], name, st, dst_dir, child_rel);
        }
      }
    }
  }

  // Creates dst_parent/name as a copy of the merged directory srcs (top first).
  void copy_tree(const std::vector<UniqueFd>& srcs, int dst_parent, const std::string& name, const std::string& rel) {
    struct stat st {};
    if (::fstat(srcs.front().get(), &st) != 0) throw_errno("copy-up: stat " + rel);
    if (::mkdirat(dst_parent, name.c_str(), 0700) != 0) throw_errno("copy-up: mkdir " + rel);
    UniqueFd dst(::openat(dst_parent, name.c_str(), kDirFlags));
    if (!dst) throw_errno("copy-up: open " + rel);
    copy_dir(srcs, dst.get(), rel);
    copy_attributes(srcs.front().get(), dst.get(), st, rel);
    const timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(dst.get(), times);
  }

 private:
  void copy_entry(int src_dir, const std::string& name, const struct stat& st, int dst_dir, const std::string& rel) {
    const char* n = name.c_str();
    if (st.st_nlink > 1) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (auto it = links_.find(key); it != links_.end()) {
        // Both paths are below our own fresh tree, made of directories we created.
        if (::linkat(root_fd, it->second.c_str(), dst_dir, n, 0) != 0) throw_errno("copy-up: link " + rel);
        return;
      }
      links_[key] = rel;
    }
    const timespec times[2] = {st.st_atim, st.st_mtim};
    if (S_ISREG(st.st_mode)) {
      UniqueFd src(::openat(src_dir, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!src) throw_errno("copy-up: open " + rel);
      struct stat now {};
      if (::fstat(src.get(), &now) != 0 || now.st_ino != st.st_ino) throw Error("copy-up: " + rel + " changed while copying");
      UniqueFd dst(::openat(dst_dir, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!dst) throw_errno("copy-up: create " + rel);
      copy_data(src.get(), dst.get(), st, rel);
      copy_attributes(src.get(), dst.get(), st, rel);
      ::futimens(dst.get(), times);
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t len = ::readlinkat(src_dir, n, target.data(), target.size());
      if (len < 0) throw_errno("copy-up: readlink " + rel);
      target.resize(static_cast<size_t>(len));
      if (::symlinkat(target.c_str(), dst_dir, n) != 0) throw_errno("copy-up: symlink " + rel);
    } else if (S_ISFIFO(st.st_mode) || ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && ::geteuid() == 0)) {
      if (::mknodat(dst_dir, n, st.st_mode & (S_IFMT | 07777), st.st_rdev) != 0) throw_errno("copy-up: mknod " + rel);
      if (::fchmodat(dst_dir, n, st.st_mode & 07777, 0) != 0) throw_errno("copy-up: chmod " + rel);
    } else {
      return;  // sockets (and devices without root) mean nothing in a copy
    }
    if (::geteuid() == 0 && ::fchownat(dst_dir, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      throw_errno("copy-up: chown " + rel);
    if (!S_ISLNK(st.st_mode) && ::geteuid() == 0 && ::fchmodat(dst_dir, n, st.st_mode & 07777, 0) != 0)
      throw_errno("copy-up: chmod " + rel);
    ::utimensat(dst_dir, n, times, AT_SYMLINK_NOFOLLOW);
  }

 public:
  int root_fd = -1;  // the copy's root directory (hardlink sources are relative to it)

 private:
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

bool copy_up(const std::vector<std::string>& layer_dirs_bottom_first, const std::string& path,
             const std::string& new_dir) {
  std::vector<UniqueFd> current;
  for (auto it = layer_dirs_bottom_first.rbegin(); it != layer_dirs_bottom_first.rend(); ++it) {
    UniqueFd fd(::open(it->c_str(), kDirFlags));
    if (!fd) throw_errno("copy-up: open layer " + *it);
    current.push_back(std::move(fd));
  }
  for (const auto& part : str::split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return false;  // targets are cleaned paths: never here
    std::vector<int> parents;
    for (const auto& c : current) parents.push_back(c.get());
    size_t top = 0;  // the topmost layer that has the name decides its type
    struct stat st {};
    Kind k = Kind::Missing;
    for (; top < parents.size(); ++top)
      if ((k = kind_at(parents[top], part, &st)) != Kind::Missing) break;
    if (k != Kind::Dir) return false;
    current = merged_dirs(parents, top, part);
  }
  if (current.empty()) return false;
  UniqueFd parent(::open(fs::dirname(new_dir).c_str(), kDirFlags));
  if (!parent) throw_errno("copy-up: open " + fs::dirname(new_dir));
  const std::string name = fs::basename(new_dir);
  Copier copier;
  // The root's fd is only known once copy_tree made it: open it up front the same way.
  struct stat st {};
  if (::fstat(current.front().get(), &st) != 0) throw_errno("copy-up: stat " + path);
  if (::mkdirat(parent.get(), name.c_str(), 0700) != 0) throw_errno("copy-up: mkdir " + new_dir);
  try {
    UniqueFd root(::openat(parent.get(), name.c_str(), kDirFlags));
    if (!root) throw_errno("copy-up: open " + new_dir);
    copier.root_fd = root.get();
    copier.copy_dir(current, root.get(), "");
    copy_attributes(current.front().get(), root.get(), st, path);
    const timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(root.get(), times);
  } catch (...) {
    fs::remove_tree(new_dir);
    throw;
  }
  return true;
}

}  // namespace berth::volume
