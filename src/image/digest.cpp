#include "berth/image/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "berth/util/error.h"
#include "berth/util/strings.h"

namespace berth::image {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("EVP sha256 init failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, size_t size) {
  if (size && EVP_DigestUpdate(ctx_, data, size) != 1)
    throw std::runtime_error("EVP sha256 update failed");
}

std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &len) != 1) throw std::runtime_error("EVP sha256 final failed");
  static const char* digits = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

std::string sha256_digest(std::string_view data) { return "sha256:" + sha256_hex(data); }

bool is_digest(std::string_view s) {
  return s.size() == 71 && s.substr(0, 7) == "sha256:" && str::is_hex(s.substr(7));
}

std::string digest_hex(const std::string& digest) {
  if (!is_digest(digest))
    throw Error("invalid digest '" + digest + "'", "expected sha256:<64 hex>");
  return digest.substr(7);
}

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
  std::vector<std::string> out;
  for (const auto& diff_id : diff_ids) {
    if (out.empty())
      out.push_back(diff_id);
    else
      out.push_back(sha256_digest(out.back() + " " + diff_id));
  }
  return out;
}

}  // namespace berth::image
