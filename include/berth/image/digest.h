#pragma once
// SHA-256 digests as the image world spells them ("sha256:<64 hex>"), over OpenSSL's EVP API.
// Lives in the image module, not util: util is linked into the static supervisor, which must not
// pull in libcrypto.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

struct evp_md_ctx_st;

namespace berth::image {

// Incremental hashing for streams (layer blobs, DiffIDs).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::string hex();  // finishes the hash; call once
 private:
  evp_md_ctx_st* ctx_;
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
