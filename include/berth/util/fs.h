#pragma once
// Small, safe filesystem helpers: atomic writes, recursive removal by fd (never follows
// symlinks), mkdir -p with a mode.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace berth::fs {

std::string read_file(const std::string& path);                 // throws SysError
std::optional<std::string> read_file_if_exists(const std::string& path);
// The same relative to a directory fd (AT_FDCWD: the cwd); nullopt when absent.
std::optional<std::string> read_file_at(int dir_fd, const std::string& path);
// Write to a temp file beside path, optionally fsync, then rename over path.
void write_file_atomic(const std::string& path, const std::string& data, mode_t mode = 0600,
                       bool sync = false);
void write_file(const std::string& path, const std::string& data, mode_t mode = 0644);
void mkdir_p(const std::string& path, mode_t mode = 0755);       // existing dirs are left as they are
// mkdir_p, then the directory is marked as the top of a hierarchy (FS_TOPDIR_FL, `chattr +T`)
// where the filesystem has that flag (ext2/3/4; elsewhere nothing happens): ext4 then spreads
// its subdirectories over the block groups instead of putting them into the parent's group. For
// the directories that get a subdirectory per container (docs/startup.md, "Inode churn").
void mkdir_p_spread(const std::string& path, mode_t mode = 0755);
// Remove a tree without following symlinks or crossing into other mounts; a missing path is fine.
void remove_tree(const std::string& path);
// Moves DIR = <base>/<kind>/<name> to <base>/trash/<name> (one rename) for a later remove_tree,
// and returns the new path ("" when DIR is missing). When the rename fails, removes DIR at once
// and returns "". For removals whose caller should not wait for every file to be freed.
std::string move_to_trash(const std::string& dir);
bool exists(const std::string& path);
bool is_dir(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);      // names, sorted; missing dir → empty
std::string dirname(const std::string& path);
std::string basename(const std::string& path);
std::string join(const std::string& a, const std::string& b);

}  // namespace berth::fs
