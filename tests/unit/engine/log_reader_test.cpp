// The json-file log reader (engine/log_reader) and the writer's rotation (supervisor/json_log).
#include "../temp_dir.h"
#include "berth/engine/log_reader.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "berth/util/error.h"
#include "berth/util/fs.h"
// The writer lives in the supervisor executable, not a library: compile it in here.
#include "supervisor/json_log.cpp"

using namespace berth;
using namespace berth::engine;

namespace {

using berth::testing::TempDir;

struct Collected {
  std::vector<std::string> texts;
  std::vector<LogStream> streams;
};

Collected read_all(const std::string& path, LogReadOptions opts = {}) {
  Collected c;
  read_logs(path, opts, [&](const LogLine& l) {
    c.texts.emplace_back(l.text);
    c.streams.push_back(l.stream);
    return true;
  });
  return c;
}

std::string line(const std::string& text, const char* stream, const std::string& time) {
  return "{\"log\":\"" + text + "\",\"stream\":\"" + stream + "\",\"time\":\"" + time + "\"}\n";
}

}  // namespace

TEST_CASE("parse_log_line reads Docker's line shape and unescapes") {
  LogLine l;
  std::string scratch;
  REQUIRE(parse_log_line(R"({"log":"hello \"world\"\n","stream":"stderr","time":"2026-11-27T10:00:00.123456789Z"})", l, scratch));
  CHECK(l.text == "hello \"world\"\n");
  CHECK(l.stream == LogStream::err);
  CHECK(l.time == "2026-11-27T10:00:00.123456789Z");
  CHECK(l.time_ns == parse_rfc3339_ns("2026-11-27T10:00:00.123456789Z").value());

  REQUIRE(parse_log_line(R"({"log":"plain","stream":"stdout","time":"2026-11-27T10:00:00Z"})", l, scratch));
  CHECK(l.text == "plain");
  CHECK(l.stream == LogStream::out);

  // Other key orders, extra keys with object values (Docker's "attrs"), whitespace.
  REQUIRE(parse_log_line(R"( { "time" : "2026-11-27T10:00:00Z", "attrs":{"a":"}","b":[1,2]}, "stream":"stderr" , "log":"x\ty" } )", l, scratch));
  CHECK(l.text == "x\ty");
  CHECK(l.stream == LogStream::err);

  CHECK_FALSE(parse_log_line("", l, scratch));
  CHECK_FALSE(parse_log_line("not json", l, scratch));
  CHECK_FALSE(parse_log_line(R"({"log":"unterminated)", l, scratch));
  CHECK_FALSE(parse_log_line(R"({"stream":"stdout"})", l, scratch));
  CHECK_FALSE(parse_log_line(R"({"log":"bad \q escape"})", l, scratch));
}

TEST_CASE("json_unescape handles \\u escapes and surrogate pairs") {
  std::string out;
  REQUIRE(json_unescape(R"(a\u0041\u00e9\u20ac\ud83d\ude00\/\b\f\r)", out));
  CHECK(out == "aA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80/\b\f\r");
  out.clear();
  REQUIRE(json_unescape(R"(\ud83dx\ude00)", out));  // lone surrogates
  CHECK(out == "\xEF\xBF\xBDx\xEF\xBF\xBD");
  out.clear();
  REQUIRE(json_unescape(R"(\u0000\u001b)", out));
  CHECK(out == std::string("\0\x1b", 2));
  out.clear();
  CHECK_FALSE(json_unescape(R"(\u12)", out));
  CHECK_FALSE(json_unescape("trailing\\", out));
}

TEST_CASE("the writer's escaping round-trips through the reader") {
  TempDir d;
  std::string p = d.path + "/c-json.log";
  std::string nasty = std::string("tab\tquote\"back\\slash ctl\x01\x1f utf8 \xE2\x82\xAC\r\n");
  {
    JsonLog log;
    log.open(p);
    log.write("stdout", nasty);
    log.write("stderr", "partial");
    log.write("stderr", " line\n");
    log.write("stdout", "no newline at end");
    log.flush();
  }
  auto c = read_all(p);
  REQUIRE(c.texts.size() == 3);
  CHECK(c.texts[0] == nasty);
  CHECK(c.texts[1] == "partial line\n");
  CHECK(c.streams[1] == LogStream::err);
  CHECK(c.texts[2] == "no newline at end");
}

TEST_CASE("RFC 3339 and --since/--until values") {
  CHECK(parse_rfc3339_ns("1970-01-01T00:00:00Z").value() == 0);
  CHECK(parse_rfc3339_ns("2026-11-27T10:00:00.5Z").value() == 1795773600LL * 1000000000LL + 500000000);
  CHECK(parse_rfc3339_ns("2026-11-27T12:00:00+02:00").value() == 1795773600LL * 1000000000LL);
  CHECK(parse_rfc3339_ns("2026-11-27T09:30:00-00:30").value() == 1795773600LL * 1000000000LL);
  CHECK_FALSE(parse_rfc3339_ns("2026-11-27 10:00"));
  CHECK_FALSE(parse_rfc3339_ns("yesterday"));

  const int64_t now = 1795773600LL * 1000000000LL;
  CHECK(parse_log_time_arg("10m", now) == now - 600LL * 1000000000LL);
  CHECK(parse_log_time_arg("1h30m", now) == now - 5400LL * 1000000000LL);
  CHECK(parse_log_time_arg("1.5s", now) == now - 1500000000LL);
  CHECK(parse_log_time_arg("250ms", now) == now - 250000000LL);
  CHECK(parse_log_time_arg("0", now) == now);
  CHECK(parse_log_time_arg("2026-11-27T10:00:00Z", now) == now);
  CHECK(parse_log_time_arg("2026-11-27T10:00:00", now) == now);  // no zone: UTC
  CHECK(parse_log_time_arg("2026-11-27", now) == now - 36000LL * 1000000000LL);
  CHECK(parse_log_time_arg("1795773600", now) == now);
  CHECK(parse_log_time_arg("1795773600.25", now) == now + 250000000LL);
  CHECK_THROWS_AS(parse_log_time_arg("10 minutes", now), Error);
  CHECK_THROWS_AS(parse_log_time_arg("10x", now), Error);
  CHECK_THROWS_AS(parse_log_time_arg("", now), Error);
}

TEST_CASE("tail, since and until on one file") {
  TempDir d;
  std::string p = d.path + "/c-json.log";
  {
    std::ofstream f(p);
    for (int i = 0; i < 10; ++i)
      f << line("l" + std::to_string(i) + "\\n", i % 2 ? "stderr" : "stdout",
                "2026-11-27T10:00:0" + std::to_string(i) + ".000000000Z");
  }
  CHECK(read_all(p).texts.size() == 10);
  LogReadOptions o;
  o.tail = 3;
  auto c = read_all(p, o);
  REQUIRE(c.texts.size() == 3);
  CHECK(c.texts[0] == "l7\n");
  CHECK(c.texts[2] == "l9\n");
  CHECK(c.streams[0] == LogStream::err);
  o.tail = 0;
  CHECK(read_all(p, o).texts.empty());
  o.tail = 100;
  CHECK(read_all(p, o).texts.size() == 10);

  LogReadOptions s;
  s.since_ns = parse_rfc3339_ns("2026-11-27T10:00:05Z").value();
  c = read_all(p, s);
  REQUIRE(c.texts.size() == 5);
  CHECK(c.texts[0] == "l5\n");
  s.until_ns = parse_rfc3339_ns("2026-11-27T10:00:07Z").value();
  CHECK(read_all(p, s).texts.size() == 3);  // 5, 6, 7
  CHECK(read_all(d.path + "/missing.log").texts.empty());
}

TEST_CASE("tail reads backwards across block boundaries and a missing final newline") {
  TempDir d;
  std::string p = d.path + "/c-json.log";
  std::string big(300000, 'x');  // one record longer than a read block
  {
    std::ofstream f(p);
    f << line("first\\n", "stdout", "2026-11-27T10:00:00Z");
    f << line(big, "stdout", "2026-11-27T10:00:01Z");
    for (int i = 0; i < 5000; ++i) f << line("n" + std::to_string(i) + "\\n", "stdout", "2026-11-27T10:00:02Z");
    f << line("last", "stdout", "2026-11-27T10:00:03Z").substr(0, 200);  // no trailing newline
  }
  ::truncate(p.c_str(), static_cast<off_t>(fs::read_file(p).size() - 1));
  LogReadOptions o;
  o.tail = 2;
  auto c = read_all(p, o);
  REQUIRE(c.texts.size() == 2);
  CHECK(c.texts[0] == "n4999\n");
  CHECK(c.texts[1] == "last");
  o.tail = 5001;
  c = read_all(p, o);
  REQUIRE(c.texts.size() == 5001);
  CHECK(c.texts[0] == "n0\n");
  o.tail = 5002;
  c = read_all(p, o);
  REQUIRE(c.texts.size() == 5002);
  CHECK(c.texts[0] == big);
  o.tail = 6000;
  CHECK(read_all(p, o).texts.size() == 5003);
}

TEST_CASE("rotation keeps at most max_files files and the reader merges them oldest first") {
  TempDir d;
  std::string p = d.path + "/c-json.log";
  {
    JsonLog log;
    log.open(p, 1000, 3);
    for (int i = 0; i < 200; ++i) log.write("stdout", "line " + std::to_string(i) + "\n");
  }
  CHECK(fs::exists(p));
  CHECK(fs::exists(p + ".1"));
  CHECK(fs::exists(p + ".2"));
  CHECK_FALSE(fs::exists(p + ".3"));
  for (const auto& f : {p, p + ".1", p + ".2"}) {
    struct stat st {};
    ::stat(f.c_str(), &st);
    CHECK(st.st_size <= 1000);
  }
  REQUIRE(log_files(p) == std::vector<std::string>{p + ".2", p + ".1", p});
  auto c = read_all(p);
  REQUIRE(!c.texts.empty());
  CHECK(c.texts.back() == "line 199\n");
  // What is kept is a contiguous run ending at the last line.
  int first = std::atoi(c.texts.front().c_str() + 5);
  CHECK(c.texts.size() == static_cast<size_t>(200 - first));
  for (size_t i = 0; i < c.texts.size(); ++i) CHECK(c.texts[i] == "line " + std::to_string(first + static_cast<int>(i)) + "\n");

  // --tail crosses file boundaries.
  LogReadOptions o;
  o.tail = c.texts.size() - 2;
  auto t = read_all(p, o);
  REQUIRE(t.texts.size() == c.texts.size() - 2);
  CHECK(t.texts.front() == c.texts[2]);

  // max_files 1 truncates in place; the plain open() never rotates.
  std::string q = d.path + "/one-json.log";
  {
    JsonLog log;
    log.open(q, 500, 1);
    for (int i = 0; i < 100; ++i) log.write("stdout", "x" + std::to_string(i) + "\n");
  }
  CHECK_FALSE(fs::exists(q + ".1"));
  CHECK(fs::read_file(q).size() <= 500);
  CHECK(read_all(q).texts.back() == "x99\n");
  std::string r = d.path + "/unlimited-json.log";
  {
    JsonLog log;
    log.open(r);
    for (int i = 0; i < 1000; ++i) log.write("stdout", "y\n");
  }
  CHECK_FALSE(fs::exists(r + ".1"));
  CHECK(read_all(r).texts.size() == 1000);
}

static void follow_while_writing(uint64_t max_size, int max_files) {
  TempDir d;
  std::string p = d.path + "/c-json.log";
  const int n = 400;
  std::atomic<bool> writer_done{false};
  JsonLog log;
  log.open(p, max_size, max_files);
  log.write("stdout", "before follow\n");
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      log.write(i % 7 == 0 ? "stderr" : "stdout", "w" + std::to_string(i) + "\n");
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    writer_done = true;
  });
  LogReadOptions o;
  o.follow = true;
  o.poll_ms = 5;
  o.tail = 1;
  o.keep_following = [&] { return !writer_done.load(); };
  auto c = read_all(p, o);
  writer.join();
  REQUIRE(c.texts.size() >= 2);
  CHECK(c.texts[0] == "before follow\n");
  REQUIRE(c.texts.size() == static_cast<size_t>(n + 1));
  for (int i = 0; i < n; ++i) {
    CHECK(c.texts[static_cast<size_t>(i + 1)] == "w" + std::to_string(i) + "\n");
    CHECK(c.streams[static_cast<size_t>(i + 1)] == (i % 7 == 0 ? LogStream::err : LogStream::out));
  }
}

TEST_CASE("follow sees every line written later, across rotations, and ends with the writer") {
  follow_while_writing(0, 1);        // no rotation
  follow_while_writing(4000, 5);     // ~60 lines per file: rotations while following
}

TEST_CASE("follow starts at the end with tail 0 and waits for a log that does not exist yet") {
  TempDir d;
  std::string p = d.path + "/c-json.log";
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    JsonLog log;
    log.open(p);
    log.write("stdout", "late\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    done = true;
  });
  LogReadOptions o;
  o.follow = true;
  o.poll_ms = 5;
  o.tail = 0;
  o.keep_following = [&] { return !done.load(); };
  auto c = read_all(p, o);
  writer.join();
  REQUIRE(c.texts.size() == 1);
  CHECK(c.texts[0] == "late\n");
}
