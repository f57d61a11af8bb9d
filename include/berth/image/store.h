#pragma once
// The local image store:
//   <root>/blobs/sha256/<hex>          layer archives as given, image configs, manifests
//   (immutable) <root>/layers/<chain-id hex>/diff  unpacked layers (overlay lowerdirs), meta.json
//   beside diff <root>/refs.json                   {"refs": {"name:tag": image id}, "images":
//   {image id: {"manifest": digest}}} <root>/lock                        flock held by writers
//   (import publish, tag, rm); readers take none <root>/tmp/<pid>-<rand>            work dirs; a
//   layer appears in layers/ by one rename, complete
// Image id = "sha256:" + digest of the config blob, as Docker. Directories are 0700.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "berth/image/config.h"
#include "berth/image/reference.h"
#include "berth/util/json.h"
#include "berth/util/paths.h"

namespace berth::image {

struct Image {
  std::string id;                      // sha256:<hex>
  std::vector<std::string> repo_tags;  // "busybox:latest", sorted
  ImageConfig config;
  std::vector<std::string> layer_dirs;  // absolute unpacked dirs, bottom first
  int64_t created_ns = 0;
  uint64_t size = 0;  // unpacked content bytes
};

class Store {
 public:
  explicit Store(std::string images_root = paths::state_root() + "/images");

  // By "name[:tag]", full id ("sha256:<hex>" or 64 hex), or a unique id prefix of >= 4 hex digits.
  // Throws Error only for an ambiguous prefix.
  std::optional<Image> find(const std::string& ref) const;

  // Imports a rootfs tar (file path, or "-" for stdin) as a one-layer image tagged `ref` (may be
  // empty: untagged). `changes` are Dockerfile-style instructions (see config.h).
  Image import_rootfs(const std::string& file_or_dash, const std::string& ref,
                      const std::vector<std::string>& changes);

  std::vector<Image> list() const;  // newest first
  void tag(const std::string& source_ref, const std::string& target_ref);

  // Untags/deletes; refuses when in_use(image_id) is non-empty unless force. Returns Docker-style
  // lines "Untagged: busybox:latest", "Deleted: sha256:...". With force on an image in use it is
  // only untagged: it stays as a dangling image (<none>) so its layers stay for the containers.
  std::vector<std::string> remove(
      const std::string& ref, bool force,
      const std::function<std::vector<std::string>(const std::string& image_id)>& in_use);

  // Docker `image inspect` shape: Id, RepoTags, Created, Config{...}, RootFS{Type, Layers}, Size,
  // ...
  std::string inspect_json(const Image& image) const;

  const std::string& root() const { return root_; }

 private:
  std::string blob_path(const std::string& digest) const;
  std::string layer_path(const std::string& chain_id) const;
  void ensure_layout() const;
  json load_refs() const;
  void save_refs(const json& refs) const;
  std::optional<Image> load_image(const std::string& id, const json& refs) const;
  std::optional<std::string> resolve(const std::string& ref, const json& refs) const;
  json load_config_blob(const std::string& id) const;

  std::string root_;
};

}  // namespace berth::image
