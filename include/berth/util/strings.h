#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::str {

std::vector<std::string> split(std::string_view s, char sep);
std::string trim(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
std::string lower(std::string_view s);
bool is_hex(std::string_view s);
// A whole decimal number that fits in 32 bits: "1000" yes; "", "-1", "1k", "99999999999" no.
bool parse_uint32(std::string_view s, uint32_t& out);
// 0-15 for a hex digit (either case), -1 for anything else.
int hex_digit_value(char c);
// Appends code point `cp` (at most 0x10FFFF) encoded as UTF-8.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace berth::str
