// Pass "validate" and "bind": one walk of the canonical tree against a rule table keyed by path.
// Validation reports unknown keys and wrong types (every error, with position); binding turns
// scalars into Compose's value types (ints, numbers, durations, byte sizes, octal modes).
#include <cctype>
#include <cmath>
#include <deque>
#include <functional>
#include <map>

#include "passes.h"

namespace berth::compose {
namespace {

enum class T { Any, Str, Int, Num, Bool, Dur, Bytes, Mode, Obj, Dict, List, OneOf };

struct Spec {
  T t = T::Any;
  std::map<std::string, const Spec*> props;  // Obj
  const Spec* elem = nullptr;                // Dict values, List items
  std::vector<const Spec*> alts;             // OneOf: first whose shape fits
  std::vector<std::string> enums;            // Str: allowed values (empty = any)
  bool nullable = false;
  bool null_as_empty = false;  // labels: `key:` means ""
  std::function<std::string(const std::string&)> check;  // Str: returns an error or ""
};

std::deque<Spec>& arena() {
  static std::deque<Spec> a;
  return a;
}
const Spec* make(Spec s) {
  arena().push_back(std::move(s));
  return &arena().back();
}
// Plain leaf types are never modified (nullable() copies), so one of each serves every use: the
// table is built on each run, and ~200 identical leaves were a visible part of a small load.
const Spec* leaf(T t) {
  static const Spec* leaves[static_cast<int>(T::OneOf) + 1] = {};
  const Spec*& s = leaves[static_cast<int>(t)];
  if (!s) s = make({t});
  return s;
}
const Spec* any() { return leaf(T::Any); }
const Spec* str() { return leaf(T::Str); }
const Spec* integer() { return leaf(T::Int); }
const Spec* num() { return leaf(T::Num); }
const Spec* boolean() { return leaf(T::Bool); }
const Spec* dur() { return leaf(T::Dur); }
const Spec* bytes() { return leaf(T::Bytes); }
const Spec* mode() { return leaf(T::Mode); }
const Spec* enm(std::vector<std::string> values) {
  Spec s{T::Str};
  s.enums = std::move(values);
  return make(std::move(s));
}
const Spec* obj(std::map<std::string, const Spec*> props) {
  Spec s{T::Obj};
  s.props = std::move(props);
  return make(std::move(s));
}
const Spec* dict(const Spec* elem) {
  Spec s{T::Dict};
  s.elem = elem;
  return make(std::move(s));
}
const Spec* list(const Spec* elem) {
  Spec s{T::List};
  s.elem = elem;
  return make(std::move(s));
}
const Spec* one(std::vector<const Spec*> alts) {
  Spec s{T::OneOf};
  s.alts = std::move(alts);
  return make(std::move(s));
}
const Spec* nullable(const Spec* p) {
  Spec s = *p;
  s.nullable = true;
  return make(std::move(s));
}
const Spec* label_map() {
  Spec s{T::Str};
  s.null_as_empty = true;
  return dict(make(std::move(s)));
}
const Spec* env_map() { return dict(nullable(str())); }
const Spec* strs() {
  static const Spec* s = list(str());
  return s;
}

std::string check_restart(const std::string& v) {
  if (v == "no" || v == "always" || v == "unless-stopped" || v == "on-failure") return "";
  if (v.rfind("on-failure:", 0) == 0 && v.size() > 11) {
    for (size_t i = 11; i < v.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(v[i]))) return "invalid restart policy \"" + v + "\"";
    return "";
  }
  return "invalid restart policy \"" + v + "\"; use no, always, on-failure[:max-retries] or unless-stopped";
}

const Spec* service_spec() {
  auto update = obj({{"parallelism", integer()}, {"delay", dur()}, {"failure_action", str()},
                     {"monitor", dur()}, {"max_failure_ratio", num()}, {"order", enm({"start-first", "stop-first"})}});
  auto resource = obj({{"cpus", num()},
                       {"memory", bytes()},
                       {"pids", integer()},
                       {"generic_resources",
                        list(obj({{"discrete_resource_spec", obj({{"kind", str()}, {"value", integer()}})}}))},
                       {"devices", list(obj({{"capabilities", strs()},
                                             {"count", one({integer(), str()})},
                                             {"device_ids", strs()},
                                             {"driver", str()},
                                             {"options", dict(str())}}))}});
  auto deploy = obj({{"mode", str()},
                     {"endpoint_mode", str()},
                     {"replicas", integer()},
                     {"labels", label_map()},
                     {"rollback_config", update},
                     {"update_config", update},
                     {"resources", obj({{"limits", resource}, {"reservations", resource}})},
                     {"restart_policy", obj({{"condition", enm({"none", "on-failure", "any"})},
                                             {"delay", dur()},
                                             {"max_attempts", integer()},
                                             {"window", dur()}})},
                     {"placement", obj({{"constraints", strs()},
                                        {"preferences", list(obj({{"spread", str()}}))},
                                        {"max_replicas_per_node", integer()}})}});
  auto ulimits = dict(one({integer(), obj({{"soft", integer()}, {"hard", integer()}})}));
  auto file_ref = obj({{"source", str()}, {"target", str()}, {"uid", str()}, {"gid", str()}, {"mode", mode()}});
  auto build = obj({{"context", str()},
                    {"dockerfile", str()},
                    {"dockerfile_inline", str()},
                    {"entitlements", strs()},
                    {"args", env_map()},
                    {"ssh", strs()},
                    {"labels", label_map()},
                    {"cache_from", strs()},
                    {"cache_to", strs()},
                    {"no_cache", boolean()},
                    {"additional_contexts", dict(str())},
                    {"network", str()},
                    {"provenance", any()},
                    {"sbom", any()},
                    {"pull", boolean()},
                    {"target", str()},
                    {"shm_size", bytes()},
                    {"extra_hosts", strs()},
                    {"isolation", str()},
                    {"privileged", boolean()},
                    {"secrets", list(file_ref)},
                    {"tags", strs()},
                    {"ulimits", ulimits},
                    {"platforms", strs()}});
  auto healthcheck = obj({{"test", strs()},
                          {"interval", dur()},
                          {"timeout", dur()},
                          {"start_period", dur()},
                          {"start_interval", dur()},
                          {"retries", integer()},
                          {"disable", boolean()}});
  auto hook = obj({{"command", one({str(), strs()})},
                   {"user", str()},
                   {"privileged", boolean()},
                   {"working_dir", str()},
                   {"environment", one({env_map(), strs()})},
                   {"image", str()},
                   {"per_replica", boolean()}});
  auto port = obj({{"name", str()},
                   {"mode", enm({"ingress", "host"})},
                   {"host_ip", str()},
                   {"target", integer()},
                   {"published", str()},
                   {"protocol", str()},
                   {"app_protocol", str()}});
  auto volume = obj({{"type", enm({"bind", "volume", "tmpfs", "image", "npipe", "cluster"})},
                     {"source", str()},
                     {"target", str()},
                     {"read_only", boolean()},
                     {"consistency", str()},
                     {"bind", obj({{"propagation", str()},
                                   {"create_host_path", boolean()},
                                   {"selinux", enm({"z", "Z"})},
                                   {"recursive", str()}})},
                     {"volume", obj({{"nocopy", boolean()}, {"subpath", str()}, {"labels", label_map()}})},
                     {"tmpfs", obj({{"size", bytes()}, {"mode", integer()}})},
                     {"image", obj({{"subpath", str()}})}});
  auto service_network = nullable(obj({{"aliases", strs()},
                                       {"ipv4_address", str()},
                                       {"ipv6_address", str()},
                                       {"link_local_ips", strs()},
                                       {"mac_address", str()},
                                       {"driver_opts", dict(str())},
                                       {"priority", integer()},
                                       {"gw_priority", integer()},
                                       {"interface_name", str()}}));
  Spec restart{T::Str};
  restart.check = check_restart;
  return obj({
      {"annotations", label_map()},
      {"attach", boolean()},
      {"build", build},
      {"blkio_config", any()},
      {"cap_add", strs()},
      {"cap_drop", strs()},
      {"cgroup", enm({"host", "private"})},
      {"cgroup_parent", str()},
      {"command", nullable(strs())},
      {"configs", list(file_ref)},
      {"container_name", str()},
      {"cpu_count", integer()},
      {"cpu_percent", integer()},
      {"cpu_shares", integer()},
      {"cpu_quota", integer()},
      {"cpu_period", integer()},
      {"cpu_rt_period", any()},
      {"cpu_rt_runtime", any()},
      {"cpus", num()},
      {"cpuset", str()},
      {"credential_spec", any()},
      {"depends_on", dict(obj({{"condition", enm({"service_started", "service_healthy",
                                                  "service_completed_successfully"})},
                               {"required", boolean()},
                               {"restart", boolean()}}))},
      {"deploy", deploy},
      {"develop", any()},
      {"device_cgroup_rules", strs()},
      {"devices", list(one({str(), obj({{"source", str()}, {"target", str()}, {"permissions", str()}})}))},
      {"dns", strs()},
      {"dns_opt", strs()},
      {"dns_search", strs()},
      {"domainname", str()},
      {"entrypoint", nullable(strs())},
      {"env_file", list(obj({{"path", str()}, {"required", boolean()}, {"format", str()}}))},
      {"label_file", strs()},
      {"environment", env_map()},
      {"expose", strs()},
      {"extends", obj({{"service", str()}, {"file", str()}})},
      {"external_links", strs()},
      {"extra_hosts", strs()},
      {"gpus", any()},
      {"group_add", strs()},
      {"healthcheck", healthcheck},
      {"hostname", str()},
      {"image", str()},
      {"init", boolean()},
      {"ipc", str()},
      {"isolation", str()},
      {"labels", label_map()},
      {"links", strs()},
      {"logging", obj({{"driver", str()}, {"options", dict(nullable(str()))}})},
      {"mac_address", str()},
      {"mem_limit", bytes()},
      {"mem_reservation", bytes()},
      {"mem_swappiness", integer()},
      {"memswap_limit", bytes()},
      {"models", any()},
      {"network_mode", str()},
      {"networks", dict(service_network)},
      {"oom_kill_disable", boolean()},
      {"oom_score_adj", integer()},
      {"pid", nullable(str())},
      {"pids_limit", integer()},
      {"platform", str()},
      {"ports", list(port)},
      {"post_start", list(hook)},
      {"pre_start", list(hook)},
      {"pre_stop", list(hook)},
      {"privileged", boolean()},
      {"profiles", strs()},
      {"provider", obj({{"type", str()}, {"options", any()}})},
      {"pull_policy", str()},
      {"pull_refresh_after", str()},
      {"read_only", boolean()},
      {"restart", make(std::move(restart))},
      {"runtime", str()},
      {"scale", integer()},
      {"security_opt", strs()},
      {"shm_size", bytes()},
      {"secrets", list(file_ref)},
      {"sysctls", dict(str())},
      {"stdin_open", boolean()},
      {"stop_grace_period", dur()},
      {"stop_signal", str()},
      {"storage_opt", dict(str())},
      {"tmpfs", strs()},
      {"tty", boolean()},
      {"ulimits", ulimits},
      {"use_api_socket", boolean()},
      {"user", str()},
      {"uts", str()},
      {"userns_mode", str()},
      {"volumes", list(volume)},
      {"volumes_from", strs()},
      {"working_dir", str()},
  });
}

const Spec* root_spec() {
  static const Spec* root = [] {
    auto network = obj({{"name", str()},
                        {"driver", str()},
                        {"driver_opts", dict(str())},
                        {"ipam", obj({{"driver", str()},
                                      {"config", list(obj({{"subnet", str()},
                                                           {"ip_range", str()},
                                                           {"gateway", str()},
                                                           {"aux_addresses", dict(str())}}))},
                                      {"options", dict(str())}})},
                        {"external", boolean()},
                        {"internal", boolean()},
                        {"enable_ipv4", boolean()},
                        {"enable_ipv6", boolean()},
                        {"attachable", boolean()},
                        {"labels", label_map()}});
    auto volume = obj({{"name", str()},
                       {"driver", str()},
                       {"driver_opts", dict(str())},
                       {"external", boolean()},
                       {"labels", label_map()}});
    auto file_object = obj({{"name", str()},
                            {"file", str()},
                            {"environment", str()},
                            {"content", str()},
                            {"external", boolean()},
                            {"labels", label_map()},
                            {"driver", str()},
                            {"driver_opts", dict(str())},
                            {"template_driver", str()}});
    auto include = one({str(), obj({{"path", one({str(), strs()})},
                                    {"project_directory", str()},
                                    {"env_file", one({str(), strs()})}})});
    return obj({{"version", str()},
                {"name", str()},
                {"include", list(include)},
                {"services", dict(service_spec())},
                {"networks", dict(network)},
                {"volumes", dict(volume)},
                {"secrets", dict(file_object)},
                {"configs", dict(file_object)},
                {"models", any()}});
  }();
  return root;
}

// Any: YAML 1.1-ish typing of plain scalars, strings for quoted ones.
json any_json(const Node& n) {
  switch (n.kind) {
    case Kind::Null:
      return nullptr;
    case Kind::Scalar: {
      if (n.quoted) return n.value;
      if (plain_is_null(n)) return nullptr;
      bool b;
      if (n.value == "true" || n.value == "false" || n.value == "True" || n.value == "False") {
        scalar_as_bool(n, b);
        return b;
      }
      char* end = nullptr;
      long long i = std::strtoll(n.value.c_str(), &end, 10);
      if (!n.value.empty() && *end == 0) return i;
      double d = std::strtod(n.value.c_str(), &end);
      if (!n.value.empty() && *end == 0 && n.value.find_first_of("0123456789") != std::string::npos) return d;
      return n.value;
    }
    case Kind::Seq: {
      json a = json::array();
      for (const auto& i : n.items) a.push_back(any_json(*i));
      return a;
    }
    case Kind::Map: {
      json o = json::object();
      for (const auto& [k, v] : n.map) o[k] = any_json(*v);
      return o;
    }
  }
  return nullptr;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Scalar: return "a scalar";
    case Kind::Seq: return "a list";
    case Kind::Map: return "a mapping";
  }
  return "?";
}

bool fits(const Spec& s, const Node& n) {
  switch (s.t) {
    case T::Obj:
    case T::Dict:
      return n.is_map();
    case T::List:
      return n.is_seq();
    case T::Any:
      return true;
    case T::Int: {
      if (!n.is_scalar()) return false;
      char* end = nullptr;
      std::strtoll(n.value.c_str(), &end, 10);
      return !n.value.empty() && *end == 0;
    }
    default:
      return n.is_scalar();
  }
}

struct Binder {
  Diagnostics& diag;

  json bind(const Node& n, const Spec& s, const PathRef& path) {
    if (n.is_null() || (n.is_scalar() && s.t != T::Str && s.t != T::Any && plain_is_null(n))) {
      if (s.null_as_empty) return "";
      if (s.nullable || s.t == T::Any) return nullptr;
      if (s.t == T::Obj) return json::object();  // `key:` with nothing means an empty mapping
      if (s.t == T::Str) return nullptr;
      diag.error(n.pos, path.str(), "must not be null", "give a value or remove the key");
      return nullptr;
    }
    switch (s.t) {
      case T::Any:
        return any_json(n);
      case T::OneOf:
        for (const Spec* alt : s.alts)
          if (fits(*alt, n)) return bind(n, *alt, path);
        diag.error(n.pos, path.str(), std::string("has an unexpected shape (") + kind_name(n.kind) + ")",
                   "see the Compose Specification for this attribute's forms");
        return nullptr;
      case T::Obj:
        return bind_object(n, s, path);
      case T::Dict: {
        if (!n.is_map()) return shape_error(n, path, "a mapping");
        json o = json::object();
        for (const auto& [k, v] : n.map) o[k] = bind(*v, *s.elem, PathRef{&path, &k});
        return o;
      }
      case T::List: {
        if (!n.is_seq()) return shape_error(n, path, "a list");
        json a = json::array();
        for (size_t i = 0; i < n.items.size(); ++i) a.push_back(bind(*n.items[i], *s.elem, PathRef{&path, nullptr, i}));
        return a;
      }
      default:
        if (!n.is_scalar()) return shape_error(n, path, "a scalar");
        return bind_scalar(n, s, path);
    }
  }

  json shape_error(const Node& n, const PathRef& path, const char* want) {
    diag.error(n.pos, path.str(), std::string("must be ") + want + ", not " + kind_name(n.kind), "");
    return nullptr;
  }

  json bind_object(const Node& n, const Spec& s, const PathRef& path) {
    if (!n.is_map()) return shape_error(n, path, "a mapping");
    json o = json::object();
    for (size_t i = 0; i < n.map.size(); ++i) {
      const auto& [k, v] = n.map[i];
      if (k.rfind("x-", 0) == 0) {
        o[k] = any_json(*v);
        continue;
      }
      auto it = s.props.find(k);
      if (it == s.props.end()) {
        const Pos& kp = i < n.key_pos.size() ? n.key_pos[i] : n.pos;
        diag.error(kp, PathRef{&path, &k}.str(), "additional property \"" + k + "\" is not allowed",
                   "check the spelling, or prefix custom keys with x-");
        continue;
      }
      o[k] = bind(*v, *it->second, PathRef{&path, &k});
    }
    return o;
  }

  json bind_scalar(const Node& n, const Spec& s, const PathRef& path) {
    const std::string& v = n.value;
    switch (s.t) {
      case T::Str: {
        if (!s.enums.empty()) {
          bool ok = false;
          for (const auto& e : s.enums) ok = ok || e == v;
          if (!ok) {
            std::string allowed;
            for (const auto& e : s.enums) allowed += (allowed.empty() ? "" : ", ") + e;
            diag.error(n.pos, path.str(), "invalid value \"" + v + "\"", "use one of: " + allowed);
          }
        }
        if (s.check) {
          auto err = s.check(v);
          if (!err.empty()) diag.error(n.pos, path.str(), err, "");
        }
        return v;
      }
      case T::Int: {
        char* end = nullptr;
        long long i = std::strtoll(v.c_str(), &end, 10);
        if (v.empty() || *end) {
          diag.error(n.pos, path.str(), "must be an integer, not \"" + v + "\"", "");
          return nullptr;
        }
        return i;
      }
      case T::Num: {
        char* end = nullptr;
        double d = std::strtod(v.c_str(), &end);
        if (v.empty() || *end || !std::isfinite(d)) {
          diag.error(n.pos, path.str(), "must be a number, not \"" + v + "\"", "");
          return nullptr;
        }
        return d;
      }
      case T::Bool: {
        bool b;
        if (!scalar_as_bool(n, b)) {
          diag.error(n.pos, path.str(), "must be a boolean, not \"" + v + "\"", "use true or false");
          return nullptr;
        }
        if (v != "true" && v != "false" && v != "True" && v != "False" && v != "TRUE" && v != "FALSE")
          diag.warn(n.pos, path.str(), "\"" + v + "\" read as a YAML 1.1 boolean", "write true or false");
        return b;
      }
      case T::Dur: {
        auto d = parse_duration_ns(v);
        if (!d) {
          diag.error(n.pos, path.str(), "invalid duration \"" + v + "\"", "use a duration like 1m30s, 10s or 500ms");
          return nullptr;
        }
        return format_duration(*d);
      }
      case T::Bytes: {
        if (v == "-1") return "-1";
        auto b = parse_bytes(v);
        if (!b) {
          diag.error(n.pos, path.str(), "invalid byte size \"" + v + "\"", "use a size like 512m, 1g or 1024kb");
          return nullptr;
        }
        return std::to_string(*b);
      }
      case T::Mode: {
        // YAML 1.1 reads a plain 0440 as octal; strings are parsed as octal too (Compose's FileMode).
        std::string digits = v;
        int base = 8;
        if (digits.rfind("0o", 0) == 0) digits = digits.substr(2);
        else if (!n.quoted && (digits.size() < 2 || digits[0] != '0')) base = 10;
        char* end = nullptr;
        long m = std::strtol(digits.c_str(), &end, base);
        if (digits.empty() || *end || m < 0 || m > 07777) {
          diag.error(n.pos, path.str(), "invalid file mode \"" + v + "\"", "use an octal mode like 0440");
          return nullptr;
        }
        char buf[16];
        std::snprintf(buf, sizeof buf, "0%lo", m);
        return std::string(buf);
      }
      default:
        return any_json(n);
    }
  }
};

}  // namespace

std::string PathRef::str() const {
  if (!parent) return key ? *key : std::string();
  std::string base = parent->str();
  if (!key) return base + "[" + std::to_string(index) + "]";
  return base.empty() ? *key : base + "." + *key;
}

json to_json(const Node& root, Diagnostics& diag) {
  if (!root.is_map()) {
    diag.error(root.pos, "", "top-level object must be a mapping", "start the file with `services:`");
    return json::object();
  }
  Binder b{diag};
  return b.bind(root, *root_spec(), PathRef{});
}

void validate_schema(const Node& root, Diagnostics& diag) { (void)to_json(root, diag); }

}  // namespace berth::compose
