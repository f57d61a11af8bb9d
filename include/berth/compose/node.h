#pragma once
// The loader's working tree: a YAML document that remembers where each value came from, so every
// pass can report FILE:LINE:COL. Passes rewrite this tree; binding to typed structs happens last.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace berth::compose {

// File names are interned once per process (the set only grows: a handful of files): every node
// carries a position, and a plain pointer is half the size of a shared_ptr and needs no refcount.
const std::string* intern_file_name(const std::string& file);

struct Pos {
  const std::string* file = nullptr;  // interned; shared by every node of a file
  int line = 0;                       // 1-based; 0 = synthesized by a pass
  int col = 0;

  Pos() = default;
  Pos(const std::string* interned, int l, int c) : file(interned), line(l), col(c) {}
  Pos(const std::string& f, int l, int c) : file(intern_file_name(f)), line(l), col(c) {}
  std::string str() const;  // "file:line:col" (or "file" when unknown)
};

struct Node;
using NodePtr = std::shared_ptr<Node>;

enum class Kind : uint8_t { Null, Scalar, Seq, Map };

// A node's merge tag: "!reset", "!override" or none. One byte in every node instead of a string;
// compares with the tag's text.
class Tag {
 public:
  Tag() = default;
  Tag(const std::string& text) : value_(text == "!reset" ? kReset : text == "!override" ? kOverride : kNone) {}
  bool empty() const { return value_ == kNone; }
  void clear() { value_ = kNone; }
  const char* c_str() const { return value_ == kReset ? "!reset" : value_ == kOverride ? "!override" : ""; }
  bool operator==(const char* text) const { return std::strcmp(c_str(), text) == 0; }
  bool operator==(const std::string& text) const { return text == c_str(); }

 private:
  enum : uint8_t { kNone, kReset, kOverride };
  uint8_t value_ = kNone;
};

struct Node {
  Kind kind = Kind::Null;
  bool quoted = false;       // scalar was quoted: never a YAML bool/int/null
  Tag tag;                   // "!reset", "!override" or empty
  std::string value;         // scalar text
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
