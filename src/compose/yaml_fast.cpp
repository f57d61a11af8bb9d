// A fast scanner for the YAML that Compose files are made of, producing the same events (values,
// tags, anchors and marks) as yaml-cpp. yaml-cpp stays the parser of record: whatever this scanner
// does not handle exactly (multi-line plain or quoted scalars, explicit keys, directives, several
// documents, tabs, CR, a BOM, folded lines with extra indentation, syntax errors, ...) makes it
// give up, and the file is parsed again by yaml-cpp. Reason: yaml-cpp's scanner was half of `berth
// config` on a 100-service file (42 KB: ~5 ms here); this one scans it in 0.27 ms.
// Tests compare both event streams on every YAML file the tests and the corpus have.
#include "yaml_fast.h"

#include <cctype>
#include <cstring>
#include <unordered_map>

#include "berth/util/strings.h"

namespace berth::compose {
namespace {

struct GiveUp {};

class FastScanner {
 public:
  FastScanner(std::string_view text, std::vector<YamlEvent>& out) : s_(text), out_(out) {}

  void run() {
    // yaml-cpp guesses UTF-16/32 from a BOM or a leading NUL byte.
    if (!s_.empty() && (s_[0] == '\0' || static_cast<unsigned char>(s_[0]) >= 0xEF)) throw GiveUp{};
    for (size_t i = 0; i < s_.size(); ++i) {
      char c = s_[i];
      // NUL is yaml-cpp's escape character in block scalars and 0x04 its end of input.
      if (c == '\t' || c == '\r' || c == '\0' || c == '\x04') throw GiveUp{};
      // "---" or "..." at a line's start: document markers (only a first "---" is handled).
      if ((c == '-' || c == '.') && (i == 0 || s_[i - 1] == '\n') && s_.compare(i, 3, c == '-' ? "---" : "...") == 0 &&
          (i + 3 == s_.size() || s_[i + 3] == ' ' || s_[i + 3] == '\n') && !(c == '-' && i == first_content()))
        throw GiveUp{};
    }
    skip_blank_lines();
    if (at_end()) return;  // no document at all, as yaml-cpp
    if (col() == 0 && s_.compare(p_, 3, "---") == 0 && (p_ + 3 == s_.size() || s_[p_ + 3] == '\n' || s_[p_ + 3] == ' ')) {
      p_ += 3;
      if (!rest_of_line_empty()) throw GiveUp{};
      skip_blank_lines();
      if (at_end()) throw GiveUp{};
    }
    if (col() != 0) throw GiveUp{};
    parse_block_node(-1, false);
    skip_blank_lines();
    if (!at_end()) throw GiveUp{};
  }

 private:
  std::string_view s_;
  std::vector<YamlEvent>& out_;
  size_t p_ = 0;
  size_t line_start_ = 0;
  int line_ = 0;  // 0-based, as yaml-cpp's Mark
  std::unordered_map<std::string_view, uint32_t> anchors_;
  uint32_t next_anchor_ = 1;
  int depth_ = 0;

  // Offset of the first line that is not empty or a comment.
  size_t first_content() const {
    size_t i = 0;
    for (;;) {
      size_t q = i;
      while (q < s_.size() && s_[q] == ' ') ++q;
      if (q < s_.size() && s_[q] == '#')
        while (q < s_.size() && s_[q] != '\n') ++q;
      if (q >= s_.size() || s_[q] != '\n') return i;
      i = q + 1;
    }
  }

  // --- positions ------------------------------------------------------------------------------
  bool at_end() const { return p_ >= s_.size(); }
  char peek(size_t k = 0) const { return p_ + k < s_.size() ? s_[p_ + k] : '\0'; }
  int col() const { return static_cast<int>(p_ - line_start_); }
  static bool blank_or_end(char c) { return c == ' ' || c == '\n' || c == '\0'; }
  void newline() {  // at '\n'
    ++p_;
    ++line_;
    line_start_ = p_;
  }
  void skip_spaces() {
    while (peek() == ' ') ++p_;
  }
  // After content on a line: spaces, an optional comment, then the end of the line (not consumed).
  bool rest_of_line_empty() {
    skip_spaces();
    if (peek() == '#') {
      if (p_ > 0 && s_[p_ - 1] != ' ') return false;
      while (!at_end() && peek() != '\n') ++p_;
    }
    return at_end() || peek() == '\n';
  }
  // From the end of a line (or anywhere in an empty one): past empty and comment-only lines, to
  // the first character of the next content line.
  void skip_blank_lines() {
    for (;;) {
      size_t q = p_;
      while (q < s_.size() && s_[q] == ' ') ++q;
      if (q < s_.size() && s_[q] == '#') {
        if (q > line_start_ && s_[q - 1] != ' ') throw GiveUp{};
        while (q < s_.size() && s_[q] != '\n') ++q;
      }
      if (q >= s_.size()) {
        p_ = q;
        return;
      }
      if (s_[q] != '\n') {
        p_ = q;
        return;
      }
      p_ = q;
      newline();
    }
  }

  // --- events ---------------------------------------------------------------------------------
  struct Props {
    std::string tag;
    uint32_t anchor = 0;
    int line = -1, col = -1;  // mark of the first property
    bool any() const { return line >= 0; }
  };
  struct Mark {
    int line, col;
  };
  // yaml-cpp marks a node with its first property, or else with its first token (at p_).
  Mark node_mark(const Props& pr) const { return pr.any() ? Mark{pr.line, pr.col} : Mark{line_, col()}; }
  void emit_start(YamlEvent::Kind kind, const Props& pr) {
    Mark m = node_mark(pr);
    emit(kind, m.line, m.col, pr.tag.empty() ? "?" : pr.tag, pr.anchor);
  }
  void emit(YamlEvent::Kind kind, int line, int col, std::string tag = {}, uint32_t anchor = 0,
            std::string value = {}) {
    out_.push_back(YamlEvent{kind, line, col, std::move(tag), anchor, std::move(value)});
  }
  void emit_end(YamlEvent::Kind kind) { out_.push_back(YamlEvent{kind, 0, 0, {}, 0, {}}); }
  // yaml-cpp reports an untagged plain "~", "null", "Null" or "NULL" as a null node.
  void emit_plain(int line, int col, const std::string& tag, uint32_t anchor, std::string value) {
    if (tag.empty() && (value == "~" || value == "null" || value == "Null" || value == "NULL"))
      emit(YamlEvent::Null, line, col, {}, anchor);
    else
      emit(YamlEvent::Scalar, line, col, tag.empty() ? "?" : tag, anchor, std::move(value));
  }

  // &anchor and !tag before a node, in any order, each followed by a space or the line's end.
  Props read_props() {
    Props pr;
    for (;;) {
      char c = peek();
      if (c != '&' && c != '!') return pr;
      if (!pr.any()) {
        pr.line = line_;
        pr.col = col();
      }
      size_t start = ++p_;
      while (!blank_or_end(peek()) && peek() != ',' && peek() != ']' && peek() != '}' && peek() != '[' &&
             peek() != '{')
        ++p_;
      std::string_view word = s_.substr(start, p_ - start);
      // Names beyond letters, digits and "-_." are left to yaml-cpp (its rules for tag URIs).
      for (size_t i = (c == '!' && !word.empty() && word[0] == '!') ? 1 : 0; i < word.size(); ++i)
        if (!std::isalnum(static_cast<unsigned char>(word[i])) && word[i] != '-' && word[i] != '_' && word[i] != '.')
          throw GiveUp{};
      if (c == '&') {
        if (word.empty() || pr.anchor) throw GiveUp{};
        pr.anchor = next_anchor_++;
        anchors_[word] = pr.anchor;
      } else {
        if (!pr.tag.empty()) throw GiveUp{};
        if (word.size() > 1 && word[0] == '!') {
          pr.tag = "tag:yaml.org,2002:";
          pr.tag.append(word.substr(1));
        } else if (!word.empty() && word.find_first_of("!<>") == std::string_view::npos) {
          pr.tag = "!";
          pr.tag.append(word);
        } else {
          throw GiveUp{};  // verbatim or non-specific tags
        }
      }
      if (!blank_or_end(peek())) throw GiveUp{};
      skip_spaces();
    }
  }

  // --- block context --------------------------------------------------------------------------
  // A node whose first token is at p_ (on this line), inside a block collection whose own column
  // is `parent_indent`. `in_map_value`: the node is the value of a mapping key, where a block
  // sequence may sit at the key's own column.
  void parse_block_node(int parent_indent, bool in_map_value) {
    if (++depth_ > 400) throw GiveUp{};
    Props pr = read_props();
    if (at_end() || peek() == '\n' || (peek() == '#' && p_ > 0 && s_[p_ - 1] == ' ')) {
      // Only properties on this line (or nothing): the content starts on a later line, or is empty.
      if (!rest_of_line_empty()) throw GiveUp{};
      skip_blank_lines();
      int c = col();
      bool more = !at_end() && (c > parent_indent ||
                                (in_map_value && c == parent_indent && peek() == '-' && blank_or_end(peek(1))));
      if (more) {
        parse_block_content(pr, c);
      } else {
        if (parent_indent < 0) throw GiveUp{};  // an empty document under properties
        emit_empty(pr);
      }
      --depth_;
      return;
    }
    parse_inline(pr, parent_indent, in_map_value);
    --depth_;
  }

  void emit_empty(const Props& pr) {
    if (!pr.tag.empty()) {
      if (pr.anchor) throw GiveUp{};
      emit(YamlEvent::Scalar, pr.line, pr.col, pr.tag, 0, "");
    } else if (pr.any()) {
      emit(YamlEvent::Null, pr.line, pr.col, {}, pr.anchor);
    } else {
      // yaml-cpp marks an empty node with the next token, or at the end with column 0 (when the
      // text ends with a line break; without one, its column depends on what came last).
      if (at_end() && s_.back() != '\n') throw GiveUp{};
      emit(YamlEvent::Null, line_, at_end() ? 0 : col());
    }
  }

  // A block collection or scalar that starts at the beginning (column `c`) of a content line.
  void parse_block_content(const Props& pr, int c) {
    if (peek() == '-' && blank_or_end(peek(1))) return parse_block_seq(pr, c);
    if (peek() == '[' || peek() == '{' || peek() == '|' || peek() == '>' || peek() == '*' || peek() == '&' ||
        peek() == '!')
      throw GiveUp{};  // a flow/block scalar or node alone on its line under properties: rare
    size_t save_p = p_;  // a key or a scalar never spans lines
    bool key = scan_key_ahead();
    p_ = save_p;
    if (key) return parse_block_map(pr, c);
    // A scalar alone on the next line: a single-line plain or quoted scalar.
    Mark m = node_mark(pr);
    if (peek() == '"' || peek() == '\'') emit(YamlEvent::Scalar, m.line, m.col, pr.tag.empty() ? "!" : pr.tag, pr.anchor, quoted_scalar());
    else emit_plain(m.line, m.col, pr.tag, pr.anchor, plain_scalar(false));
    if (!rest_of_line_empty()) throw GiveUp{};
    end_of_node_line(c);
  }

  // Is the token at p_ a mapping key (a single-line scalar followed by ':' and a blank)?
  // Leaves p_ anywhere: the caller restores it.
  bool scan_key_ahead() {
    if (peek() == '"' || peek() == '\'') {
      quoted_scalar();
    } else {
      plain_scalar(false);
    }
    skip_spaces();
    return peek() == ':' && blank_or_end(peek(1));
  }

  // After a node that ended on this line: move to the next content line, which must not be more
  // indented than the node's collection (column `c`): that would be a continuation we do not
  // handle (a multi-line plain scalar).
  void end_of_node_line(int c) {
    if (!at_end()) newline();
    skip_blank_lines();
    if (!at_end() && col() > c) throw GiveUp{};
  }

  void parse_block_map(const Props& pr, int c) {
    emit_start(YamlEvent::MapStart, pr);
    for (;;) {
      // Key.
      if (peek() == '?' || peek() == '&' || peek() == '!' || peek() == '*' || peek() == '[' || peek() == '{' ||
          (peek() == '-' && blank_or_end(peek(1))))
        throw GiveUp{};
      emit_key(false);
      if (!(peek() == ':' && blank_or_end(peek(1)))) throw GiveUp{};
      ++p_;
      skip_spaces();
      // Value.
      parse_block_node(c, true);
      // parse_block_node leaves p_ at the next content line (or the end).
      if (at_end() || col() < c) break;
      if (col() != c) throw GiveUp{};
      if (peek() == '-' && blank_or_end(peek(1))) throw GiveUp{};  // a sequence entry where a key belongs
    }
    emit_end(YamlEvent::MapEnd);
  }

  void parse_block_seq(const Props& pr, int c) {
    emit_start(YamlEvent::SeqStart, pr);
    for (;;) {
      ++p_;  // '-'
      skip_spaces();
      parse_block_node(c, false);
      if (at_end() || col() < c) break;
      if (col() != c) throw GiveUp{};
      if (!(peek() == '-' && blank_or_end(peek(1)))) break;  // a key of the enclosing map (compact form)
    }
    emit_end(YamlEvent::SeqEnd);
  }

  // The node's content starts on this line at p_, after its properties (if any).
  // `in_map_value`: "k: - a" and "k: j: v" are errors there; yaml-cpp reports them.
  void parse_inline(const Props& pr, int parent_indent, bool in_map_value) {
    Mark m = node_mark(pr);
    int l = m.line, cl = m.col;
    int node_col = col();
    char c = peek();
    if (c == '-' && blank_or_end(peek(1))) {
      if (pr.any() || in_map_value) throw GiveUp{};
      return parse_block_seq(pr, node_col);  // "- - a": a sequence inside a sequence entry
    }
    if (c == '[' || c == '{') {
      if (c == '[') parse_flow_seq(pr, parent_indent);
      else parse_flow_map(pr, parent_indent);
      skip_spaces();
      if (peek() == ':') throw GiveUp{};  // a flow collection as a key
      if (!rest_of_line_empty()) throw GiveUp{};
      return end_of_node_line(parent_indent);
    }
    // Compose files are mappings: a scalar document is left to yaml-cpp.
    if (parent_indent < 0 && c != '[' && c != '{') {
      size_t save = p_;
      bool key = c != '|' && c != '>' && c != '*' && scan_key_ahead();
      p_ = save;
      if (!key) throw GiveUp{};
    }
    if (c == '|' || c == '>') {
      if (pr.any() && !in_map_value) throw GiveUp{};  // yaml-cpp 0.7 fails on "- &a |"
      return block_scalar(pr, parent_indent);
    }
    if (c == '*') {
      if (pr.any()) throw GiveUp{};
      uint32_t id = alias();
      skip_spaces();
      if (peek() == ':') throw GiveUp{};
      emit(YamlEvent::Alias, l, cl, {}, id);
      if (!rest_of_line_empty()) throw GiveUp{};
      return end_of_node_line(parent_indent);
    }
    // A scalar, or the first key of a block mapping that starts on this line ("- k: v").
    size_t save_p = p_;
    if (scan_key_ahead()) {
      if (pr.any() || in_map_value) throw GiveUp{};
      p_ = save_p;
      return parse_block_map(pr, node_col);
    }
    p_ = save_p;
    if (c == '"' || c == '\'') emit(YamlEvent::Scalar, l, cl, pr.tag.empty() ? "!" : pr.tag, pr.anchor, quoted_scalar());
    else emit_plain(l, cl, pr.tag, pr.anchor, plain_scalar(false));
    if (!rest_of_line_empty()) throw GiveUp{};
    end_of_node_line(parent_indent);
  }

  // A mapping key (single-line plain or quoted scalar) and the spaces after it; an implicit key
  // and its ':' share a line. Returns whether it was quoted.
  bool emit_key(bool flow) {
    int line = line_, col0 = col();
    size_t start = p_;
    bool quoted = peek() == '"' || peek() == '\'';
    if (quoted) emit(YamlEvent::Scalar, line, col0, "!", 0, quoted_scalar());
    else emit_plain(line, col0, {}, 0, plain_scalar(flow));
    skip_spaces();
    // yaml-cpp refuses an implicit key whose ':' is more than 1024 bytes after the key's start.
    if (p_ - start > 1000) throw GiveUp{};
    return quoted;
  }

  uint32_t alias() {
    size_t start = ++p_;
    while (!blank_or_end(peek()) && peek() != ',' && peek() != ']' && peek() != '}') ++p_;
    auto it = anchors_.find(s_.substr(start, p_ - start));
    if (it == anchors_.end()) throw GiveUp{};  // yaml-cpp reports it
    return it->second;
  }

  // --- scalars --------------------------------------------------------------------------------
  // A plain scalar on one line. Block context: ends before " #", ": " / ":" at the line's end, or
  // the line's end. Flow context also ends before ",?[]{}" and ':' followed by one of ",]}".
  std::string plain_scalar(bool flow) {
    char first = peek();
    if (first == '-' && blank_or_end(peek(1))) throw GiveUp{};  // a block entry, in flow an error
    if (first == '\0' || first == '\n' || std::strchr("?:,[]{}#&*!|>'\"%@`", first) != nullptr) {
      // "?x" and ":x" are plain scalars; every other indicator starts something else.
      bool plain = (first == ':' || (first == '?' && !flow)) && !blank_or_end(peek(1)) &&
                   !(flow && std::strchr(",[]{}", peek(1)) != nullptr);
      if (!plain) throw GiveUp{};
    }
    size_t start = p_;
    size_t end = p_;  // last non-space + 1
    for (;;) {
      char ch = peek();
      if (ch == '\0' || ch == '\n') break;
      if (ch == '#' && p_ > start && s_[p_ - 1] == ' ') break;
      if (ch == ':') {
        char nx = peek(1);
        if (blank_or_end(nx) || (flow && std::strchr(",[]{}", nx))) break;
      }
      if (flow && std::strchr(",?[]{}", ch)) break;  // yaml-cpp's EndScalarInFlow
      ++p_;
      if (ch != ' ') end = p_;
    }
    p_ = end;
    return std::string(s_.substr(start, end - start));
  }

  std::string quoted_scalar() {
    char q = peek();
    ++p_;
    std::string v;
    for (;;) {
      char ch = peek();
      if (ch == '\0' || ch == '\n') throw GiveUp{};  // multi-line quoted scalars: yaml-cpp folds them
      ++p_;
      if (q == '\'') {
        if (ch == '\'') {
          if (peek() == '\'') {
            v += '\'';
            ++p_;
            continue;
          }
          return v;
        }
        v += ch;
        continue;
      }
      if (ch == '"') return v;
      if (ch != '\\') {
        v += ch;
        continue;
      }
      char e = peek();
      ++p_;
      switch (e) {
        case '\\': v += '\\'; break;
        case '"': v += '"'; break;
        case '/': v += '/'; break;
        case ' ': v += ' '; break;
        case 'n': v += '\n'; break;
        case 't': v += '\t'; break;
        case 'r': v += '\r'; break;
        case '0': v += '\0'; break;
        case 'a': v += '\a'; break;
        case 'b': v += '\b'; break;
        case 'e': v += '\x1b'; break;
        case 'f': v += '\f'; break;
        case 'v': v += '\v'; break;
        case 'x': append_utf8(v, hex(2)); break;
        case 'u': append_utf8(v, hex(4)); break;
        case 'U': append_utf8(v, hex(8)); break;
        default: throw GiveUp{};
      }
    }
  }

  unsigned long hex(int digits) {
    unsigned long v = 0;
    for (int i = 0; i < digits; ++i) {
      char h = peek();
      int d = str::hex_digit_value(h);
      if (d < 0) throw GiveUp{};
      v = v * 16 + static_cast<unsigned long>(d);
      ++p_;
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned long cp) {
    // Surrogates and values past Unicode: leave them to yaml-cpp.
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp >= 0x110000) throw GiveUp{};
    str::append_utf8(out, static_cast<uint32_t>(cp));
  }

  // `|` or `>` with an optional chomping indicator; the content is the following lines indented
  // more than the parent collection, at the indentation of the first non-empty one.
  void block_scalar(const Props& pr, int parent_indent) {
    Mark m = node_mark(pr);
    int l = m.line, cl = m.col;
    bool folded = peek() == '>';
    ++p_;
    char chomp = 'c';
    if (peek() == '-' || peek() == '+') {
      chomp = peek() == '-' ? 's' : 'k';
      ++p_;
    }
    if (!blank_or_end(peek())) throw GiveUp{};  // indentation indicators and the like
    if (folded && chomp == 'k') throw GiveUp{};  // yaml-cpp 0.7 keeps one break fewer than the spec
    if (!rest_of_line_empty()) throw GiveUp{};
    if (!at_end()) newline();
    std::vector<std::string_view> lines;  // content lines with the indentation removed; "" = empty
    int indent = -1;
    size_t leading_empty_max = 0;
    bool last_text_break = false;  // the last text line ends with a line break (not the end)
    for (;;) {
      if (at_end()) break;
      size_t q = p_;
      while (q < s_.size() && s_[q] == ' ') ++q;
      size_t spaces = q - p_;
      bool empty = q >= s_.size() || s_[q] == '\n';
      if (empty) {
        if (indent < 0) leading_empty_max = std::max(leading_empty_max, spaces);
        else if (static_cast<int>(spaces) > indent) throw GiveUp{};  // spaces kept in an "empty" line
        p_ = q;
        if (at_end()) {
          if (spaces > 0) throw GiveUp{};  // yaml-cpp folds such a last line into a space
          break;
        }
        lines.emplace_back();
        newline();
        continue;
      }
      if (indent < 0) {
        if (static_cast<int>(spaces) <= parent_indent) break;
        indent = static_cast<int>(spaces);
        if (leading_empty_max > spaces) throw GiveUp{};
      } else if (static_cast<int>(spaces) < indent) {
        break;
      }
      size_t e = q;
      while (e < s_.size() && s_[e] != '\n') ++e;
      std::string_view text = s_.substr(p_ + indent, e - p_ - indent);
      if (folded && !text.empty() && text[0] == ' ') throw GiveUp{};  // more-indented folded lines
      lines.push_back(text);
      p_ = e;
      last_text_break = !at_end();
      if (!at_end()) newline();
    }
    // p_ is at the start of the first line after the scalar (or at the end). As libyaml builds it:
    // empty lines before the first text line are newlines; between two text lines, literal keeps
    // the break and the empty lines, folded turns a lone break into a space and otherwise keeps
    // only the empty lines; chomping: clip keeps one final break, strip none, keep all.
    size_t first = 0;
    while (first < lines.size() && lines[first].empty()) ++first;
    std::string v;
    if (first == lines.size()) {
      if (chomp == 'k') v.append(lines.size(), '\n');
    } else {
      v.append(first, '\n');
      v += lines[first];
      size_t empties = 0;
      for (size_t i = first + 1; i < lines.size(); ++i) {
        if (lines[i].empty()) {
          ++empties;
          continue;
        }
        if (folded) {
          if (empties == 0) v += ' ';
        } else {
          v += '\n';
        }
        v.append(empties, '\n');
        empties = 0;
        v += lines[i];
      }
      if (chomp != 's' && last_text_break) v += '\n';
      if (chomp == 'k') v.append(empties, '\n');
    }
    emit(YamlEvent::Scalar, l, cl, pr.tag.empty() ? "!" : pr.tag, pr.anchor, std::move(v));
    skip_blank_lines();
    if (!at_end() && col() > parent_indent && indent >= 0) throw GiveUp{};
  }

  // --- flow context ---------------------------------------------------------------------------
  // Whitespace and line breaks between flow tokens; continuation lines must be indented more than
  // the block collection around the flow node. No comments inside.
  void flow_space(int parent_indent) {
    for (;;) {
      skip_spaces();
      if (peek() == '#') throw GiveUp{};
      if (peek() != '\n') return;
      newline();
      size_t q = p_;
      while (q < s_.size() && s_[q] == ' ') ++q;
      if (q < s_.size() && s_[q] != '\n' && static_cast<int>(q - p_) <= parent_indent) throw GiveUp{};
    }
  }

  void parse_flow_node(int parent_indent) {
    if (++depth_ > 400) throw GiveUp{};
    Props pr = read_props();
    flow_space(parent_indent);
    Mark m = node_mark(pr);
    int l = m.line, cl = m.col;
    char c = peek();
    if (c == '[') parse_flow_seq(pr, parent_indent);
    else if (c == '{') parse_flow_map(pr, parent_indent);
    else if (c == '*') {
      if (pr.any()) throw GiveUp{};
      uint32_t id = alias();
      emit(YamlEvent::Alias, l, cl, {}, id);
    } else if (c == '"' || c == '\'') {
      std::string v = quoted_scalar();
      emit(YamlEvent::Scalar, l, cl, pr.tag.empty() ? "!" : pr.tag, pr.anchor, std::move(v));
    } else if (c == ',' || c == ']' || c == '}' || c == '\0') {
      throw GiveUp{};  // empty flow entries
    } else {
      emit_plain(l, cl, pr.tag, pr.anchor, plain_scalar(true));
    }
    --depth_;
  }

  // After a flow entry: a ',' (and the space after it) or the collection's closing bracket.
  void next_flow_entry(char close, int parent_indent) {
    if (peek() == ',') {
      ++p_;
      flow_space(parent_indent);
    } else if (peek() != close) {
      throw GiveUp{};
    }
  }

  void parse_flow_seq(const Props& pr, int parent_indent) {
    emit_start(YamlEvent::SeqStart, pr);
    ++p_;
    flow_space(parent_indent);
    while (peek() != ']') {
      parse_flow_node(parent_indent);
      flow_space(parent_indent);
      if (peek() == ':') throw GiveUp{};  // a single-pair mapping inside a sequence
      next_flow_entry(']', parent_indent);
    }
    ++p_;
    emit_end(YamlEvent::SeqEnd);
  }

  void parse_flow_map(const Props& pr, int parent_indent) {
    emit_start(YamlEvent::MapStart, pr);
    ++p_;
    flow_space(parent_indent);
    while (peek() != '}') {
      if (peek() == '?' || peek() == '&' || peek() == '!' || peek() == '*' || peek() == '[' || peek() == '{')
        throw GiveUp{};
      bool quoted = emit_key(true);
      if (peek() != ':') throw GiveUp{};  // a key without a value
      ++p_;
      if (!blank_or_end(peek()) && !quoted) throw GiveUp{};
      flow_space(parent_indent);
      if (peek() == ',' || peek() == '}') throw GiveUp{};  // an empty value
      parse_flow_node(parent_indent);
      flow_space(parent_indent);
      next_flow_entry('}', parent_indent);
    }
    ++p_;
    emit_end(YamlEvent::MapEnd);
  }
};

}  // namespace

bool scan_yaml_fast(std::string_view text, std::vector<YamlEvent>& events) {
  events.clear();
  try {
    FastScanner(text, events).run();
    return true;
  } catch (const GiveUp&) {
    events.clear();
    return false;
  }
}

}  // namespace berth::compose
