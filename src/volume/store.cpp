// The volume store: records under <root>/volumes, "in use" read from the container records.
#include "berth/volume/store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <regex>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"

namespace berth::volume {

namespace {

std::optional<json> read_json(const std::string& path) { return read_json_if_valid(path); }

// Bytes allocated under an open directory, walking by fd without following symlinks or mounts.
uint64_t tree_bytes(int dir_fd, dev_t dev) {
  uint64_t total = 0;
  for (const auto& name : fs::list_dir("/proc/self/fd/" + std::to_string(dir_fd))) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
      UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) total += tree_bytes(sub.get(), dev);
    }
  }
  return total;
}

bool label_matches(const std::map<std::string, std::string>& labels, const std::string& expr) {
  auto eq = expr.find('=');
  std::string key = expr.substr(0, eq);
  auto it = labels.find(key);
  if (it == labels.end()) return false;
  return eq == std::string::npos || it->second == expr.substr(eq + 1);
}

}  // namespace

bool valid_name(const std::string& name) {
  static const std::regex re("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$");
  return std::regex_match(name, re);
}

void validate_name(const std::string& name) {
  if (!valid_name(name))
    throw Error("\"" + name + "\" includes invalid characters for a local volume name, only "
                "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                "volume names are at least 2 characters: letters, digits, _ . -");
}

Store::Store(std::string state_root) : root_(std::move(state_root)), volumes_dir_(root_ + "/volumes") {}

FileLock Store::lock() const { return FileLock(root_ + "/locks", "volumes"); }

void Store::save(const Volume& v) const {
  json meta = {{"Name", v.name},
               {"Labels", v.labels},
               {"Options", v.options},
               {"CreatedAt", v.created_ns},
               {"Anonymous", v.anonymous},
               {"Initialized", v.initialized},
               {"RemoveWith", v.remove_with}};
  save_json_atomic(v.dir + "/meta.json", meta, true);
}

std::optional<Volume> Store::load(const std::string& name) const {
  if (!valid_name(name)) return std::nullopt;
  auto meta = read_json(volumes_dir_ + "/" + name + "/meta.json");
  if (!meta || !meta->is_object()) return std::nullopt;
  Volume v;
  v.name = name;
  v.dir = volumes_dir_ + "/" + name;
  v.mountpoint = v.dir + "/_data";
  v.labels = meta->value("Labels", std::map<std::string, std::string>{});
  v.options = meta->value("Options", std::map<std::string, std::string>{});
  v.created_ns = meta->value("CreatedAt", int64_t{0});
  v.anonymous = meta->value("Anonymous", false);
  v.initialized = meta->value("Initialized", false);
  v.remove_with = meta->value("RemoveWith", "");
  return v;
}

Volume Store::create(const std::string& name, const std::map<std::string, std::string>& labels,
                     const std::map<std::string, std::string>& options, bool anonymous,
                     const std::string& remove_with) {
  validate_name(name);
  if (auto existing = load(name)) return *existing;
  for (const auto& [key, value] : options)
    if (key != "type" && key != "device" && key != "o")
      throw Error("invalid option key: \"" + key + "\"", "the local driver takes type, device and o", 1);
  if (!options.empty()) {
    auto get = [&](const char* k) { auto it = options.find(k); return it == options.end() ? std::string() : it->second; };
    std::string type = get("type"), o = get("o"), device = get("device");
    bool bind = false;
    for (const auto& part : str::split(o, ',')) bind |= part == "bind";
    if (type == "tmpfs") {
      if (bind) throw Error("invalid option: o=bind cannot be used with type=tmpfs", "", 1);
    } else if (bind || type == "none") {
      if (device.empty() || device[0] != '/')
        throw Error("invalid option: a bind volume needs an absolute device=PATH", "e.g. -o type=none -o o=bind -o device=/srv/data", 1);
    } else {
      throw Error("volume type \"" + type + "\" is not supported",
                  "berth's local driver supports -o type=tmpfs and -o type=none,o=bind,device=PATH", 1);
    }
  }
  fs::mkdir_p(volumes_dir_, 0700);
  ::chmod(volumes_dir_.c_str(), 0700);
  Volume v;
  v.name = name;
  v.dir = volumes_dir_ + "/" + name;
  v.mountpoint = v.dir + "/_data";
  v.labels = labels;
  v.options = options;
  v.created_ns = timeutil::now_ns();
  v.anonymous = anonymous;
  v.remove_with = remove_with;
  fs::mkdir_p(v.dir, 0700);
  fs::mkdir_p(v.mountpoint, 0755);
  save(v);  // last: the volume exists from here on
  return v;
}

Volume Store::create_anonymous(const std::string& remove_with) {
  return create(random_hex_id(), {{"com.docker.volume.anonymous", ""}}, {}, true, remove_with);
}

std::optional<Volume> Store::find(const std::string& name) const { return load(name); }

std::vector<Volume> Store::list() const {
  std::vector<Volume> out;
  for (const auto& name : fs::list_dir(volumes_dir_))
    if (auto v = load(name)) out.push_back(*v);
  return out;
}

std::map<std::string, std::vector<std::string>> Store::users() const {
  std::map<std::string, std::vector<std::string>> out;
  const std::string containers = root_ + "/containers";
  for (const auto& id : fs::list_dir(containers)) {
    auto rec = read_json(containers + "/" + id + "/config.json");
    if (!rec || !rec->contains("Mounts") || !(*rec)["Mounts"].is_array()) continue;
    std::string cname = rec->value("Name", id);
    if (!cname.empty() && cname[0] == '/') cname.erase(0, 1);
    for (const auto& m : (*rec)["Mounts"])
      if (m.is_object() && m.value("Type", "") == "volume") out[m.value("Name", "")].push_back(cname);
  }
  return out;
}

void Store::remove(const std::string& name, bool force) {
  auto v = load(name);
  if (!v) {
    if (force) return;
    throw Error("get " + name + ": no such volume", "list volumes with: berth volume ls", 1);
  }
  auto u = users();
  if (auto it = u.find(name); it != u.end() && !it->second.empty())
    throw Error("remove " + name + ": volume is in use - [" + str::join(it->second, ", ") + "]",
                "remove the container(s) first: berth container rm " + str::join(it->second, " "), 1);
  // The record goes first: a half-removed volume is then invisible, never a volume missing data.
  if (::unlink((v->dir + "/meta.json").c_str()) != 0 && errno != ENOENT) throw_errno("remove volume " + name);
  fs::remove_tree(v->dir);
}

std::vector<std::string> Store::prune(bool all, const std::vector<std::string>& filters, uint64_t* reclaimed) {
  for (const auto& f : filters) {
    if (f.rfind("label=", 0) != 0 && f.rfind("label!=", 0) != 0 && f != "all=true" && f != "all=1")
      throw Error("invalid filter '" + f.substr(0, f.find('=')) + "'", "volume prune takes --filter label=KEY[=VALUE] or label!=KEY[=VALUE]", 1);
    if (f == "all=true" || f == "all=1") all = true;
  }
  auto u = users();
  std::vector<std::string> removed;
  for (const auto& v : list()) {
    if (u.count(v.name) && !u[v.name].empty()) continue;
    if (!all && !v.anonymous) continue;
    bool keep = false;
    for (const auto& f : filters) {
      if (f.rfind("label=", 0) == 0) keep |= !label_matches(v.labels, f.substr(6));
      if (f.rfind("label!=", 0) == 0) keep |= label_matches(v.labels, f.substr(7));
    }
    if (keep) continue;
    uint64_t bytes = size_of(v);
    remove(v.name, false);
    if (reclaimed) *reclaimed += bytes;
    removed.push_back(v.name);
  }
  return removed;
}

void Store::mark_initialized(const std::string& name) {
  auto v = load(name);
  if (!v) throw Error("get " + name + ": no such volume", "", 1);
  v->initialized = true;
  save(*v);
}

void Store::sweep_autoremoved() {
  std::optional<std::map<std::string, std::vector<std::string>>> u;
  for (const auto& v : list()) {
    if (!v.anonymous || v.remove_with.empty()) continue;
    if (fs::exists(root_ + "/containers/" + v.remove_with)) continue;
    if (!u) u = users();
    if (u->count(v.name) && !(*u)[v.name].empty()) continue;
    remove(v.name, true);
  }
}

json Store::inspect(const Volume& v) const {
  return ordered_json{{"CreatedAt", timeutil::rfc3339_nano(v.created_ns)},
                      {"Driver", "local"},
                      {"Labels", v.labels.empty() ? json(nullptr) : json(v.labels)},
                      {"Mountpoint", v.mountpoint},
                      {"Name", v.name},
                      {"Options", v.options.empty() ? json(nullptr) : json(v.options)},
                      {"Scope", "local"}};
}

uint64_t Store::size_of(const Volume& v) const {
  UniqueFd fd(::open(v.mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return 0;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return 0;
  return tree_bytes(fd.get(), st.st_dev);
}

}  // namespace berth::volume
