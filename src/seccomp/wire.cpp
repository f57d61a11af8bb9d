// ResolvedProfile and CompiledFilter as JSON, for the request to and the answer from berth-heavy.
// Both programs come from one build, so enums travel as their numeric values.
#include <stdexcept>

#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/strings.h"

namespace berth::seccomp {
namespace {

json action_json(const Action& a) { return json{{"kind", static_cast<int>(a.kind)}, {"value", a.value}}; }

Action action_from(const json& j) {
  return Action{static_cast<ActionKind>(j.at("kind").get<int>()), j.at("value").get<uint32_t>()};
}

}  // namespace

json to_json(const ResolvedProfile& profile) {
  json rules = json::array();
  for (const auto& r : profile.rules) {
    json args = json::array();
    for (const auto& a : r.args)
      args.push_back({{"index", a.index}, {"op", static_cast<int>(a.op)}, {"value", a.value}, {"value_two", a.value_two}});
    rules.push_back({{"syscalls", r.syscalls}, {"action", action_json(r.action)}, {"args", std::move(args)}});
  }
  return json{{"default_action", action_json(profile.default_action)}, {"arches", profile.arches}, {"rules", std::move(rules)}};
}

ResolvedProfile resolved_profile_from_json(const json& j) {
  ResolvedProfile out;
  out.default_action = action_from(j.at("default_action"));
  out.arches = j.at("arches").get<std::vector<std::string>>();
  for (const auto& r : j.at("rules")) {
    Rule rule;
    rule.syscalls = r.at("syscalls").get<std::vector<std::string>>();
    rule.action = action_from(r.at("action"));
    for (const auto& a : r.at("args"))
      rule.args.push_back(ArgCondition{a.at("index").get<unsigned>(), static_cast<CompareOp>(a.at("op").get<int>()),
                                       a.at("value").get<uint64_t>(), a.at("value_two").get<uint64_t>()});
    out.rules.push_back(std::move(rule));
  }
  return out;
}

json to_json(const CompiledFilter& filter) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(filter.bpf.size() * 2);
  for (unsigned char c : filter.bpf) {
    hex.push_back(digits[c >> 4]);
    hex.push_back(digits[c & 15]);
  }
  return json{{"bpf", hex}, {"unknown_syscalls", filter.unknown_syscalls}, {"stub_instructions", filter.stub_instructions}};
}

CompiledFilter compiled_filter_from_json(const json& j) {
  CompiledFilter out;
  const std::string hex = j.at("bpf").get<std::string>();
  if (hex.size() % 2 != 0) throw Error("berth-heavy: malformed BPF in its answer", "reinstall Berth");
  out.bpf.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = str::hex_digit_value(hex[i]), lo = str::hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) throw Error("berth-heavy: malformed BPF in its answer", "reinstall Berth");
    out.bpf.push_back(static_cast<char>(hi * 16 + lo));
  }
  out.unknown_syscalls = j.at("unknown_syscalls").get<std::vector<std::string>>();
  out.stub_instructions = j.at("stub_instructions").get<size_t>();
  return out;
}

}  // namespace berth::seccomp
