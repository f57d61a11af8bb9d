// Fast path of the parse pass: see yaml_fast.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace berth::compose {

// One of yaml-cpp's EventHandler calls, recorded. Marks are 0-based, as yaml::Mark's.
struct YamlEvent {
  enum Kind : uint8_t { Scalar, Null, Alias, SeqStart, SeqEnd, MapStart, MapEnd } kind;
  int line, col;
  std::string tag;      // "?" plain, "!" quoted/block scalar, "!name", "tag:yaml.org,2002:name"
  uint32_t anchor;      // defined here (Scalar, Null, *Start) or referred to (Alias); 0 = none
  std::string value;    // Scalar
};

// The events of a one-document YAML text, as yaml-cpp would report them. False when the text
// uses YAML this scanner leaves to yaml-cpp (or is not valid YAML); `events` is then empty.
// A text without a document gives true and no events.
bool scan_yaml_fast(std::string_view text, std::vector<YamlEvent>& events);

}  // namespace berth::compose
