#pragma once
#include <cstdint>
#include <string>

namespace berth::timeutil {

int64_t now_ns();                              // CLOCK_REALTIME in nanoseconds
std::string rfc3339_nano(int64_t ns);          // 2026-11-27T10:00:00.123456789Z; 0 → 0001-01-01T00:00:00Z
int64_t parse_rfc3339(const std::string& s);   // inverse; throws Error
std::string human_ago(int64_t seconds);        // "3 seconds", "About a minute", "2 hours" (Docker's units)

}  // namespace berth::timeutil
