// Part of the berth-heavy helper: the only code that touches libarchive.
#include "image/heavy/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/strings.h"

namespace berth::image {

namespace {

constexpr size_t kChunk = 1 << 16;

// Layer bytes are hashed with OpenSSL (SHA-NI: ~3.5x the portable image::Sha256 here, measured in
// docs/startup.md); image::Sha256 stays the one for small inputs on paths without this module.
class BulkSha256 {
 public:
  BulkSha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx_);
      throw Error("cannot import layer: OpenSSL sha256 init failed");
    }
  }
  ~BulkSha256() { EVP_MD_CTX_free(ctx_); }
  BulkSha256(const BulkSha256&) = delete;
  BulkSha256& operator=(const BulkSha256&) = delete;
  void update(const void* data, size_t size) {
    if (size && EVP_DigestUpdate(ctx_, data, size) != 1) throw Error("cannot import layer: OpenSSL sha256 failed");
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) throw Error("cannot import layer: OpenSSL sha256 failed");
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += {digits[md[i] >> 4], digits[md[i] & 15]};
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Source 1: the raw input, copied to the blob file and hashed on the way (compressed digest).
struct RawSource {
  int in_fd;
  int blob_fd;
  BulkSha256 hash;
  uint64_t size = 0;
  std::string error;
  char buf[kChunk];
};

la_ssize_t raw_read(struct archive* a, void* opaque, const void** out) {
  auto* src = static_cast<RawSource*>(opaque);
  for (;;) {
    ssize_t n = ::read(src->in_fd, src->buf, sizeof src->buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      src->error = std::string("read input: ") + std::strerror(errno);
      if (a) archive_set_error(a, errno, "%s", src->error.c_str());
      return -1;
    }
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      ssize_t w = ::write(src->blob_fd, src->buf + off, static_cast<size_t>(n) - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        src->error = std::string("write blob: ") + std::strerror(errno);
        if (a) archive_set_error(a, errno, "%s", src->error.c_str());
        return -1;
      }
      off += static_cast<size_t>(w);
    }
    src->hash.update(src->buf, static_cast<size_t>(n));
    src->size += static_cast<uint64_t>(n);
    *out = src->buf;
    return n;
  }
}

// Source 2: the decompressed stream (read through a "raw" format archive), hashed as the DiffID
// and fed to the tar reader.
struct TarStream {
  struct archive* decompressor;
  BulkSha256 hash;
  uint64_t size = 0;
  char buf[kChunk];
};

la_ssize_t tar_read(struct archive* a, void* opaque, const void** out) {
  auto* s = static_cast<TarStream*>(opaque);
  la_ssize_t n = archive_read_data(s->decompressor, s->buf, sizeof s->buf);
  if (n < 0) {
    if (a)
      archive_set_error(a, archive_errno(s->decompressor), "%s",
                        archive_error_string(s->decompressor));
    return -1;
  }
  s->hash.update(s->buf, static_cast<size_t>(n));
  s->size += static_cast<uint64_t>(n);
  *out = s->buf;
  return n;
}

struct ArchiveReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<struct archive, ArchiveReadDeleter>;
using WriteArchive = std::unique_ptr<struct archive, ArchiveWriteDeleter>;

std::string archive_message(struct archive* a) {
  const char* m = archive_error_string(a);
  return m ? m : "unknown libarchive error";
}

[[noreturn]] void layer_error(const std::string& what) {
  throw Error("cannot import layer: " + what,
              "the file must be a tar archive (plain, gzip, zstd, bzip2 or xz)");
}

// "./a/b/" -> "a/b"; refuses absolute paths and ".." (also done by libarchive's SECURE flags,
// which cannot see the original name once we prefix it with the destination).
std::string clean_entry_path(const char* raw) {
  if (!raw) layer_error("entry without a name");
  std::string p = raw;
  if (!p.empty() && p.front() == '/') layer_error("entry '" + p + "' has an absolute path");
  std::vector<std::string> parts;
  for (const auto& c : str::split(p, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") layer_error("entry '" + p + "' contains '..'");
    parts.push_back(c);
  }
  return str::join(parts, "/");
}

// Opens dir `rel` below root without following symlinks; creates missing parts (0755) if asked.
UniqueFd open_dir_below(int root_fd, const std::string& rel, bool create) {
  UniqueFd cur(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  for (const auto& c : str::split(rel, '/')) {
    if (c.empty()) continue;
    int fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), c.c_str(), 0755) != 0 && errno != EEXIST) return UniqueFd();
      fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) return UniqueFd();
    cur.reset(fd);
  }
  return cur;
}

struct Whiteout {
  std::string dir, name;  // name empty = opaque marker for dir
  uid_t uid;
  gid_t gid;
};

// Overlay form of whiteouts (containerd's OverlayConvertWhiteout): char 0/0 for a removed name,
// trusted.overlay.opaque=y for an opaque dir. Whiteouts hide lower layers only, so one whose name
// exists in this same layer is left alone.
void apply_whiteouts(int root_fd, const std::vector<Whiteout>& list, bool as_root,
                     UnpackedLayer& out) {
  for (const auto& w : list) {
    std::string shown = w.dir.empty() ? w.name : w.dir + "/" + w.name;
    if (w.name.empty()) shown = w.dir.empty() ? "." : w.dir;
    UniqueFd dir = open_dir_below(root_fd, w.dir, true);
    if (!dir) {
      out.not_converted.push_back(shown);
      continue;
    }
    if (w.name.empty()) {
      if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
        out.not_converted.push_back(shown);
      continue;
    }
    struct stat st {};
    if (::fstatat(dir.get(), w.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
    if (::mknodat(dir.get(), w.name.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
      out.not_converted.push_back(shown);
      continue;
    }
    if (as_root) (void)::fchownat(dir.get(), w.name.c_str(), w.uid, w.gid, AT_SYMLINK_NOFOLLOW);
  }
}

}  // namespace

UnpackedLayer unpack_layer_with_libarchive(int input_fd, const std::string& blob_path,
                                           const std::string& dest_dir) {
  UnpackedLayer out;
  UniqueFd blob(::open(blob_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!blob) throw_errno("create " + blob_path);
  UniqueFd root(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_errno("open " + dest_dir);
  const bool as_root = ::geteuid() == 0;

  auto raw = std::make_unique<RawSource>();
  raw->in_fd = input_fd;
  raw->blob_fd = blob.get();

  // Only built-in decompressors: archive_read_support_filter_all would also allow filters that
  // run external programs.
  ReadArchive decompressor(archive_read_new());
  for (auto support : {archive_read_support_filter_gzip, archive_read_support_filter_zstd,
                       archive_read_support_filter_bzip2, archive_read_support_filter_xz})
    if (support(decompressor.get()) != ARCHIVE_OK)
      layer_error("libarchive lacks a built-in decompressor");
  archive_read_support_format_raw(decompressor.get());
  if (archive_read_open(decompressor.get(), raw.get(), nullptr, raw_read, nullptr) != ARCHIVE_OK) {
    if (!raw->error.empty()) throw Error("cannot import layer: " + raw->error);
    layer_error(archive_message(decompressor.get()));
  }
  struct archive_entry* raw_entry = nullptr;
  if (archive_read_next_header(decompressor.get(), &raw_entry) != ARCHIVE_OK)
    layer_error(raw->size == 0 ? "the input is empty" : archive_message(decompressor.get()));
  switch (archive_filter_code(decompressor.get(), 0)) {
    case ARCHIVE_FILTER_GZIP:
      out.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
      break;
    case ARCHIVE_FILTER_ZSTD:
      out.media_type = "application/vnd.oci.image.layer.v1.tar+zstd";
      break;
    case ARCHIVE_FILTER_BZIP2:
      out.media_type = "application/vnd.oci.image.layer.v1.tar+bzip2";
      break;
    case ARCHIVE_FILTER_XZ:
      out.media_type = "application/vnd.oci.image.layer.v1.tar+xz";
      break;
    default:
      out.media_type = "application/vnd.oci.image.layer.v1.tar";
  }

  auto stream = std::make_unique<TarStream>();
  stream->decompressor = decompressor.get();
  ReadArchive tar(archive_read_new());
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), stream.get(), nullptr, tar_read, nullptr) != ARCHIVE_OK)
    layer_error("not a tar archive (" + archive_message(tar.get()) + ")");

  WriteArchive disk(archive_write_disk_new());
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
  // Numeric ids only: no archive_write_disk_set_standard_lookup (it would map names through the
  // host's /etc/passwd). Without privilege, files simply belong to the caller.
  if (as_root) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(disk.get(), flags);

  std::string prefix = dest_dir;
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  std::vector<Whiteout> whiteouts;
  struct archive_entry* entry = nullptr;
  size_t entries = 0;
  for (;;) {
    int r = archive_read_next_header(tar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (entries == 0) layer_error("not a tar archive (" + archive_message(tar.get()) + ")");
      layer_error(archive_message(tar.get()));
    }
    ++entries;
    std::string path = clean_entry_path(archive_entry_pathname(entry));
    std::string base =
        path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
    std::string parent =
        path.size() > base.size() ? path.substr(0, path.size() - base.size() - 1) : "";

    if (path.empty()) {  // the layer root itself: take its mode (and owner when root)
      mode_t mode = archive_entry_perm(entry);
      if (archive_entry_filetype(entry) == AE_IFDIR) {
        ::fchmod(root.get(), mode);
        if (as_root) (void)::fchown(root.get(), archive_entry_uid(entry), archive_entry_gid(entry));
      }
      continue;
    }
    if (base.rfind(".wh.", 0) == 0) {
      auto uid = static_cast<uid_t>(archive_entry_uid(entry));
      auto gid = static_cast<gid_t>(archive_entry_gid(entry));
      if (base == ".wh..wh..opq") {
        out.opaque_dirs.push_back(parent.empty() ? "." : parent);
        whiteouts.push_back({parent, "", uid, gid});
      } else {
        std::string name = base.substr(4);
        if (name.empty() || name.rfind(".wh.", 0) == 0)
          layer_error("invalid whiteout entry '" + path + "'");
        out.whiteouts.push_back(parent.empty() ? name : parent + "/" + name);
        whiteouts.push_back({parent, name, uid, gid});
      }
      continue;
    }
    auto type = archive_entry_filetype(entry);
    if (!as_root && (type == AE_IFCHR || type == AE_IFBLK)) {
      out.skipped.push_back(path);
      continue;
    }
    archive_entry_set_pathname(entry, (prefix + path).c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      std::string target = clean_entry_path(link);
      if (target.empty()) layer_error("hardlink '" + path + "' points at the layer root");
      archive_entry_set_hardlink(entry, (prefix + target).c_str());
    } else if (type == AE_IFREG) {
      out.content_size += static_cast<uint64_t>(archive_entry_size(entry));
    }

    r = archive_write_header(disk.get(), entry);
    if (r < ARCHIVE_WARN) layer_error("'" + path + "': " + archive_message(disk.get()));
    if (archive_entry_size(entry) > 0) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      for (;;) {
        int rr = archive_read_data_block(tar.get(), &buf, &size, &offset);
        if (rr == ARCHIVE_EOF) break;
        if (rr < ARCHIVE_WARN) layer_error("'" + path + "': " + archive_message(tar.get()));
        if (archive_write_data_block(disk.get(), buf, size, offset) < ARCHIVE_WARN)
          layer_error("'" + path + "': " + archive_message(disk.get()));
      }
    }
    if (archive_write_finish_entry(disk.get()) < ARCHIVE_WARN)
      layer_error("'" + path + "': " + archive_message(disk.get()));
  }
  if (entries == 0) layer_error("the archive has no entries");

  // Whiteouts before close: libarchive restores directory modes and mtimes at close.
  apply_whiteouts(root.get(), whiteouts, as_root, out);
  if (archive_write_close(disk.get()) < ARCHIVE_WARN) layer_error(archive_message(disk.get()));

  // The DiffID covers the whole tar stream, including padding after the end-of-archive blocks,
  // and the blob digest covers every input byte.
  for (;;) {
    const void* ignored;
    la_ssize_t n = tar_read(nullptr, stream.get(), &ignored);
    if (n < 0) layer_error(archive_message(decompressor.get()));
    if (n == 0) break;
  }
  for (;;) {
    const void* ignored;
    la_ssize_t n = raw_read(nullptr, raw.get(), &ignored);
    if (n < 0) throw Error("cannot import layer: " + raw->error);
    if (n == 0) break;
  }
  if (::fsync(blob.get()) != 0) throw_errno("fsync " + blob_path);

  out.blob_digest = "sha256:" + raw->hash.hex();
  out.blob_size = raw->size;
  out.diff_id = "sha256:" + stream->hash.hex();
  out.diff_size = stream->size;
  return out;
}

}  // namespace berth::image
