#include "berth/image/digest.h"

#include <algorithm>
#include <cstring>

#include "berth/util/error.h"
#include "berth/util/strings.h"

namespace berth::image {

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
