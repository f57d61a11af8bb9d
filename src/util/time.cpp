#include "berth/util/time.h"

#include <cstdio>
#include <ctime>

#include "berth/util/error.h"

namespace berth::timeutil {

int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

std::string rfc3339_nano(int64_t ns) {
  if (ns <= 0) return "0001-01-01T00:00:00Z";
  time_t secs = static_cast<time_t>(ns / 1000000000LL);
  tm t{};
  ::gmtime_r(&secs, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<long long>(ns % 1000000000LL));
  return buf;
}

int64_t parse_rfc3339(const std::string& s) {
  if (s.rfind("0001-01-01", 0) == 0) return 0;
  tm t{};
  int year, mon, day, hh, mm, ss;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &year, &mon, &day, &hh, &mm, &ss) != 6)
    throw Error("invalid timestamp '" + s + "'", "use RFC 3339, e.g. 2026-11-27T10:00:00Z");
  t.tm_year = year - 1900;
  t.tm_mon = mon - 1;
  t.tm_mday = day;
  t.tm_hour = hh;
  t.tm_min = mm;
  t.tm_sec = ss;
  int64_t secs = ::timegm(&t);
  int64_t frac = 0;
  auto dot = s.find('.');
  if (dot != std::string::npos) {
    int digits = 0;
    for (size_t i = dot + 1; i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 9; ++i, ++digits)
      frac = frac * 10 + (s[i] - '0');
    for (; digits < 9; ++digits) frac *= 10;
  }
  return secs * 1000000000LL + frac;
}

std::string human_ago(int64_t seconds) {
  // Mirrors go-units HumanDuration, which Docker uses for "Up 3 seconds".
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return std::to_string(seconds) + " seconds";
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  int64_t hours = (seconds + 1800) / 3600;
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(hours / 24 / 365) + " years";
}

}  // namespace berth::timeutil
