// Pass "interpolate" ($VAR, ${VAR:-default}, …) and the .env parser that feeds it.
#include <cctype>
#include <functional>

#include "berth/util/strings.h"
#include "passes.h"

namespace berth::compose {
namespace {

bool name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// Finds the `}` closing the `${` whose body starts at `i`, honouring nested `${…}`.
size_t closing_brace(const std::string& s, size_t i) {
  int depth = 1;
  for (; i < s.size(); ++i) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '$') {
      ++i;
    } else if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (s[i] == '}') {
      if (--depth == 0) return i;
    }
  }
  return std::string::npos;
}

struct Expander {
  const Lookup& lookup;
  InterpolateResult& result;

  std::string expand(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size() && result.ok; ++i) {
      char c = s[i];
      if (c != '$' || i + 1 >= s.size()) {
        out += c;
        continue;
      }
      char next = s[i + 1];
      if (next == '$') {
        out += '$';
        ++i;
      } else if (name_start(next)) {
        size_t j = i + 1;
        while (j < s.size() && name_char(s[j])) ++j;
        out += value_of(s.substr(i + 1, j - i - 1));
        i = j - 1;
      } else if (next == '{') {
        size_t end = closing_brace(s, i + 2);
        if (end == std::string::npos) return fail("Invalid template: \"" + s + "\"");
        out += braced(s.substr(i + 2, end - i - 2), s);
        i = end;
      } else {
        out += c;  // a lone `$` stays literal
      }
    }
    return out;
  }

  std::string fail(std::string message) {
    result.ok = false;
    result.error = std::move(message);
    return {};
  }

  std::string value_of(const std::string& name) {
    auto v = lookup(name);
    if (!v) {
      result.unset.push_back(name);
      return {};
    }
    return *v;
  }

  std::string braced(const std::string& body, const std::string& whole) {
    if (body.empty() || !name_start(body[0])) return fail("Invalid template: \"" + whole + "\"");
    size_t j = 0;
    while (j < body.size() && name_char(body[j])) ++j;
    std::string name = body.substr(0, j);
    if (j == body.size()) return value_of(name);
    bool colon = body[j] == ':';
    if (colon) ++j;
    if (j >= body.size() || (body[j] != '-' && body[j] != '+' && body[j] != '?'))
      return fail("Invalid template: \"" + whole + "\"");
    char op = body[j];
    std::string arg = body.substr(j + 1);
    auto v = lookup(name);
    bool set = v.has_value();
    bool set_nonempty = set && !v->empty();
    bool use_value = colon ? set_nonempty : set;
    switch (op) {
      case '-':
        return use_value ? *v : expand(arg);
      case '+':
        return use_value ? expand(arg) : std::string();
      default: {  // '?'
        if (use_value) return *v;
        std::string msg = expand(arg);
        return fail("required variable " + name + " is missing a value" + (msg.empty() ? "" : ": " + msg));
      }
    }
  }
};

bool looks_secret(const std::string& path) {
  std::string p = str::lower(path);
  for (const char* w : {"pass", "secret", "token", "key", "pwd"})
    if (p.find(w) != std::string::npos) return true;
  return false;
}

void walk(Node& n, const PathRef& ref, const Environment& env, Diagnostics& diag) {
  if (n.is_scalar()) {
    if (n.value.find('$') == std::string::npos) return;
    std::string path = ref.str();
    auto r = interpolate_string(n.value, env);
    if (!r.ok) {
      diag.error(n.pos, path, r.error, "set the variable, or write `$$` for a literal `$`");
      return;
    }
    for (const auto& var : r.unset) {
      std::string hint;
      if (looks_secret(path) || n.value.rfind("$", 0) != 0)
        hint = "if `$" + var + "` is part of the value (a password?), write `$$` for a literal `$`";
      diag.warn(n.pos, path, "The \"" + var + "\" variable is not set. Defaulting to a blank string.", hint);
    }
    n.value = std::move(r.value);
  } else if (n.is_seq()) {
    for (size_t i = 0; i < n.items.size(); ++i) walk(*n.items[i], PathRef{&ref, nullptr, i}, env, diag);
  } else if (n.is_map()) {
    for (auto& [k, v] : n.map) walk(*v, PathRef{&ref, &k}, env, diag);
  }
}

}  // namespace

InterpolateResult interpolate_string(const std::string& in, const Environment& env) {
  InterpolateResult result;
  Lookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  Expander ex{lookup, result};
  result.value = ex.expand(in);
  return result;
}

void interpolate_tree(Node& root, const Environment& env, Diagnostics& diag) { walk(root, PathRef{}, env, diag); }

// .env: KEY=VALUE lines; `export ` prefix; `#` comments (after whitespace when unquoted);
// '…' literal; "…" with \n \r \t \\ \" escapes and interpolation, may span lines; a bare KEY
// takes its value from the outer environment when set there.
Environment parse_dotenv(const std::string& text, const std::string& file, const Environment& outer,
                         Diagnostics& diag) {
  Environment out;
  InterpolateResult scratch;
  Lookup lookup = [&](const std::string& name) -> std::optional<std::string> {
    if (auto it = outer.find(name); it != outer.end()) return it->second;
    if (auto it = out.find(name); it != out.end()) return it->second;
    return std::nullopt;
  };
  size_t i = 0;
  int line = 1;
  auto skip_blank = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  auto skip_line = [&] {
    while (i < text.size() && text[i] != '\n') ++i;
    if (i < text.size()) ++i, ++line;
  };
  while (i < text.size()) {
    skip_blank();
    if (i >= text.size()) break;
    if (text[i] == '\n' || text[i] == '\r') {
      skip_line();
      continue;
    }
    if (text[i] == '#') {
      skip_line();
      continue;
    }
    int key_line = line;
    if (text.compare(i, 7, "export ") == 0) {
      i += 7;
      skip_blank();
    }
    size_t k = i;
    while (i < text.size() && text[i] != '=' && text[i] != '\n' && text[i] != ' ' && text[i] != '\t') ++i;
    std::string key = text.substr(k, i - k);
    if (!key.empty() && key.back() == '\r') key.pop_back();
    skip_blank();
    if (key.empty() || (i < text.size() && text[i] != '=' && text[i] != '\n' && text[i] != '\r' && text[i] != '#')) {
      diag.error(Pos{file, key_line, 1}, "", "unexpected character in variable name \"" + key + "\"",
                 "write KEY=VALUE");
      skip_line();
      continue;
    }
    if (i >= text.size() || text[i] != '=') {  // bare KEY
      if (auto v = lookup(key)) out[key] = *v;
      skip_line();
      continue;
    }
    ++i;  // '='
    skip_blank();
    std::string value;
    if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
      char q = text[i++];
      std::string raw;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\n') ++line;
        if (q == '"' && c == '\\' && i < text.size()) {
          char e = text[i++];
          switch (e) {
            case 'n': raw += '\n'; break;
            case 'r': raw += '\r'; break;
            case 't': raw += '\t'; break;
            case '\\': raw += '\\'; break;
            case '"': raw += '"'; break;
            case '$': raw += "$$"; break;  // keep literal through interpolation
            default: raw += '\\'; raw += e;
          }
          continue;
        }
        if (c == q) {
          closed = true;
          break;
        }
        raw += c;
      }
      if (!closed) {
        diag.error(Pos{file, key_line, 1}, "", "unterminated quoted value for " + key, "close the quote");
        break;
      }
      if (q == '"') {
        scratch = InterpolateResult{};
        Expander ex{lookup, scratch};
        value = ex.expand(raw);
        if (!scratch.ok) diag.error(Pos{file, key_line, 1}, "", scratch.error, "");
      } else {
        value = raw;
      }
      skip_line();
    } else {
      size_t v = i;
      while (i < text.size() && text[i] != '\n') ++i;
      std::string raw = text.substr(v, i - v);
      // An inline comment starts at a `#` that follows whitespace.
      for (size_t h = 1; h < raw.size(); ++h)
        if (raw[h] == '#' && (raw[h - 1] == ' ' || raw[h - 1] == '\t')) {
          raw.resize(h);
          break;
        }
      raw = str::trim(raw);
      scratch = InterpolateResult{};
      Expander ex{lookup, scratch};
      value = ex.expand(raw);
      if (!scratch.ok) diag.error(Pos{file, key_line, 1}, "", scratch.error, "");
      if (i < text.size()) ++i, ++line;
    }
    out[key] = value;
  }
  return out;
}

}  // namespace berth::compose
