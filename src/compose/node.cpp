#include "berth/compose/node.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <tuple>

#include "berth/compose/diagnostics.h"

namespace berth::compose {

const std::string* intern_file_name(const std::string& file) {
  static std::mutex lock;
  static std::set<std::string> names;  // never shrinks: positions in errors may outlive a load
  std::lock_guard<std::mutex> guard(lock);
  return &*names.insert(file).first;
}

std::string Pos::str() const {
  std::string name = file ? *file : std::string();
  if (line == 0) return name.empty() ? std::string("<generated>") : name;
  return name + ":" + std::to_string(line) + ":" + std::to_string(col);
}

NodePtr Node::null(Pos p) {
  auto n = std::make_shared<Node>();
  n->pos = std::move(p);
  return n;
}
NodePtr Node::scalar(std::string v, Pos p, bool quoted) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Scalar;
  n->value = std::move(v);
  n->quoted = quoted;
  n->pos = std::move(p);
  return n;
}
NodePtr Node::seq(Pos p) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Seq;
  n->pos = std::move(p);
  return n;
}
NodePtr Node::mapping(Pos p) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::Map;
  n->pos = std::move(p);
  return n;
}

NodePtr Node::find(const std::string& key) const {
  for (const auto& [k, v] : map)
    if (k == key) return v;
  return nullptr;
}
const Pos* Node::find_key_pos(const std::string& key) const {
  for (size_t i = 0; i < map.size(); ++i)
    if (map[i].first == key) return i < key_pos.size() ? &key_pos[i] : nullptr;
  return nullptr;
}
void Node::set(const std::string& key, NodePtr v, Pos kp) {
  for (auto& [k, old] : map)
    if (k == key) {
      old = std::move(v);
      return;
    }
  if (kp.line == 0 && v) kp = v->pos;
  map.emplace_back(key, std::move(v));
  key_pos.resize(map.size() - 1);
  key_pos.push_back(std::move(kp));
}
bool Node::erase(const std::string& key) {
  for (size_t i = 0; i < map.size(); ++i)
    if (map[i].first == key) {
      map.erase(map.begin() + static_cast<long>(i));
      if (i < key_pos.size()) key_pos.erase(key_pos.begin() + static_cast<long>(i));
      return true;
    }
  return false;
}
NodePtr Node::deep_copy() const {
  auto n = std::make_shared<Node>(*this);
  for (auto& item : n->items) item = item->deep_copy();
  for (auto& kv : n->map) kv.second = kv.second->deep_copy();
  return n;
}

bool plain_is_null(const Node& n) {
  if (n.kind == Kind::Null) return true;
  if (n.kind != Kind::Scalar || n.quoted) return false;
  return n.value.empty() || n.value == "~" || n.value == "null" || n.value == "Null" ||
         n.value == "NULL";
}

bool scalar_as_bool(const Node& n, bool& out) {
  if (n.kind != Kind::Scalar) return false;
  static const char* truthy[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"};
  static const char* falsy[] = {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"};
  for (auto* t : truthy)
    if (n.value == t) return out = true, true;
  for (auto* f : falsy)
    if (n.value == f) return out = false, true;
  return false;
}

std::string Diagnostic::str() const {
  std::string s = pos.str() + ": ";
  if (!path.empty()) s += path + ": ";
  s += message;
  if (!hint.empty()) s += "; " + hint;
  return s;
}

void Diagnostics::error(const Pos& pos, std::string path, std::string message, std::string hint) {
  errors_.push_back({pos, std::move(path), std::move(message), std::move(hint)});
}
void Diagnostics::warn(const Pos& pos, std::string path, std::string message, std::string hint) {
  Diagnostic d{pos, std::move(path), std::move(message), std::move(hint)};
  // A set, not a scan of earlier warnings: 1000 services with an unset variable made this quadratic.
  if (!warned_.insert(d.str()).second) return;
  warnings_.push_back(std::move(d));
}
void Diagnostics::throw_if_errors() const {
  if (errors_.empty()) return;
  // Passes find errors in their own order; the user reads them in file order (files in -f order).
  std::vector<std::string> files;
  auto file_rank = [&](const Pos& p) {
    std::string f = p.file ? *p.file : "";
    auto it = std::find(files.begin(), files.end(), f);
    if (it != files.end()) return static_cast<size_t>(it - files.begin());
    files.push_back(f);
    return files.size() - 1;
  };
  for (const auto& e : errors_) file_rank(e.pos);
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const Diagnostic& a, const Diagnostic& b) {
    return std::make_tuple(file_rank(a.pos), a.pos.line, a.pos.col) <
           std::make_tuple(file_rank(b.pos), b.pos.line, b.pos.col);
  });
  throw LoadError(std::move(sorted));
}

static std::string join_diagnostics(const std::vector<Diagnostic>& ds) {
  std::string s;
  for (size_t i = 0; i < ds.size(); ++i) {
    if (i) s += "\n";
    s += ds[i].str();
  }
  return s;
}

LoadError::LoadError(std::vector<Diagnostic> errors, int exit_code)
    : berth::Error(join_diagnostics(errors), {}, exit_code), diagnostics_(std::move(errors)) {}

std::string path_key(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}
std::string path_index(const std::string& base, size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

}  // namespace berth::compose
