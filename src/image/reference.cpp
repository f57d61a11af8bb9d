#include "berth/image/reference.h"

#include <cctype>

#include "berth/util/error.h"
#include "berth/util/strings.h"

namespace berth::image {

namespace {

const char* kHint = "use lowercase names like 'repo/name:tag' (letters, digits, '.', '_', '-')";

[[noreturn]] void invalid(const std::string& ref, const std::string& why) {
  throw Error("invalid reference format '" + ref + "': " + why, kHint);
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(const std::string& c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !is_lower_alnum(c[i])) ++i;
    std::string sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

bool valid_domain(const std::string& d) {
  std::string host = d, port;
  if (auto colon = d.rfind(':'); colon != std::string::npos) {
    host = d.substr(0, colon);
    port = d.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) return false;
  }
  if (host.empty()) return false;
  for (const auto& label : str::split(host, '.')) {
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char ch : label)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return false;
  }
  return true;
}

bool valid_tag(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
  if (!word(t[0])) return false;
  for (char ch : t)
    if (!word(ch) && ch != '.' && ch != '-') return false;
  return true;
}

}  // namespace

std::string Reference::str() const {
  std::string out = repository();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Reference parse_reference(const std::string& ref) {
  if (ref.empty()) invalid(ref, "empty reference");
  Reference r;
  std::string rest = ref;
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (r.digest.size() != 71 || r.digest.rfind("sha256:", 0) != 0 ||
        !str::is_hex(r.digest.substr(7)))
      invalid(ref, "digest must be sha256:<64 lowercase hex>");
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    r.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!valid_tag(r.tag))
      invalid(ref,
              "tag '" + r.tag + "' must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
  }
  if (rest.empty()) invalid(ref, "missing repository name");
  if (rest.size() > 255) invalid(ref, "repository name longer than 255 characters");
  auto parts = str::split(rest, '/');
  size_t first_path = 0;
  const std::string& head = parts[0];
  if (parts.size() > 1 && (head.find('.') != std::string::npos ||
                           head.find(':') != std::string::npos || head == "localhost")) {
    if (!valid_domain(head)) invalid(ref, "invalid registry host '" + head + "'");
    r.domain = head;
    first_path = 1;
  }
  for (size_t i = first_path; i < parts.size(); ++i) {
    const auto& c = parts[i];
    if (c != str::lower(c)) invalid(ref, "repository name must be lowercase");
    if (!valid_component(c)) invalid(ref, "invalid repository name component '" + c + "'");
    if (i > first_path) r.path += "/";
    r.path += c;
  }
  // Docker Hub names are shown in their familiar form.
  if (r.domain == "docker.io" || r.domain == "index.docker.io" ||
      r.domain == "registry-1.docker.io") {
    r.domain.clear();
    if (r.path.rfind("library/", 0) == 0 && r.path.find('/', 8) == std::string::npos)
      r.path = r.path.substr(8);
  }
  if (r.domain.empty() && r.path.size() == 64 && str::is_hex(r.path))
    invalid(ref,
            "a repository name cannot be a 64-character hexadecimal string (that is an image id)");
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

std::string normalize_ref(const std::string& ref) { return parse_reference(ref).str(); }

bool looks_like_id_prefix(const std::string& s) {
  std::string hex = s.rfind("sha256:", 0) == 0 ? s.substr(7) : s;
  return hex.size() >= 4 && hex.size() <= 64 && str::is_hex(hex);
}

}  // namespace berth::image
