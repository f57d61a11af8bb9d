#include "berth/image/layer.h"

#include "berth/image/heavy.h"

namespace berth::image {

json UnpackedLayer::meta() const {
  return json{
      {"blob_digest", blob_digest}, {"blob_size", blob_size},     {"diff_id", diff_id},
      {"diff_size", diff_size},     {"size", content_size},       {"media_type", media_type},
      {"whiteouts", whiteouts},     {"opaque_dirs", opaque_dirs}, {"not_converted", not_converted},
      {"skipped", skipped}};
}

UnpackedLayer UnpackedLayer::from_meta(const json& j) {
  UnpackedLayer out;
  out.blob_digest = j.at("blob_digest").get<std::string>();
  out.blob_size = j.at("blob_size").get<uint64_t>();
  out.diff_id = j.at("diff_id").get<std::string>();
  out.diff_size = j.at("diff_size").get<uint64_t>();
  out.content_size = j.at("size").get<uint64_t>();
  out.media_type = j.at("media_type").get<std::string>();
  out.whiteouts = j.at("whiteouts").get<std::vector<std::string>>();
  out.opaque_dirs = j.at("opaque_dirs").get<std::vector<std::string>>();
  out.not_converted = j.at("not_converted").get<std::vector<std::string>>();
  out.skipped = j.at("skipped").get<std::vector<std::string>>();
  return out;
}

// The libarchive code lives in the berth-heavy helper (heavy/layer_unpack.cpp): it reads the
// layer from input_fd itself and answers with the layer's meta.
UnpackedLayer unpack_layer(int input_fd, const std::string& blob_path, const std::string& dest_dir) {
  return UnpackedLayer::from_meta(run_heavy({"unpack-layer", blob_path, dest_dir}, input_fd));
}

}  // namespace berth::image
