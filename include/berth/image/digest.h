#pragma once
// SHA-256 digests as the image world spells them ("sha256:<64 hex>"). Berth's only SHA-256: a
// plain FIPS 180-4 implementation with no library behind it, because container run needs it
// (ChainIDs, the seccomp cache key) and must not load libcrypto; see docs/startup.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::image {

// Incremental hashing for streams (layer blobs, DiffIDs).
class Sha256 {
 public:
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string hex();  // finishes the hash; call once
 private:
  void compress(const unsigned char* block);
  uint32_t state_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64];
  size_t used_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_digest(std::string_view data);  // "sha256:<hex>"

bool is_digest(std::string_view s);                 // "sha256:" + 64 lowercase hex
std::string digest_hex(const std::string& digest);  // strips "sha256:"; throws Error if malformed

// ChainID of a stack of layers (image-spec config.md): ChainID(L0) = DiffID(L0),
// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). One entry per layer, bottom
// first.
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

}  // namespace berth::image
