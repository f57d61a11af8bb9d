#pragma once
// Unpacking one layer archive (tar, plain or gzip/zstd/bzip2/xz) into its own directory for use
// as an overlayfs lowerdir, in a single pass that also stores the archive bytes as given and
// hashes both the blob (compressed) and the DiffID (uncompressed tar stream).
#include <cstdint>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::image {

struct UnpackedLayer {
  std::string blob_digest;  // sha256 of the bytes as read (the registry "digest")
  uint64_t blob_size = 0;
  std::string diff_id;        // sha256 of the uncompressed tar stream
  uint64_t diff_size = 0;     // bytes of uncompressed tar
  uint64_t content_size = 0;  // sum of regular file sizes (hardlinks counted once)
  std::string media_type;     // application/vnd.oci.image.layer.v1.tar[+gzip|+zstd|...]
  // Whiteouts found in the layer, as paths inside it. On overlay they become char 0/0 nodes and
  // trusted.overlay.opaque=y; where that is not permitted (non-root) they are only recorded here.
  std::vector<std::string> whiteouts, opaque_dirs;
  std::vector<std::string>
      not_converted;                 // whiteouts/opaque dirs that could not be applied on disk
  std::vector<std::string> skipped;  // entries left out (device nodes without privilege)
  berth::json meta() const;          // what layers/<chain>/meta.json holds
  static UnpackedLayer from_meta(const berth::json& j);  // throws json errors on a bad document
};

// Reads the archive from input_fd to EOF, writes its exact bytes to blob_path (created, 0600) and
// unpacks it into dest_dir, which must exist and be empty. Refuses absolute paths, "..", and
// writing through symlinks. Keeps numeric uid/gid (when running as root), modes, mtimes, xattrs.
// Throws berth::Error naming the offending entry.
UnpackedLayer unpack_layer(int input_fd, const std::string& blob_path, const std::string& dest_dir);

}  // namespace berth::image
