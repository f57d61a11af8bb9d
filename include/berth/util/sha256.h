#pragma once
// SHA-256 (FIPS 180-4) without a library: see src/util/sha256.cpp for why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace berth {

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

std::string sha256_hex(std::string_view data);  // 64 lowercase hex digits

}  // namespace berth
