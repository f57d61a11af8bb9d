// The fast YAML scanner against yaml-cpp: wherever the scanner accepts a text, it must report the
// very events yaml-cpp reports (values, tags, anchors, marks), and yaml-cpp must accept the text.
#include <doctest/doctest.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "compose/yaml_fast.h"

using berth::compose::scan_yaml_fast;
using berth::compose::YamlEvent;

namespace {

std::string show(const YamlEvent& e) {
  static const char* names[] = {"Scalar", "Null", "Alias", "SeqStart", "SeqEnd", "MapStart", "MapEnd"};
  std::ostringstream o;
  o << names[e.kind];
  if (e.kind != YamlEvent::SeqEnd && e.kind != YamlEvent::MapEnd)
    o << " " << e.line + 1 << ":" << e.col + 1 << " tag=" << e.tag << " &" << e.anchor;
  if (e.kind == YamlEvent::Scalar) o << " [" << e.value << "]";
  return o.str();
}

// yaml-cpp's events for the first document, with anchors renumbered in order of definition
// (both number them from 1 per document, so this only guards against differences in counting).
struct Recorder : YAML::EventHandler {
  std::vector<std::string> out;
  int documents = 0;
  void OnDocumentStart(const YAML::Mark&) override { ++documents; }
  void OnDocumentEnd() override {}
  void add(YamlEvent::Kind k, const YAML::Mark& m, std::string tag, YAML::anchor_t a, std::string v = {}) {
    if (documents > 1) return;
    out.push_back(show(YamlEvent{k, m.line, m.column, std::move(tag), static_cast<uint32_t>(a), std::move(v)}));
  }
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { add(YamlEvent::Null, m, "", a); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override { add(YamlEvent::Alias, m, "", a); }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a, const std::string& v) override {
    add(YamlEvent::Scalar, m, tag, a, v);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a, YAML::EmitterStyle::value) override {
    add(YamlEvent::SeqStart, m, tag, a);
  }
  void OnSequenceEnd() override { out.push_back("SeqEnd"); }
  void OnMapStart(const YAML::Mark& m, const std::string& tag, YAML::anchor_t a, YAML::EmitterStyle::value) override {
    add(YamlEvent::MapStart, m, tag, a);
  }
  void OnMapEnd() override { out.push_back("MapEnd"); }
};

// "ok" with yaml-cpp's events, or "error".
bool yamlcpp_events(const std::string& text, std::vector<std::string>& out) {
  std::istringstream in(text);
  Recorder r;
  try {
    YAML::Parser parser(in);
    size_t guard = 0;
    while (parser.HandleNextDocument(r))
      if (++guard > 4 || r.out.size() > 8 * text.size() + 64) return false;
  } catch (const YAML::Exception&) {
    return false;
  }
  if (r.documents > 1) return false;
  out = std::move(r.out);
  return true;
}

struct Outcome {
  bool accepted = false;
  std::string mismatch;  // empty: same events as yaml-cpp
};

Outcome compare(const std::string& text) {
  Outcome o;
  std::vector<YamlEvent> fast;
  o.accepted = scan_yaml_fast(text, fast);
  if (!o.accepted) return o;
  std::vector<std::string> want;
  if (!yamlcpp_events(text, want)) {
    o.mismatch = "the fast scanner accepted a text yaml-cpp rejects";
    return o;
  }
  for (size_t i = 0; i < std::max(want.size(), fast.size()); ++i) {
    std::string got = i < fast.size() ? show(fast[i]) : "(none)";
    std::string exp = i < want.size() ? want[i] : "(none)";
    if (got != exp) {
      o.mismatch = "event " + std::to_string(i) + ": fast `" + got + "`, yaml-cpp `" + exp + "`";
      return o;
    }
  }
  return o;
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every raw string literal R"(...)" in the compose unit tests: the YAML they load.
std::vector<std::string> texts_from_tests() {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(BERTH_SOURCE_DIR "/tests/unit/compose")) {
    if (entry.path().extension() != ".cpp") continue;
    std::string src = read(entry.path());
    for (size_t at = src.find("R\"("); at != std::string::npos; at = src.find("R\"(", at + 3)) {
      size_t end = src.find(")\"", at + 3);
      if (end == std::string::npos) break;
      out.push_back(src.substr(at + 3, end - at - 3));
    }
  }
  return out;
}

// The YAML of the unit tests and the example and corpus files first (`real` of them), then
// snippets, many of which the fast scanner must leave to yaml-cpp.
std::vector<std::string> corpus(size_t* real = nullptr) {
  std::vector<std::string> texts = texts_from_tests();
  for (const char* dir : {BERTH_SOURCE_DIR "/examples", BERTH_SOURCE_DIR "/tests/unit/compose/data",
                          BERTH_SHARED_DIR "/corpus"}) {
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      auto ext = e.path().extension();
      if (ext == ".yml" || ext == ".yaml") texts.push_back(read(e.path()));
    }
  }
  if (real) *real = texts.size();
  const char* snippets[] = {
      "x-a: &common\n  restart: always\nservices:\n  web:\n    <<: *common\n    image: \"nginx:1.2\"   # c\n"
      "    ports: [\"80:80\", '443:443', {a: b}]\n    empty:\n    tagged: !reset\n    tg2: !override [a]\n"
      "    cmd: |\n      line1\n      line2\n    folded: >-\n      a\n      b\n  db:\n    - a\n    - b: c\n"
      "      d: e\n    -\n    - 'it''s'\n    - \"q\\\"\\tx\"\nlist:\n- x\n- y\n",
      "a:\n  b:\n  c:\nd:\n  - x\n  -\ne: &an\nf: !reset\ng:\n",
      "---\n# c\na: [x, y,]\nb: {k: v, }\nc: [ &q x , *q ]\nd: [\n  1,\n  2 ]\n",
      "a: |+\n  x\n\n\nb: >\n  one\n  two\n\n  three\n\n\nc: |-\n    deep\n      more\n    back\nd: |\n\n"
      "  after blank\ne:   v  w   # c\nf: a:b\n\"g\": -1\nh:\n- - a\n  - b\n- k: 1\n  l: 2\ni: x # y\nj: |\n",
      "a: [\xc3\xa9, x]\nb: \"\\u00e9\\x41\\/\"\n",
      "g:", "a: 1", "a: b\n\n\n", "- a\n- b", "k: &x v\nl: *x\n", "k: !!str 1\nl: !!int \"2\"\n",
      "a: >\n\n  first\n  second\n", "a: |\n  x\n # not content\nb: 1\n", "a:\n  b: |\n    t\n  c: 2\n",
      "a: {x: [1, {y: z}], 'q': \"w\"}\n", "empty_flow: []\nempty_map: {}\n", "a: - b\n", "a: b: c\n",
      "a: 'multi\n  line'\n", "a: plain\n  continued\n", "? a\n: b\n", "a: *undefined\n", "%YAML 1.2\n---\na: 1\n",
      "a: 1\n---\nb: 2\n", "a: 1\n...\n", "a:\n\tb: 1\n", "a: 1\r\nb: 2\r\n", "a: \"\\q\"\n", "a: [b\n",
      "a: {b}\n", "a: [b: c]\n", "- ? x\n", "a: !<tag:x> y\n", "a: &x\n  b: 1\nc: *x\n", "- &x\n  - 1\n- *x\n",
      "a: |2\n   x\n", "a: >\n  x\n    more\n  y\n", "a:    \n  - 1\n", "#c\n\n  # d\na: 1 #e\n",
      "key with spaces: value with: colon\n", "url: http://x:80/y#z\n", "a: b #\n", "- -1\n- :x\n- ?y\n",
      "a: 'x' # c\n", "a: \"x\" y\n", "x: |\n  a\n\n  b\nz: 1\n", "a:\n- 1\nb: 2\n", "a:\n  - 1\n  b: 2\n",
      // Found by review: a last folded line of spaces, NUL/0x04 bytes, UTF-16 marks.
      "a: >\n  x\n  ", "- >-\n  x\n  ", "a: |\n x\x04\n", "b:\x04 {k: v}\n", "\xff\xfe" "a: 1\n",
  };
  for (const char* s : snippets) texts.emplace_back(s);
  texts.push_back(std::string("a: |\n x\0n\n", 11));
  texts.push_back(std::string("#\0\na: 1\n", 8));
  // Keys near yaml-cpp's 1024-byte limit for implicit keys, in block and flow maps.
  texts.push_back("\"" + std::string(1023, 'k') + "\": v\n");
  texts.push_back(std::string(1020, 'k') + "     : v\n");
  texts.push_back("a: {" + std::string(1025, 'k') + ": v}\n");
  std::string escaped_key = "\"";
  for (int i = 0; i < 200; ++i) escaped_key += "\\u00e9";
  texts.push_back(escaped_key + "\": v\n");
  // A generated file in the shape of bench/config.sh's services.
  std::string gen = "name: bench\nx-common: &common\n  restart: unless-stopped\n  labels: [com.example.tier=bench]\nservices:\n";
  for (int i = 0; i < 30; ++i) {
    std::string n = std::to_string(i);
    gen += "  svc" + n + ":\n    <<: *common\n    image: \"registry.example.com/app/svc" + n + ":${TAG:-1.0}\"\n" +
           "    command: [\"/bin/app\", \"--port\", \"80" + n + "\"]\n    environment:\n      - SERVICE_NAME=svc" + n +
           "\n      - LOG_LEVEL=info\n    ports: [\"" + std::to_string(20000 + i) + ":80\"]\n" +
           "    volumes: [\"data:/var/lib/app\", \"./conf/svc" + n + ":/etc/app:ro\"]\n    healthcheck:\n" +
           "      test: [\"CMD\", \"wget\", \"-qO-\", \"http://localhost/health\"]\n      interval: 10s\n      retries: 3\n";
  }
  texts.push_back(gen);
  return texts;
}

}  // namespace

TEST_CASE("fast YAML scanner: same events as yaml-cpp on every test, example and corpus file") {
  size_t real = 0;
  auto texts = corpus(&real);
  size_t accepted = 0, real_accepted = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    Outcome o = compare(texts[i]);
    if (o.accepted) ++accepted;
    if (o.accepted && i < real) ++real_accepted;
    INFO("text:\n" << texts[i]);
    CHECK(o.mismatch == "");
  }
  MESSAGE("fast scanner took " << accepted << " of " << texts.size() << " texts (" << real_accepted << " of the "
                               << real << " from tests and files); yaml-cpp the rest");
  CHECK(real_accepted * 10 >= real * 8);  // most real files take the fast path
  // The files the benchmarks and examples use take the fast path.
  std::vector<YamlEvent> ev;
  CHECK(scan_yaml_fast(texts.back(), ev));
  CHECK(scan_yaml_fast(read(BERTH_SOURCE_DIR "/examples/wordpress.yaml"), ev));
}

TEST_CASE("fast YAML scanner: random edits of the corpus never make it disagree with yaml-cpp") {
  auto texts = corpus();
  // BERTH_YAML_FUZZ_ROUNDS and BERTH_YAML_FUZZ_SEED run it longer or differently, by hand.
  const char* rounds_env = std::getenv("BERTH_YAML_FUZZ_ROUNDS");
  const char* seed_env = std::getenv("BERTH_YAML_FUZZ_SEED");
  const int rounds = rounds_env ? std::atoi(rounds_env) : 6000;
  std::mt19937 rng(seed_env ? static_cast<unsigned>(std::atoi(seed_env)) : 20261202u);
  const std::string alphabet = " \n:-#[]{},'\"|>&*!?abc01";
  size_t accepted = 0, total = 0;
  for (int round = 0; round < rounds; ++round) {
    std::string t = texts[rng() % texts.size()];
    if (t.size() > 4000) t.resize(4000);
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !t.empty(); ++e) {
      size_t at = rng() % t.size();
      switch (rng() % 4) {
        case 0: t.erase(at, 1); break;
        case 1: t.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: t[at] = alphabet[rng() % alphabet.size()]; break;
        default: {  // duplicate a line
          size_t b = t.rfind('\n', at);
          b = b == std::string::npos ? 0 : b + 1;
          size_t end = t.find('\n', at);
          if (end == std::string::npos) end = t.size();
          t.insert(b, t.substr(b, end - b) + "\n");
        }
      }
    }
    Outcome o = compare(t);
    ++total;
    if (o.accepted) ++accepted;
    if (!o.mismatch.empty()) {
      std::string escaped;
      for (char ch : t) escaped += ch == '\n' ? std::string("\\n\n") : ch == ' ' ? std::string("\xc2\xb7") : std::string(1, ch);
      INFO("text (line breaks as \\n, spaces as middle dots):\n" << escaped);
      CHECK(o.mismatch == "");
      break;
    }
  }
  MESSAGE("random edits: the fast scanner took " << accepted << " of " << total);
}
