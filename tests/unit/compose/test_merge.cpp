// Pass "merge": (base, override, expected) triplets over two -f files.
#include "helpers.h"

using namespace berth::compose;
using namespace berth::compose::test;

static json merged(const std::string& base, const std::string& over) {
  LoadOptions o = options_for("");
  o.contents = {{"compose.yaml", base}, {"compose.override.yaml", over}};
  o.normalize = false;
  o.consistency = false;
  return load_project(o).model;
}

struct Triplet {
  const char* name;
  const char* base;
  const char* over;
  const char* expected_web;  // JSON of services.web
};

TEST_CASE("merge: triplets") {
  Triplet cases[] = {
      {"scalars: later wins", "services:\n  web:\n    image: a\n", "services:\n  web:\n    image: b\n",
       R"({"image":"b"})"},
      {"maps merge per key", "services:\n  web:\n    environment: {A: '1', B: '2'}\n",
       "services:\n  web:\n    environment: [B=3, C=4]\n", R"({"environment":{"A":"1","B":"3","C":"4"}})"},
      {"command is replaced", "services:\n  web:\n    command: [a, b]\n", "services:\n  web:\n    command: c\n",
       R"({"command":["c"]})"},
      {"healthcheck.test is replaced", "services:\n  web:\n    healthcheck: {test: [CMD, a], retries: 3}\n",
       "services:\n  web:\n    healthcheck: {test: [CMD, b]}\n",
       R"({"healthcheck":{"test":["CMD","b"],"retries":3}})"},
      {"ports unique by ip:published:target/proto", "services:\n  web:\n    ports: ['80:80', '443:443']\n",
       "services:\n  web:\n    ports: ['80:80', '81:80']\n",
       R"({"ports":[{"mode":"ingress","target":80,"published":"80","protocol":"tcp"},
                    {"mode":"ingress","target":443,"published":"443","protocol":"tcp"},
                    {"mode":"ingress","target":80,"published":"81","protocol":"tcp"}]})"},
      {"volumes unique by target", "services:\n  web:\n    volumes: ['a:/data', '/x:/x']\n",
       "services:\n  web:\n    volumes: ['b:/data']\n",
       R"({"volumes":[{"type":"volume","source":"b","target":"/data","volume":{}},
                      {"type":"bind","source":"/x","target":"/x","bind":{}}]})"},
      {"dns deduplicated, order kept", "services:\n  web:\n    dns: [1.1.1.1, 8.8.8.8]\n",
       "services:\n  web:\n    dns: [8.8.8.8, 9.9.9.9]\n", R"({"dns":["1.1.1.1","8.8.8.8","9.9.9.9"]})"},
      {"secrets unique by target", "services:\n  web:\n    secrets: [a, {source: b, target: t}]\n",
       "services:\n  web:\n    secrets: [{source: a, mode: 0400}]\n",
       R"({"secrets":[{"source":"a","mode":"0400"},{"source":"b","target":"t"}]})"},
      {"!reset removes", "services:\n  web:\n    image: a\n    ports: ['80:80']\n",
       "services:\n  web:\n    ports: !reset []\n", R"({"image":"a"})"},
      {"!override replaces a sequence", "services:\n  web:\n    ports: ['80:80']\n",
       "services:\n  web:\n    ports: !override ['81:81']\n",
       R"({"ports":[{"mode":"ingress","target":81,"published":"81","protocol":"tcp"}]})"},
      {"!override replaces a map", "services:\n  web:\n    environment: {A: '1'}\n",
       "services:\n  web:\n    environment: !override {B: '2'}\n", R"({"environment":{"B":"2"}})"},
      {"logging: another driver replaces options", "services:\n  web:\n    logging: {driver: a, options: {x: '1'}}\n",
       "services:\n  web:\n    logging: {driver: b, options: {y: '2'}}\n",
       R"({"logging":{"driver":"b","options":{"y":"2"}}})"},
      {"logging: same driver merges options", "services:\n  web:\n    logging: {driver: a, options: {x: '1'}}\n",
       "services:\n  web:\n    logging: {options: {y: '2'}}\n",
       R"({"logging":{"driver":"a","options":{"x":"1","y":"2"}}})"},
      {"ulimits replaced whole", "services:\n  web:\n    ulimits: {nofile: {soft: 1, hard: 2}}\n",
       "services:\n  web:\n    ulimits: {nofile: {soft: 3}}\n", R"({"ulimits":{"nofile":{"soft":3}}})"},
      {"depends_on list + map", "services:\n  web:\n    depends_on: [a]\n",
       "services:\n  web:\n    depends_on: {b: {condition: service_healthy}}\n",
       R"({"depends_on":{"a":{"condition":"service_started","required":true},
                         "b":{"condition":"service_healthy","required":true}}})"},
      {"build string + map", "services:\n  web:\n    build: ./a\n", "services:\n  web:\n    build: {target: t}\n",
       R"({"build":{"context":"/work/proj/a","target":"t"}})"},
      {"networks aliases deduplicated", "services:\n  web:\n    networks: {n: {aliases: [x]}}\n",
       "services:\n  web:\n    networks: {n: {aliases: [x, y]}}\n", R"({"networks":{"n":{"aliases":["x","y"]}}})"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(merged(c.base, c.over)["services"]["web"] == json::parse(c.expected_web));
  }
}

TEST_CASE("merge: a later file adds services and resources") {
  auto m = merged("services:\n  a:\n    image: a\n", "services:\n  b:\n    image: b\nvolumes:\n  v: {}\n");
  CHECK(m["services"].size() == 2);
  CHECK(m["volumes"].contains("v"));
}

TEST_CASE("extends: same file, other file, cycles") {
  auto m = load_raw("services:\n  base:\n    image: b\n    environment: {A: '1'}\n    ports: ['80:80']\n"
                    "  web:\n    extends: {service: base}\n    environment: {B: '2'}\n");
  CHECK(m["services"]["web"]["environment"] == json::parse(R"({"A":"1","B":"2"})"));
  CHECK(m["services"]["web"]["ports"].size() == 1);
  CHECK_FALSE(m["services"]["web"].contains("extends"));
  std::string err = load_errors("services:\n  a:\n    extends: b\n  b:\n    extends: a\n", false);
  CHECK(err.find("extends cycle detected") != std::string::npos);
  err = load_errors("services:\n  a:\n    image: x\n    extends: nope\n", false);
  CHECK(err.find("service \"nope\" not found") != std::string::npos);
}
