#include "berth/engine/options.h"

#include <sys/mount.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/numeric.h"
#include "berth/util/strings.h"

namespace berth::engine {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// pflag's wording, which is what `docker run` prints for a bad flag value.
[[noreturn]] void bad_flag(const std::string& flag, const std::string& value, const std::string& why,
                           const std::string& hint) {
  throw Error("invalid argument \"" + value + "\" for \"" + flag + "\" flag: " + why, hint);
}

// Go strconv.ParseInt(s, 10, 64) without underscores: optional sign, decimal digits.
std::optional<int64_t> parse_int64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (!all_digits(s.substr(i))) return std::nullopt;
  errno = 0;
  std::string copy(s);
  char* end = nullptr;
  long long v = std::strtoll(copy.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

// A decimal float as Go's ParseFloat reads it, minus hex, inf, nan and underscores.
std::optional<double> parse_decimal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (i >= s.size() || !is_digit(s[i])) return std::nullopt;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i != s.size()) return std::nullopt;
  std::string copy(s);
  return std::strtod(copy.c_str(), nullptr);
}

// Go's path.Clean for slash-separated paths.
std::string clean_path(const std::string& p) {
  if (p.empty()) return ".";
  bool rooted = p[0] == '/';
  std::vector<std::string> parts;
  for (auto& part : str::split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!rooted) parts.push_back("..");
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" + str::join(parts, "/") : str::join(parts, "/");
  return out.empty() ? "." : out;
}

}  // namespace

// ---------------------------------------------------------------- sizes, cpus, durations

int64_t parse_memory_bytes(const std::string& s, const std::string& flag) {
  const std::string hint = "use a number of bytes with an optional unit b, k, m, g, t or p (e.g. 512m)";
  auto invalid_size = [&] { bad_flag(flag, s, "invalid size: '" + s + "'", hint); };
  size_t sep = s.find_last_of("0123456789. ");
  if (sep == std::string::npos) invalid_size();
  std::string num = s[sep] == ' ' ? s.substr(0, sep) : s.substr(0, sep + 1);
  std::string suffix = s.substr(sep + 1);
  auto size = parse_decimal(num);
  if (!size) bad_flag(flag, s, "strconv.ParseFloat: parsing \"" + num + "\": invalid syntax", hint);
  if (*size < 0) invalid_size();
  double value = *size;
  if (!suffix.empty()) {
    std::string sfx = str::lower(suffix);
    auto bad_suffix = [&] { bad_flag(flag, s, "invalid suffix: '" + sfx + "'", hint); };
    if (sfx.size() > 3) bad_suffix();
    if (sfx[0] == 'b') {
      if (sfx.size() > 1) bad_suffix();
    } else {
      static const std::string units = "kmgtp";
      size_t power = units.find(sfx[0]);
      if (power == std::string::npos) bad_suffix();
      if ((sfx.size() == 2 && sfx[1] != 'b') || (sfx.size() == 3 && sfx.substr(1) != "ib")) bad_suffix();
      value *= num::pow2(10 * static_cast<int>(power + 1));
    }
  }
  if (value >= 9223372036854775807.0) invalid_size();
  return static_cast<int64_t>(value);
}

int64_t parse_nano_cpus(const std::string& s, const std::string& flag) {
  const std::string hint = "give the number of CPUs as a decimal, e.g. 0.5 or 2";
  std::string_view v = s;
  bool negative = !v.empty() && v[0] == '-';
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) v.remove_prefix(1);
  size_t dot = v.find('.');
  std::string_view whole = v.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
  bool ok = (!whole.empty() || !frac.empty()) && (whole.empty() || all_digits(whole)) &&
            (frac.empty() || all_digits(frac));
  if (!ok) bad_flag(flag, s, "failed to parse " + s + " as a rational number", hint);
  std::string f(frac);
  while (f.size() > 9 && f.back() == '0') f.pop_back();
  if (f.size() > 9) bad_flag(flag, s, "value is too precise", hint);
  f.resize(9, '0');
  std::string w(whole.empty() ? "0" : whole);
  w.erase(0, std::min(w.find_first_not_of('0'), w.size() - 1));
  if (w.size() > 9) bad_flag(flag, s, "value is too large", hint);
  int64_t nano = std::stoll(w) * 1000000000LL + std::stoll(f);
  if (negative && nano != 0)
    throw Error("invalid argument \"" + s + "\" for \"" + flag + "\" flag: the number of CPUs must not be negative",
                hint);
  return nano;
}

uint64_t parse_duration_ns(const std::string& s, const std::string& flag) {
  const std::string hint = "use Go duration syntax: a number with a unit ns, us, ms, s, m or h (e.g. 1m30s)";
  auto fail = [&](const std::string& why) -> uint64_t {
    throw Error("invalid " + flag + " \"" + s + "\": " + why, hint);
  };
  auto invalid = [&]() { return fail("time: invalid duration \"" + s + "\""); };
  std::string_view rest = s;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return 0;
  if (rest.empty()) return invalid();
  static const std::unordered_map<std::string, uint64_t> units = {
      {"ns", 1ULL},          {"us", 1000ULL},          {"\xC2\xB5s", 1000ULL}, {"\xCE\xBCs", 1000ULL},
      {"ms", 1000000ULL},    {"s", 1000000000ULL},     {"m", 60000000000ULL},  {"h", 3600000000000ULL}};
  constexpr uint64_t kMax = 1ULL << 63;
  uint64_t total = 0;
  while (!rest.empty()) {
    if (!(rest[0] == '.' || is_digit(rest[0]))) return invalid();
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < rest.size() && is_digit(rest[i]); ++i) {
      if (whole > (kMax - 9) / 10) return invalid();
      whole = whole * 10 + static_cast<uint64_t>(rest[i] - '0');
    }
    bool have_whole = i > 0;
    rest.remove_prefix(i);
    uint64_t frac = 0;
    double scale = 1;
    bool have_frac = false;
    if (!rest.empty() && rest[0] == '.') {
      rest.remove_prefix(1);
      bool overflow = false;
      size_t j = 0;
      for (; j < rest.size() && is_digit(rest[j]); ++j) {
        if (overflow) continue;
        if (frac > (kMax - 1) / 10) {  // further digits cannot change the result
          overflow = true;
          continue;
        }
        frac = frac * 10 + static_cast<uint64_t>(rest[j] - '0');
        scale *= 10;
      }
      have_frac = j > 0;
      rest.remove_prefix(j);
    }
    if (!have_whole && !have_frac) return invalid();
    size_t u = 0;
    while (u < rest.size() && !(rest[u] == '.' || is_digit(rest[u]))) ++u;
    if (u == 0) return fail("time: missing unit in duration \"" + s + "\"");
    std::string unit(rest.substr(0, u));
    rest.remove_prefix(u);
    auto it = units.find(unit);
    if (it == units.end()) return fail("time: unknown unit \"" + unit + "\" in duration \"" + s + "\"");
    if (whole > kMax / it->second) return invalid();
    uint64_t value = whole * it->second;
    if (frac > 0) {
      value += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(it->second) / scale));
      if (value > kMax) return invalid();
    }
    total += value;
    if (total > kMax) return invalid();
  }
  if (negative && total != 0) return fail("durations must not be negative");
  if (total == kMax) return invalid();  // Go's int64 overflows at 1<<63
  return total;
}

// ---------------------------------------------------------------- ulimits

namespace {
struct UlimitName {
  const char* name;
  int resource;
};
constexpr std::array<UlimitName, 15> kUlimits = {{
    {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},         {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},     {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},     {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},         {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
}};
}  // namespace

Ulimit parse_ulimit(const std::string& s) {
  const std::string hint = "use <type>=<soft>[:<hard>], e.g. nofile=1024:2048 (-1 = unlimited)";
  auto fail = [&](const std::string& why) -> Ulimit {
    throw Error("invalid argument \"" + s + "\" for \"--ulimit\" flag: " + why, hint);
  };
  size_t eq = s.find('=');
  if (eq == std::string::npos) return fail("invalid ulimit argument: " + s);
  std::string name = s.substr(0, eq);
  std::string values = s.substr(eq + 1);
  auto known = std::find_if(kUlimits.begin(), kUlimits.end(), [&](const UlimitName& u) { return name == u.name; });
  if (known == kUlimits.end()) return fail("invalid ulimit type: " + name);
  auto parts = str::split(values, ':');
  if (parts.size() > 2)
    return fail("too many limit value arguments - " + values + ", can only have up to two, `soft[:hard]`");
  auto number = [&](const std::string& text) -> int64_t {
    auto v = parse_int64(text);
    if (!v) fail("strconv.ParseInt: parsing \"" + text + "\": invalid syntax");
    if (*v < -1) fail("ulimit values must be -1 (unlimited) or greater: " + text);
    return *v;
  };
  int64_t soft = number(parts[0]);
  int64_t hard = parts.size() == 2 ? number(parts[1]) : soft;
  // Docker only compares finite values; setrlimit also refuses an unlimited soft under a finite hard.
  if (hard != -1 && (soft == -1 || soft > hard))
    return fail("ulimit soft limit must be less than or equal to hard limit: " + std::to_string(soft) + " > " +
                std::to_string(hard));
  auto to_limit = [](int64_t v) { return v == -1 ? kUlimitUnlimited : static_cast<uint64_t>(v); };
  return Ulimit{known->resource, name, to_limit(soft), to_limit(hard)};
}

// ---------------------------------------------------------------- environment, labels

namespace {

// parseKeyValueFile from docker/cli opts/file.go. lookup = nullptr keeps bare keys as they are.
std::vector<std::string> parse_key_value_file(const std::string& path, bool lookup_env, const char* what) {
  auto content = fs::read_file_if_exists(path);
  if (!content)
    throw Error(std::string("open ") + path + ": no such file or directory",
                std::string("check the path given to --") + what + "-file");
  std::vector<std::string> out;
  std::istringstream in(*content);
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();  // bufio.ScanLines drops a CR before LF
    if (line_no == 1 && raw.rfind("\xEF\xBB\xBF", 0) == 0) raw.erase(0, 3);
    // UTF-8 validation, byte-wise (RFC 3629: no overlongs, no surrogates, max U+10FFFF).
    for (size_t i = 0; i < raw.size();) {
      auto c = static_cast<unsigned char>(raw[i]);
      size_t len = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
                                : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
      bool ok = len != 0 && i + len <= raw.size();
      for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(raw[i + k]) & 0xC0) == 0x80;
      if (ok && len >= 3) {
        auto c1 = static_cast<unsigned char>(raw[i + 1]);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
            (c == 0xF4 && c1 > 0x8F))
          ok = false;
      }
      if (!ok)
        throw Error(std::string(what) + " file " + path + " contains invalid utf8 bytes at line " +
                        std::to_string(line_no),
                    "save the file as UTF-8");
      i += len;
    }
    size_t start = 0;
    while (start < raw.size() && std::isspace(static_cast<unsigned char>(raw[start]))) ++start;
    std::string line = raw.substr(start);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    std::string variable = line.substr(0, eq);
    const std::string where = (lookup_env ? "poorly formatted environment in " : "poorly formatted label file ") +
                              path + ":" + std::to_string(line_no);
    if (variable.find_first_of(" \t") != std::string::npos)
      throw Error(where + ": variable '" + variable + "' contains whitespaces",
                  "write one KEY=VALUE per line, without spaces in KEY");
    if (variable.empty())
      throw Error(where + ": no variable name on line '" + line + "'",
                  "write one KEY=VALUE per line");
    if (eq != std::string::npos) {
      out.push_back(line);  // the value passes through untouched
      continue;
    }
    std::string key = str::trim(line);
    const char* value = lookup_env ? std::getenv(key.c_str()) : nullptr;
    out.push_back(value ? key + "=" + value : key);
  }
  return out;
}

std::string env_key(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

std::vector<std::string> parse_env_file(const std::string& path) { return parse_key_value_file(path, true, "env"); }

std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::string>& user_env,
                                   const std::vector<std::string>& runtime_env) {
  // Docker: user env, then the image's keys the user did not mention (daemon/commit.go merge),
  // then that list replaces or extends PATH/HOSTNAME/TERM (container.CreateDaemonEnvironment).
  std::vector<std::string> out;
  std::unordered_map<std::string, size_t> index;
  auto put = [&](const std::string& entry) {
    std::string key = env_key(entry);
    if (auto it = index.find(key); it != index.end()) {
      out[it->second] = entry;
    } else {
      index[key] = out.size();
      out.push_back(entry);
    }
  };
  put(kDefaultPathEnv);
  for (auto& e : runtime_env) put(e);
  std::set<std::string> user_keys;
  for (auto& e : user_env) {
    std::string key = env_key(e);
    if (key.empty())
      throw Error("invalid environment variable: " + e, "use -e KEY=VALUE or -e KEY");
    user_keys.insert(key);
    if (e.find('=') == std::string::npos) {
      if (const char* value = std::getenv(key.c_str())) {
        put(key + "=" + value);
      } else {
        if (auto it = index.find(key); it != index.end()) out[it->second].clear();
      }
      continue;
    }
    put(e);
  }
  for (auto& e : image_env) {
    std::string key = env_key(e);
    if (key.empty() || user_keys.count(key) || e.find('=') == std::string::npos) continue;
    put(e);
  }
  std::vector<std::string> result;
  for (auto& e : out)
    if (!e.empty()) result.push_back(e);
  return result;
}

std::string validate_label(const std::string& s) {
  std::string key = s.substr(0, s.find('='));
  key.erase(0, std::min(key.find_first_not_of(" \t"), key.size()));
  if (key.empty()) throw Error("invalid label '" + s + "': empty name", "use --label KEY=VALUE");
  if (key.find_first_of(" \t") != std::string::npos)
    throw Error("label '" + key + "' contains whitespaces", "label keys cannot contain spaces or tabs");
  return s;
}

std::map<std::string, std::string> parse_labels(const std::vector<std::string>& kv,
                                                const std::vector<std::string>& label_files) {
  std::vector<std::string> all;
  for (auto& file : label_files) {
    auto lines = parse_key_value_file(file, false, "label");
    all.insert(all.end(), lines.begin(), lines.end());
  }
  for (auto& label : kv) all.push_back(validate_label(label));
  std::map<std::string, std::string> out;
  for (auto& entry : all) {
    size_t eq = entry.find('=');
    out[entry.substr(0, eq)] = eq == std::string::npos ? "" : entry.substr(eq + 1);
  }
  return out;
}

// ---------------------------------------------------------------- command

std::vector<std::string> merge_command(const std::vector<std::string>& image_entrypoint,
                                       const std::vector<std::string>& image_cmd,
                                       const std::optional<std::string>& entrypoint_flag,
                                       const std::vector<std::string>& cmd_args) {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd = cmd_args;
  if (entrypoint_flag) {
    entrypoint = {*entrypoint_flag};  // [""] when reset: the image's Cmd is not used either
  } else {
    if (cmd.empty()) cmd = image_cmd;
    entrypoint = image_entrypoint;
  }
  if (entrypoint.size() == 1 && entrypoint[0].empty()) entrypoint.clear();
  if (entrypoint.empty() && cmd.empty())
    throw Error("no command specified",
                "give a command after the image name, or an --entrypoint; the image defines neither");
  entrypoint.insert(entrypoint.end(), cmd.begin(), cmd.end());
  return entrypoint;
}

// ---------------------------------------------------------------- mounts

namespace {

struct MountFlag {
  const char* name;
  bool clear;
  unsigned long flag;
};
constexpr unsigned long kPropagationFlags = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
// moby/sys/mount's option table (the ones that make sense for tmpfs).
constexpr std::array<MountFlag, 31> kMountFlags = {{
    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},         {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},           {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},         {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},   {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},     {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"unbindable", false, MS_UNBINDABLE}, {"runbindable", false, MS_UNBINDABLE | MS_REC},
    {"private", false, MS_PRIVATE},    {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},      {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},        {"rslave", false, MS_SLAVE | MS_REC},
    {"relatime", false, MS_RELATIME},  {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},          {"rbind", false, MS_BIND | MS_REC},
}};
const std::set<std::string> kTmpfsDataKeys = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"};

const MountFlag* find_mount_flag(const std::string& name) {
  for (auto& f : kMountFlags)
    if (name == f.name) return &f;
  return nullptr;
}

// moby's linuxValidateNotRoot + linuxValidateAbsolute; returns the reason or "".
std::string container_path_problem(const std::string& p) {
  if (clean_path(p) == "/") return "invalid specification: destination can't be '/'";
  if (p.empty() || p[0] != '/') return "invalid mount path: '" + p + "' mount path must be absolute";
  return "";
}

}  // namespace

TmpfsMount parse_tmpfs(const std::string& s) {
  const std::string hint = "use --tmpfs /path[:options], e.g. --tmpfs /run:rw,size=64m,mode=1777";
  size_t colon = s.find(':');
  std::string target = s.substr(0, colon);
  std::string user_options = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (auto problem = container_path_problem(target); !problem.empty())
    throw Error("invalid tmpfs mount \"" + s + "\": " + problem, hint);

  std::vector<std::string> options = {"noexec", "nosuid", "nodev", "rprivate"};
  if (!user_options.empty())
    for (auto& o : str::split(user_options, ',')) options.push_back(o);

  // MergeTmpfsOptions: walk backwards so the user's later options win over defaults.
  std::vector<std::string> merged;
  std::set<unsigned long> seen_flags;  // a propagation counts once, whichever it is
  std::set<std::string> seen_data;
  for (auto it = options.rbegin(); it != options.rend(); ++it) {
    const std::string& option = *it;
    if (option == "defaults") continue;
    if (const MountFlag* f = find_mount_flag(option)) {
      if (f->flag & MS_BIND)
        throw Error("invalid tmpfs option \"" + option + "\" in \"" + s + "\": a tmpfs cannot be a bind mount", hint);
      unsigned long key = (f->flag & kPropagationFlags) ? ~0UL : f->flag;
      if (seen_flags.insert(key).second) merged.insert(merged.begin(), option);
      continue;
    }
    size_t eq = option.find('=');
    if (eq == std::string::npos || !kTmpfsDataKeys.count(option.substr(0, eq)))
      throw Error("invalid tmpfs option [\"" + option + "\"] in \"" + s + "\"",
                  hint + "; known options: ro, rw, exec, noexec, suid, nosuid, dev, nodev, size, mode, uid, gid, "
                         "nr_inodes, nr_blocks, mpol, a propagation");
    if (seen_data.insert(option.substr(0, eq)).second) merged.insert(merged.begin(), option);
  }

  TmpfsMount out;
  out.target = clean_path(target);
  out.options = str::join(merged, ",");
  std::vector<std::string> data;
  for (auto& option : merged) {
    if (const MountFlag* f = find_mount_flag(option)) {
      if (f->flag & kPropagationFlags) {
        out.propagation = f->flag;
      } else if (f->clear) {
        out.flags &= ~f->flag;
      } else {
        out.flags |= f->flag;
      }
    } else {
      data.push_back(option);
    }
  }
  out.data = str::join(data, ",");
  return out;
}

namespace {
const std::set<std::string> kPropagations = {"private", "rprivate", "slave", "rslave", "shared", "rshared"};

// moby linuxValidMountMode: known words, at most one of each kind.
bool valid_mount_mode(const std::string& mode) {
  if (mode.empty()) return true;
  int rw = 0, label = 0, propagation = 0, copy = 0, consistency = 0;
  for (auto& o : str::split(mode, ',')) {
    if (o == "rw" || o == "ro") ++rw;
    else if (o == "z" || o == "Z") ++label;
    else if (kPropagations.count(o)) ++propagation;
    else if (o == "nocopy") ++copy;
    else if (o == "consistent" || o == "cached" || o == "delegated") ++consistency;
    else return false;
  }
  return rw <= 1 && label <= 1 && propagation <= 1 && copy <= 1 && consistency <= 1;
}

bool valid_volume_name(const std::string& name) {
  if (name.size() < 2 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}
}  // namespace

BindMount parse_volume_flag(const std::string& s) {
  const std::string hint = "use -v /host/path:/container/path[:ro], -v name:/container/path or -v /container/path";
  auto invalid_spec = [&](const std::string& why) -> BindMount {
    throw Error("invalid volume specification: '" + s + "'" + (why.empty() ? "" : ": " + why), hint);
  };
  // docker/cli: ./relative and ../relative host paths are taken from the current directory.
  std::string raw = s;
  if (!raw.empty() && raw[0] == '.') {
    size_t colon = raw.find(':');
    if (colon != std::string::npos)
      raw = clean_path((std::filesystem::current_path() / raw.substr(0, colon)).string()) + raw.substr(colon);
  }
  std::vector<std::string> arr;
  {
    auto parts = str::split(raw, ':');
    for (size_t i = 0; i < parts.size(); ++i) {
      if (arr.size() == 3) {  // SplitN(raw, ":", 4): the rest stays in the fourth field
        arr.push_back(str::join(std::vector<std::string>(parts.begin() + static_cast<long>(i), parts.end()), ":"));
        break;
      }
      arr.push_back(parts[i]);
    }
  }
  if (arr[0].empty()) return invalid_spec("");
  BindMount out;
  std::string source;
  switch (arr.size()) {
    case 1:
      out.target = arr[0];
      break;
    case 2:
      if (valid_mount_mode(arr[1])) return invalid_spec("");  // "/foo:rw": a destination cannot have a mode
      source = arr[0];
      out.target = arr[1];
      break;
    case 3:
      source = arr[0];
      out.target = arr[1];
      out.mode = arr[2];
      break;
    default:
      return invalid_spec("");
  }
  if (!valid_mount_mode(out.mode))
    throw Error("invalid mode: " + out.mode, "modes are ro, rw, z, Z, nocopy and one propagation "
                                            "(private, rprivate, shared, rshared, slave, rslave)");
  out.named = source.empty() || source[0] != '/';
  const std::string type = out.named ? "volume" : "bind";
  if (out.target.empty())
    return invalid_spec("invalid mount config for type \"" + type + "\": field Target must not be empty");
  if (auto problem = container_path_problem(out.target); !problem.empty())
    return invalid_spec("invalid mount config for type \"" + type + "\": " + problem);
  out.target = clean_path(out.target);
  for (auto& o : str::split(out.mode, ',')) {
    if (o == "ro") out.readonly = true;
    if (o == "nocopy") out.nocopy = true;
    if (kPropagations.count(o)) out.propagation = o;
  }
  if (out.named) {
    out.name = source;
    if (!source.empty() && !valid_volume_name(source))
      throw Error("\"" + source + "\" includes invalid characters for a local volume name, only "
                  "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                  hint);
  } else {
    out.source = clean_path(source);
    if (out.propagation.empty()) out.propagation = "rprivate";
  }
  return out;
}

// ---------------------------------------------------------------- capabilities

namespace {
constexpr int kKnownCaps = 41;  // through CAP_CHECKPOINT_RESTORE (40)
constexpr std::array<const char*, kKnownCaps> kCapNames = {
    "CHOWN",           "DAC_OVERRIDE",  "DAC_READ_SEARCH", "FOWNER",         "FSETID",
    "KILL",            "SETGID",        "SETUID",          "SETPCAP",        "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",      "NET_RAW",        "IPC_LOCK",
    "IPC_OWNER",       "SYS_MODULE",    "SYS_RAWIO",       "SYS_CHROOT",     "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",     "SYS_BOOT",        "SYS_NICE",       "SYS_RESOURCE",
    "SYS_TIME",        "SYS_TTY_CONFIG", "MKNOD",          "LEASE",          "AUDIT_WRITE",
    "AUDIT_CONTROL",   "SETFCAP",       "MAC_OVERRIDE",    "MAC_ADMIN",      "SYSLOG",
    "WAKE_ALARM",      "BLOCK_SUSPEND", "AUDIT_READ",      "PERFMON",        "BPF",
    "CHECKPOINT_RESTORE"};
constexpr int kMaskBits = 64;

std::vector<std::string> all_capabilities_in(uint64_t mask, int last_cap) {
  std::vector<std::string> out;
  for (int i = 0; i <= last_cap && i < kMaskBits; ++i)
    if (mask & (1ULL << i)) out.push_back(capability_name(i));
  return out;
}
}  // namespace

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",  "CAP_FOWNER",           "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",  "CAP_SETFCAP",          "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  return caps;
}

std::string capability_name(int number) {
  if (number < 0) return "";
  if (number < kKnownCaps) return std::string("CAP_") + kCapNames[static_cast<size_t>(number)];
  return "CAP_" + std::to_string(number);
}

int capability_number(const std::string& name, int last_cap) {
  std::string n = upper(name);
  if (n.rfind("CAP_", 0) == 0) n.erase(0, 4);
  int number = -1;
  if (all_digits(n) && n.size() <= 2) {
    number = std::stoi(n);
  } else {
    for (int i = 0; i < kKnownCaps; ++i)
      if (n == kCapNames[static_cast<size_t>(i)]) number = i;
  }
  if (number < 0 || number > last_cap || number >= kMaskBits) return -1;
  return number;
}

int host_cap_last_cap() {
  static const int last = [] {
    auto text = fs::read_file_if_exists("/proc/sys/kernel/cap_last_cap");
    if (text) {
      auto v = parse_int64(str::trim(*text));
      if (v && *v >= 0 && *v < kMaskBits) return static_cast<int>(*v);
    }
    return kKnownCaps - 1;
  }();
  return last;
}

std::vector<std::string> normalize_capabilities(const std::vector<std::string>& in, int last_cap) {
  std::vector<std::string> out;
  for (auto& cap : in) {
    std::string c = upper(cap);
    if (c == "ALL") {
      out.push_back(c);
      continue;
    }
    if (c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
    int number = capability_number(c, last_cap);
    if (number < 0)
      throw Error("unknown capability: \"" + c + "\"",
                  "use a name from capabilities(7), e.g. NET_ADMIN or CAP_NET_ADMIN (this kernel knows up to " +
                      capability_name(last_cap) + ")");
    out.push_back(capability_name(number));
  }
  return out;
}

std::vector<std::string> effective_capabilities(const std::vector<std::string>& cap_add,
                                                const std::vector<std::string>& cap_drop, bool privileged,
                                                uint64_t bounding_mask_of_caller, int last_cap) {
  auto held = [&](const std::string& cap) {
    int n = capability_number(cap, last_cap);
    return n >= 0 && (bounding_mask_of_caller & (1ULL << n));
  };
  if (privileged) return all_capabilities_in(bounding_mask_of_caller, last_cap);
  auto add = normalize_capabilities(cap_add, last_cap);
  auto drop = normalize_capabilities(cap_drop, last_cap);
  auto contains = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  std::vector<std::string> caps;
  auto push = [&](const std::string& cap) {
    if (!contains(caps, cap)) caps.push_back(cap);
  };
  if (contains(add, "ALL")) {
    for (auto& cap : all_capabilities_in(bounding_mask_of_caller, last_cap))
      if (!contains(drop, cap)) push(cap);
    return caps;
  }
  for (auto& cap : add)
    if (!held(cap))
      throw Error("cannot add capability " + cap + ": berth itself does not have it in its bounding set",
                  "run berth with that capability, or remove it from --cap-add / cap_add");
  if (!contains(drop, "ALL")) {
    for (auto& cap : default_capabilities())
      if (!contains(drop, cap) && held(cap)) push(cap);
  }
  for (auto& cap : add) push(cap);
  return caps;
}

uint64_t capability_mask(const std::vector<std::string>& names, int last_cap) {
  uint64_t mask = 0;
  for (auto& cap : normalize_capabilities(names, last_cap)) {
    if (cap == "ALL")
      throw Error("\"ALL\" is not a capability", "expand it first with effective_capabilities");
    mask |= 1ULL << capability_number(cap, last_cap);
  }
  return mask;
}

// ---------------------------------------------------------------- sysctls

std::string sysctl_refusal(const std::string& key, const std::string& network_mode) {
  static const std::set<std::string> ipc_keys = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                                 "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                                 "kernel.shmmni", "kernel.shm_rmid_forced"};
  if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos ||
      key.front() == '.' || key.back() == '.')
    return "\"" + key + "\" is not a sysctl name";
  if (ipc_keys.count(key) || key.rfind("fs.mqueue.", 0) == 0) return "";
  if (key == "kernel.hostname" || key == "kernel.domainname") return "";
  if (key.rfind("net.", 0) == 0) {
    if (network_mode == "host") return "sysctl \"" + key + "\" not allowed in host network namespace";
    if (network_mode.rfind("container:", 0) == 0 || network_mode.rfind("service:", 0) == 0)
      return "sysctl \"" + key + "\" not allowed in the network namespace of another container (" +
             network_mode + ")";
    return "";
  }
  return "sysctl \"" + key + "\" is not in a separate kernel namespace";
}

std::map<std::string, std::string> parse_sysctls(const std::vector<std::string>& kv,
                                                 const std::string& network_mode) {
  std::map<std::string, std::string> out;
  for (const auto& item : kv) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("invalid argument \"" + item + "\" for \"--sysctl\" flag: sysctl must be KEY=VALUE",
                  "e.g. --sysctl net.core.somaxconn=1024");
    std::string key = str::trim(item.substr(0, eq));
    if (auto why = sysctl_refusal(key, network_mode); !why.empty())
      throw Error("invalid --sysctl " + item + ": " + why,
                  "only namespaced sysctls can be set: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, "
                  "kernel.domainname, and net.* with the container's own network");
    out[key] = item.substr(eq + 1);
  }
  return out;
}

// ---------------------------------------------------------------- signals

int parse_signal(const std::string& s) {
  const std::string hint = "use a signal name (SIGTERM, TERM, KILL, SIGRTMIN+3) or a number from 1 to 64";
  auto invalid = [&]() -> int { throw Error("invalid signal: " + s, hint); };
  constexpr int kRtMin = 34, kRtMax = 64;  // Go's and glibc's usable range (32/33 belong to libc)
  if (auto n = parse_int64(s)) {
    if (*n < 1 || *n > kRtMax) return invalid();
    return static_cast<int>(*n);
  }
  std::string name = upper(s);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  static const std::unordered_map<std::string, int> kSignals = {
      {"ABRT", 6},   {"ALRM", 14},  {"BUS", 7},     {"CHLD", 17},   {"CLD", 17},    {"CONT", 18},
      {"FPE", 8},    {"HUP", 1},    {"ILL", 4},     {"INT", 2},     {"IO", 29},     {"IOT", 6},
      {"KILL", 9},   {"PIPE", 13},  {"POLL", 29},   {"PROF", 27},   {"PWR", 30},    {"QUIT", 3},
      {"SEGV", 11},  {"STKFLT", 16}, {"STOP", 19},  {"SYS", 31},    {"TERM", 15},   {"TRAP", 5},
      {"TSTP", 20},  {"TTIN", 21},  {"TTOU", 22},   {"URG", 23},    {"USR1", 10},   {"USR2", 12},
      {"VTALRM", 26}, {"WINCH", 28}, {"XCPU", 24},  {"XFSZ", 25},   {"RTMIN", kRtMin}, {"RTMAX", kRtMax}};
  if (auto it = kSignals.find(name); it != kSignals.end()) return it->second;
  for (auto [base, sign, number] : {std::tuple{"RTMIN+", 1, kRtMin}, std::tuple{"RTMAX-", -1, kRtMax}}) {
    std::string prefix = base;
    if (name.rfind(prefix, 0) != 0) continue;
    std::string offset = name.substr(prefix.size());
    if (!all_digits(offset) || offset.size() > 2) return invalid();
    int signal = number + sign * std::stoi(offset);
    if (signal < kRtMin || signal > kRtMax) return invalid();
    return signal;
  }
  return invalid();
}

}  // namespace berth::engine
