// `container cp` (copy.h, docs/copy.md). Two processes take part:
//   parent  the CLI in the host: stats and reads or writes host paths, relays stdin/stdout;
//   child   forked by the parent, non-dumpable, holding only two sockets (data: a tar stream;
//           control: JSON messages). It enters the container's mount namespace (running) or
//           mounts the container's rootfs in a private one (stopped), chroots there and only then
//           resolves a container path. It loads no library, calls no NSS function and formats no
//           errno (strerror could read message catalogs from the container): the parent does.
// The tar codec and the tree walk below are our own and serve both sides: every entry is reached
// by fd with O_NOFOLLOW from a directory fd opened with RESOLVE_IN_ROOT (container) or by the
// user's path (host), and names from a stream are checked for "..", so neither a symlink in the
// container nor a crafted stream can lead outside the destination.
#include "berth/engine/copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "berth/engine/engine.h"
#include "berth/runtime/launch_plan.h"
#include "berth/runtime/launcher.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"
#include "berth/util/strings.h"

namespace berth::engine {

namespace {

constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
constexpr size_t kBlock = 512;

// A failure inside the copy; err is formatted by the parent ("<message>: <strerror>").
struct Failure {
  std::string message;
  int err = 0;
};
[[noreturn]] void fail(std::string message, int err = 0) { throw Failure{std::move(message), err}; }

std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}
std::string failure_text(const Failure& f) {
  return f.err ? f.message + ": " + errno_text(f.err) : f.message;
}

int sys_openat2(int dirfd, const std::string& path, int flags, uint64_t resolve, mode_t mode = 0) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
}

// Where paths are resolved: the container's root (kInRoot) or the host's usual resolution.
struct Root {
  int fd = AT_FDCWD;
  uint64_t resolve = 0;
  bool in_container = false;
  // Container paths are relative to its root; the host's as the user gave them.
  std::string rel(const std::string& path) const {
    if (!in_container) return path.empty() ? "." : path;
    size_t i = path.find_first_not_of('/');
    return i == std::string::npos ? "." : path.substr(i);
  }
  int open(const std::string& path, int flags) const { return sys_openat2(fd, rel(path), flags, resolve); }
};

bool ends_with_separator(const std::string& p) { return p.ends_with("/") || p.ends_with("/.") || p == "."; }

// "a/b/" -> "a/b", "a/." -> "a", "/" stays "/".
std::string trim_trailing(std::string p) {
  for (;;) {
    if (p.size() > 1 && p.ends_with("/")) p.pop_back();
    else if (p.size() > 2 && p.ends_with("/.")) p.resize(p.size() - 2);
    else break;
  }
  return p;
}

// ---- raw I/O ----

size_t read_some_full(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail("read", errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

void write_full(int fd, const char* data, size_t n) {
  if (!write_all(fd, std::string_view(data, n))) fail("write", errno);
}

// Copies fd `from` to fd `to` until EOF; returns the byte count (a `-` stream on stdin/stdout).
uint64_t relay(int from, int to) {
  std::vector<char> buf(1 << 16);
  uint64_t total = 0;
  for (;;) {
    size_t n = read_some_full(from, buf.data(), buf.size());
    if (n == 0) return total;
    write_full(to, buf.data(), n);
    total += n;
  }
}

// ---- tar (ustar, with pax records for long names and big numbers) ----

void put_octal(char* field, size_t width, uint64_t value) {
  // width-1 digits and a NUL, as most tars write them.
  std::string digits(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && value;) {
    digits[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = 0;
}

bool fits_octal(uint64_t value, size_t width) { return width - 1 >= 22 || value < (1ULL << (3 * (width - 1))); }

std::string pax_record(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) len = std::to_string(len).size() + body.size();
  return std::to_string(len) + body;
}

class TarWriter {
 public:
  explicit TarWriter(int fd) : fd_(fd) {}

  void entry(const std::string& name, char type, const struct stat& st, const std::string& link, uint64_t size) {
    std::string pax;
    if (name.size() > 100) pax += pax_record("path", name);
    if (link.size() > 100) pax += pax_record("linkpath", link);
    if (!fits_octal(size, 12)) pax += pax_record("size", std::to_string(size));
    if (!fits_octal(st.st_uid, 8)) pax += pax_record("uid", std::to_string(st.st_uid));
    if (!fits_octal(st.st_gid, 8)) pax += pax_record("gid", std::to_string(st.st_gid));
    if (!pax.empty()) {
      struct stat none {};
      header("././@PaxHeader", 'x', none, "", pax.size());
      emit(pax.data(), pax.size());
      pad(pax.size());
    }
    header(name, type, st, link, size);
  }

  // Exactly size bytes of fd (zeros when it shrank meanwhile), then the block padding.
  void data(int fd, uint64_t size) {
    std::vector<char> buf(1 << 16);
    uint64_t left = size;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      size_t got = fd >= 0 ? read_some_full(fd, buf.data(), want) : 0;
      if (got < want) {
        std::memset(buf.data() + got, 0, want - got);
        fd = -1;
      }
      emit(buf.data(), want);
      left -= want;
    }
    pad(size);
  }

  void finish() {
    char zeros[2 * kBlock] = {};
    emit(zeros, sizeof zeros);
  }
  uint64_t written() const { return written_; }

 private:
  void header(const std::string& name, char type, const struct stat& st, const std::string& link, uint64_t size) {
    char h[kBlock] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    put_octal(h + 100, 8, st.st_mode & 07777);
    put_octal(h + 108, 8, fits_octal(st.st_uid, 8) ? st.st_uid : 0);
    put_octal(h + 116, 8, fits_octal(st.st_gid, 8) ? st.st_gid : 0);
    put_octal(h + 124, 12, fits_octal(size, 12) ? size : 0);
    put_octal(h + 136, 12, st.st_mtim.tv_sec > 0 ? static_cast<uint64_t>(st.st_mtim.tv_sec) : 0);
    h[156] = type;
    std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
    std::memcpy(h + 257, "ustar\0" "00", 8);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    put_octal(h + 148, 7, sum);
    h[155] = ' ';
    emit(h, kBlock);
  }
  void pad(uint64_t size) {
    char zeros[kBlock] = {};
    size_t rest = static_cast<size_t>(size % kBlock);
    if (rest) emit(zeros, kBlock - rest);
  }
  void emit(const char* p, size_t n) {
    write_full(fd_, p, n);
    written_ += n;
  }
  int fd_;
  uint64_t written_ = 0;
};

struct TarEntry {
  std::string name, link;
  char type = '0';
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime = 0;
  uint64_t size = 0;
};

uint64_t parse_number(const char* field, size_t width) {
  const auto* u = reinterpret_cast<const unsigned char*>(field);
  if (u[0] & 0x80) {  // base-256 (GNU) for values that do not fit in octal
    uint64_t v = u[0] & 0x7f;
    for (size_t i = 1; i < width; ++i) v = (v << 8) | u[i];
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < width && (field[i] == ' ' || field[i] == 0)) ++i;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) v = (v << 3) | static_cast<uint64_t>(field[i] - '0');
  return v;
}

std::string field_text(const char* field, size_t width) { return std::string(field, strnlen(field, width)); }

class TarReader {
 public:
  explicit TarReader(int fd) : fd_(fd) {}

  // The next entry (its data then readable with read_data), or false at the end of the archive.
  bool next(TarEntry& e) {
    skip_data();
    std::optional<std::string> long_name, long_link, pax_size, pax_uid, pax_gid, pax_mtime;
    for (;;) {
      char h[kBlock];
      size_t got = read_some_full(fd_, h, kBlock);
      read_ += got;
      if (got == 0) return false;  // EOF without the end marker: accepted (GNU tar does too)
      if (got < kBlock) fail("unexpected end of the tar stream");
      if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) return false;
      // Unsigned bytes as POSIX says, signed as some old tars wrote them.
      uint64_t sum = 0;
      int64_t signed_sum = 0;
      for (size_t i = 0; i < kBlock; ++i) {
        bool in_field = i >= 148 && i < 156;
        sum += in_field ? ' ' : static_cast<unsigned char>(h[i]);
        signed_sum += in_field ? ' ' : static_cast<signed char>(h[i]);
      }
      uint64_t want = parse_number(h + 148, 8);
      if (sum != want && static_cast<uint64_t>(signed_sum) != want) fail("invalid tar header (checksum mismatch)");
      e = TarEntry{};
      e.type = h[156] ? h[156] : '0';
      e.size = parse_number(h + 124, 12);
      if (e.type == 'x' || e.type == 'g' || e.type == 'L' || e.type == 'K') {
        if (e.size > (16u << 20)) fail("tar extension header too large");
        std::string body(static_cast<size_t>(e.size), '\0');
        remaining_ = e.size;
        padding_ = (kBlock - e.size % kBlock) % kBlock;
        if (read_data(body.data(), body.size()) != body.size()) fail("unexpected end of the tar stream");
        skip_data();
        if (e.type == 'L') long_name = body.c_str();
        else if (e.type == 'K') long_link = body.c_str();
        else if (e.type == 'x') parse_pax(body, long_name, long_link, pax_size, pax_uid, pax_gid, pax_mtime);
        continue;
      }
      e.name = field_text(h, 100);
      std::string prefix = field_text(h + 345, 155);
      if (std::memcmp(h + 257, "ustar", 5) == 0 && !prefix.empty()) e.name = prefix + "/" + e.name;
      e.link = field_text(h + 157, 100);
      e.mode = static_cast<mode_t>(parse_number(h + 100, 8) & 07777);
      e.uid = static_cast<uid_t>(parse_number(h + 108, 8));
      e.gid = static_cast<gid_t>(parse_number(h + 116, 8));
      e.mtime = static_cast<int64_t>(parse_number(h + 136, 12));
      if (e.type == '7') e.type = '0';
      if (long_name) e.name = *long_name;
      if (long_link) e.link = *long_link;
      if (pax_size) e.size = std::strtoull(pax_size->c_str(), nullptr, 10);
      if (pax_uid) e.uid = static_cast<uid_t>(std::strtoul(pax_uid->c_str(), nullptr, 10));
      if (pax_gid) e.gid = static_cast<gid_t>(std::strtoul(pax_gid->c_str(), nullptr, 10));
      if (pax_mtime) e.mtime = std::strtoll(pax_mtime->c_str(), nullptr, 10);
      // Only regular files carry data; a size on anything else is skipped as data all the same.
      remaining_ = e.size;
      padding_ = (kBlock - e.size % kBlock) % kBlock;
      return true;
    }
  }

  size_t read_data(char* buf, size_t n) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
    size_t got = read_some_full(fd_, buf, want);
    remaining_ -= got;
    read_ += got;
    if (got < want) fail("unexpected end of the tar stream");
    return got;
  }

  void skip_data() {
    char buf[1 << 14];
    while (remaining_ > 0) read_data(buf, sizeof buf);
    size_t pad = padding_;
    padding_ = 0;
    if (pad) {
      size_t got = read_some_full(fd_, buf, pad);
      read_ += got;
      if (got < pad) fail("unexpected end of the tar stream");
    }
  }
  uint64_t bytes_read() const { return read_; }

 private:
  static void parse_pax(const std::string& body, std::optional<std::string>& path, std::optional<std::string>& link,
                        std::optional<std::string>& size, std::optional<std::string>& uid,
                        std::optional<std::string>& gid, std::optional<std::string>& mtime) {
    size_t pos = 0;
    while (pos < body.size()) {
      size_t space = body.find(' ', pos);
      if (space == std::string::npos) break;
      size_t len = std::strtoul(body.c_str() + pos, nullptr, 10);
      if (len == 0 || pos + len > body.size()) fail("invalid pax header");
      std::string record = body.substr(space + 1, pos + len - space - 2);  // without the newline
      pos += len;
      size_t eq = record.find('=');
      if (eq == std::string::npos) continue;
      std::string key = record.substr(0, eq), value = record.substr(eq + 1);
      if (key == "path") path = value;
      else if (key == "linkpath") link = value;
      else if (key == "size") size = value;
      else if (key == "uid") uid = value;
      else if (key == "gid") gid = value;
      else if (key == "mtime") mtime = value;
    }
  }

  int fd_;
  uint64_t remaining_ = 0, padding_ = 0, read_ = 0;
};

// ---- packing a tree: everything below the source is reached by fd with O_NOFOLLOW ----

void pack_children(TarWriter& w, int dir_fd, const std::string& prefix);

// One entry of a directory, by name, never following a symlink. Devices and sockets are left out.
void pack_child(TarWriter& w, int dir_fd, const char* name, const std::string& archive_name) {
  struct stat st {};
  if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;  // removed meanwhile
    fail("stat " + archive_name, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) fail("open " + archive_name, errno);
    if (::fstat(fd.get(), &st) != 0) fail("stat " + archive_name, errno);
    w.entry(archive_name + "/", '5', st, "", 0);
    pack_children(w, fd.get(), archive_name + "/");
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) fail("open " + archive_name, errno);
    if (::fstat(fd.get(), &st) != 0) fail("stat " + archive_name, errno);
    if (!S_ISREG(st.st_mode)) return;  // swapped for something else meanwhile
    uint64_t size = static_cast<uint64_t>(st.st_size);
    w.entry(archive_name, '0', st, "", size);
    w.data(fd.get(), size);
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(dir_fd, name, target, sizeof target);
    if (n < 0) fail("readlink " + archive_name, errno);
    w.entry(archive_name, '2', st, std::string(target, static_cast<size_t>(n)), 0);
  } else if (S_ISFIFO(st.st_mode)) {
    w.entry(archive_name, '6', st, "", 0);
  }
}

void pack_children(TarWriter& w, int dir_fd, const std::string& prefix) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open directory " + prefix, errno);
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    fail("open directory " + prefix, errno);
  }
  std::vector<std::string> names;
  while (dirent* d = ::readdir(dir)) {
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    names.emplace_back(d->d_name);
  }
  std::sort(names.begin(), names.end());
  try {
    for (const auto& n : names) pack_child(w, dir_fd, n.c_str(), prefix + n);
  } catch (...) {
    ::closedir(dir);
    throw;
  }
  ::closedir(dir);
}

// The source, opened once: an O_PATH fd of the entry the user named.
struct OpenedSource {
  UniqueFd fd;
  struct stat st {};
  CopySource info;
  std::string path;
};

// Resolves SRC_PATH in root. A final symlink is copied as a link unless -L or a trailing "/"
// asks to follow it; a followed link still resolves inside the root. Throws Failure; not_found
// tells the caller to use its own wording.
OpenedSource open_source(const Root& root, const std::string& path, bool follow_link, bool& not_found) {
  OpenedSource s;
  s.path = path;
  bool trailing = ends_with_separator(path);
  std::string trimmed = trim_trailing(path);
  s.info.contents_only = path.ends_with("/.") || path == "." || trimmed == "/";
  s.info.base = fs::basename(trimmed);
  bool follow = follow_link || trailing;
  int fd = root.open(trimmed, O_PATH | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) {
    int err = errno;
    not_found = err == ENOENT;
    if (err == ENOTDIR) fail(path + ": not a directory");
    fail("cannot open " + path, err);
  }
  s.fd.reset(fd);
  if (::fstat(fd, &s.st) != 0) fail("stat " + path, errno);
  s.info.is_dir = S_ISDIR(s.st.st_mode);
  if (trailing && !s.info.is_dir) fail(path + ": not a directory");
  return s;
}

void pack_source(TarWriter& w, const Root& root, OpenedSource& s, const std::string& top, bool follow_link) {
  struct stat st = s.st;
  if (S_ISDIR(st.st_mode)) {
    if (!top.empty()) w.entry(top + "/", '5', st, "", 0);
    pack_children(w, s.fd.get(), top.empty() ? "" : top + "/");
  } else if (S_ISREG(st.st_mode)) {
    // Reopen for reading by the same resolution, and make sure it is still the file we checked.
    bool follow = follow_link || ends_with_separator(s.path);
    UniqueFd fd(root.open(trim_trailing(s.path), O_RDONLY | O_NONBLOCK | O_NOCTTY | (follow ? 0 : O_NOFOLLOW)));
    struct stat now {};
    if (!fd || ::fstat(fd.get(), &now) != 0) fail("open " + s.path, errno);
    if (now.st_dev != st.st_dev || now.st_ino != st.st_ino) fail(s.path + " changed during the copy");
    w.entry(top, '0', now, "", static_cast<uint64_t>(now.st_size));
    w.data(fd.get(), static_cast<uint64_t>(now.st_size));
  } else if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(s.fd.get(), "", target, sizeof target);
    if (n < 0) fail("readlink " + s.path, errno);
    w.entry(top, '2', st, std::string(target, static_cast<size_t>(n)), 0);
  } else if (S_ISFIFO(st.st_mode)) {
    w.entry(top, '6', st, "", 0);
  } else {
    fail("cannot copy " + s.path + ": not a regular file, directory or symlink");
  }
  w.finish();
}

// ---- unpacking a stream under a directory fd ----

struct UnpackOptions {
  bool keep_owner = false;   // -a: the entries' uid/gid; else whoever we are (root, the caller)
  bool strip_setid = false;  // files that change owner lose setuid/setgid (as cp(1))
};

// "./a//b/" -> {"a", "b"}; ".." anywhere is refused: nothing may land outside the destination.
std::vector<std::string> entry_components(const std::string& name) {
  std::vector<std::string> out;
  for (auto& c : str::split(name, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") fail("refusing the archive entry \"" + name + "\": it points outside the destination");
    out.push_back(c);
  }
  return out;
}

// The directory holding comps[0..n) below base, walked with O_NOFOLLOW (no symlink is
// traversed); missing directories are created when create is set.
UniqueFd walk_dirs(int base, const std::vector<std::string>& comps, size_t n, bool create, const std::string& shown) {
  UniqueFd cur(::fcntl(base, F_DUPFD_CLOEXEC, 0));
  if (!cur) fail("dup", errno);
  for (size_t i = 0; i < n; ++i) {
    int fd = ::openat(cur.get(), comps[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), comps[i].c_str(), 0755) != 0 && errno != EEXIST) fail("mkdir " + shown, errno);
      fd = ::openat(cur.get(), comps[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ENOTDIR || errno == ELOOP)
        fail("cannot extract " + shown + ": a parent is not a directory (symlinks are not followed)");
      fail("cannot extract " + shown, errno);
    }
    cur.reset(fd);
  }
  return cur;
}

void apply_owner_mode(int fd, const TarEntry& e, const UnpackOptions& o, bool is_file) {
  if (o.keep_owner && ::fchown(fd, e.uid, e.gid) != 0) fail("chown " + e.name, errno);
  mode_t mode = e.mode & 07777;
  if (is_file && o.strip_setid) mode &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
  if (::fchmod(fd, mode) != 0) fail("chmod " + e.name, errno);
}

void set_mtime(int fd, int64_t mtime) {
  timespec ts[2] = {{mtime, 0}, {mtime, 0}};
  ::futimens(fd, ts);
}

// Removes a non-directory in the way (never following it); refuses to replace a directory.
void clear_place(int dir, const std::string& leaf, const TarEntry& e, bool want_dir) {
  struct stat st {};
  if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (want_dir) return;
    fail("cannot overwrite directory \"" + e.name + "\" with non-directory");
  }
  if (::unlinkat(dir, leaf.c_str(), 0) != 0 && errno != ENOENT && errno != EBUSY) fail("remove " + e.name, errno);
}

void unpack(TarReader& r, int dest, const UnpackOptions& o) {
  struct DirTime {
    std::vector<std::string> comps;
    int64_t mtime;
  };
  std::vector<DirTime> dir_times;  // set last: the entries below change a directory's mtime
  TarEntry e;
  std::vector<char> buf(1 << 16);
  while (r.next(e)) {
    auto comps = entry_components(e.name);
    if (comps.empty()) continue;  // the destination itself ("./"): left as it is
    UniqueFd parent = walk_dirs(dest, comps, comps.size() - 1, true, e.name);
    const std::string& leaf = comps.back();
    const char* lp = leaf.c_str();
    switch (e.type) {
      case '5': {
        clear_place(parent.get(), leaf, e, true);
        if (::mkdirat(parent.get(), lp, 0700) != 0 && errno != EEXIST) fail("mkdir " + e.name, errno);
        UniqueFd fd(::openat(parent.get(), lp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) fail("open " + e.name, errno);
        apply_owner_mode(fd.get(), e, o, false);
        dir_times.push_back({comps, e.mtime});
        break;
      }
      case '0': {
        clear_place(parent.get(), leaf, e, false);
        UniqueFd fd(::openat(parent.get(), lp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        // A mount point (a file bind-mounted into a container) cannot be replaced: written in place.
        if (!fd && errno == EEXIST) fd.reset(::openat(parent.get(), lp, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        if (!fd) fail("create " + e.name, errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) fail("create " + e.name + ": not a regular file");
        for (;;) {
          size_t n = r.read_data(buf.data(), buf.size());
          if (n == 0) break;
          write_full(fd.get(), buf.data(), n);
        }
        apply_owner_mode(fd.get(), e, o, true);
        set_mtime(fd.get(), e.mtime);
        break;
      }
      case '2': {
        clear_place(parent.get(), leaf, e, false);
        if (::symlinkat(e.link.c_str(), parent.get(), lp) != 0) fail("symlink " + e.name, errno);
        if (o.keep_owner && ::fchownat(parent.get(), lp, e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0)
          fail("chown " + e.name, errno);
        timespec ts[2] = {{e.mtime, 0}, {e.mtime, 0}};
        ::utimensat(parent.get(), lp, ts, AT_SYMLINK_NOFOLLOW);
        break;
      }
      case '1': {  // hard link to an earlier entry: found below the destination, never through a link
        auto target = entry_components(e.link);
        if (target.empty()) fail("invalid hard link " + e.name);
        UniqueFd tdir = walk_dirs(dest, target, target.size() - 1, false, e.link);
        clear_place(parent.get(), leaf, e, false);
        if (::linkat(tdir.get(), target.back().c_str(), parent.get(), lp, 0) != 0) fail("link " + e.name, errno);
        break;
      }
      case '6': {
        clear_place(parent.get(), leaf, e, false);
        if (::mknodat(parent.get(), lp, S_IFIFO | (e.mode & 0777), 0) != 0) fail("mkfifo " + e.name, errno);
        break;
      }
      default:
        break;  // devices and vendor types are not created
    }
  }
  for (auto it = dir_times.rbegin(); it != dir_times.rend(); ++it) {
    try {
      UniqueFd parent = walk_dirs(dest, it->comps, it->comps.size() - 1, false, "");
      UniqueFd fd(::openat(parent.get(), it->comps.back().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd) set_mtime(fd.get(), it->mtime);
    } catch (const Failure&) {
    }
  }
}

CopyDestination stat_destination(const Root& root, const std::string& path) {
  CopyDestination d;
  d.ends_with_separator = ends_with_separator(path);
  UniqueFd fd(root.open(trim_trailing(path), O_PATH));
  struct stat st {};
  if (fd && ::fstat(fd.get(), &st) == 0) {
    d.exists = true;
    d.is_dir = S_ISDIR(st.st_mode);
  } else if (errno != ENOENT && errno != ENOTDIR) {
    fail("stat " + path, errno);
  }
  return d;
}

// ---- the child in the container ----

constexpr int kDataFd = 3, kControlFd = 4, kPidFd = 5;

void send_message(int fd, const json& msg) {
  std::string text = msg.dump();
  (void)!::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

std::optional<json> receive_message(int fd) {
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    try {
      return json::parse(std::string(buf.data(), static_cast<size_t>(n)));
    } catch (...) {
      return std::nullopt;
    }
  }
}

struct Container {
  runtime::LaunchPlan plan;
  std::string name;
  bool running = false;
  UniqueFd pidfd;
};

// Mounts what a stopped container would see at cp time: its rootfs overlay and its bind mounts
// (volumes, /etc/hosts...), in this child's own mount namespace, then chroots there. Returns
// errno or 0; step names what failed.
int mount_stopped_rootfs(const runtime::LaunchPlan& p, bool writable, const char*& step) {
  step = "unshare mount namespace";
  if (::unshare(CLONE_NEWNS) != 0) return errno;
  step = "make / private";
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
  step = "mount rootfs overlay";
  if (p.lower_dirs.empty()) return EINVAL;
  std::string lower;
  for (size_t i = 0; i < p.lower_dirs.size(); ++i) lower += (i ? ":" : "") + p.lower_dirs[i];
  std::string data = "lowerdir=" + lower + ",upperdir=" + p.upper_dir + ",workdir=" + p.work_dir;
  unsigned long flags = (p.readonly_rootfs || !writable) ? MS_RDONLY : 0;
  if (::mount("overlay", p.rootfs_dir.c_str(), "overlay", flags, data.c_str()) != 0) return errno;
  int root = ::open(p.rootfs_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return errno;
  for (const auto& m : p.mounts) {
    if (m.fstype != "bind") continue;  // proc, tmpfs, ...: a stopped container has none of them
    // The target resolved inside the rootfs; a missing one is not created (nothing is written).
    int target = sys_openat2(root, Root{root, kInRoot, true}.rel(m.target), O_PATH, kInRoot);
    if (target < 0) continue;
    std::string where = "/proc/self/fd/" + std::to_string(target);
    step = "bind mount";
    int rc = ::mount(m.source.c_str(), where.c_str(), nullptr, MS_BIND | MS_REC, nullptr);
    ::close(target);
    if (rc != 0) continue;  // a volume source gone: the copy sees the rootfs there
    if (m.recursive_readonly || (m.flags & MS_RDONLY) || !writable) {
      target = sys_openat2(root, Root{root, kInRoot, true}.rel(m.target), O_PATH, kInRoot);
      mount_attr attr{};
      attr.attr_set = MOUNT_ATTR_RDONLY;
      if (target >= 0) {
        ::syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
        ::close(target);
      }
    }
  }
  step = "chroot into the rootfs";
  if (::fchdir(root) != 0 || ::chroot(".") != 0 || ::chdir("/") != 0) {
    int err = errno;
    ::close(root);
    return err;
  }
  ::close(root);
  return 0;
}

// Forks the child: fds placed, non-dumpable, inside the container's root, then work(root).
// Its failures go to the control socket as {"error", "errno"}. Returns the child's pid.
template <class Work>
pid_t spawn_in_container(Container& c, bool writable, int data_fd, int control_fd, Work work) {
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork");
  if (pid > 0) return pid;
  int keep[3] = {data_fd, control_fd, c.pidfd ? c.pidfd.get() : -1};
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) ::_exit(125);
  for (int& fd : keep)
    if (fd >= 0 && (fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 16)) < 0) ::_exit(125);
  if (::dup3(keep[0], kDataFd, O_CLOEXEC) < 0 || ::dup3(keep[1], kControlFd, O_CLOEXEC) < 0) ::_exit(125);
  if (keep[2] >= 0 && ::dup3(keep[2], kPidFd, O_CLOEXEC) < 0) ::_exit(125);
  // Nothing of the host stays open: not stdio, not any fd of the CLI.
  ::syscall(SYS_close_range, keep[2] >= 0 ? kPidFd + 1 : kPidFd, ~0U, 0);
  for (int i = 0; i < 3; ++i) ::close(i);
  ::signal(SIGPIPE, SIG_IGN);
  const char* step = "join the container's mount namespace";
  int err = 0;
  if (keep[2] >= 0) {
    // setns resets root and cwd to the namespace's root: the container's pivoted rootfs.
    if (::setns(kPidFd, CLONE_NEWNS) != 0) err = errno;
    ::close(kPidFd);
  } else {
    err = mount_stopped_rootfs(c.plan, writable, step);
  }
  if (err) {
    send_message(kControlFd, {{"error", std::string("cannot enter container ") + c.name + ": " + step}, {"errno", err}});
    ::_exit(1);
  }
  try {
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) fail("open the container's root", errno);
    work(Root{root.get(), kInRoot, true});
    send_message(kControlFd, {{"done", true}});
    ::_exit(0);
  } catch (const Failure& f) {
    send_message(kControlFd, {{"error", f.message}, {"errno", f.err}});
  } catch (const std::exception& e) {
    send_message(kControlFd, {{"error", e.what()}, {"errno", 0}});
  }
  ::_exit(1);
}

int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

[[noreturn]] void throw_child_error(const json& msg) {
  Failure f{msg.value("error", std::string("copy failed")), msg.value("errno", 0)};
  throw Error(failure_text(f), "", 1);
}

Container open_container(const std::string& id, const std::string& name) {
  Container c;
  c.name = name;
  ContainerPaths paths = container_paths(id);
  auto launch = fs::read_file_if_exists(paths.run_dir + "/launch.json");
  if (!launch) throw Error("container " + name + " has no launch plan", "recreate it", 1);
  c.plan = runtime::launch_plan_from_json(json::parse(*launch));
  // Running: its PID 1, pinned by a pidfd and checked by start time against state.json.
  if (auto state_text = fs::read_file_if_exists(paths.run_dir + "/state.json")) {
    json state = json::parse(*state_text, nullptr, false);
    pid_t pid = state.is_object() ? state.value("Pid", 0) : 0;
    bool live = state.is_object() && state.value("Status", std::string()) != "exited" &&
                state.value("BootId", std::string()) == runtime::boot_id();
    if (pid > 0 && live) {
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (pidfd && runtime::process_start_time(pid) == state.value("ContainerStart", 0ULL)) {
        c.pidfd = std::move(pidfd);
        c.running = true;
      }
    }
  }
  return c;
}

struct Channels {
  UniqueFd data_parent, data_child, control_parent, control_child;
  Channels() {
    int d[2], s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d) != 0) throw_errno("socketpair");
    data_parent.reset(d[0]);
    data_child.reset(d[1]);
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) != 0) throw_errno("socketpair");
    control_parent.reset(s[0]);
    control_child.reset(s[1]);
  }
};

// After the spawn: drops the child's ends and waits for its first report (the placement inside
// the container), or throws the error it sent instead.
json first_report(pid_t pid, Channels& ch, UniqueFd& pidfd) {
  ch.data_child.reset();
  ch.control_child.reset();
  pidfd.reset();
  auto first = receive_message(ch.control_parent.get());
  if (!first || first->contains("error")) {
    reap(pid);
    if (first) throw_child_error(*first);
    throw Error("copy failed: its helper process ended without a report", "", 1);
  }
  return *first;
}

// Waits for the child's last word: done, or its error (preferred over ours, it is the cause).
void finish_child(pid_t pid, Channels& ch, const std::optional<Failure>& ours) {
  ch.data_parent.reset();
  auto msg = receive_message(ch.control_parent.get());
  int code = reap(pid);
  // The child's EPIPE only means that we stopped reading: then our own failure is the cause.
  if (msg && msg->contains("error") && !(ours && msg->value("errno", 0) == EPIPE)) throw_child_error(*msg);
  if (ours) throw Error(failure_text(*ours), "", 1);
  if (!msg || !msg->value("done", false) || code != 0)
    throw Error("copy failed: its helper process ended without a report (exit " + std::to_string(code) + ")", "", 1);
}

}  // namespace

// ---- pure helpers ----

std::pair<std::string, std::string> split_copy_argument(const std::string& arg) {
  if (!arg.empty() && arg.front() == '/') return {"", arg};
  auto colon = arg.find(':');
  if (colon == std::string::npos || arg.starts_with(".")) return {"", arg};
  return {arg.substr(0, colon), arg.substr(colon + 1)};
}

CopyPlacement place_copy(const CopySource& source, const CopyDestination& dest, const std::string& dest_path,
                         const std::string& source_path) {
  std::string trimmed = trim_trailing(dest_path);
  if (dest.exists && dest.is_dir) return {trimmed, source.contents_only ? "" : source.base};
  if (dest.exists) {
    if (source.is_dir)
      throw Error("cannot copy a directory to a file: \"" + source_path + "\" to \"" + dest_path + "\"", "", 1);
    return {fs::dirname(trimmed), fs::basename(trimmed)};
  }
  if (dest.ends_with_separator && !source.is_dir)
    throw Error("destination directory \"" + dest_path + "\" does not exist", "", 1);
  std::string base = fs::basename(trimmed);
  if (base.empty() || base == "." || base == "..") throw Error("invalid destination path \"" + dest_path + "\"", "", 1);
  return {fs::dirname(trimmed), base};
}

uint64_t copy_from_container(const std::string& container_id, const std::string& container_name,
                             const std::string& src_path, const std::string& dest_path, const CopyOptions& options) {
  if (src_path.empty()) throw Error("source path cannot be empty", "", 1);
  if (dest_path.empty()) throw Error("destination path cannot be empty", "", 1);
  Container c = open_container(container_id, container_name);
  bool to_stdout = dest_path == "-";
  CopyDestination dest;
  Root host;
  try {
    if (!to_stdout) dest = stat_destination(host, dest_path);
  } catch (const Failure& f) {
    throw Error(failure_text(f), "", 1);
  }
  ::signal(SIGPIPE, SIG_IGN);
  Channels ch;
  pid_t pid = spawn_in_container(c, false, ch.data_child.get(), ch.control_child.get(), [&](const Root& root) {
    bool not_found = false;
    OpenedSource src;
    try {
      src = open_source(root, src_path, options.follow_link, not_found);
    } catch (const Failure& f) {
      if (not_found) fail("Could not find the file " + src_path + " in container " + container_name);
      throw;
    }
    CopyPlacement placement;
    if (to_stdout) placement.top = src.info.contents_only ? "." : src.info.base;
    else placement = place_copy(src.info, dest, dest_path, src_path);
    send_message(kControlFd, {{"extract_dir", placement.extract_dir}, {"top", placement.top}});
    TarWriter w(kDataFd);
    pack_source(w, root, src, placement.top, options.follow_link);
    ::close(kDataFd);
  });
  json first = first_report(pid, ch, c.pidfd);
  std::optional<Failure> ours;
  uint64_t copied = 0;
  try {
    if (to_stdout) {
      copied = relay(ch.data_parent.get(), 1);
    } else {
      std::string dir = first.value("extract_dir", std::string("."));
      UniqueFd dir_fd(host.open(dir, O_PATH | O_DIRECTORY));
      if (!dir_fd) fail("lstat " + dir, errno);
      TarReader r(ch.data_parent.get());
      unpack(r, dir_fd.get(), UnpackOptions{options.archive, !options.archive});
      copied = r.bytes_read();
    }
  } catch (const Failure& f) {
    ours = f;
  }
  finish_child(pid, ch, ours);
  return copied;
}

uint64_t copy_to_container(const std::string& src_path, const std::string& container_id,
                           const std::string& container_name, const std::string& dest_path,
                           const CopyOptions& options) {
  if (src_path.empty()) throw Error("source path cannot be empty", "", 1);
  if (dest_path.empty()) throw Error("destination path cannot be empty", "", 1);
  bool from_stdin = src_path == "-";
  Root host;
  OpenedSource src;
  if (!from_stdin) {
    bool not_found = false;
    try {
      src = open_source(host, src_path, options.follow_link, not_found);
    } catch (const Failure& f) {
      if (not_found) throw Error("lstat " + src_path + ": no such file or directory", "", 1);
      throw Error(failure_text(f), "", 1);
    }
  }
  Container c = open_container(container_id, container_name);
  ::signal(SIGPIPE, SIG_IGN);
  Channels ch;
  CopySource info = src.info;
  pid_t pid = spawn_in_container(c, true, ch.data_child.get(), ch.control_child.get(), [&](const Root& root) {
    CopyDestination dest = stat_destination(root, dest_path);
    CopyPlacement placement;
    if (from_stdin) {
      if (!dest.exists) fail("Could not find the file " + dest_path + " in container " + container_name);
      if (!dest.is_dir) fail("destination \"" + container_name + ":" + dest_path + "\" must be a directory");
      placement.extract_dir = trim_trailing(dest_path);
    } else {
      placement = place_copy(info, dest, dest_path, src_path);
    }
    UniqueFd dir(root.open(placement.extract_dir, O_PATH | O_DIRECTORY));
    if (!dir) {
      if (errno == ENOENT) fail("Could not find the file " + placement.extract_dir + " in container " + container_name);
      fail("cannot open " + placement.extract_dir + " in container " + container_name, errno);
    }
    send_message(kControlFd, {{"top", placement.top}});
    TarReader r(kDataFd);
    unpack(r, dir.get(), UnpackOptions{options.archive, false});
  });
  json first = first_report(pid, ch, c.pidfd);
  std::optional<Failure> ours;
  uint64_t copied = 0;
  try {
    if (from_stdin) {
      copied = relay(0, ch.data_parent.get());
    } else {
      TarWriter w(ch.data_parent.get());
      pack_source(w, host, src, first.value("top", std::string()), options.follow_link);
      copied = w.written();
    }
  } catch (const Failure& f) {
    // EPIPE: the child stopped reading, its own error says why.
    if (f.err != EPIPE) ours = f;
  }
  ::shutdown(ch.data_parent.get(), SHUT_WR);
  finish_child(pid, ch, ours);
  return copied;
}

}  // namespace berth::engine
