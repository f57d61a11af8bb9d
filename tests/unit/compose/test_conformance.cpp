// compose-go's full example (../shared/corpus/compose-go-full-example): load it as compose-go's
// TestFullExample does and compare every JSON leaf with compose-go's expected output.
#include <climits>
#include <cstdlib>
#include <functional>

#include "berth/util/fs.h"
#include "helpers.h"

using namespace berth::compose;
using berth::json;

namespace {

std::string corpus_dir() {
#ifdef BERTH_SHARED_DIR
  std::string dir = std::string(BERTH_SHARED_DIR) + "/corpus/compose-go-full-example";
  char resolved[PATH_MAX];
  if (berth::fs::exists(dir + "/expected.json") && realpath(dir.c_str(), resolved)) return resolved;
#endif
  return "";
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

json substitute(const json& j, const std::string& workdir, const std::string& home) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    replace_all(s, "${WORKDIR}", workdir);
    replace_all(s, "${HOME}", home);
    return s;
  }
  json out = j;
  if (j.is_object())
    for (auto& [k, v] : out.items()) v = substitute(v, workdir, home);
  if (j.is_array())
    for (auto& v : out) v = substitute(v, workdir, home);
  return out;
}

// Differences the corpus README documents as compose-go (Go marshalling) artifacts.
bool documented_internal(const std::string& path, const json& expected) {
  if (path.size() > 5 && path.substr(path.size() - 5) == ".ipam" && expected == json::object()) return true;
  if ((path == "services.bar.command" || path == "services.bar.entrypoint") && expected.is_null()) return true;
  return false;
}

struct Comparison {
  int matched = 0;
  std::vector<std::string> mismatches;
  int skipped_internal = 0;
};

void compare(const json& expected, const json* actual, const std::string& path, Comparison& c) {
  if (documented_internal(path, expected) && (!actual || *actual != expected)) {
    ++c.skipped_internal;
    return;
  }
  if (expected.is_object() && !expected.empty()) {
    for (const auto& [k, v] : expected.items()) {
      const json* a = actual && actual->is_object() && actual->contains(k) ? &(*actual)[k] : nullptr;
      compare(v, a, path.empty() ? k : path + "." + k, c);
    }
    if (actual && actual->is_object())
      for (const auto& [k, v] : actual->items())
        if (!expected.contains(k)) {
          // Nested x-* are json:"-" in compose-go's Go structs (README); we keep them.
          if (k.rfind("x-", 0) == 0 && !path.empty()) ++c.skipped_internal;
          else c.mismatches.push_back(path + "." + k + ": unexpected " + v.dump());
        }
    return;
  }
  if (expected.is_array() && !expected.empty() && actual && actual->is_array() && actual->size() == expected.size()) {
    for (size_t i = 0; i < expected.size(); ++i) compare(expected[i], &(*actual)[i], path + "[" + std::to_string(i) + "]", c);
    return;
  }
  if (actual && *actual == expected) ++c.matched;
  else c.mismatches.push_back(path + ": expected " + expected.dump() + ", got " + (actual ? actual->dump() : "nothing"));
}

}  // namespace

TEST_CASE("conformance: compose-go full example") {
  std::string dir = corpus_dir();
  if (dir.empty()) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("corpus compose-go-full-example not found beside the project");
    MESSAGE("corpus not found; skipped (set CI=true to make this a failure)");
    return;
  }
  const std::string home = "/home/conformance";
  LoadOptions o;
  o.files = {dir + "/full-example.yml"};
  o.working_dir = dir;
  o.environment = std::map<std::string, std::string>{{"HOME", home}, {"BAR", "this is a secret"},
                                                      {"QUX", "qux_from_environment"}};
  o.normalize = false;   // SkipNormalization
  o.consistency = false; // SkipConsistencyCheck
  LoadResult r = load_project(o);
  json expected = substitute(berth::load_json_file(dir + "/expected.json"), dir, home);
  Comparison c;
  compare(expected, &r.model, "", c);
  for (const auto& m : c.mismatches) MESSAGE(m);
  MESSAGE("conformance: " << c.matched << " fields match, " << c.mismatches.size() << " differ, "
                          << c.skipped_internal << " documented compose-go internals skipped");
  CHECK(c.mismatches.empty());
  CHECK(c.matched > 200);

  // The YAML rendering parses back to the same document.
  LoadOptions again = o;
  again.files.clear();
  again.contents = {{dir + "/rendered.yml", to_yaml(r.model)}};
  again.resolve_env = false;
  LoadResult r2 = load_project(again);
  CHECK(r2.model == r.model);
}
