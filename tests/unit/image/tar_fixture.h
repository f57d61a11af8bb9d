#pragma once
// Builds layer tars in memory with libarchive for the image tests.
#include <archive.h>
#include <archive_entry.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace berth::image::test {

struct TarEntry {
  enum Kind { File, Dir, Symlink, Hardlink } kind;
  std::string path;
  std::string data;  // file content, or link target
  int mode = 0644;
  int uid = 0, gid = 0;
};

inline la_ssize_t append_cb(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A ustar archive (deterministic bytes, so the DiffID can be computed from it).
inline std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_ustar(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  for (const auto& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_mtime(ae, 1700000000, 0);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    switch (e.kind) {
      case TarEntry::File:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, e.mode);
        archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
        break;
      case TarEntry::Dir:
        archive_entry_set_filetype(ae, AE_IFDIR);
        archive_entry_set_perm(ae, e.mode == 0644 ? 0755 : e.mode);
        break;
      case TarEntry::Symlink:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_perm(ae, 0777);
        archive_entry_set_symlink(ae, e.data.c_str());
        break;
      case TarEntry::Hardlink:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, e.mode);
        archive_entry_set_hardlink(ae, e.data.c_str());
        archive_entry_set_size(ae, 0);
        break;
    }
    if (archive_write_header(a, ae) != ARCHIVE_OK)
      throw std::runtime_error(archive_error_string(a));
    if (e.kind == TarEntry::File && !e.data.empty())
      archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Compresses bytes with a libarchive filter ("gzip", "zstd") using the raw format.
inline std::string compress(const std::string& bytes, const char* filter) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_add_filter_by_name(a, filter);
  archive_write_set_format_raw(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  struct archive_entry* ae = archive_entry_new();
  archive_entry_set_filetype(ae, AE_IFREG);
  archive_entry_set_size(ae, static_cast<la_int64_t>(bytes.size()));
  if (archive_write_header(a, ae) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
  archive_write_data(a, bytes.data(), bytes.size());
  archive_entry_free(ae);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// The rootfs used by most tests: dirs, files, a symlink, a hardlink, a whiteout, an opaque dir.
inline std::vector<TarEntry> sample_rootfs() {
  return {
      {TarEntry::Dir, "./", "", 0755},
      {TarEntry::Dir, "./bin/", "", 0755},
      {TarEntry::File, "./bin/busybox", "#!fake busybox\n", 0755},
      {TarEntry::Symlink, "./bin/sh", "busybox"},
      {TarEntry::Hardlink, "./bin/ls", "./bin/busybox", 0755},
      {TarEntry::Dir, "./etc/", "", 0755},
      {TarEntry::File, "./etc/hostname", "berth\n", 0644},
      {TarEntry::File, "./etc/shadow", "root:*:1::::::\n", 0600, 0, 42},
      {TarEntry::File, "./etc/.wh.old.conf", ""},
      {TarEntry::Dir, "./data/", "", 0750, 1000, 1000},
      {TarEntry::File, "./data/.wh..wh..opq", ""},
      {TarEntry::File, "./data/keep", "kept\n", 0644, 1000, 1000},
      {TarEntry::Dir, "./tmp/", "", 01777},
  };
}

}  // namespace berth::image::test
