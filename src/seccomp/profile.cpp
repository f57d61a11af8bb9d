#include "berth/seccomp/profile.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>

#include "berth/util/error.h"
#include "berth/util/json.h"
#include "berth/util/strings.h"

// Generated from schemas/seccomp-default.json by cmake/embed_seccomp.cmake.
extern "C" const char berth_seccomp_default_json[];
extern "C" const unsigned long berth_seccomp_default_json_size;
extern "C" const char berth_seccomp_default_json_sha256[];

namespace berth::seccomp {
namespace {

[[noreturn]] void fail(const std::string& origin, const std::string& where, const std::string& what) {
  throw Error("seccomp profile " + origin + ": " + (where.empty() ? "" : where + ": ") + what,
              "fix the profile; the format is described in docs/seccomp.md");
}

const std::map<std::string, int, std::less<>>& errno_names() {
  static const std::map<std::string, int, std::less<>> names = {
      {"EPERM", EPERM},   {"ENOENT", ENOENT}, {"EIO", EIO},       {"E2BIG", E2BIG},
      {"EBADF", EBADF},   {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM}, {"EACCES", EACCES},
      {"EFAULT", EFAULT}, {"EBUSY", EBUSY},   {"EEXIST", EEXIST}, {"EINVAL", EINVAL},
      {"ENOSYS", ENOSYS}, {"ENOTSUP", ENOTSUP}, {"EOPNOTSUPP", EOPNOTSUPP},
  };
  return names;
}

std::optional<uint64_t> parse_number(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    base = 16;
    text.remove_prefix(2);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string cap_name(std::string cap) {
  cap = str::trim(cap);
  std::transform(cap.begin(), cap.end(), cap.begin(), [](unsigned char c) { return std::toupper(c); });
  if (!cap.starts_with("CAP_")) cap = "CAP_" + cap;
  return cap;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Docker's arch vocabulary (Go's GOARCH plus a few) → libseccomp's arch names.
std::string arch_from_go(std::string name) {
  if (name == "amd64") return "x86_64";
  if (name == "386") return "x86";
  if (name == "arm64") return "aarch64";
  return name;
}

std::string arch_from_scmp(const std::string& origin, const std::string& where, const std::string& name) {
  if (!name.starts_with("SCMP_ARCH_")) fail(origin, where, "unknown architecture \"" + name + "\"");
  return str::lower(name.substr(10));
}

// ---- Docker format ----

std::vector<std::string> string_list(const json& j, const std::string& origin, const std::string& where) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) fail(origin, where, "expected a list of strings");
  for (const auto& item : j) {
    if (!item.is_string()) fail(origin, where, "expected a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

Action docker_action(const json& j, const std::optional<uint32_t>& errno_ret, const std::string& origin,
                     const std::string& where) {
  if (!j.is_string()) fail(origin, where, "expected an action name such as \"SCMP_ACT_ERRNO\"");
  const std::string name = j.get<std::string>();
  if (name == "SCMP_ACT_ALLOW") return {ActionKind::allow, 0};
  if (name == "SCMP_ACT_ERRNO") return {ActionKind::errno_ret, errno_ret.value_or(EPERM)};
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return {ActionKind::kill_thread, 0};
  if (name == "SCMP_ACT_KILL_PROCESS") return {ActionKind::kill_process, 0};
  if (name == "SCMP_ACT_TRAP") return {ActionKind::trap, 0};
  if (name == "SCMP_ACT_TRACE") return {ActionKind::trace, errno_ret.value_or(EPERM)};
  if (name == "SCMP_ACT_LOG") return {ActionKind::log, 0};
  if (name == "SCMP_ACT_NOTIFY") fail(origin, where, "SCMP_ACT_NOTIFY is not supported by Berth");
  fail(origin, where, "unknown action \"" + name + "\"");
}

std::optional<uint32_t> docker_errno(const json& obj, const char* key, const std::string& origin,
                                     const std::string& where) {
  if (!obj.contains(key) || obj[key].is_null()) return std::nullopt;
  const json& j = obj[key];
  if (!j.is_number_unsigned() || j.get<uint64_t>() > 4095)
    fail(origin, where + "." + key, "expected an errno number between 0 and 4095");
  return j.get<uint32_t>();
}

CompareOp docker_op(const json& j, const std::string& origin, const std::string& where) {
  static const std::map<std::string, CompareOp, std::less<>> ops = {
      {"SCMP_CMP_EQ", CompareOp::eq}, {"SCMP_CMP_NE", CompareOp::ne},
      {"SCMP_CMP_LT", CompareOp::lt}, {"SCMP_CMP_LE", CompareOp::le},
      {"SCMP_CMP_GT", CompareOp::gt}, {"SCMP_CMP_GE", CompareOp::ge},
      {"SCMP_CMP_MASKED_EQ", CompareOp::masked_eq}};
  if (j.is_string()) {
    auto it = ops.find(j.get<std::string>());
    if (it != ops.end()) return it->second;
  }
  fail(origin, where, "unknown comparison " + j.dump() + " (use SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE or _MASKED_EQ)");
}

RuleCondition docker_condition(const json& j, const std::string& origin, const std::string& where) {
  RuleCondition cond;
  if (j.is_null()) return cond;
  if (!j.is_object()) fail(origin, where, "expected an object with caps, arches or minKernel");
  for (auto& [key, value] : j.items()) {
    if (key == "caps") {
      for (auto& cap : string_list(value, origin, where + ".caps")) cond.caps.push_back(cap_name(cap));
    } else if (key == "arches") {
      for (auto& arch : string_list(value, origin, where + ".arches")) cond.arches.push_back(arch_from_go(arch));
    } else if (key == "minKernel") {
      if (!value.is_null()) {
        auto version = value.is_string() ? parse_kernel_version(value.get<std::string>()) : std::nullopt;
        if (!version) fail(origin, where + ".minKernel", "expected a kernel version such as \"4.8\"");
        cond.min_kernel = version;
      }
    } else {
      fail(origin, where, "unknown field \"" + key + "\"");
    }
  }
  return cond;
}

// ---- Berth format ----

Action berth_action(const std::string& text, const std::string& origin, const std::string& where) {
  auto words = str::split(str::trim(text), ' ');
  words.erase(std::remove(words.begin(), words.end(), ""), words.end());
  if (words.size() == 1) {
    if (words[0] == "allow") return {ActionKind::allow, 0};
    if (words[0] == "kill_thread") return {ActionKind::kill_thread, 0};
    if (words[0] == "kill_process") return {ActionKind::kill_process, 0};
    if (words[0] == "trap") return {ActionKind::trap, 0};
    if (words[0] == "log") return {ActionKind::log, 0};
  } else if (words.size() == 2 && (words[0] == "errno" || words[0] == "trace")) {
    std::optional<uint64_t> value;
    if (auto it = errno_names().find(words[1]); it != errno_names().end()) value = it->second;
    else value = parse_number(words[1]);
    if (!value || *value > 4095) fail(origin, where, "bad errno \"" + words[1] + "\"");
    return {words[0] == "errno" ? ActionKind::errno_ret : ActionKind::trace, static_cast<uint32_t>(*value)};
  }
  fail(origin, where,
       "unknown action \"" + text + "\" (use allow, errno NAME|N, kill_thread, kill_process, trap, log, trace N)");
}

// "arg0 < 38", "arg0 & 0x7e020000 == 0"; "&&" joins conditions that must all hold.
std::vector<ArgCondition> berth_args(const std::string& text, const std::string& origin, const std::string& where) {
  static const std::map<std::string, CompareOp, std::less<>> ops = {
      {"==", CompareOp::eq}, {"!=", CompareOp::ne}, {"<", CompareOp::lt},
      {"<=", CompareOp::le}, {">", CompareOp::gt},  {">=", CompareOp::ge}};
  std::vector<ArgCondition> out;
  std::vector<std::string> words;
  for (auto& w : str::split(text, ' '))
    if (!w.empty()) words.push_back(w);
  auto bad = [&]() { fail(origin, where, "cannot read condition \"" + text + "\" (e.g. \"arg0 < 38\", \"arg0 & 0x8 == 0\")"); };
  size_t i = 0;
  while (i < words.size()) {
    ArgCondition cond;
    const std::string& arg = words[i];
    if (arg.size() != 4 || !arg.starts_with("arg") || arg[3] < '0' || arg[3] > '5') bad();
    cond.index = static_cast<unsigned>(arg[3] - '0');
    if (i + 2 >= words.size()) bad();
    if (words[i + 1] == "&") {
      if (i + 4 >= words.size() || words[i + 3] != "==") bad();
      auto mask = parse_number(words[i + 2]);
      auto value = parse_number(words[i + 4]);
      if (!mask || !value) bad();
      cond.op = CompareOp::masked_eq;
      cond.value = *mask;
      cond.value_two = *value;
      i += 5;
    } else {
      auto op = ops.find(words[i + 1]);
      auto value = parse_number(words[i + 2]);
      if (op == ops.end() || !value) bad();
      cond.op = op->second;
      cond.value = *value;
      i += 3;
    }
    out.push_back(cond);
    if (i < words.size()) {
      if (words[i] != "&&") bad();
      ++i;
      if (i == words.size()) bad();
    }
  }
  if (out.empty()) bad();
  return out;
}

json parse_json(std::string_view text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(origin, "", std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace

std::string to_string(const Action& action) {
  switch (action.kind) {
    case ActionKind::allow: return "allow";
    case ActionKind::errno_ret: return "errno " + std::to_string(action.value);
    case ActionKind::kill_thread: return "kill_thread";
    case ActionKind::kill_process: return "kill_process";
    case ActionKind::trap: return "trap";
    case ActionKind::trace: return "trace " + std::to_string(action.value);
    case ActionKind::log: return "log";
  }
  return "?";
}

std::string to_string(const ArgCondition& c) {
  char hex[32];
  auto number = [&](uint64_t v) {
    std::snprintf(hex, sizeof hex, v > 9 ? "0x%llx" : "%llu", static_cast<unsigned long long>(v));
    return std::string(hex);
  };
  std::string arg = "arg" + std::to_string(c.index);
  switch (c.op) {
    case CompareOp::eq: return arg + " == " + number(c.value);
    case CompareOp::ne: return arg + " != " + number(c.value);
    case CompareOp::lt: return arg + " < " + number(c.value);
    case CompareOp::le: return arg + " <= " + number(c.value);
    case CompareOp::gt: return arg + " > " + number(c.value);
    case CompareOp::ge: return arg + " >= " + number(c.value);
    case CompareOp::masked_eq: return arg + " & " + number(c.value) + " == " + number(c.value_two);
  }
  return "?";
}

std::optional<KernelVersion> parse_kernel_version(std::string_view text) {
  KernelVersion v;
  auto end = text.data() + text.size();
  auto [p1, e1] = std::from_chars(text.data(), end, v.major);
  if (e1 != std::errc() || p1 == end || *p1 != '.') return std::nullopt;
  auto [p2, e2] = std::from_chars(p1 + 1, end, v.minor);
  if (e2 != std::errc()) return std::nullopt;
  return v;
}

KernelVersion running_kernel() {
  struct utsname u {};
  if (::uname(&u) != 0) throw_errno("uname");
  auto v = parse_kernel_version(u.release);
  if (!v) throw Error(std::string("cannot read the kernel version from \"") + u.release + "\"");
  return *v;
}

std::string native_arch() {
#if defined(__x86_64__) && defined(__ILP32__)
  return "x32";
#elif defined(__x86_64__)
  return "x86_64";
#elif defined(__i386__)
  return "x86";
#elif defined(__aarch64__)
  return "aarch64";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#else
  return "unknown";
#endif
}

std::vector<std::string> normalize_caps(std::vector<std::string> caps) {
  for (auto& cap : caps) cap = cap_name(cap);
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  return caps;
}

Target host_target(const std::vector<std::string>& caps) {
  return Target{native_arch(), normalize_caps(caps), running_kernel()};
}

ResolvedProfile resolve(const Profile& profile, const Target& target) {
  ResolvedProfile out;
  out.default_action = profile.default_action;
  for (const auto& group : profile.arch_map) {
    if (group.native != target.arch) continue;
    out.arches.push_back(group.native);
    for (const auto& sub : group.subs)
      if (!contains(out.arches, sub)) out.arches.push_back(sub);
  }
  if (profile.arch_map.empty()) out.arches = profile.flat_arches;
  if (out.arches.empty()) out.arches.push_back(target.arch);

  for (const auto& rule : profile.rules) {
    const auto& ex = rule.excludes;
    if (contains(ex.arches, target.arch)) continue;
    if (std::any_of(ex.caps.begin(), ex.caps.end(), [&](auto& c) { return contains(target.caps, c); })) continue;
    if (ex.min_kernel && target.kernel >= *ex.min_kernel) continue;
    const auto& in = rule.includes;
    if (!in.arches.empty() && !contains(in.arches, target.arch)) continue;
    if (!std::all_of(in.caps.begin(), in.caps.end(), [&](auto& c) { return contains(target.caps, c); })) continue;
    if (in.min_kernel && target.kernel < *in.min_kernel) continue;
    Rule applied = rule;
    applied.includes = {};
    applied.excludes = {};
    out.rules.push_back(std::move(applied));
  }
  return out;
}

Profile parse_docker_profile(std::string_view text, const std::string& origin) {
  json doc = parse_json(text, origin);
  if (!doc.is_object()) fail(origin, "", "expected a JSON object");
  Profile p;
  p.origin = origin;
  if (!doc.contains("defaultAction")) fail(origin, "defaultAction", "missing");
  p.default_action = docker_action(doc["defaultAction"], docker_errno(doc, "defaultErrnoRet", origin, ""),
                                   origin, "defaultAction");
  for (auto& [key, value] : doc.items()) {
    if (key == "defaultAction" || key == "defaultErrnoRet" || key == "syscalls" || key == "comment") continue;
    if (key == "architectures") {
      for (auto& arch : string_list(value, origin, key)) p.flat_arches.push_back(arch_from_scmp(origin, key, arch));
    } else if (key == "archMap") {
      if (value.is_null()) continue;
      if (!value.is_array()) fail(origin, key, "expected a list");
      for (size_t i = 0; i < value.size(); ++i) {
        std::string where = "archMap[" + std::to_string(i) + "]";
        const json& entry = value[i];
        if (!entry.is_object() || !entry.contains("architecture") || !entry["architecture"].is_string())
          fail(origin, where, "expected {\"architecture\": ..., \"subArchitectures\": [...]}");
        ArchGroup group{arch_from_scmp(origin, where, entry["architecture"].get<std::string>()), {}};
        if (entry.contains("subArchitectures"))
          for (auto& sub : string_list(entry["subArchitectures"], origin, where + ".subArchitectures"))
            group.subs.push_back(arch_from_scmp(origin, where, sub));
        p.arch_map.push_back(std::move(group));
      }
    } else if (key == "listenerPath" || key == "listenerMetadata") {
      if (!value.is_null() && value != "") fail(origin, key, "seccomp notify listeners are not supported by Berth");
    } else if (key == "flags") {
      // SECCOMP_FILTER_FLAG_* are a runtime concern; Berth loads with flags 0.
      if (!value.is_null() && !(value.is_array() && value.empty()))
        fail(origin, key, "filter flags are not supported by Berth");
    } else {
      fail(origin, "", "unknown field \"" + key + "\"");
    }
  }
  const json& calls = doc.contains("syscalls") ? doc["syscalls"] : json::array();
  if (!calls.is_array()) fail(origin, "syscalls", "expected a list");
  for (size_t i = 0; i < calls.size(); ++i) {
    std::string where = "syscalls[" + std::to_string(i) + "]";
    const json& entry = calls[i];
    if (!entry.is_object()) fail(origin, where, "expected an object");
    Rule rule;
    if (entry.contains("names")) rule.syscalls = string_list(entry["names"], origin, where + ".names");
    if (entry.contains("name") && entry["name"].is_string()) rule.syscalls.push_back(entry["name"].get<std::string>());
    if (rule.syscalls.empty()) fail(origin, where, "no syscall names");
    if (!entry.contains("action")) fail(origin, where + ".action", "missing");
    rule.action = docker_action(entry["action"], docker_errno(entry, "errnoRet", origin, where), origin,
                                where + ".action");
    for (auto& [key, value] : entry.items()) {
      if (key == "names" || key == "name" || key == "action" || key == "errnoRet" || key == "comment") continue;
      if (key == "includes") {
        rule.includes = docker_condition(value, origin, where + ".includes");
      } else if (key == "excludes") {
        rule.excludes = docker_condition(value, origin, where + ".excludes");
      } else if (key == "args") {
        if (value.is_null()) continue;
        if (!value.is_array()) fail(origin, where + ".args", "expected a list");
        for (size_t a = 0; a < value.size(); ++a) {
          std::string at = where + ".args[" + std::to_string(a) + "]";
          const json& arg = value[a];
          if (!arg.is_object()) fail(origin, at, "expected an object");
          ArgCondition cond;
          if (!arg.contains("index") || !arg["index"].is_number_unsigned() || arg["index"].get<uint64_t>() > 5)
            fail(origin, at + ".index", "expected an argument index 0..5");
          cond.index = arg["index"].get<unsigned>();
          if (!arg.contains("value") || !arg["value"].is_number_unsigned())
            fail(origin, at + ".value", "expected an unsigned number");
          cond.value = arg["value"].get<uint64_t>();
          if (arg.contains("valueTwo")) {
            if (!arg["valueTwo"].is_number_unsigned()) fail(origin, at + ".valueTwo", "expected an unsigned number");
            cond.value_two = arg["valueTwo"].get<uint64_t>();
          }
          if (!arg.contains("op")) fail(origin, at + ".op", "missing");
          cond.op = docker_op(arg["op"], origin, at + ".op");
          rule.args.push_back(cond);
        }
      } else {
        fail(origin, where, "unknown field \"" + key + "\"");
      }
    }
    p.rules.push_back(std::move(rule));
  }
  return p;
}

Profile parse_berth_profile(std::string_view text, const std::string& origin) {
  json doc = parse_json(text, origin);
  if (!doc.is_object() || doc.value("berth_seccomp", json()) != 1)
    fail(origin, "berth_seccomp", "expected \"berth_seccomp\": 1");
  Profile p;
  p.origin = origin;
  for (auto& [key, value] : doc.items()) {
    if (key == "berth_seccomp" || key == "about" || key == "rules") continue;
    if (key == "default") {
      if (!value.is_string()) fail(origin, key, "expected an action such as \"errno EPERM\"");
      p.default_action = berth_action(value.get<std::string>(), origin, key);
    } else if (key == "arches") {
      if (!value.is_object()) fail(origin, key, "expected {\"x86_64\": [\"x86\", \"x32\"]}");
      for (auto& [native, subs] : value.items())
        p.arch_map.push_back({native, string_list(subs, origin, "arches." + native)});
    } else {
      fail(origin, "", "unknown field \"" + key + "\"");
    }
  }
  if (!doc.contains("default")) fail(origin, "default", "missing");
  const json& rules = doc.contains("rules") ? doc["rules"] : json::array();
  if (!rules.is_array()) fail(origin, "rules", "expected a list");
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string where = "rules[" + std::to_string(i) + "]";
    const json& entry = rules[i];
    if (!entry.is_object()) fail(origin, where, "expected an object");
    Rule rule;
    std::vector<std::vector<ArgCondition>> alternatives;
    for (auto& [key, value] : entry.items()) {
      std::string at = where + "." + key;
      if (key == "why") continue;
      if (key == "syscalls") {
        rule.syscalls = string_list(value, origin, at);
      } else if (key == "action") {
        if (!value.is_string()) fail(origin, at, "expected a string");
        rule.action = berth_action(value.get<std::string>(), origin, at);
      } else if (key == "if_any") {
        for (auto& alt : string_list(value, origin, at)) alternatives.push_back(berth_args(alt, origin, at));
      } else if (key == "needs_caps") {
        for (auto& cap : string_list(value, origin, at)) rule.includes.caps.push_back(cap_name(cap));
      } else if (key == "unless_caps") {
        for (auto& cap : string_list(value, origin, at)) rule.excludes.caps.push_back(cap_name(cap));
      } else if (key == "native_arch") {
        rule.includes.arches = string_list(value, origin, at);
      } else if (key == "not_native_arch") {
        rule.excludes.arches = string_list(value, origin, at);
      } else if (key == "min_kernel") {
        auto version = value.is_string() ? parse_kernel_version(value.get<std::string>()) : std::nullopt;
        if (!version) fail(origin, at, "expected a kernel version such as \"4.8\"");
        rule.includes.min_kernel = version;
      } else {
        fail(origin, where, "unknown field \"" + key + "\"");
      }
    }
    if (rule.syscalls.empty()) fail(origin, where + ".syscalls", "missing or empty");
    if (!entry.contains("action")) fail(origin, where + ".action", "missing");
    // Each alternative of if_any is its own rule: libseccomp ORs rules of the same syscall.
    if (alternatives.empty()) {
      p.rules.push_back(std::move(rule));
    } else {
      for (auto& alt : alternatives) {
        Rule one = rule;
        one.args = std::move(alt);
        p.rules.push_back(std::move(one));
      }
    }
  }
  return p;
}

Profile parse_profile(std::string_view text, const std::string& origin) {
  json doc = parse_json(text, origin);
  if (doc.is_object() && doc.contains("berth_seccomp")) return parse_berth_profile(text, origin);
  return parse_docker_profile(text, origin);
}

std::string_view builtin_profile_text() {
  return {berth_seccomp_default_json, static_cast<size_t>(berth_seccomp_default_json_size)};
}

std::string_view builtin_profile_sha256() { return berth_seccomp_default_json_sha256; }

const Profile& builtin_profile() {
  static const Profile profile = parse_berth_profile(builtin_profile_text(), "built-in default");
  return profile;
}

}  // namespace berth::seccomp
