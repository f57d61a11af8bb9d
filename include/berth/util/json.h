#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace berth {
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

json load_json_file(const std::string& path);                     // throws Error naming the file
// nullopt when the file is missing or not valid JSON (records being replaced, leftovers).
std::optional<json> read_json_if_valid(const std::string& path);
std::optional<json> parse_json_if_valid(const std::string& text);  // nullopt when not valid JSON
void save_json_atomic(const std::string& path, const json& j, bool sync = false);
}  // namespace berth
