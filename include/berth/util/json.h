#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace berth {
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

json load_json_file(const std::string& path);                     // throws Error naming the file
void save_json_atomic(const std::string& path, const json& j, bool sync = false);
}  // namespace berth
