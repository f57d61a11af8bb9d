#pragma once
// In the berth-heavy helper only: the libarchive implementation behind image::unpack_layer.
#include "berth/image/layer.h"

namespace berth::image {
UnpackedLayer unpack_layer_with_libarchive(int input_fd, const std::string& blob_path, const std::string& dest_dir);
}
