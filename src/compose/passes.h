#pragma once
#include "berth/util/sha256.h"
// The loader pipeline, one function per pass (see docs/compose.md for the order and why).
// Each pass takes the working tree and reports problems with positions into Diagnostics.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "berth/compose/diagnostics.h"
#include "berth/compose/loader.h"
#include "berth/compose/node.h"
#include "berth/util/json.h"

namespace berth::compose {

using Environment = std::map<std::string, std::string>;

// A path built only when an error needs it (services.web.ports[1]); lives on the stack.
struct PathRef {
  const PathRef* parent = nullptr;
  const std::string* key = nullptr;  // nullptr: an index (or the root when parent is null)
  size_t index = 0;
  std::string str() const;
};

// parse: YAML text → trees (one per document). Resolves `<<` merge keys, rejects duplicate keys
// (naming both positions), copies aliases within a budget and keeps !reset / !override tags.
struct ParseLimits {
  size_t max_alias_nodes = 1'000'000;  // nodes created by alias expansion, whole file
};
std::vector<NodePtr> parse_yaml(const std::string& text, const std::string& file, Diagnostics& diag,
                                ParseLimits limits = {});

// interpolate: ${VAR} forms in values (never keys). Unset variables warn once with position.
struct InterpolateResult {
  std::string value;
  bool ok = true;
  std::string error;                  // set when !ok
  std::vector<std::string> unset;     // variables used but not set (no default)
};
InterpolateResult interpolate_string(const std::string& in, const Environment& env);
void interpolate_tree(Node& root, const Environment& env, Diagnostics& diag);

// dotenv: compose-go's .env syntax. ${X} inside looks up `outer` (the OS environment) first,
// then earlier keys of this file.
Environment parse_dotenv(const std::string& text, const std::string& file, const Environment& outer,
                         Diagnostics& diag);

// canonical: short syntax → long syntax for every attribute that has both (per-file, before merge).
void canonicalize(Node& root, Diagnostics& diag);

// merge: `override` onto `base` per Compose's merge rules; consumes !reset / !override.
void merge_into(Node& base, const Node& override_root);
NodePtr merge_service(const Node& base, const Node& override_service);  // also used by extends
void strip_merge_tags(Node& root);                                        // single-file load

// sha256 of bytes as 64 hex digits (config hashes): util's.
using berth::sha256_hex;

// validate: unknown keys, types and value sets against the canonical schema; all errors.
void validate_schema(const Node& root, Diagnostics& diag);
// consistency: cross-references (networks, volumes, secrets, configs, depends_on, cycles).
void validate_consistency(const Node& root, Diagnostics& diag);

// bind: the validated tree → JSON with Compose's value types (ints, durations, byte sizes).
json to_json(const Node& root, Diagnostics& diag);

// Compose formats.
std::optional<int64_t> parse_duration_ns(const std::string& s);  // "1m30s" → ns
std::string format_duration(int64_t ns);                          // Go's time.Duration String()
std::optional<int64_t> parse_bytes(const std::string& s);         // "50M" → 52428800

}  // namespace berth::compose

namespace berth::compose {

// resolve: env_file/label_file merged into environment/labels (explicit keys win; bare keys take
// their value from `env` or are dropped). Reads files; missing required files are errors.
void resolve_environment(Node& root, const Environment& env, Diagnostics& diag);
// paths: relative paths → absolute against `dir`, `~` → home.
std::string absolute_path(const std::string& p, const std::string& dir, const std::string& home);
void resolve_service_paths(Node& svc, const std::string& dir, const std::string& home);
void resolve_paths(Node& root, const std::string& dir, const std::string& home);
// normalize: default network, platform names, implicit depends_on.
void normalize(Node& root, const std::string& project_name);
// profiles: drops services not enabled; returns their names.
std::vector<std::string> apply_profiles(Node& root, const std::vector<std::string>& active,
                                        const std::vector<std::string>& selected, Diagnostics& diag);

}  // namespace berth::compose
