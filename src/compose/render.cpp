// Compose's canonical YAML: sorted keys (`name:` first), two-space indentation, strings quoted
// only when YAML would read them as something else.
#include <cctype>
#include <cstring>

#include "berth/compose/loader.h"

namespace berth::compose {
namespace {

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (std::isspace(static_cast<unsigned char>(s.front())) || std::isspace(static_cast<unsigned char>(s.back())))
    return true;
  // "-", "?" and ":" are indicators only before a space (or alone); the others always.
  if (std::strchr("-?:", s[0]) && (s.size() == 1 || s[1] == ' ')) return true;
  if (std::strchr(",[]{}#&*!|>'\"%@`", s[0])) return true;
  // Anything YAML 1.1 could read as a number (ints, floats, octal, hex, base 60 like 1:20).
  if (s.find_first_not_of("0123456789.+-_:eExXoObBabcdefABCDEF") == std::string::npos &&
      s.find_first_of("0123456789") != std::string::npos)
    return true;
  if (s == ".inf" || s == ".Inf" || s == "-.inf" || s == ".nan" || s == ".NaN") return true;
  static const char* reserved[] = {"y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "true", "True",
                                   "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
                                   "null", "Null", "NULL", "~"};
  for (const char* r : reserved)
    if (s == r) return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return true;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

std::string scalar(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return needs_quotes(s) ? json(s).dump(-1, ' ', false, json::error_handler_t::replace) : s;
  }
  return v.dump();
}

void emit(std::string& out, const json& v, int indent);

void emit_block_string(std::string& out, const std::string& s, int indent) {
  out += s.back() == '\n' ? "|\n" : "|-\n";
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    out += line.empty() ? "" : std::string(indent, ' ') + line;
    out += '\n';
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

bool block_string(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.find('\n') == std::string::npos || s[0] == ' ' || s[0] == '\n') return false;
  if (s.size() > 1 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') return false;  // keep exact
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
  for (size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] == ' ' && s[i + 1] == '\n') return false;  // trailing spaces would be lost in review
  return true;
}

void emit_value_after_key(std::string& out, const json& v, int indent) {
  if (v.is_object() && !v.empty()) {
    out += "\n";
    emit(out, v, indent + 2);
  } else if (v.is_array() && !v.empty()) {
    out += "\n";
    emit(out, v, indent + 2);
  } else if (v.is_object()) {
    out += " {}\n";
  } else if (v.is_array()) {
    out += " []\n";
  } else if (block_string(v)) {
    out += " ";
    emit_block_string(out, v.get<std::string>(), indent + 2);
  } else {
    out += " " + scalar(v) + "\n";
  }
}

std::string key_text(const std::string& k) { return needs_quotes(k) ? json(k).dump(-1, ' ', false, json::error_handler_t::replace) : k; }

void emit(std::string& out, const json& v, int indent) {
  std::string pad(indent, ' ');
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) {
      out += pad + key_text(k) + ":";
      emit_value_after_key(out, child, indent);
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      if (item.is_object() && !item.empty()) {
        // First key on the dash line, the rest aligned under it.
        std::string sub;
        emit(sub, item, indent + 2);
        out += pad + "- " + sub.substr(indent + 2);
      } else if (item.is_array() && !item.empty()) {
        out += pad + "-\n";
        emit(out, item, indent + 2);
      } else if (item.is_object()) {
        out += pad + "- {}\n";
      } else if (item.is_array()) {
        out += pad + "- []\n";
      } else if (block_string(item)) {
        out += pad + "- ";
        emit_block_string(out, item.get<std::string>(), indent + 2);
      } else {
        out += pad + "- " + scalar(item) + "\n";
      }
    }
  } else {
    out += pad + scalar(v) + "\n";
  }
}

}  // namespace

std::string to_yaml(const json& model) {
  std::string out;
  if (!model.is_object()) {
    emit(out, model, 0);
    return out;
  }
  if (model.contains("name")) {
    out += "name:";
    emit_value_after_key(out, model["name"], 0);
  }
  for (const auto& [k, v] : model.items()) {
    if (k == "name") continue;
    out += key_text(k) + ":";
    emit_value_after_key(out, v, 0);
  }
  return out;
}

}  // namespace berth::compose
