#pragma once
// Resolving a container's `user:` against the image's own /etc/passwd and /etc/group, with
// moby/sys/user's rules (runtime-security.md 1.8). File parsing only: this is linked into the static
// supervisor, so no getpwnam/NSS.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::runtime {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  // What setgroups() gets, as Docker builds it: gid, then the passwd user's groups from /etc/group
  // (only when the spec names no group), then --group-add; duplicates removed, order kept.
  std::vector<uint32_t> additional_gids;
  std::string home = "/";  // passwd home, "/" without an entry
};

// spec: "", "user", "uid", "user:group", "uid:gid", "user:gid", "uid:group".
// passwd_text/group_text: file contents, nullopt when the image has no such file.
// group_add: --group-add / compose group_add entries (names looked up in group_text, or numbers).
// Errors (berth::Error, exit 125): "unable to find user X: no matching entries in passwd file",
// "unable to find group X: no matching entries in group file", "Unable to find group X: ...",
// "uids and gids must be in range 0-2147483647".
ResolvedUser resolve_user(const std::string& spec, const std::optional<std::string>& passwd_text,
                          const std::optional<std::string>& group_text,
                          const std::vector<std::string>& group_add = {});

// The content of path_in_rootfs (e.g. "/etc/passwd") as an overlay of layer_dirs would show it:
// the topmost layer holding the entry wins; whiteouts (a 0:0 char device or a .wh.<name> file) and
// opaque directories (trusted./user.overlay.opaque=y or a .wh..wh..opq file) hide lower layers.
// Symlinks are followed through the merged view and can never leave it (".." and absolute targets
// stop at the rootfs root); every open is openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|
// RESOLVE_NO_SYMLINKS) below a layer dir. nullopt when the path does not exist or is not a regular
// file. Throws SysError for I/O errors and Error for a symlink loop.
std::optional<std::string> read_file_in_layers(const std::vector<std::string>& layer_dirs_bottom_first,
                                               const std::string& path_in_rootfs);

}  // namespace berth::runtime
