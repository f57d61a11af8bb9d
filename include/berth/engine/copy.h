#pragma once
// `container cp` and Compose's `cp`: files between a container (running or stopped) and the host
// or a tar stream on stdin/stdout, with Docker's path rules (docs/copy.md).
//
// The container side runs in a forked child that joins the container's mount namespace (running)
// or mounts the container's rootfs in a private one (stopped), chroots into it, and holds no host
// fd but two sockets to the parent. It never loads a library and never asks NSS. Every path in the
// container is resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and everything below
// it is walked by fd with O_NOFOLLOW, on both sides, so no symlink leads out of the tree.
#include <cstdint>
#include <string>
#include <utility>

namespace berth::engine {

struct CopyOptions {
  bool archive = false;      // -a: keep uid/gid (else: root in the container, the caller on the host)
  bool follow_link = false;  // -L: a symlink as SRC_PATH is followed (inside the container's root)
};

// CONTAINER:src_path to dest_path on the host, or to stdout as a tar stream when dest_path is "-".
// container_name is used in messages. Throws Error (exit 1) as Docker does. Returns the size of
// the tar stream (Docker's "Successfully copied" count).
uint64_t copy_from_container(const std::string& container_id, const std::string& container_name,
                         const std::string& src_path, const std::string& dest_path, const CopyOptions& options);

// src_path on the host (or a tar stream on stdin when src_path is "-") to CONTAINER:dest_path.
uint64_t copy_to_container(const std::string& src_path, const std::string& container_id,
                       const std::string& container_name, const std::string& dest_path,
                       const CopyOptions& options);

// ---- pure helpers (Docker's path rules) ----

struct CopySource {
  bool is_dir = false;
  bool contents_only = false;  // SRC ends with "/." : the directory's contents, not the directory
  std::string base;            // last component of SRC
};
struct CopyDestination {
  bool exists = false, is_dir = false;
  bool ends_with_separator = false;  // "dir/" or "dir/."
};
// Where the stream is unpacked: into extract_dir, its top entry named top ("" = the source's
// contents go straight into extract_dir). Throws Error (exit 1) for Docker's refusals.
struct CopyPlacement {
  std::string extract_dir, top;
};
CopyPlacement place_copy(const CopySource& source, const CopyDestination& dest, const std::string& dest_path,
                         const std::string& source_path);

// Docker's split of a cp argument: "name:path" -> {name, path}; absolute or "./x:y" paths are local.
std::pair<std::string, std::string> split_copy_argument(const std::string& arg);

}  // namespace berth::engine
