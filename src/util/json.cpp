#include "berth/util/json.h"

#include "berth/util/error.h"
#include "berth/util/fs.h"

namespace berth {

json load_json_file(const std::string& path) {
  std::string text = fs::read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what(), "remove or repair the file");
  }
}

std::optional<json> parse_json_if_valid(const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

std::optional<json> read_json_if_valid(const std::string& path) {
  auto text = fs::read_file_if_exists(path);
  if (!text) return std::nullopt;
  return parse_json_if_valid(*text);
}

void save_json_atomic(const std::string& path, const json& j, bool sync) {
  fs::write_file_atomic(path, j.dump(2) + "\n", 0600, sync);
}

}  // namespace berth
