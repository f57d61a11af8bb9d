#pragma once
// Copy-up: the first mount of an empty volume over a path with content in the image fills the
// volume with that content, as Docker does. The image is read as overlayfs would merge it, from
// its unpacked layer directories (whiteouts: 0/0 char devices; opaque dirs:
// trusted.overlay.opaque=y), walking by fd with O_NOFOLLOW: a symlink in the image is copied as
// a symlink, never followed. Kept: owners (as root), modes incl. setuid/setgid/sticky, xattrs
// (security.capability too; trusted.overlay.* dropped), symlinks, hardlinks, sparse files,
// FIFOs, device nodes (as root), timestamps.
#include <string>
#include <vector>

namespace berth::volume {

// Copies the merged directory at `path` (absolute, in the image) to new_dir, which must not
// exist; new_dir gets the image directory's owner, mode and xattrs. Returns false, creating
// nothing, when the image has no directory at path (or a symlink on the way to it).
bool copy_up(const std::vector<std::string>& layer_dirs_bottom_first, const std::string& path,
             const std::string& new_dir);

}  // namespace berth::volume
