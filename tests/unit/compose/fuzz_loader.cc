// libFuzzer target for the whole loader (parse → … → typed Project), built by bench/fuzz-loader.sh
// with clang. The .cc suffix keeps it out of the doctest binary (tests/unit/<module>/*.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "berth/compose/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::compose::LoadOptions o;
  o.contents = {{"fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size)}};
  o.working_dir = "/nonexistent-fuzz-dir";
  o.environment = std::map<std::string, std::string>{{"HOME", "/home/fuzz"}, {"A", "1"}};
  try {
    auto r = berth::compose::load_project(o);
    (void)berth::compose::to_yaml(r.model);
    for (const auto& s : r.project.services) (void)berth::compose::config_hash(r.project, s.name);
  } catch (const berth::Error&) {
    // Invalid input is expected; only crashes, hangs and leaks are findings.
  }
  return 0;
}
