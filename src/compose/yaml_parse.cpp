// Pass "parse": yaml-cpp's event stream → our Node tree. yaml-cpp 0.7 keeps `<<` as a plain key,
// silently keeps duplicate keys and expands aliases without limit, so those rules live here.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <sstream>
#include <unordered_map>

#include "passes.h"
#include "yaml_fast.h"

namespace berth::compose {
namespace {

// yaml-cpp 0.7 can emit events forever on some malformed input (found by fuzzing: ",: x").
// Every event consumes input, so more events than a small multiple of the input size is a loop.
struct NoProgress {
  YAML::Mark mark;
};

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const std::string& file, Diagnostics& diag, ParseLimits limits, size_t input_size)
      : file_(intern_file_name(file)), diag_(diag), limits_(limits),
        max_events_(4 * input_size + 64) {}

  std::vector<NodePtr> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    count_event(mark);
    stack_.clear();
    anchors_.clear();
    root_ = nullptr;
  }
  void OnDocumentEnd() override { documents.push_back(root_ ? root_ : Node::null(Pos{file_, 1, 1})); }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    count_event(mark);
    add(Node::null(pos(mark)), anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    count_event(mark);
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      add(Node::null(pos(mark)), 0);
      return;
    }
    size_t count = count_nodes(*it->second);
    alias_nodes_ += count;
    if (alias_nodes_ > limits_.max_alias_nodes) {
      if (!budget_reported_)
        diag_.error(pos(mark), "", "alias expansion exceeds " + std::to_string(limits_.max_alias_nodes) + " nodes",
                    "the file expands aliases exponentially (\"billion laughs\"); use fewer nested aliases");
      budget_reported_ = true;
      add(Node::null(pos(mark)), 0);
      return;
    }
    auto copy = it->second->deep_copy();
    add(copy, 0, /*from_alias=*/true);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    count_event(mark);
    auto n = Node::scalar(value, pos(mark), tag != "?");
    set_tag(*n, tag);
    if (n->tag.empty() && tag != "?" && tag != "!" && tag.find("tag:yaml.org") == std::string::npos)
      n->quoted = true;
    // "!reset" with no value arrives as an empty tagged scalar: it means null.
    if (!n->tag.empty() && value.empty() && tag != "!") n->kind = Kind::Null;
    add(n, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    count_event(mark);
    auto n = Node::seq(pos(mark));
    set_tag(*n, tag);
    open(n, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    count_event(mark);
    auto n = Node::mapping(pos(mark));
    set_tag(*n, tag);
    open(n, anchor);
  }
  void OnMapEnd() override {
    apply_merge_keys(stack_.back());
    close();
  }

 private:
  struct Frame {
    NodePtr node;
    YAML::anchor_t anchor = 0;
    bool have_key = false;
    std::string key;
    Pos key_pos;
    bool key_is_merge = false;
    std::vector<NodePtr> merges;  // values of `<<`, in order
    // Key → index into node->map, built once the map is large: a linear duplicate check per key
    // made a 1000-service `services:` quadratic.
    std::unordered_map<std::string, size_t> index;
  };

  static constexpr size_t kIndexFrom = 32;  // small maps: a linear scan is cheaper than hashing

  // Position of the earlier `key` in the frame's map, or nullptr.
  const Pos* earlier_key(Frame& f) {
    Node& node = *f.node;
    if (node.map.size() < kIndexFrom) return node.find_key_pos(f.key);
    if (f.index.empty())
      for (size_t i = 0; i < node.map.size(); ++i) f.index.emplace(node.map[i].first, i);
    auto it = f.index.find(f.key);
    return it == f.index.end() ? nullptr : &node.key_pos[it->second];
  }

  void count_event(const YAML::Mark& mark) {
    if (++events_ > max_events_) throw NoProgress{mark};
  }

  Pos pos(const YAML::Mark& m) const { return Pos{file_, m.line + 1, m.column + 1}; }

  void set_tag(Node& n, const std::string& tag) {
    if (tag == "!reset" || tag == "!override") n.tag = tag;
  }

  static size_t count_nodes(const Node& n) {
    size_t c = 1;
    for (const auto& i : n.items) c += count_nodes(*i);
    for (const auto& kv : n.map) c += count_nodes(*kv.second);
    return c;
  }

  void open(NodePtr n, YAML::anchor_t anchor) {
    stack_.push_back(Frame{n, anchor});
  }
  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    add(f.node, f.anchor);
  }

  void add(NodePtr n, YAML::anchor_t anchor, bool from_alias = false) {
    if (anchor) anchors_[anchor] = n;
    if (stack_.empty()) {
      root_ = n;
      return;
    }
    Frame& f = stack_.back();
    if (f.node->is_seq()) {
      f.node->items.push_back(n);
      return;
    }
    if (!f.have_key) {
      if (!n->is_scalar() && !n->is_null()) {
        diag_.error(n->pos, "", "mapping keys must be strings", "quote the key");
        f.key = "";
      } else {
        f.key = n->value;
      }
      f.key_pos = n->pos;
      f.key_is_merge = n->is_scalar() && !n->quoted && n->value == "<<" && !from_alias;
      f.have_key = true;
      return;
    }
    f.have_key = false;
    if (f.key_is_merge) {
      f.merges.push_back(n);
      return;
    }
    if (const Pos* first = earlier_key(f)) {
      diag_.error(f.key_pos, "", "duplicate key \"" + f.key + "\" (first defined at " + first->str() + ")",
                  "remove one of the two entries");
      return;
    }
    if (!f.index.empty()) f.index.emplace(f.key, f.node->map.size());
    f.node->map.emplace_back(std::move(f.key), std::move(n));
    f.node->key_pos.push_back(std::move(f.key_pos));
  }

  // `<<: *a` or `<<: [*a, *b]`: keys already present win; earlier sources win over later ones.
  void apply_merge_keys(Frame& f) {
    for (const auto& src : f.merges) {
      std::vector<NodePtr> sources;
      if (src->is_map()) sources.push_back(src);
      else if (src->is_seq()) sources = src->items;
      for (const auto& s : sources) {
        if (!s->is_map()) {
          diag_.error(s->pos, "", "merge key `<<` needs a mapping or a list of mappings", "");
          continue;
        }
        for (size_t i = 0; i < s->map.size(); ++i) {
          if (f.node->find(s->map[i].first)) continue;
          f.node->map.push_back(s->map[i]);
          f.node->key_pos.push_back(i < s->key_pos.size() ? s->key_pos[i] : s->pos);
        }
      }
      if (!src->is_map() && !src->is_seq())
        diag_.error(src->pos, "", "merge key `<<` needs a mapping or a list of mappings", "");
    }
  }

  const std::string* file_;
  Diagnostics& diag_;
  ParseLimits limits_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, NodePtr> anchors_;
  NodePtr root_;
  size_t alias_nodes_ = 0;
  size_t max_events_;
  size_t events_ = 0;
  bool budget_reported_ = false;
};

// An istream over `text` without copying it (std::istringstream copies the whole file).
class TextBuf : public std::streambuf {
 public:
  explicit TextBuf(const std::string& text) {
    char* begin = const_cast<char*>(text.data());  // read-only: the get area is never written
    setg(begin, begin, begin + text.size());
  }
};

// Replays the fast scanner's events into the builder, as yaml-cpp's parser would call it.
void replay(const std::vector<YamlEvent>& events, TreeBuilder& builder) {
  auto mark = [](const YamlEvent& e) {
    YAML::Mark m;
    m.line = e.line;
    m.column = e.col;
    return m;
  };
  builder.OnDocumentStart(mark(events.front()));
  for (const auto& e : events) {
    switch (e.kind) {
      case YamlEvent::Scalar: builder.OnScalar(mark(e), e.tag, e.anchor, e.value); break;
      case YamlEvent::Null: builder.OnNull(mark(e), e.anchor); break;
      case YamlEvent::Alias: builder.OnAlias(mark(e), e.anchor); break;
      case YamlEvent::SeqStart: builder.OnSequenceStart(mark(e), e.tag, e.anchor, YAML::EmitterStyle::Default); break;
      case YamlEvent::SeqEnd: builder.OnSequenceEnd(); break;
      case YamlEvent::MapStart: builder.OnMapStart(mark(e), e.tag, e.anchor, YAML::EmitterStyle::Default); break;
      case YamlEvent::MapEnd: builder.OnMapEnd(); break;
    }
  }
  builder.OnDocumentEnd();
}

}  // namespace

std::vector<NodePtr> parse_yaml(const std::string& text, const std::string& file, Diagnostics& diag,
                                ParseLimits limits) {
  // The fast scanner for the YAML Compose files are written in; yaml-cpp for everything else.
  std::vector<YamlEvent> events;
  if (scan_yaml_fast(text, events)) {
    TreeBuilder builder(file, diag, limits, text.size());
    if (!events.empty()) replay(events, builder);
    return std::move(builder.documents);
  }
  TextBuf buf(text);
  std::istream in(&buf);
  TreeBuilder builder(file, diag, limits, text.size());
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const NoProgress& stuck) {
    diag.error(Pos{file, stuck.mark.line + 1, stuck.mark.column + 1}, "", "the YAML parser stopped making progress here",
               "fix the YAML syntax near this position");
  } catch (const YAML::Exception& e) {
    diag.error(Pos{file, e.mark.line + 1, e.mark.column + 1}, "", e.msg, "fix the YAML syntax");
  }
  return std::move(builder.documents);
}

}  // namespace berth::compose
