// Pass "interpolate" and the .env parser: table tests.
#include "compose/passes.h"
#include "helpers.h"

using namespace berth::compose;
using namespace berth::compose::test;

TEST_CASE("interpolate: table") {
  Environment env{{"SET", "v"}, {"EMPTY", ""}, {"B", "b"}};
  struct Row {
    const char* in;
    const char* out;
  };
  Row rows[] = {
      {"$SET", "v"},          {"${SET}", "v"},           {"x${SET}y", "xvy"},
      {"$$SET", "$SET"},      {"$$", "$"},               {"a$", "a$"},
      {"$1", "$1"},           {"${UNSET:-d}", "d"},      {"${EMPTY:-d}", "d"},
      {"${EMPTY-d}", ""},     {"${UNSET-d}", "d"},       {"${SET:+alt}", "alt"},
      {"${EMPTY:+alt}", ""},  {"${EMPTY+alt}", "alt"},   {"${UNSET+alt}", ""},
      {"${UNSET:-${B}}", "b"}, {"${UNSET:-${NONE:-z}}", "z"}, {"${SET:-${B}}", "v"},
      {"${UNSET:-a b c}", "a b c"}, {"$SET.$SET", "v.v"}, {"${UNSET:-$$}", "$"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.in);
    auto res = interpolate_string(r.in, env);
    CHECK(res.ok);
    CHECK(res.value == r.out);
  }
}

TEST_CASE("interpolate: errors and unset variables") {
  Environment env{{"EMPTY", ""}};
  auto r = interpolate_string("${MISSING:?set it please}", env);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "required variable MISSING is missing a value: set it please");
  CHECK_FALSE(interpolate_string("${EMPTY:?x}", env).ok);
  CHECK(interpolate_string("${EMPTY?x}", env).ok);
  CHECK_FALSE(interpolate_string("${", env).ok);
  CHECK_FALSE(interpolate_string("${9X}", env).ok);
  CHECK_FALSE(interpolate_string("${A/b/c}", env).ok);
  auto u = interpolate_string("$A and ${B}", env);
  CHECK(u.unset == std::vector<std::string>{"A", "B"});
}

TEST_CASE("interpolate: ${VAR:?err} fails at the value's position; unset warns once with a $$ hint") {
  std::string err = load_errors("services:\n  web:\n    image: ${IMG:?image needed}\n");
  CHECK(err.find("compose.yaml:3:12: services.web.image: required variable IMG is missing a value: image needed") !=
        std::string::npos);
  auto o = options_for("services:\n  web:\n    image: x\n    environment:\n      PASSWORD: ab$cd\n");
  auto r = load_project(o);
  REQUIRE(r.warnings.size() == 1);
  CHECK(r.warnings[0].str().find("5:17: services.web.environment.PASSWORD: The \"cd\" variable is not set") !=
        std::string::npos);
  CHECK(r.warnings[0].hint.find("$$") != std::string::npos);
}

TEST_CASE("interpolate: keys are not interpolated, values are") {
  auto m = load_raw("services:\n  web:\n    image: ${I}\n    labels:\n      $K: v\n", {{"I", "nginx"}, {"K", "x"}});
  CHECK(m["services"]["web"]["image"] == "nginx");
  CHECK(m["services"]["web"]["labels"].contains("$K"));
}

TEST_CASE("dotenv: syntax") {
  Diagnostics d;
  Environment outer{{"OS", "from-os"}, {"BARE", "bare-os"}};
  auto env = parse_dotenv(R"(# comment
A=1
export B=two
C = spaced
D="line\nbreak \"q\""
E='lit ${A} \n'
F=x # comment
G=x#not-comment
H=${A}-${OS}
I="${B}"
BARE
NOTSET
J=
K="multi
line"
L=$$A
)",
                          ".env", outer, d);
  CHECK_FALSE(d.has_errors());
  CHECK(env["A"] == "1");
  CHECK(env["B"] == "two");
  CHECK(env["C"] == "spaced");
  CHECK(env["D"] == "line\nbreak \"q\"");
  CHECK(env["E"] == "lit ${A} \\n");
  CHECK(env["F"] == "x");
  CHECK(env["G"] == "x#not-comment");
  CHECK(env["H"] == "1-from-os");
  CHECK(env["I"] == "two");
  CHECK(env["BARE"] == "bare-os");
  CHECK(env.count("NOTSET") == 0);
  CHECK(env["J"] == "");
  CHECK(env["K"] == "multi\nline");
  CHECK(env["L"] == "$A");
}

TEST_CASE("dotenv: the OS environment is looked up before earlier keys") {
  Diagnostics d;
  auto env = parse_dotenv("X=file\nY=${X}\n", ".env", {{"X", "os"}}, d);
  CHECK(env["Y"] == "os");
}

TEST_CASE("dotenv: unterminated quote is an error with its line") {
  Diagnostics d;
  parse_dotenv("A=1\nB=\"open\n", ".env", {}, d);
  REQUIRE(d.has_errors());
  CHECK(d.errors()[0].pos.line == 2);
}
