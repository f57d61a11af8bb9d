#pragma once
// The loader's working tree: a YAML document that remembers where each value came from, so every
// pass can report FILE:LINE:COL. Passes rewrite this tree; binding to typed structs happens last.
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace berth::compose {

struct Pos {
  std::shared_ptr<const std::string> file;  // shared by every node of a file: no copy per node
  int line = 0;                             // 1-based; 0 = synthesized by a pass
  int col = 0;

  Pos() = default;
  Pos(std::shared_ptr<const std::string> f, int l, int c) : file(std::move(f)), line(l), col(c) {}
  Pos(const std::string& f, int l, int c) : file(std::make_shared<const std::string>(f)), line(l), col(c) {}
  std::string str() const;  // "file:line:col" (or "file" when unknown)
};

struct Node;
using NodePtr = std::shared_ptr<Node>;

enum class Kind { Null, Scalar, Seq, Map };

struct Node {
  Kind kind = Kind::Null;
  std::string value;         // scalar text
  bool quoted = false;       // scalar was quoted: never a YAML bool/int/null
  std::string tag;           // "!reset", "!override" or empty
  Pos pos;
  std::vector<NodePtr> items;                       // Seq
  std::vector<std::pair<std::string, NodePtr>> map;  // Map, in document order
  std::vector<Pos> key_pos;                          // Map: position of each key

  static NodePtr null(Pos p = {});
  static NodePtr scalar(std::string v, Pos p = {}, bool quoted = true);
  static NodePtr seq(Pos p = {});
  static NodePtr mapping(Pos p = {});

  bool is_null() const { return kind == Kind::Null; }
  bool is_scalar() const { return kind == Kind::Scalar; }
  bool is_seq() const { return kind == Kind::Seq; }
  bool is_map() const { return kind == Kind::Map; }

  // Map access: find returns nullptr when absent; set replaces or appends; erase removes.
  NodePtr find(const std::string& key) const;
  const Pos* find_key_pos(const std::string& key) const;
  void set(const std::string& key, NodePtr value, Pos key_pos = {});
  bool erase(const std::string& key);
  NodePtr deep_copy() const;
};

// YAML 1.1 / Compose scalar typing of a plain (unquoted) scalar.
bool plain_is_null(const Node& n);
bool scalar_as_bool(const Node& n, bool& out);  // true/false (+ YAML 1.1 yes/no/on/off)

}  // namespace berth::compose
