#pragma once
#include <string>

namespace berth {

std::string random_hex_id();                 // 64 hex digits from getrandom(2)
inline std::string short_id(const std::string& id) { return id.substr(0, 12); }

}  // namespace berth
