// Compose's value formats: durations, byte sizes, shell-style command splitting.
#include <cctype>
#include <cstdio>

#include "berth/util/numeric.h"
#include "passes.h"

namespace berth::compose {

// "1h5m30s20ms", "1.5s", "300ms", "10us"; a bare number means seconds.
std::optional<int64_t> parse_duration_ns(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', ++i;
  if (s.substr(i) == "0") return 0;
  bool all_digits = i < s.size();
  for (size_t j = i; j < s.size(); ++j) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(s[j]));
  if (all_digits) {
    int64_t v = std::stoll(s.substr(i)) * 1'000'000'000LL;
    return neg ? -v : v;
  }
  long double total = 0;
  bool any = false;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    long double num;
    try {
      num = std::stold(s.substr(start, i - start));
    } catch (...) {
      return std::nullopt;
    }
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = s.substr(u, i - u);
    long double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "µs") mult = 1e3;
    else if (unit == "ms") mult = 1e6;
    else if (unit == "s") mult = 1e9;
    else if (unit == "m") mult = 60e9;
    else if (unit == "h") mult = 3600e9;
    else return std::nullopt;
    total += num * mult;
    any = true;
  }
  if (!any || total > 9.2e18L) return std::nullopt;
  int64_t v = num::round_to_int64(static_cast<double>(total));
  return neg ? -v : v;
}

// Go's time.Duration.String(): "1h0m0s", "1m30s", "1.5s", "300ms", "0s".
std::string format_duration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-ns) : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest) {
      std::string digits = std::to_string(unit + rest).substr(1);
      while (!digits.empty() && digits.back() == '0') digits.pop_back();
      s += "." + digits;
    }
    return s;
  };
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1'000'000) return sign + frac(u, 1000) + "µs";
  if (u < 1'000'000'000) return sign + frac(u, 1'000'000) + "ms";
  uint64_t h = u / 3'600'000'000'000ULL;
  u %= 3'600'000'000'000ULL;
  uint64_t m = u / 60'000'000'000ULL;
  u %= 60'000'000'000ULL;
  std::string out = sign;
  if (h) out += std::to_string(h) + "h";
  if (h || m) out += std::to_string(m) + "m";
  return out + frac(u, 1'000'000'000) + "s";
}

// "2b", "1024kb", "300m", "1gb", "50M", plain integers (bytes).
std::optional<int64_t> parse_bytes(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  long double num;
  try {
    num = std::stold(s.substr(0, i));
  } catch (...) {
    return std::nullopt;
  }
  std::string unit;
  for (size_t j = i; j < s.size(); ++j) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(s[j])));
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  long double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib") mult = 1024.0L;
  else if (unit == "m" || unit == "mb" || unit == "mib") mult = 1024.0L * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib") mult = 1024.0L * 1024 * 1024;
  else if (unit == "t" || unit == "tb" || unit == "tib") mult = 1024.0L * 1024 * 1024 * 1024;
  else return std::nullopt;
  long double v = num * mult;
  if (v > 9.2e18L) return std::nullopt;
  return static_cast<int64_t>(v);
}

// POSIX-shell-like word splitting (quotes and backslashes), as Compose does for string commands.
std::vector<std::string> shell_split(const std::string& s, bool& ok) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  ok = true;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(cur), cur.clear(), in_word = false;
    } else if (c == '\'') {
      in_word = true;
      size_t end = s.find('\'', i + 1);
      if (end == std::string::npos) return ok = false, words;
      cur += s.substr(i + 1, end - i - 1);
      i = end;
    } else if (c == '"') {
      in_word = true;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() &&
            (s[j + 1] == '"' || s[j + 1] == '\\' || s[j + 1] == '$' || s[j + 1] == '`')) {
          cur += s[++j];
        } else if (s[j] == '\\' && j + 1 < s.size() && s[j + 1] == '\n') {
          ++j;
        } else {
          cur += s[j];
        }
      }
      if (j >= s.size()) return ok = false, words;
      i = j;
    } else if (c == '\\') {
      in_word = true;
      if (i + 1 < s.size()) {
        if (s[i + 1] != '\n') cur += s[i + 1];
        ++i;
      }
    } else {
      in_word = true;
      cur += c;
    }
  }
  if (in_word) words.push_back(cur);
  return words;
}

}  // namespace berth::compose
