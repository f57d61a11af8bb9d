// Pass "merge": the -f files in order, and extends. Maps merge per key, later wins; sequences are
// appended, replaced, or merged by a unique key depending on the attribute (rule table below).
#include <algorithm>
#include <functional>
#include <set>

#include "passes.h"

namespace berth::compose {
namespace {

enum class SeqRule { Append, Replace, UniqueValue, UniqueKey };

using KeyFn = std::string (*)(const Node&);

std::string field(const Node& n, const char* key) {
  auto v = n.find(key);
  return v && v->is_scalar() ? v->value : std::string();
}
std::string port_key(const Node& n) {
  if (!n.is_map()) return n.value;
  std::string proto = field(n, "protocol");
  return field(n, "host_ip") + ":" + field(n, "published") + ":" + field(n, "target") + "/" +
         (proto.empty() ? "tcp" : proto);
}
std::string target_key(const Node& n) { return n.is_map() ? field(n, "target") : n.value; }
std::string secret_key(const Node& n) {
  std::string t = field(n, "target");
  return t.empty() ? "/run/secrets/" + field(n, "source") : t;
}
std::string config_key(const Node& n) {
  std::string t = field(n, "target");
  return t.empty() ? "/" + field(n, "source") : t;
}
std::string path_key_fn(const Node& n) { return n.is_map() ? field(n, "path") : n.value; }
std::string subnet_key(const Node& n) { return field(n, "subnet"); }

struct SeqRuleEntry {
  SeqRule rule;
  KeyFn key = nullptr;
};

// Patterns: services.* is any service; networks.* under a service is any attached network.
const std::map<std::string, SeqRuleEntry>& seq_rules() {
  static const std::map<std::string, SeqRuleEntry> rules = {
      {"services.*.command", {SeqRule::Replace}},
      {"services.*.entrypoint", {SeqRule::Replace}},
      {"services.*.healthcheck.test", {SeqRule::Replace}},
      {"services.*.ports", {SeqRule::UniqueKey, port_key}},
      {"services.*.volumes", {SeqRule::UniqueKey, target_key}},
      {"services.*.devices", {SeqRule::UniqueKey, target_key}},
      {"services.*.secrets", {SeqRule::UniqueKey, secret_key}},
      {"services.*.configs", {SeqRule::UniqueKey, config_key}},
      {"services.*.build.secrets", {SeqRule::UniqueKey, secret_key}},
      {"services.*.env_file", {SeqRule::UniqueKey, path_key_fn}},
      {"services.*.label_file", {SeqRule::UniqueValue}},
      {"services.*.expose", {SeqRule::UniqueValue}},
      {"services.*.links", {SeqRule::UniqueValue}},
      {"services.*.external_links", {SeqRule::UniqueValue}},
      {"services.*.cap_add", {SeqRule::UniqueValue}},
      {"services.*.cap_drop", {SeqRule::UniqueValue}},
      {"services.*.profiles", {SeqRule::UniqueValue}},
      {"services.*.dns", {SeqRule::UniqueValue}},
      {"services.*.dns_search", {SeqRule::UniqueValue}},
      {"services.*.dns_opt", {SeqRule::UniqueValue}},
      {"services.*.tmpfs", {SeqRule::UniqueValue}},
      {"services.*.security_opt", {SeqRule::UniqueValue}},
      {"services.*.device_cgroup_rules", {SeqRule::UniqueValue}},
      {"services.*.extra_hosts", {SeqRule::UniqueValue}},
      {"services.*.group_add", {SeqRule::UniqueValue}},
      {"services.*.volumes_from", {SeqRule::UniqueValue}},
      {"services.*.build.tags", {SeqRule::UniqueValue}},
      {"services.*.build.cache_from", {SeqRule::UniqueValue}},
      {"services.*.build.extra_hosts", {SeqRule::UniqueValue}},
      {"services.*.networks.*.aliases", {SeqRule::UniqueValue}},
      {"networks.*.ipam.config", {SeqRule::UniqueKey, subnet_key}},
  };
  return rules;
}

// Map keys that are user names (so the rule pattern uses `*`).
bool user_keyed(const std::string& pattern) {
  static const std::set<std::string> keyed = {"services", "networks", "volumes", "secrets", "configs",
                                               "services.*.networks", "services.*.depends_on"};
  return keyed.count(pattern) > 0;
}

NodePtr untagged_copy(const Node& n) {
  auto c = n.deep_copy();
  std::function<void(Node&)> strip = [&](Node& x) {
    x.tag.clear();
    for (auto& i : x.items) strip(*i);
    for (auto& kv : x.map) strip(*kv.second);
  };
  strip(*c);
  return c;
}

NodePtr merge_node(const NodePtr& base, const Node& over, const std::string& pattern);

NodePtr merge_seq(const Node& base, const Node& over, const std::string& pattern) {
  auto it = seq_rules().find(pattern);
  SeqRuleEntry rule = it == seq_rules().end() ? SeqRuleEntry{SeqRule::Append} : it->second;
  if (rule.rule == SeqRule::Replace) return untagged_copy(over);
  auto out = base.deep_copy();
  out->tag.clear();
  for (const auto& item : over.items) {
    if (rule.rule == SeqRule::Append) {
      out->items.push_back(untagged_copy(*item));
      continue;
    }
    auto key_of = [&](const Node& n) { return rule.rule == SeqRule::UniqueValue ? n.value : rule.key(n); };
    std::string key = key_of(*item);
    bool merged = false;
    for (auto& existing : out->items) {
      if (key_of(*existing) != key) continue;
      existing = (existing->is_map() && item->is_map()) ? merge_node(existing, *item, pattern + "[]")
                                                        : untagged_copy(*item);
      merged = true;
      break;
    }
    if (!merged) out->items.push_back(untagged_copy(*item));
  }
  return out;
}

NodePtr merge_map(const Node& base, const Node& over, const std::string& pattern) {
  // logging: a different driver replaces the whole block (options belong to a driver).
  if (pattern == "services.*.logging") {
    std::string bd = field(base, "driver"), od = field(over, "driver");
    if (!bd.empty() && !od.empty() && bd != od) return untagged_copy(over);
  }
  auto out = base.deep_copy();
  out->tag.clear();
  for (size_t i = 0; i < over.map.size(); ++i) {
    const auto& [k, v] = over.map[i];
    std::string child = pattern.empty() ? k : pattern + "." + (user_keyed(pattern) ? "*" : k);
    if (pattern == "services.*.ulimits") {  // each limit is replaced whole
      if (v->tag == "!reset") out->erase(k);
      else out->set(k, untagged_copy(*v));
      continue;
    }
    auto existing = out->find(k);
    if (v->tag == "!reset") {
      out->erase(k);
      continue;
    }
    if (!existing) {
      out->set(k, untagged_copy(*v), i < over.key_pos.size() ? over.key_pos[i] : v->pos);
      continue;
    }
    auto merged = merge_node(existing, *v, child);
    if (merged) out->set(k, merged);
    else out->erase(k);
  }
  return out;
}

NodePtr merge_node(const NodePtr& base, const Node& over, const std::string& pattern) {
  if (over.tag == "!reset") return nullptr;
  if (over.tag == "!override" || !base) return untagged_copy(over);
  if (base->is_map() && over.is_map()) return merge_map(*base, over, pattern);
  if (base->is_seq() && over.is_seq()) return merge_seq(*base, over, pattern);
  // `key:` (null) in an override of a mapping keeps the base (compose-go treats it as empty).
  if (over.is_null() && (base->is_map() || base->is_seq())) return base->deep_copy();
  return untagged_copy(over);
}

}  // namespace

void merge_into(Node& base, const Node& over) {
  auto merged = merge_node(std::make_shared<Node>(base), over, "");
  base = merged ? *merged : *Node::mapping(base.pos);
}

NodePtr merge_service(const Node& base, const Node& over) {
  auto merged = merge_node(base.deep_copy(), over, "services.*");
  return merged ? merged : Node::mapping(over.pos);
}

void strip_merge_tags(Node& root) {
  // A lone file has nothing to reset: drop !reset entries, keep !override values.
  for (size_t i = 0; i < root.map.size();) {
    if (root.map[i].second->tag == "!reset") {
      root.erase(root.map[i].first);
      continue;
    }
    strip_merge_tags(*root.map[i].second);
    ++i;
  }
  root.tag.clear();
  for (auto& item : root.items) strip_merge_tags(*item);
}

}  // namespace berth::compose
