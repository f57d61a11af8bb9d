#include "berth/image/store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <set>

#include "berth/image/digest.h"
#include "berth/image/layer.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"

namespace berth::image {

namespace {

constexpr const char* kManifestType = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kConfigType = "application/vnd.oci.image.config.v1+json";

const char* host_architecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__i386__)
  return "386";
#elif defined(__powerpc64__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv)
  return "riscv64";
#else
  return "unknown";
#endif
}

// Writers serialise on a separate lock file (a lock on refs.json would be lost by its rename).
class StoreLock {
 public:
  explicit StoreLock(const std::string& path)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (!fd_) throw_errno("open " + path);
    while (::flock(fd_.get(), LOCK_EX) != 0)
      if (errno != EINTR) throw_errno("flock " + path);
  }

 private:
  UniqueFd fd_;
};

[[noreturn]] void no_such_image(const std::string& ref) {
  throw Error("No such image: " + ref, "see 'berth image ls' for the images there are");
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p.front() == '/') return p;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) throw_errno("getcwd");
  return fs::join(cwd, p);
}

// "sha256:<hex>" → "<hex>" without validating (ids in refs.json were validated when written).
std::string hex_of(const std::string& id) {
  return id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
}

std::vector<std::string> diff_ids_of(const json& config) {
  std::vector<std::string> out;
  auto rootfs = config.find("rootfs");
  if (rootfs == config.end() || !rootfs->is_object()) return out;
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) return out;
  for (const auto& d : *ids)
    if (d.is_string() && is_digest(d.get<std::string>())) out.push_back(d.get<std::string>());
  return out;
}

}  // namespace

Store::Store(std::string images_root) : root_(absolute(images_root)) {
  char resolved[PATH_MAX];
  // A resolved root keeps libarchive's symlink check from tripping over a symlinked state dir.
  if (::realpath(root_.c_str(), resolved)) root_ = resolved;
}

std::string Store::blob_path(const std::string& digest) const {
  return root_ + "/blobs/sha256/" + digest_hex(digest);
}

std::string Store::layer_path(const std::string& chain_id) const {
  return root_ + "/layers/" + digest_hex(chain_id);
}

void Store::ensure_layout() const {
  for (const char* sub : {"", "/blobs", "/blobs/sha256", "/layers", "/tmp"}) {
    std::string dir = root_ + sub;
    fs::mkdir_p(dir, 0700);
  }
  // Work dirs of imports that were killed: named <pid>-<rand>, removed once their pid is gone.
  for (const auto& name : fs::list_dir(root_ + "/tmp")) {
    long pid = std::strtol(name.c_str(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      try {
        fs::remove_tree(root_ + "/tmp/" + name);
      } catch (const Error&) {
      }
    }
  }
}

json Store::load_refs() const {
  json refs;
  if (auto text = fs::read_file_if_exists(root_ + "/refs.json")) {
    try {
      refs = json::parse(*text);
    } catch (const json::exception& e) {
      throw Error(root_ + "/refs.json: invalid JSON: " + e.what(), "repair or remove the file");
    }
  }
  if (!refs.is_object()) refs = json::object();
  if (!refs.contains("version")) refs["version"] = 1;
  if (!refs.contains("refs") || !refs["refs"].is_object()) refs["refs"] = json::object();
  if (!refs.contains("images") || !refs["images"].is_object()) refs["images"] = json::object();
  return refs;
}

void Store::save_refs(const json& refs) const {
  save_json_atomic(root_ + "/refs.json", refs, true);
}

json Store::load_config_blob(const std::string& id) const {
  auto text = fs::read_file_if_exists(blob_path(id));
  if (!text) return json();
  try {
    return json::parse(*text);
  } catch (const json::exception&) {
    return json();
  }
}

std::optional<Image> Store::load_image(const std::string& id, const json& refs) const {
  if (!refs["images"].contains(id)) return std::nullopt;
  json config = load_config_blob(id);
  if (!config.is_object()) return std::nullopt;
  Image img;
  img.id = id;
  for (auto it = refs["refs"].begin(); it != refs["refs"].end(); ++it)
    if (it->is_string() && it->get<std::string>() == id) img.repo_tags.push_back(it.key());
  std::sort(img.repo_tags.begin(), img.repo_tags.end());
  if (config.contains("config")) img.config = config_from_json(config["config"]);
  if (config.contains("created") && config["created"].is_string()) {
    try {
      img.created_ns = timeutil::parse_rfc3339(config["created"].get<std::string>());
    } catch (const Error&) {
    }
  }
  for (const auto& chain : chain_ids(diff_ids_of(config))) {
    std::string dir = layer_path(chain);
    img.layer_dirs.push_back(dir + "/diff");
    try {
      json meta = json::parse(fs::read_file(dir + "/meta.json"));
      img.size += meta.value("size", uint64_t{0});
    } catch (const std::exception&) {
    }
  }
  return img;
}

std::optional<std::string> Store::resolve(const std::string& ref, const json& refs) const {
  const json& images = refs["images"];
  if (is_digest(ref)) return images.contains(ref) ? std::optional(ref) : std::nullopt;
  // A name first (Docker's order), then an id prefix: "abcd" may be either.
  try {
    Reference r = parse_reference(ref);
    if (r.digest.empty()) {
      auto it = refs["refs"].find(r.str());
      if (it != refs["refs"].end() && it->is_string()) return it->get<std::string>();
    }
  } catch (const Error&) {
  }
  if (!looks_like_id_prefix(ref)) return std::nullopt;
  std::string prefix = "sha256:" + hex_of(ref);
  std::vector<std::string> matches;
  for (auto it = images.begin(); it != images.end(); ++it)
    if (it.key().rfind(prefix, 0) == 0) matches.push_back(it.key());
  if (matches.size() > 1)
    throw Error("image id prefix '" + ref + "' is ambiguous (" + std::to_string(matches.size()) +
                    " images)",
                "give more digits of the id");
  if (matches.empty()) return std::nullopt;
  return matches[0];
}

std::optional<Image> Store::find(const std::string& ref) const {
  json refs = load_refs();
  auto id = resolve(ref, refs);
  if (!id) return std::nullopt;
  return load_image(*id, refs);
}

std::vector<Image> Store::list() const {
  json refs = load_refs();
  std::vector<Image> out;
  for (auto it = refs["images"].begin(); it != refs["images"].end(); ++it)
    if (auto img = load_image(it.key(), refs)) out.push_back(std::move(*img));
  std::stable_sort(out.begin(), out.end(),
                   [](const Image& a, const Image& b) { return a.created_ns > b.created_ns; });
  return out;
}

Image Store::import_rootfs(const std::string& file_or_dash, const std::string& ref,
                           const std::vector<std::string>& changes) {
  // Validate everything cheap before reading a possibly large input.
  std::string tag;
  if (!ref.empty()) {
    Reference r = parse_reference(ref);
    if (!r.digest.empty())
      throw Error("cannot import as '" + ref + "': a digest is not a tag", "use NAME[:TAG]");
    tag = r.str();
  }
  ImageConfig config;
  for (const auto& change : changes) apply_change(config, change);

  UniqueFd input;
  if (file_or_dash == "-") {
    input.reset(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0));
    if (!input) throw_errno("stdin");
  } else {
    input.reset(::open(file_or_dash.c_str(), O_RDONLY | O_CLOEXEC));
    if (!input) throw_errno("open " + file_or_dash);
  }

  ensure_layout();
  std::string work =
      root_ + "/tmp/" + std::to_string(::getpid()) + "-" + random_hex_id().substr(0, 12);
  fs::mkdir_p(work, 0700);
  try {
    if (::mkdir((work + "/diff").c_str(), 0755) != 0) throw_errno("mkdir " + work + "/diff");
    UnpackedLayer layer = unpack_layer(input.get(), work + "/blob", work + "/diff");
    std::string chain = layer.diff_id;  // bottom layer: ChainID == DiffID
    json meta = layer.meta();
    meta["chain_id"] = chain;
    meta["parent"] = "";
    fs::write_file_atomic(work + "/meta.json", meta.dump(2) + "\n", 0600, true);

    int64_t now = timeutil::now_ns();
    std::string created = timeutil::rfc3339_nano(now);
    json config_json = {
        {"architecture", host_architecture()},
        {"os", "linux"},
        {"created", created},
        {"config", config_to_json(config)},
        {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({layer.diff_id})}}},
        {"history", json::array({{{"created", created},
                                  {"created_by", "berth image import"},
                                  {"comment", "Imported from " + file_or_dash}}})}};
    std::string config_bytes = config_json.dump();
    std::string id = sha256_digest(config_bytes);
    json manifest = {
        {"schemaVersion", 2},
        {"mediaType", kManifestType},
        {"config", {{"mediaType", kConfigType}, {"digest", id}, {"size", config_bytes.size()}}},
        {"layers", json::array({{{"mediaType", layer.media_type},
                                 {"digest", layer.blob_digest},
                                 {"size", layer.blob_size}}})}};
    std::string manifest_bytes = manifest.dump();
    std::string manifest_digest = sha256_digest(manifest_bytes);

    {
      StoreLock lock(root_ + "/lock");
      if (::rename((work + "/blob").c_str(), blob_path(layer.blob_digest).c_str()) != 0)
        throw_errno("rename layer blob");
      fs::write_file_atomic(blob_path(id), config_bytes, 0600, true);
      fs::write_file_atomic(blob_path(manifest_digest), manifest_bytes, 0600, true);
      std::string layer_dir = layer_path(chain);
      if (!fs::exists(layer_dir) && ::rename(work.c_str(), layer_dir.c_str()) != 0)
        throw_errno("rename " + work + " to " + layer_dir);
      json refs = load_refs();
      refs["images"][id] = {{"manifest", manifest_digest}};
      if (!tag.empty()) refs["refs"][tag] = id;
      save_refs(refs);
    }
    fs::remove_tree(work);  // only left when the layer was already there
    auto img = find(id);
    if (!img) throw Error("imported image " + id + " vanished");
    return *img;
  } catch (...) {
    try {
      fs::remove_tree(work);
    } catch (const Error&) {
    }
    throw;
  }
}

void Store::tag(const std::string& source_ref, const std::string& target_ref) {
  Reference target = parse_reference(target_ref);
  if (!target.digest.empty())
    throw Error("cannot tag '" + target_ref + "': a digest is not a tag", "use NAME[:TAG]");
  ensure_layout();
  StoreLock lock(root_ + "/lock");
  json refs = load_refs();
  auto id = resolve(source_ref, refs);
  if (!id || !load_image(*id, refs)) no_such_image(source_ref);
  refs["refs"][target.str()] = *id;
  save_refs(refs);
}

std::vector<std::string> Store::remove(
    const std::string& ref, bool force,
    const std::function<std::vector<std::string>(const std::string& image_id)>& in_use) {
  ensure_layout();
  std::vector<std::string> lines;
  std::vector<std::string> trash;
  {
    StoreLock lock(root_ + "/lock");
    json refs = load_refs();
    auto id = resolve(ref, refs);
    if (!id) no_such_image(ref);
    std::optional<std::string> named;  // the tag the user gave, if the ref was a name
    try {
      Reference r = parse_reference(ref);
      if (refs["refs"].contains(r.str()) && refs["refs"][r.str()] == *id) named = r.str();
    } catch (const Error&) {
    }
    std::vector<std::string> tags;
    for (auto it = refs["refs"].begin(); it != refs["refs"].end(); ++it)
      if (*it == *id) tags.push_back(it.key());

    if (named && tags.size() > 1) {  // other names keep the image
      refs["refs"].erase(*named);
      save_refs(refs);
      return {"Untagged: " + *named};
    }
    std::string short_id = hex_of(*id).substr(0, 12);
    if (!named && tags.size() > 1 && !force)
      throw Error("unable to delete " + short_id +
                      " (must be forced) - image is referenced in multiple repositories",
                  "use -f to untag all and delete, or remove the tags one by one");
    std::vector<std::string> users = in_use ? in_use(*id) : std::vector<std::string>{};
    if (!users.empty() && !force)
      throw Error("unable to remove image " + ref + ": image is being used by container " +
                      str::join(users, ", "),
                  "remove the container first or use -f");

    for (const auto& t : tags) {
      refs["refs"].erase(t);
      lines.push_back("Untagged: " + t);
    }
    // Forced on an image in use: untag only. The image stays (dangling, <none>) so that its
    // layers stay referenced for the containers; pruning it is for when they are gone.
    if (!users.empty()) {
      if (tags.empty())
        throw Error("unable to delete " + short_id + ": image is being used by container " +
                        str::join(users, ", "),
                    "remove the container first");
      save_refs(refs);
      return lines;
    }
    json config = load_config_blob(*id);
    std::string manifest = refs["images"][*id].value("manifest", "");
    refs["images"].erase(*id);
    save_refs(refs);
    lines.push_back("Deleted: " + *id);

    // Content still used by other images (or, for layers, by containers) stays.
    std::set<std::string> other_chains, other_blobs;
    for (auto it = refs["images"].begin(); it != refs["images"].end(); ++it) {
      json other = load_config_blob(it.key());
      for (const auto& c : chain_ids(diff_ids_of(other))) other_chains.insert(c);
      other_blobs.insert(it.key());
      if (it->is_object()) other_blobs.insert(it->value("manifest", ""));
    }
    auto drop_blob = [&](const std::string& digest) {
      if (!is_digest(digest) || other_blobs.count(digest)) return;
      if (::unlink(blob_path(digest).c_str()) != 0 && errno != ENOENT)
        throw_errno("unlink " + blob_path(digest));
    };
    {
      for (const auto& chain : chain_ids(diff_ids_of(config))) {
        if (other_chains.count(chain)) continue;
        std::string dir = layer_path(chain);
        std::string layer_blob;
        try {
          layer_blob = json::parse(fs::read_file(dir + "/meta.json")).value("blob_digest", "");
        } catch (const std::exception&) {
        }
        std::string doomed =
            root_ + "/tmp/" + std::to_string(::getpid()) + "-rm-" + random_hex_id().substr(0, 12);
        if (::rename(dir.c_str(), doomed.c_str()) == 0) {
          trash.push_back(doomed);
          lines.push_back("Deleted: " + chain);
        }
        drop_blob(layer_blob);
      }
    }
    drop_blob(*id);
    drop_blob(manifest);
  }
  for (const auto& dir : trash) fs::remove_tree(dir);
  return lines;
}

std::string Store::inspect_json(const Image& image) const {
  json config = load_config_blob(image.id);
  if (!config.is_object()) config = json::object();
  const ImageConfig& c = image.config;
  auto list_or_null = [](const std::vector<std::string>& v) {
    return v.empty() ? json(nullptr) : json(v);
  };
  ordered_json cfg = {{"Hostname", ""},       {"Domainname", ""},      {"User", c.user},
                      {"AttachStdin", false}, {"AttachStdout", false}, {"AttachStderr", false}};
  if (!c.exposed_ports.empty()) {
    cfg["ExposedPorts"] = ordered_json::object();
    for (const auto& p : c.exposed_ports) cfg["ExposedPorts"][p] = ordered_json::object();
  }
  cfg["Tty"] = false;
  cfg["OpenStdin"] = false;
  cfg["StdinOnce"] = false;
  cfg["Env"] = list_or_null(c.env);
  cfg["Cmd"] = list_or_null(c.cmd);
  if (c.healthcheck) cfg["Healthcheck"] = *c.healthcheck;
  cfg["Image"] = "";
  if (c.volumes.empty()) {
    cfg["Volumes"] = nullptr;
  } else {
    cfg["Volumes"] = ordered_json::object();
    for (const auto& v : c.volumes) cfg["Volumes"][v] = ordered_json::object();
  }
  cfg["WorkingDir"] = c.working_dir;
  cfg["Entrypoint"] = list_or_null(c.entrypoint);
  cfg["OnBuild"] = nullptr;
  cfg["Labels"] = c.labels.empty() ? json(nullptr) : json(c.labels);
  if (!c.stop_signal.empty()) cfg["StopSignal"] = c.stop_signal;

  std::string comment;
  if (config.contains("history") && config["history"].is_array() && !config["history"].empty())
    comment = config["history"][0].value("comment", "");
  json layers = json::array();
  for (const auto& d : diff_ids_of(config)) layers.push_back(d);
  ordered_json graph_data = ordered_json::object();
  if (!image.layer_dirs.empty()) {
    std::vector<std::string> lowers(image.layer_dirs.rbegin() + 1, image.layer_dirs.rend());
    if (!lowers.empty()) graph_data["LowerDir"] = str::join(lowers, ":");
    graph_data["UpperDir"] = image.layer_dirs.back();
  }
  ordered_json out = {{"Id", image.id},
                      {"RepoTags", image.repo_tags},
                      {"RepoDigests", json::array()},
                      {"Parent", ""},
                      {"Comment", comment},
                      {"Created", timeutil::rfc3339_nano(image.created_ns)},
                      {"DockerVersion", ""},
                      {"Author", ""},
                      {"Config", cfg},
                      {"Architecture", config.value("architecture", host_architecture())},
                      {"Os", config.value("os", "linux")},
                      {"Size", image.size},
                      {"GraphDriver", {{"Data", graph_data}, {"Name", "overlay"}}},
                      {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
                      {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
  return out.dump(4);
}

}  // namespace berth::image
