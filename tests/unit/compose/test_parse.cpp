// Pass "parse": merge keys, duplicate keys, alias budget, tags, syntax errors with positions.
#include "compose/passes.h"
#include "helpers.h"

using namespace berth::compose;
using namespace berth::compose::test;

TEST_CASE("parse: positions are 1-based line:col") {
  Diagnostics d;
  auto docs = parse_yaml("services:\n  web:\n    image: nginx\n", "c.yaml", d);
  REQUIRE(docs.size() == 1);
  auto image = docs[0]->find("services")->find("web")->find("image");
  CHECK(image->pos.str() == "c.yaml:3:12");
  CHECK(docs[0]->find("services")->find_key_pos("web")->str() == "c.yaml:2:3");
}

TEST_CASE("parse: quoted scalars are remembered") {
  Diagnostics d;
  auto root = parse_yaml("a: '1'\nb: 1\nc: \"x\"\n", "f", d)[0];
  CHECK(root->find("a")->quoted);
  CHECK_FALSE(root->find("b")->quoted);
  CHECK(root->find("c")->quoted);
}

TEST_CASE("parse: merge keys, explicit keys win, earlier sources win") {
  auto svc = service_of(R"(
x-base: &base
  image: base
  restart: always
x-more: &more
  image: more
  tty: true
services:
  web:
    <<: [*base, *more]
    restart: "no"
)");
  CHECK(svc["image"] == "base");
  CHECK(svc["restart"] == "no");
  CHECK(svc["tty"] == true);
}

TEST_CASE("parse: duplicate keys name both positions") {
  std::string err = load_errors("services:\n  web:\n    image: a\n    image: b\n");
  CHECK(err.find("compose.yaml:4:5: duplicate key \"image\" (first defined at /work/proj/compose.yaml:3:5)") !=
        std::string::npos);
}

TEST_CASE("parse: duplicate keys in a large mapping (hash index) name both positions") {
  // 40 services: past the size where the parser switches from a linear scan to an index.
  std::string yaml = "services:\n";
  for (int i = 0; i < 40; ++i) yaml += "  s" + std::to_string(i) + ": {image: a}\n";
  yaml += "  s7: {image: b}\n  s39: {image: c}\n  s40: {image: d}\n";
  Diagnostics d;
  auto docs = parse_yaml(yaml, "big.yaml", d);
  REQUIRE(d.errors().size() == 2);
  CHECK(d.errors()[0].str() == "big.yaml:42:3: duplicate key \"s7\" (first defined at big.yaml:9:3); remove one of the two entries");
  CHECK(d.errors()[1].str() == "big.yaml:43:3: duplicate key \"s39\" (first defined at big.yaml:41:3); remove one of the two entries");
  REQUIRE(docs.size() == 1);
  auto services = docs[0]->find("services");
  REQUIRE(services);
  CHECK(services->map.size() == 41);
  CHECK(services->find("s7")->find("image")->value == "a");
  CHECK(services->find("s40")->find("image")->value == "d");
}

TEST_CASE("diagnostics: identical warnings are kept once, in first-seen order") {
  Diagnostics d;
  Pos p("w.yaml", 3, 5);
  d.warn(p, "services.a.image", "unset", "hint");
  d.warn(p, "services.b.image", "unset", "hint");
  d.warn(p, "services.a.image", "unset", "hint");
  d.warn(Pos("w.yaml", 3, 6), "services.a.image", "unset", "hint");
  REQUIRE(d.warnings().size() == 3);
  CHECK(d.warnings()[0].str() == "w.yaml:3:5: services.a.image: unset; hint");
  CHECK(d.warnings()[1].str() == "w.yaml:3:5: services.b.image: unset; hint");
  CHECK(d.warnings()[2].str() == "w.yaml:3:6: services.a.image: unset; hint");
}

TEST_CASE("parse: alias expansion has a budget (billion laughs)") {
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev)
    yaml += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  Diagnostics d;
  parse_yaml(yaml, "bomb.yaml", d);
  REQUIRE(d.has_errors());
  CHECK(d.errors()[0].message.find("alias expansion exceeds") != std::string::npos);
}

TEST_CASE("parse: syntax errors carry the position") {
  std::string err = load_errors("services:\n  web:\n    image: [a\n");
  CHECK(err.find("compose.yaml:") != std::string::npos);
  CHECK(err.find("fix the YAML syntax") != std::string::npos);
}

TEST_CASE("parse: !reset and !override tags are kept") {
  Diagnostics d;
  auto root = parse_yaml("a: !reset []\nb: !override {x: 1}\nc: !reset\n", "f", d)[0];
  CHECK(root->find("a")->tag == "!reset");
  CHECK(root->find("b")->tag == "!override");
  CHECK(root->find("c")->tag == "!reset");
  CHECK(root->find("c")->is_null());
}

TEST_CASE("parse: empty file and non-mapping root") {
  CHECK(load_errors("").find("empty compose file") != std::string::npos);
  CHECK(load_errors("- a\n- b\n").find("top-level object must be a mapping") != std::string::npos);
}

TEST_CASE("parse: yaml-cpp event loops are cut off (fuzzer finding \",: x\")") {
  Diagnostics d;
  parse_yaml(",: seed\n", "loop.yaml", d);
  REQUIRE(d.has_errors());
  CHECK(d.errors()[0].message == "the YAML parser stopped making progress here");
}

TEST_CASE("render: invalid UTF-8 in keys and values does not throw (fuzzer finding)") {
  auto m = load_raw("services:\n  web:\n    image: x\n    labels:\n      \"k\xff: x\": \"v\xfe #\"\n");
  std::string yaml = to_yaml(m);
  CHECK(yaml.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD replacement
}
