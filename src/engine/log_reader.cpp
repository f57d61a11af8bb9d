#include "berth/engine/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/strings.h"

namespace berth::engine {

namespace {


bool read_hex4(std::string_view s, size_t at, uint32_t& v) {
  if (at + 4 > s.size()) return false;
  v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    int h = str::hex_digit_value(s[i]);
    if (h < 0) return false;
    v = v << 4 | static_cast<uint32_t>(h);
  }
  return true;
}

// Position of the closing quote of a JSON string whose body starts at `at`; npos if unterminated.
size_t string_end(std::string_view s, size_t at, bool& has_escape) {
  has_escape = false;
  for (size_t i = at; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return i;
    if (c == '\\') {
      has_escape = true;
      ++i;
    }
  }
  return std::string_view::npos;
}

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
  return i;
}

// Skips a non-string JSON value (number, literal, object, array); npos if it never ends.
size_t skip_value(std::string_view s, size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      bool esc;
      i = string_end(s, i + 1, esc);
      if (i == std::string_view::npos) return i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;
      --depth;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return depth == 0 ? i : std::string_view::npos;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t at, size_t n, int& v) {
  if (at + n > s.size()) return false;
  v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

// Date and optional time; `zone_required` false lets a missing zone mean UTC.
std::optional<int64_t> parse_datetime(std::string_view s, bool zone_required) {
  int year, mon, day, hh = 0, mm = 0, ss = 0;
  if (!digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mon) ||
      s[7] != '-' || !digits(s, 8, 2, day) || mon < 1 || mon > 12 || day < 1 || day > 31)
    return std::nullopt;
  size_t i = 10;
  int64_t frac = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    if (!digits(s, i + 1, 2, hh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, mm))
      return std::nullopt;
    i += 6;
    if (i < s.size() && s[i] == ':') {
      if (!digits(s, i + 1, 2, ss)) return std::nullopt;
      i += 3;
      if (i < s.size() && s[i] == '.') {
        int n = 0;
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n)
          if (n < 9) frac = frac * 10 + (s[i] - '0');
        if (n == 0) return std::nullopt;
        for (; n < 9; ++n) frac *= 10;
      }
    }
    if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  } else if (zone_required) {
    return std::nullopt;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(s, i + 4, 2, om))
      return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else if (zone_required) {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  int64_t secs = days_from_civil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day)) * 86400 +
                 hh * 3600 + mm * 60 + ss - offset;
  return secs * 1000000000LL + frac;
}

// Go's time.ParseDuration, in ns; nullopt if `s` is not a duration.
std::optional<int64_t> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    ++i;
  }
  if (s.substr(i) == "0") return 0;
  if (i == s.size()) return std::nullopt;
  long double total = 0;
  while (i < s.size()) {
    size_t start = i;
    long double v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
    if (i < s.size() && s[i] == '.') {
      long double scale = 0.1L;
      for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10) v += (s[i] - '0') * scale;
    }
    if (i == start || (i == start + 1 && s[start] == '.')) return std::nullopt;
    size_t ustart = i;
    while (i < s.size() && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    long double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1e3L;
    else if (unit == "ms") mult = 1e6L;
    else if (unit == "s") mult = 1e9L;
    else if (unit == "m") mult = 60e9L;
    else if (unit == "h") mult = 3600e9L;
    else return std::nullopt;
    total += v * mult;
  }
  auto ns = static_cast<int64_t>(total);
  return neg ? -ns : ns;
}

}  // namespace

bool json_unescape(std::string_view s, std::string& out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\') {
      // Copy the run up to the next backslash in one go.
      const void* bs = std::memchr(s.data() + i, '\\', s.size() - i);
      size_t end = bs ? static_cast<size_t>(static_cast<const char*>(bs) - s.data()) : s.size();
      out.append(s.data() + i, end - i);
      i = end - 1;
      continue;
    }
    if (++i >= s.size()) return false;
    switch (s[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!read_hex4(s, i + 1, cp)) return false;
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u' && read_hex4(s, i + 3, lo) &&
              lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          cp = 0xFFFD;
        }
        str::append_utf8(out, cp);
        break;
      }
      default: return false;
    }
  }
  return true;
}

bool parse_log_line(std::string_view s, LogLine& out, std::string& scratch) {
  out = LogLine{};
  bool have_log = false;
  size_t i = skip_ws(s, 0);
  if (i >= s.size() || s[i] != '{') return false;
  i = skip_ws(s, i + 1);
  if (i < s.size() && s[i] == '}') return false;
  for (;;) {
    if (i >= s.size() || s[i] != '"') return false;
    bool esc;
    size_t kend = string_end(s, i + 1, esc);
    if (kend == std::string_view::npos) return false;
    std::string_view key = s.substr(i + 1, kend - i - 1);
    i = skip_ws(s, kend + 1);
    if (i >= s.size() || s[i] != ':') return false;
    i = skip_ws(s, i + 1);
    if (i >= s.size()) return false;
    if (s[i] == '"') {
      size_t vend = string_end(s, i + 1, esc);
      if (vend == std::string_view::npos) return false;
      std::string_view body = s.substr(i + 1, vend - i - 1);
      if (key == "log") {
        if (esc) {
          scratch.clear();
          if (!json_unescape(body, scratch)) return false;
          out.text = scratch;
        } else {
          out.text = body;
        }
        have_log = true;
      } else if (key == "stream") {
        out.stream = body == "stderr" ? LogStream::err : LogStream::out;
      } else if (key == "time") {
        out.time = body;
        out.time_ns = parse_rfc3339_ns(body).value_or(0);
      }
      i = vend + 1;
    } else {
      i = skip_value(s, i);
      if (i == std::string_view::npos) return false;
    }
    i = skip_ws(s, i);
    if (i >= s.size()) return false;
    if (s[i] == '}') break;
    if (s[i] != ',') return false;
    i = skip_ws(s, i + 1);
  }
  return have_log;
}

std::optional<int64_t> parse_rfc3339_ns(std::string_view s) { return parse_datetime(s, true); }

int64_t parse_log_time_arg(const std::string& value, int64_t now_ns) {
  std::string_view v = value;
  if (auto d = parse_go_duration(v)) return now_ns - *d;
  if (auto t = parse_datetime(v, false)) return *t;
  // Unix timestamp: seconds[.fraction]
  size_t dot = v.find('.');
  std::string_view secs = v.substr(0, dot), frac = dot == std::string_view::npos ? "" : v.substr(dot + 1);
  auto all_digits = [](std::string_view d) {
    for (char c : d)
      if (c < '0' || c > '9') return false;
    return true;
  };
  if (!secs.empty() && secs.size() <= 12 && all_digits(secs) && all_digits(frac) &&
      (dot == std::string_view::npos || !frac.empty())) {
    int64_t ns = std::stoll(std::string(secs)) * 1000000000LL;
    int64_t f = 0;
    size_t n = 0;
    for (; n < frac.size() && n < 9; ++n) f = f * 10 + (frac[n] - '0');
    for (; n < 9; ++n) f *= 10;
    return ns + f;
  }
  throw Error("invalid value for time '" + value + "'",
              "use RFC 3339 (2026-11-27T10:00:00Z), a Unix timestamp, or a duration such as 10m");
}

std::vector<std::string> log_files(const std::string& path) {
  std::vector<std::string> files;
  struct stat st {};
  // Rotated files are numbered without gaps from 1; walk up until one is missing.
  for (int i = 1;; ++i) {
    std::string p = path + "." + std::to_string(i);
    if (::stat(p.c_str(), &st) != 0) break;
    files.insert(files.begin(), p);
  }
  if (::stat(path.c_str(), &st) == 0) files.push_back(path);
  return files;
}

namespace {

constexpr size_t kBlock = 1 << 18;

// Offset in the open file where its last `need` lines start, reading backwards in blocks.
// Sets `found` to the number of lines that start at or after that offset (< need only when the
// whole file is fewer lines).
off_t tail_offset(int fd, uint64_t need, uint64_t& found) {
  found = 0;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size == 0 || need == 0) return st.st_size;
  off_t end = st.st_size;
  std::string block(kBlock, '\0');
  bool skip_final_newline = true;
  while (end > 0) {
    off_t start = end > static_cast<off_t>(kBlock) ? end - static_cast<off_t>(kBlock) : 0;
    size_t len = static_cast<size_t>(end - start);
    ssize_t n = ::pread(fd, block.data(), len, start);
    if (n != static_cast<ssize_t>(len)) return 0;  // unexpected: read the whole file instead
    for (size_t j = len; j-- > 0;) {
      if (block[j] != '\n') continue;
      if (skip_final_newline && start + static_cast<off_t>(j) == st.st_size - 1) continue;
      if (++found == need) return start + static_cast<off_t>(j) + 1;
    }
    skip_final_newline = false;
    end = start;
  }
  ++found;  // the first line of the file has no newline before it
  return 0;
}

class Reader {
 public:
  Reader(const LogReadOptions& opts, const std::function<bool(const LogLine&)>& sink)
      : opts_(opts), sink_(sink) {}

  bool stopped() const { return stop_; }
  uint64_t delivered() const { return delivered_; }

  // Reads what fd has now; complete lines go to the sink, a partial one waits in pending_.
  // Returns the bytes read.
  size_t drain(int fd) {
    size_t total = 0;
    while (!stop_) {
      size_t keep = pending_.size();
      pending_.resize(keep + kBlock);
      ssize_t n = ::read(fd, pending_.data() + keep, kBlock);
      if (n < 0 && errno == EINTR) {
        pending_.resize(keep);
        continue;
      }
      if (n <= 0) {
        pending_.resize(keep);
        break;
      }
      pending_.resize(keep + static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      consume_lines();
    }
    return total;
  }

  // At the end of a file that will not grow: a last line without newline still counts.
  void finish_file() {
    if (!pending_.empty() && !stop_) deliver(pending_);
    pending_.clear();
  }
  void discard_partial() { pending_.clear(); }

 private:
  void consume_lines() {
    const char* base = pending_.data();
    size_t pos = 0, size = pending_.size();
    while (pos < size && !stop_) {
      const void* nl = std::memchr(base + pos, '\n', size - pos);
      if (!nl) break;
      size_t end = static_cast<size_t>(static_cast<const char*>(nl) - base);
      deliver(std::string_view(base + pos, end - pos));
      pos = end + 1;
    }
    pending_.erase(0, pos);
  }

  void deliver(std::string_view raw) {
    if (raw.empty() || !parse_log_line(raw, line_, scratch_)) return;
    if (opts_.since_ns && line_.time_ns < opts_.since_ns) return;
    if (opts_.until_ns && line_.time_ns > opts_.until_ns) {
      stop_ = true;
      return;
    }
    ++delivered_;
    if (!sink_(line_)) stop_ = true;
  }

  const LogReadOptions& opts_;
  const std::function<bool(const LogLine&)>& sink_;
  std::string pending_, scratch_;
  LogLine line_;
  uint64_t delivered_ = 0;
  bool stop_ = false;
};

UniqueFd open_log(const std::string& p) { return UniqueFd(::open(p.c_str(), O_RDONLY | O_CLOEXEC)); }

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  ::nanosleep(&ts, nullptr);
}

}  // namespace

uint64_t read_logs(const std::string& path, const LogReadOptions& opts,
                   const std::function<bool(const LogLine&)>& sink) {
  Reader reader(opts, sink);
  std::vector<std::string> files = log_files(path);
  std::vector<UniqueFd> fds;
  for (const auto& f : files) fds.push_back(open_log(f));

  // Where to start: the first file and its offset.
  size_t first = 0;
  off_t first_offset = 0;
  if (opts.tail) {
    uint64_t need = *opts.tail;
    first = files.size();
    first_offset = 0;
    if (need == 0 && !fds.empty()) {  // nothing old; follow starts at the end
      first = files.size() - 1;
      struct stat st {};
      first_offset = fds[first] && ::fstat(fds[first].get(), &st) == 0 ? st.st_size : 0;
    }
    for (size_t i = files.size(); i-- > 0 && need > 0;) {
      if (!fds[i]) continue;
      uint64_t found = 0;
      off_t off = tail_offset(fds[i].get(), need, found);
      first = i;
      first_offset = off;
      need = found >= need ? 0 : need - found;
    }
  }

  // The live file stays open when following.
  UniqueFd live;
  struct stat live_st {};
  for (size_t i = first; i < files.size() && !reader.stopped(); ++i) {
    if (!fds[i]) continue;
    if (i == first && first_offset > 0) ::lseek(fds[i].get(), first_offset, SEEK_SET);
    reader.drain(fds[i].get());
    bool is_live = i + 1 == files.size() && files[i] == path;
    if (opts.follow && is_live) {
      live = std::move(fds[i]);
      ::fstat(live.get(), &live_st);
    } else {
      reader.finish_file();
    }
  }
  if (!opts.follow || reader.stopped()) return reader.delivered();

  bool last_pass = false;
  for (;;) {
    if (live && reader.drain(live.get()) > 0) {
      if (reader.stopped()) break;
      continue;
    }
    if (reader.stopped()) break;
    // Rotation: the path now names another file (or none). Finish the old one, then reopen.
    struct stat now {};
    bool exists = ::stat(path.c_str(), &now) == 0;
    if (exists && (!live || now.st_ino != live_st.st_ino || now.st_dev != live_st.st_dev)) {
      if (live) {
        reader.drain(live.get());
        reader.finish_file();
      }
      live = open_log(path);
      if (live) ::fstat(live.get(), &live_st);
      continue;
    }
    // Truncation in place (max-file 1): start again from the top.
    struct stat cur {};
    if (live && ::fstat(live.get(), &cur) == 0 && cur.st_size < ::lseek(live.get(), 0, SEEK_CUR)) {
      ::lseek(live.get(), 0, SEEK_SET);
      reader.discard_partial();
      continue;
    }
    if (last_pass) break;
    if (!opts.keep_following || !opts.keep_following()) {
      last_pass = true;  // drain once more: the last lines may have landed just now
      continue;
    }
    sleep_ms(opts.poll_ms);
  }
  if (live && !reader.stopped()) reader.finish_file();
  return reader.delivered();
}

}  // namespace berth::engine
