// --mount parsing and the preparation of a container's data mounts (binds, volumes, tmpfs).
#include "berth/volume/mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/numeric.h"
#include "berth/util/strings.h"
#include "berth/volume/copy_up.h"

namespace berth::volume {

namespace {

const std::set<std::string> kPropagations = {"private", "rprivate", "shared", "rshared", "slave", "rslave"};

// Lexical clean of an absolute path (Go's filepath.Clean).
std::string clean_path(const std::string& p) {
  std::vector<std::string> out;
  for (const auto& part : str::split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return "/" + str::join(out, "/");
}

// strconv.ParseBool
std::optional<bool> parse_bool(const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  return std::nullopt;
}

// go-units RAMInBytes: "64m", "1.5g", "512k", "100" (binary multiples).
std::optional<int64_t> parse_ram_bytes(const std::string& s) {
  static const std::regex re(R"(^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$)");
  std::smatch m;
  if (!std::regex_match(s, m, re)) return std::nullopt;
  double value = std::stod(m[1].str());
  int shift = 0;
  if (m[3].matched) shift = 10 * (1 + static_cast<int>(std::string("kmgtp").find(static_cast<char>(std::tolower(m[3].str()[0])))));
  double bytes = value * num::pow2(shift);
  if (bytes > 9.2e18) return std::nullopt;
  return static_cast<int64_t>(bytes);
}

std::string mount_config_error(const std::string& type, const std::string& why) {
  return "invalid mount config for type \"" + type + "\": " + why;
}

const char* kMountHint = "e.g. --mount type=volume,source=NAME,target=/path or --mount type=bind,source=/host/path,target=/path";

bool dir_is_empty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Moves the copied tree into the volume's _data. One rename when _data is not mounted anywhere;
// else entry by entry, then the root's owner and mode.
void install_copy(const std::string& copy, const std::string& data) {
  if (::rename(copy.c_str(), data.c_str()) == 0) return;
  if (errno != EBUSY) throw_errno("copy-up: install " + copy);
  for (const auto& name : fs::list_dir(copy))
    if (::rename((copy + "/" + name).c_str(), (data + "/" + name).c_str()) != 0) throw_errno("copy-up: install " + name);
  struct stat st {};
  if (::lstat(copy.c_str(), &st) == 0) {
    if (::geteuid() == 0) ::lchown(data.c_str(), st.st_uid, st.st_gid);
    ::chmod(data.c_str(), st.st_mode & 07777);
  }
  ::rmdir(copy.c_str());
}

std::string tmpfs_data(int64_t size, uint32_t mode) {
  std::vector<std::string> parts;
  if (size > 0) parts.push_back("size=" + std::to_string(size));
  if (mode != 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "mode=%o", mode);
    parts.push_back(buf);
  }
  return str::join(parts, ",");
}

}  // namespace

MountRequest parse_mount_flag(const std::string& spec) {
  auto bad = [&](const std::string& why) -> Error {
    return Error("invalid argument \"" + spec + "\" for \"--mount\" flag: " + why, kMountHint);
  };
  MountRequest r;
  r.spec = spec;
  bool volume_opts = false, bind_opts = false, tmpfs_opts = false;
  for (const auto& field : str::split(spec, ',')) {
    if (field.empty()) continue;
    auto eq = field.find('=');
    std::string key = str::lower(field.substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro") {
        r.readonly = true;
      } else if (key == "volume-nocopy") {
        r.nocopy = volume_opts = true;
      } else {
        throw bad("invalid field '" + field + "' must be a key=value pair");
      }
      continue;
    }
    std::string value = field.substr(eq + 1);
    if (key == "type") {
      r.type = str::lower(value);
    } else if (key == "source" || key == "src") {
      r.source = value;
      if (value == "." || value.rfind("./", 0) == 0 || value.rfind("../", 0) == 0)
        r.source = clean_path((std::filesystem::current_path() / value).string());
    } else if (key == "target" || key == "dst" || key == "destination") {
      r.target = value;
    } else if (key == "readonly" || key == "ro") {
      auto b = parse_bool(value);
      if (!b) throw bad("invalid value for " + key + ": " + value);
      r.readonly = *b;
    } else if (key == "volume-nocopy") {
      auto b = parse_bool(value);
      if (!b) throw bad("invalid value for volume-nocopy: " + value);
      r.nocopy = *b;
      volume_opts = true;
    } else if (key == "bind-propagation") {
      r.propagation = str::lower(value);
      bind_opts = true;
    } else if (key == "tmpfs-size") {
      auto n = parse_ram_bytes(value);
      if (!n) throw bad("invalid value for " + key + ": " + value);
      r.tmpfs_size = *n;
      tmpfs_opts = true;
    } else if (key == "tmpfs-mode") {
      if (value.empty() || value.size() > 11 || value.find_first_not_of("01234567") != std::string::npos)
        throw bad("invalid value for " + key + ": " + value);
      unsigned long mode = std::stoul(value, nullptr, 8);
      if (mode > 0xffffffffUL) throw bad("invalid value for " + key + ": " + value);
      r.tmpfs_mode = static_cast<uint32_t>(mode);
      tmpfs_opts = true;
    } else if (key == "consistency") {
      // Docker for Mac only; accepted and ignored as Docker on Linux does.
    } else {
      throw bad("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  if (r.target.empty()) throw bad("target is required");
  if (volume_opts && r.type != "volume") throw bad("cannot mix 'volume-*' options with mount type '" + r.type + "'");
  if (bind_opts && r.type != "bind") throw bad("cannot mix 'bind-*' options with mount type '" + r.type + "'");
  if (tmpfs_opts && r.type != "tmpfs") throw bad("cannot mix 'tmpfs-*' options with mount type '" + r.type + "'");
  // The daemon's checks (moby volume/mounts linux parser), in its words.
  if (r.type != "volume" && r.type != "bind" && r.type != "tmpfs")
    throw Error(mount_config_error(r.type, "mount type unknown"), "type is volume, bind or tmpfs");
  if (r.target[0] != '/')
    throw Error(mount_config_error(r.type, "invalid mount path: '" + r.target + "' mount path must be absolute"), kMountHint);
  r.target = clean_path(r.target);
  if (r.target == "/") throw Error(mount_config_error(r.type, "invalid specification: destination can't be '/'"), kMountHint);
  if (r.type == "bind") {
    if (r.source.empty()) throw Error(mount_config_error("bind", "field Source must not be empty"), kMountHint);
    if (r.source[0] != '/')
      throw Error(mount_config_error("bind", "invalid mount path: '" + r.source + "' mount path must be absolute"), kMountHint);
    r.source = clean_path(r.source);
    if (r.propagation.empty()) r.propagation = "rprivate";
    if (!kPropagations.count(r.propagation))
      throw Error(mount_config_error("bind", "invalid propagation mode: " + r.propagation),
                  "use private, rprivate, shared, rshared, slave or rslave");
  } else if (r.type == "tmpfs") {
    if (!r.source.empty()) throw Error(mount_config_error("tmpfs", "field Source must not be specified"), kMountHint);
    if (r.readonly) {
      // Docker allows a read-only tmpfs: nothing to refuse.
    }
  } else if (!r.source.empty() && !valid_name(r.source)) {
    validate_name(r.source);
  }
  return r;
}

void validate_mounts(const std::vector<MountRequest>& requests) {
  std::set<std::string> targets;
  for (const auto& r : requests) {
    if (!targets.insert(r.target).second)
      throw Error("Duplicate mount point: " + r.target, "mount one thing per container path");
    if (r.type == "volume" && !r.source.empty()) validate_name(r.source);
    if (r.type == "bind" && !r.create_host_dir) {
      struct stat st {};
      if (::stat(r.source.c_str(), &st) != 0)
        throw Error(mount_config_error("bind", "bind source path does not exist: " + r.source),
                    "create it first, or use -v " + r.source + ":" + r.target + " which creates a missing directory");
    }
  }
}

std::vector<std::string> anonymous_volumes_in(const Store& store, const json& record_mounts) {
  std::vector<std::string> out;
  if (!record_mounts.is_array()) return out;
  for (const auto& m : record_mounts) {
    if (!m.is_object() || m.value("Type", "") != "volume") continue;
    auto v = store.find(m.value("Name", ""));
    if (v && v->anonymous) out.push_back(v->name);
  }
  return out;
}

std::vector<PreparedMount> prepare_mounts(Store& store, const std::vector<MountRequest>& user_requests,
                                          const std::vector<std::string>& layer_dirs,
                                          const std::vector<std::string>& image_volumes,
                                          const std::string& container_id, bool autoremove) {
  store.sweep_autoremoved();
  std::vector<MountRequest> requests = user_requests;
  // Image VOLUMEs the user did not mount over get anonymous volumes (Docker).
  for (const auto& iv : image_volumes) {
    std::string target = clean_path(iv);
    bool covered = std::any_of(requests.begin(), requests.end(), [&](const MountRequest& r) { return r.target == target; });
    if (covered || target == "/") continue;
    MountRequest r;
    r.target = target;
    r.from_image = true;
    r.spec = "VOLUME " + iv;
    requests.push_back(r);
  }
  std::vector<std::string> made_anonymous;
  std::vector<PreparedMount> out;
  try {
    for (const auto& r : requests) {
      PreparedMount m;
      m.target = r.target;
      m.readonly = r.readonly;
      if (r.type == "tmpfs") {
        m.fstype = "tmpfs";
        m.source = "tmpfs";
        m.data = tmpfs_data(r.tmpfs_size, r.tmpfs_mode);
        m.record = {{"Type", "tmpfs"}, {"Source", ""}, {"Destination", r.target}, {"Mode", ""},
                    {"RW", !r.readonly}, {"Propagation", ""}};
      } else if (r.type == "bind") {
        struct stat st {};
        if (::stat(r.source.c_str(), &st) != 0) {
          if (!r.create_host_dir || errno != ENOENT)
            throw Error(mount_config_error("bind", "bind source path does not exist: " + r.source), kMountHint);
          fs::mkdir_p(r.source, 0755);  // Docker's -v short syntax
        }
        m.fstype = "bind";
        m.source = r.source;
        m.record = {{"Type", "bind"}, {"Source", r.source}, {"Destination", r.target}, {"Mode", ""},
                    {"RW", !r.readonly}, {"Propagation", r.propagation.empty() ? "rprivate" : r.propagation}};
      } else {
        Volume v;
        if (r.source.empty()) {
          v = store.create_anonymous(autoremove ? container_id : "");
          made_anonymous.push_back(v.name);
        } else {
          v = store.create(r.source);
        }
        auto opt = [&](const char* k) { auto it = v.options.find(k); return it == v.options.end() ? std::string() : it->second; };
        if (opt("type") == "tmpfs") {
          m.fstype = "tmpfs";
          m.source = "tmpfs";
          m.data = opt("o");
        } else if (!opt("device").empty()) {
          m.fstype = "bind";
          m.source = opt("device");
        } else {
          m.fstype = "bind";
          m.source = v.mountpoint;
          if (!r.nocopy && !v.initialized && dir_is_empty(v.mountpoint)) {
            const std::string copy = v.dir + "/_data.copy";
            fs::remove_tree(copy);  // a crash's leftover
            if (copy_up(layer_dirs, r.target, copy)) {
              install_copy(copy, v.mountpoint);
              store.mark_initialized(v.name);
            }
          }
        }
        m.record = {{"Type", "volume"}, {"Name", v.name}, {"Source", v.mountpoint}, {"Destination", r.target},
                    {"Driver", "local"}, {"Mode", r.spec.rfind("-v ", 0) == 0 ? "z" : ""},
                    {"RW", !r.readonly}, {"Propagation", ""}};
      }
      out.push_back(std::move(m));
    }
  } catch (...) {
    for (const auto& name : made_anonymous) {
      try {
        store.remove(name, true);
      } catch (...) {
      }
    }
    throw;
  }
  return out;
}

}  // namespace berth::volume
