#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace berth::str {

std::vector<std::string> split(std::string_view s, char sep);
std::string trim(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string lower(std::string_view s);
bool is_hex(std::string_view s);

}  // namespace berth::str
