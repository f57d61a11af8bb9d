#include "berth/runtime/user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

#include "berth/util/error.h"
#include "berth/util/fd.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace berth::runtime {
namespace {

// ---------------------------------------------------------------- passwd / group parsing

constexpr int64_t kMaxId = 2147483647;  // moby/sys/user maxID

struct PasswdEntry {
  std::string name;
  int64_t uid = 0;
  int64_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  int64_t gid = 0;
  std::vector<std::string> members;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

std::string trim_space(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Go strconv.Atoi: optional sign and decimal digits that fit in int64.
std::optional<int64_t> atoi_go(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t k = i; k < s.size(); ++k)
    if (s[k] < '0' || s[k] > '9') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

// Non-empty trimmed lines split on ':'; numeric fields that do not parse read as 0, as in moby.
template <typename F>
void for_each_record(const std::optional<std::string>& text, F&& f) {
  if (!text) return;
  for (auto& raw : split(*text, '\n')) {
    std::string line = trim_space(raw);
    if (!line.empty()) f(split(line, ':'));
  }
}

std::vector<PasswdEntry> parse_passwd(const std::optional<std::string>& text) {
  std::vector<PasswdEntry> out;
  for_each_record(text, [&](const std::vector<std::string>& f) {
    PasswdEntry e;
    e.name = f[0];
    if (f.size() > 2) e.uid = atoi_go(f[2]).value_or(0);
    if (f.size() > 3) e.gid = atoi_go(f[3]).value_or(0);
    if (f.size() > 5) e.home = f[5];
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<GroupEntry> parse_group(const std::optional<std::string>& text) {
  std::vector<GroupEntry> out;
  for_each_record(text, [&](const std::vector<std::string>& f) {
    GroupEntry e;
    e.name = f[0];
    if (f.size() > 2) e.gid = atoi_go(f[2]).value_or(0);
    if (f.size() > 3 && !f[3].empty()) e.members = split(f[3], ',');
    out.push_back(std::move(e));
  });
  return out;
}

[[noreturn]] void range_error(const std::string& spec) {
  throw Error("uids and gids must be in range 0-" + std::to_string(kMaxId),
              "the user \"" + spec + "\" has an id outside that range");
}

}  // namespace

ResolvedUser resolve_user(const std::string& spec, const std::optional<std::string>& passwd_text,
                          const std::optional<std::string>& group_text, const std::vector<std::string>& group_add) {
  size_t colon = spec.find(':');
  std::string user_arg = spec.substr(0, colon);
  std::string group_arg;
  if (colon != std::string::npos) group_arg = split(spec.substr(colon + 1), ':')[0];
  auto uid_arg = atoi_go(user_arg);
  auto gid_arg = atoi_go(group_arg);

  int64_t uid = 0, gid = 0;
  std::string home = "/";
  std::string matched_name;
  std::vector<int64_t> sgids;

  const auto users = parse_passwd(passwd_text);
  auto user_it = std::find_if(users.begin(), users.end(), [&](const PasswdEntry& u) {
    if (user_arg.empty()) return u.uid == 0;  // no user: root's entry gives HOME and groups
    if (uid_arg) return u.uid == *uid_arg;    // digits are always an id
    return u.name == user_arg;
  });
  if (user_it != users.end()) {
    matched_name = user_it->name;
    uid = user_it->uid;
    gid = user_it->gid;
    home = user_it->home;
  } else if (!user_arg.empty()) {
    if (!uid_arg)
      throw Error("unable to find user " + user_arg + ": no matching entries in passwd file",
                  "the image's /etc/passwd has no such user: use a numeric uid[:gid] or a user that exists");
    if (*uid_arg < 0 || *uid_arg > kMaxId) range_error(spec);
    uid = *uid_arg;
  }

  if (!group_arg.empty() || !matched_name.empty()) {
    const auto groups = parse_group(group_text);
    if (!group_arg.empty()) {
      // An explicit group is the gid; the image's supplementary groups are not applied.
      auto g = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& e) {
        return gid_arg ? e.gid == *gid_arg : e.name == group_arg;
      });
      if (g != groups.end()) {
        gid = g->gid;
      } else {
        if (!gid_arg)
          throw Error("unable to find group " + group_arg + ": no matching entries in group file",
                      "the image's /etc/group has no such group: use a numeric gid or a group that exists");
        if (*gid_arg < 0 || *gid_arg > kMaxId) range_error(spec);
        gid = *gid_arg;
      }
    } else {
      for (auto& g : groups)
        if (std::find(g.members.begin(), g.members.end(), matched_name) != g.members.end()) sgids.push_back(g.gid);
    }
  }

  // --group-add: a group name or gid from the file, else a bare number (GetAdditionalGroups).
  std::vector<int64_t> added;
  if (!group_add.empty()) {
    const auto groups = parse_group(group_text);
    for (auto& wanted : group_add) {
      auto g = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& e) {
        return e.name == wanted || std::to_string(e.gid) == wanted;
      });
      if (g != groups.end()) {
        added.push_back(g->gid);
        continue;
      }
      auto number = atoi_go(wanted);
      if (!number)
        throw Error("Unable to find group " + wanted + ": no matching entries in group file",
                    "--group-add takes a group of the image's /etc/group or a numeric gid");
      if (*number < 0 || *number > kMaxId) range_error(wanted);
      added.push_back(*number);
    }
  }

  ResolvedUser out;
  out.uid = static_cast<uint32_t>(uid);
  out.gid = static_cast<uint32_t>(gid);
  out.home = home.empty() ? "/" : home;
  auto add = [&](int64_t g) {
    auto v = static_cast<uint32_t>(g);
    if (std::find(out.additional_gids.begin(), out.additional_gids.end(), v) == out.additional_gids.end())
      out.additional_gids.push_back(v);
  };
  add(gid);
  for (auto g : sgids) add(g);
  for (auto g : added) add(g);
  return out;
}

// ---------------------------------------------------------------- layered file lookup

namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS
constexpr size_t kMaxFileSize = 16 << 20;

UniqueFd open_in(int dirfd, const std::string& path, uint64_t flags) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
  long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

bool is_whiteout_device(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

bool exists_at(int dirfd, const std::string& name) {
  struct stat st;
  return fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool is_opaque(int dirfd) {
  for (const char* attr : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    char value[2] = {};
    if (fgetxattr(dirfd, attr, value, sizeof value) == 1 && value[0] == 'y') return true;
  }
  return exists_at(dirfd, ".wh..wh..opq");  // OCI layer tar form
}

// One directory of the merged view: its fd in every layer that contributes entries, top first.
using MergedDir = std::vector<std::shared_ptr<UniqueFd>>;

enum class Kind { Missing, Directory, Symlink, File, Other };

struct Lookup {
  Kind kind = Kind::Missing;
  MergedDir dir;      // Directory: the contributing layers
  int parent_fd = -1; // other kinds: the layer directory holding the entry
};

Lookup lookup(const MergedDir& parent, const std::string& name, const std::string& path) {
  Lookup out;
  if (name.rfind(".wh.", 0) == 0) return out;  // whiteout markers are not part of the view
  for (auto& layer : parent) {
    int fd = layer->get();
    // A layer's own entry wins over its .wh. marker (a tar deletes, then re-creates), but the
    // marker still hides every lower layer.
    bool whited_out = exists_at(fd, ".wh." + name);
    struct stat st;
    if (fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) throw_errno("stat " + path);
      if (whited_out) break;
      continue;
    }
    if (is_whiteout_device(st)) break;
    if (!S_ISDIR(st.st_mode)) {
      if (out.kind == Kind::Directory) break;  // a directory above hides what is below
      out.parent_fd = fd;
      out.kind = S_ISLNK(st.st_mode) ? Kind::Symlink : S_ISREG(st.st_mode) ? Kind::File : Kind::Other;
      return out;
    }
    auto dirfd = open_in(fd, name, O_RDONLY | O_DIRECTORY);
    if (!dirfd) throw_errno("open " + path);
    bool opaque = whited_out || is_opaque(dirfd.get());
    out.kind = Kind::Directory;
    out.dir.push_back(std::make_shared<UniqueFd>(std::move(dirfd)));
    if (opaque) break;
  }
  return out;
}

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  for (auto& part : split(path, '/'))
    if (!part.empty() && part != ".") out.push_back(part);
  return out;
}

}  // namespace

std::optional<std::string> read_file_in_layers(const std::vector<std::string>& layer_dirs_bottom_first,
                                               const std::string& path_in_rootfs) {
  MergedDir root;
  for (auto it = layer_dirs_bottom_first.rbegin(); it != layer_dirs_bottom_first.rend(); ++it) {
    UniqueFd fd(::open(it->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open layer " + *it);
    bool opaque = is_opaque(fd.get());  // a layer's root can be opaque too
    root.push_back(std::make_shared<UniqueFd>(std::move(fd)));
    if (opaque) break;
  }

  // A walk over the merged view; stack[i] is the directory at depth i. Symlink targets are spliced
  // into the remaining components, so "..", absolute targets and loops are handled in one place.
  std::vector<MergedDir> stack = {root};
  std::vector<std::string> todo = components(path_in_rootfs);
  std::reverse(todo.begin(), todo.end());  // pop from the back
  int links = 0;
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    if (name == "..") {
      if (stack.size() > 1) stack.pop_back();  // ".." at the root stays at the root
      continue;
    }
    Lookup found = lookup(stack.back(), name, path_in_rootfs);
    switch (found.kind) {
      case Kind::Missing:
        return std::nullopt;
      case Kind::Directory:
        stack.push_back(std::move(found.dir));
        continue;
      case Kind::Symlink: {
        if (++links > kMaxSymlinks)
          throw Error("too many levels of symbolic links in " + path_in_rootfs,
                      "the image's symlinks for this path form a loop");
        char target[4096];
        ssize_t n = readlinkat(found.parent_fd, name.c_str(), target, sizeof target - 1);
        if (n < 0) throw_errno("readlink " + path_in_rootfs);
        std::string link(target, static_cast<size_t>(n));
        if (!link.empty() && link[0] == '/') stack.resize(1);
        auto parts = components(link);
        todo.insert(todo.end(), parts.rbegin(), parts.rend());
        continue;
      }
      case Kind::File: {
        if (!todo.empty()) return std::nullopt;  // "file/more": ENOTDIR
        auto fd = open_in(found.parent_fd, name, O_RDONLY);
        if (!fd) throw_errno("open " + path_in_rootfs);
        std::string content;
        char buf[65536];
        for (;;) {
          ssize_t n = ::read(fd.get(), buf, sizeof buf);
          if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read " + path_in_rootfs);
          }
          if (n == 0) break;
          content.append(buf, static_cast<size_t>(n));
          if (content.size() > kMaxFileSize)
            throw Error(path_in_rootfs + " in the image is larger than 16 MiB", "this file is not expected to be big");
        }
        return content;
      }
      case Kind::Other:
        return std::nullopt;
    }
  }
  return std::nullopt;  // the path names a directory
}

}  // namespace berth::runtime
