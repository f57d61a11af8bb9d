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
