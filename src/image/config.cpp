#include "berth/image/config.h"

#include <algorithm>
#include <cctype>

#include "berth/util/error.h"
#include "berth/util/numeric.h"
#include "berth/util/strings.h"

namespace berth::image {

namespace {

const char* kChangeHint =
    "supported: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL, "
    "HEALTHCHECK";

[[noreturn]] void bad(const std::string& instr, const std::string& why) {
  throw Error("invalid --change '" + instr + "': " + why, kChangeHint);
}

std::vector<std::string> string_list(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::vector<std::string> object_keys(const json& j) {
  std::vector<std::string> out;
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
  return out;
}

// Exec form: a JSON array of strings. Anything else is shell form (as Docker decides).
std::optional<std::vector<std::string>> json_form(const std::string& args) {
  if (args.empty() || args.front() != '[') return std::nullopt;
  try {
    json j = json::parse(args);
    if (!j.is_array()) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& v : j) {
      if (!v.is_string()) return std::nullopt;
      out.push_back(v.get<std::string>());
    }
    return out;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> command_form(const std::string& instr, const std::string& args) {
  if (auto exec = json_form(args)) return *exec;
  if (args.empty()) bad(instr, "requires at least one argument");
  return {"/bin/sh", "-c", args};
}

// Splits on unquoted whitespace; handles "double" (with \ escapes), 'single' and \x outside quotes.
std::vector<std::string> shell_words(const std::string& instr, const std::string& s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (std::isspace(static_cast<unsigned char>(ch))) {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (ch == '\\' && i + 1 < s.size()) {
      cur += s[++i];
    } else if (ch == '\'') {
      auto end = s.find('\'', i + 1);
      if (end == std::string::npos) bad(instr, "unterminated single quote");
      cur += s.substr(i + 1, end - i - 1);
      i = end;
    } else if (ch == '"') {
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() && (s[j + 1] == '"' || s[j + 1] == '\\')) ++j;
        cur += s[j];
      }
      if (j >= s.size()) bad(instr, "unterminated double quote");
      i = j;
    } else {
      cur += ch;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

// ENV/LABEL: "k=v k2=v2" or the legacy "key value with spaces".
std::vector<std::pair<std::string, std::string>> name_values(const std::string& instr,
                                                             const std::string& keyword,
                                                             const std::string& args) {
  std::vector<std::pair<std::string, std::string>> out;
  auto words = shell_words(instr, args);
  if (words.empty()) bad(instr, keyword + " requires at least one argument");
  auto first_space = args.find_first_of(" \t");
  std::string first_raw = args.substr(0, first_space);
  if (first_raw.find('=') == std::string::npos) {
    if (words.size() < 2)
      bad(instr, keyword + " needs a value: '" + keyword + " key value' or 'key=value'");
    std::string value = str::trim(args.substr(first_space));
    out.emplace_back(words[0], value);
    return out;
  }
  for (const auto& w : words) {
    auto eq = w.find('=');
    if (eq == std::string::npos) bad(instr, "'" + w + "' is not key=value");
    if (eq == 0) bad(instr, keyword + " names can not be blank");
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

std::string clean_path(const std::string& p) {
  std::vector<std::string> parts;
  for (const auto& c : str::split(p, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(c);
  }
  return "/" + str::join(parts, "/");
}

bool valid_signal(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    long n = std::strtol(s.c_str(), nullptr, 10);
    return n >= 1 && n <= 64;
  }
  std::string name = s.rfind("SIG", 0) == 0 ? s.substr(3) : s;
  static const char* names[] = {
      "ABRT", "ALRM",   "BUS",  "CHLD",   "CLD",   "CONT", "FPE",  "HUP",   "ILL",
      "INT",  "IO",     "IOT",  "KILL",   "PIPE",  "POLL", "PROF", "PWR",   "QUIT",
      "SEGV", "STKFLT", "STOP", "SYS",    "TERM",  "TRAP", "TSTP", "TTIN",  "TTOU",
      "URG",  "USR1",   "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX"};
  for (const char* n : names)
    if (name == n) return true;
  for (const char* base : {"RTMIN+", "RTMAX-"}) {
    std::string b = base;
    if (name.rfind(b, 0) == 0) {
      std::string num = name.substr(b.size());
      if (!num.empty() && num.find_first_not_of("0123456789") == std::string::npos &&
          std::strtol(num.c_str(), nullptr, 10) <= 30)
        return true;
    }
  }
  return false;
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

void expose(const std::string& instr, ImageConfig& c, const std::string& args) {
  auto words = shell_words(instr, args);
  if (words.empty()) bad(instr, "EXPOSE requires at least one port");
  for (const auto& w : words) {
    std::string ports = w, proto = "tcp";
    if (auto slash = w.find('/'); slash != std::string::npos) {
      ports = w.substr(0, slash);
      proto = str::lower(w.substr(slash + 1));
    }
    if (proto != "tcp" && proto != "udp" && proto != "sctp")
      bad(instr, "invalid protocol '" + proto + "'");
    auto range = str::split(ports, '-');
    auto port_number = [&](const std::string& p) {
      if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
        bad(instr, "invalid port '" + w + "'");
      long n = std::strtol(p.c_str(), nullptr, 10);
      if (n < 1 || n > 65535) bad(instr, "port out of range in '" + w + "'");
      return n;
    };
    if (range.size() > 2) bad(instr, "invalid port range '" + w + "'");
    long lo = port_number(range[0]), hi = range.size() == 2 ? port_number(range[1]) : lo;
    if (hi < lo) bad(instr, "invalid port range '" + w + "'");
    for (long p = lo; p <= hi; ++p) add_unique(c.exposed_ports, std::to_string(p) + "/" + proto);
  }
}

void healthcheck(const std::string& instr, ImageConfig& c, const std::string& args) {
  std::string rest = args;
  json hc = json::object();
  int64_t retries = 0;
  std::map<std::string, int64_t> durations;
  while (rest.rfind("--", 0) == 0) {
    auto end = rest.find_first_of(" \t");
    std::string flag = rest.substr(2, end == std::string::npos ? std::string::npos : end - 2);
    rest = end == std::string::npos ? "" : str::trim(rest.substr(end));
    auto eq = flag.find('=');
    if (eq == std::string::npos)
      bad(instr, "HEALTHCHECK flag --" + flag + " needs a value (--" + flag + "=VALUE)");
    std::string name = flag.substr(0, eq), value = flag.substr(eq + 1);
    if (name == "retries") {
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        bad(instr, "--retries must be a non-negative integer");
      retries = std::strtoll(value.c_str(), nullptr, 10);
    } else if (name == "interval" || name == "timeout" || name == "start-period" ||
               name == "start-interval") {
      int64_t ns = parse_go_duration(value);
      if (ns != 0 && ns < 1000000) bad(instr, "--" + name + " cannot be less than 1ms");
      if (ns < 0) bad(instr, "--" + name + " cannot be negative");
      durations[name] = ns;
    } else {
      bad(instr, "unknown HEALTHCHECK flag --" + name);
    }
  }
  auto space = rest.find_first_of(" \t");
  std::string kind = str::lower(rest.substr(0, space));
  std::string cmd = space == std::string::npos ? "" : str::trim(rest.substr(space));
  if (kind == "none") {
    if (!cmd.empty() || !durations.empty() || retries)
      bad(instr, "HEALTHCHECK NONE takes no arguments");
    c.healthcheck = json{{"Test", json::array({"NONE"})}};
    return;
  }
  if (kind != "cmd") bad(instr, "unknown HEALTHCHECK type '" + kind + "' (use CMD or NONE)");
  json test = json::array();
  if (auto exec = json_form(cmd)) {
    if (exec->empty()) bad(instr, "HEALTHCHECK CMD needs a command");
    test.push_back("CMD");
    for (auto& a : *exec) test.push_back(a);
  } else {
    if (cmd.empty()) bad(instr, "HEALTHCHECK CMD needs a command");
    test = json::array({"CMD-SHELL", cmd});
  }
  hc["Test"] = test;
  static const std::pair<const char*, const char*> keys[] = {{"interval", "Interval"},
                                                             {"timeout", "Timeout"},
                                                             {"start-period", "StartPeriod"},
                                                             {"start-interval", "StartInterval"}};
  for (const auto& [flag, key] : keys)
    if (auto it = durations.find(flag); it != durations.end() && it->second) hc[key] = it->second;
  if (retries) hc["Retries"] = retries;
  c.healthcheck = hc;
}

}  // namespace

json config_to_json(const ImageConfig& c) {
  json j = json::object();
  if (!c.entrypoint.empty()) j["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) j["Cmd"] = c.cmd;
  if (!c.env.empty()) j["Env"] = c.env;
  if (!c.working_dir.empty()) j["WorkingDir"] = c.working_dir;
  if (!c.user.empty()) j["User"] = c.user;
  if (!c.exposed_ports.empty()) {
    j["ExposedPorts"] = json::object();
    for (const auto& p : c.exposed_ports) j["ExposedPorts"][p] = json::object();
  }
  if (!c.volumes.empty()) {
    j["Volumes"] = json::object();
    for (const auto& v : c.volumes) j["Volumes"][v] = json::object();
  }
  if (!c.labels.empty()) j["Labels"] = c.labels;
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (c.healthcheck) j["Healthcheck"] = *c.healthcheck;
  return j;
}

ImageConfig config_from_json(const json& j) {
  ImageConfig c;
  if (!j.is_object()) return c;
  auto text = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (j.contains("Entrypoint")) c.entrypoint = string_list(j["Entrypoint"]);
  if (j.contains("Cmd")) c.cmd = string_list(j["Cmd"]);
  if (j.contains("Env")) c.env = string_list(j["Env"]);
  c.working_dir = text("WorkingDir");
  c.user = text("User");
  c.stop_signal = text("StopSignal");
  if (j.contains("ExposedPorts")) c.exposed_ports = object_keys(j["ExposedPorts"]);
  if (j.contains("Volumes")) c.volumes = object_keys(j["Volumes"]);
  if (auto it = j.find("Labels"); it != j.end() && it->is_object())
    for (auto l = it->begin(); l != it->end(); ++l)
      if (l->is_string()) c.labels[l.key()] = l->get<std::string>();
  if (auto it = j.find("Healthcheck"); it != j.end() && it->is_object()) c.healthcheck = *it;
  return c;
}

void apply_change(ImageConfig& c, const std::string& instruction) {
  std::string line = str::trim(instruction);
  auto space = line.find_first_of(" \t");
  std::string keyword = str::lower(line.substr(0, space));
  std::string args = space == std::string::npos ? "" : str::trim(line.substr(space));
  std::string upper = keyword;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));

  if (keyword == "cmd") {
    c.cmd = command_form(line, args);
  } else if (keyword == "entrypoint") {
    c.entrypoint = command_form(line, args);
  } else if (keyword == "env") {
    for (auto& [key, value] : name_values(line, "ENV", args)) {
      std::string entry = key + "=" + value;
      auto same = std::find_if(c.env.begin(), c.env.end(),
                               [&](const std::string& e) { return e.rfind(key + "=", 0) == 0; });
      if (same != c.env.end())
        *same = entry;
      else
        c.env.push_back(entry);
    }
  } else if (keyword == "label") {
    for (auto& [key, value] : name_values(line, "LABEL", args)) c.labels[key] = value;
  } else if (keyword == "workdir") {
    if (args.empty()) bad(line, "WORKDIR requires a path");
    c.working_dir = args.front() == '/'
                        ? clean_path(args)
                        : clean_path((c.working_dir.empty() ? "/" : c.working_dir) + "/" + args);
  } else if (keyword == "user") {
    if (args.empty()) bad(line, "USER requires a user");
    c.user = args;
  } else if (keyword == "expose") {
    expose(line, c, args);
  } else if (keyword == "volume") {
    auto vols = json_form(args);
    std::vector<std::string> list = vols ? *vols : shell_words(line, args);
    if (list.empty()) bad(line, "VOLUME requires at least one path");
    for (const auto& v : list) {
      if (str::trim(v).empty()) bad(line, "VOLUME path can not be an empty string");
      add_unique(c.volumes, v);
    }
  } else if (keyword == "stopsignal") {
    if (!valid_signal(args)) bad(line, "invalid signal '" + args + "'");
    c.stop_signal = args;
  } else if (keyword == "healthcheck") {
    healthcheck(line, c, args);
  } else if (keyword.empty()) {
    bad(line, "empty instruction");
  } else {
    throw Error("unknown --change instruction " + upper + " in '" + line + "'", kChangeHint);
  }
}

int64_t parse_go_duration(const std::string& s) {
  auto fail = [&]() -> int64_t {
    throw Error("invalid duration '" + s + "'", "use Go duration syntax, e.g. 30s, 1m30s, 500ms");
  };
  if (s.empty()) fail();
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    ++i;
  }
  if (s.substr(i) == "0") return 0;
  if (i >= s.size()) fail();
  long double total = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) fail();
    std::string number = s.substr(start, i - start);
    if (number == "." || std::count(number.begin(), number.end(), '.') > 1) fail();
    size_t ustart = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string unit = s.substr(ustart, i - ustart);
    long double scale;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else
      return fail();
    total += std::strtold(number.c_str(), nullptr) * scale;
  }
  if (total > 9.2e18L) fail();
  int64_t ns = num::round_to_int64(total);
  return negative ? -ns : ns;
}

}  // namespace berth::image
