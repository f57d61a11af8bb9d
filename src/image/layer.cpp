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

// The libarchive code lives in berth-heavy.so (heavy/layer_unpack.cpp), loaded here on first use.
UnpackedLayer unpack_layer(int input_fd, const std::string& blob_path, const std::string& dest_dir) {
  const BerthHeavyApi& api = heavy_module();
  UnpackedLayer out;
  BerthHeavyError error{};
  if (api.unpack_layer(input_fd, blob_path.c_str(), dest_dir.c_str(), &out, &error) != 0)
    throw_heavy_error(api, error);
  return out;
}

}  // namespace berth::image
