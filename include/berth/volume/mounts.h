#pragma once
// Container data mounts: --mount parsing (docker/cli's CSV syntax, the daemon's checks and
// words), and their preparation at container creation: binds, named and anonymous volumes (with
// copy-up) and tmpfs.
#include <cstdint>
#include <string>
#include <vector>

#include "berth/util/json.h"
#include "berth/volume/store.h"

namespace berth::volume {

struct MountRequest {
  std::string type = "volume";  // volume | bind | tmpfs
  std::string source;           // bind: absolute host path; volume: name, "" = anonymous
  std::string target;           // absolute, cleaned
  bool readonly = false;
  bool nocopy = false;          // volume-nocopy / -v ...:nocopy
  std::string propagation;      // binds: rprivate (default), private, rshared, shared, rslave, slave
  bool create_host_dir = false; // -v short syntax: a missing bind source is created (Docker)
  int64_t tmpfs_size = 0;       // bytes, 0 = kernel default
  uint32_t tmpfs_mode = 0;      // 0 = kernel default
  std::string spec;             // the flag as typed, for messages
  bool from_image = false;      // an image VOLUME declaration
};

// --mount type=volume|bind|tmpfs,source=..,target=..,readonly,volume-nocopy,bind-propagation=..,
// tmpfs-size=..,tmpfs-mode=.. (aliases src, dst, destination, ro). Errors: berth::Error, 125.
MountRequest parse_mount_flag(const std::string& spec);

// Checks without side effects (run before anything is created): names, duplicate targets,
// --mount bind sources exist.
void validate_mounts(const std::vector<MountRequest>& requests);

struct PreparedMount {
  std::string fstype;      // "bind" or "tmpfs"
  std::string source;      // bind: host path (a volume's _data for volumes)
  std::string target;
  std::string data;        // tmpfs mount data ("size=65536k,mode=1777")
  bool readonly = false;
  json record;             // Docker's inspect "Mounts" entry
};

// Makes the mounts real: creates missing short-syntax bind dirs, creates named volumes on first
// use and anonymous ones (for -v /path, type=volume without source and the image's VOLUMEs not
// covered by a user mount), and copies up image content into empty, never-initialised volumes.
// The caller holds store.lock() until the container record (which names the volumes) is saved.
// layer_dirs: the image's unpacked layers, bottom first. A failure removes the anonymous
// volumes made so far.
std::vector<PreparedMount> prepare_mounts(Store& store, const std::vector<MountRequest>& requests,
                                          const std::vector<std::string>& layer_dirs,
                                          const std::vector<std::string>& image_volumes,
                                          const std::string& container_id, bool autoremove);

// Anonymous volumes named by a container record's "Mounts" (for `container rm -v`).
std::vector<std::string> anonymous_volumes_in(const Store& store, const json& record_mounts);

}  // namespace berth::volume
