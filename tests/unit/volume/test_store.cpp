// The volume store on a temp root: create, find, list, in-use from container records, rm, prune.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"
#include "berth/volume/mounts.h"
#include "berth/volume/store.h"

using namespace berth;

namespace {
struct TempRoot {
  std::string path;
  TempRoot() {
    char tmpl[] = "/tmp/berth-unit-volume.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempRoot() { fs::remove_tree(path); }
};

void add_container(const std::string& root, const std::string& id, const std::string& name, const json& mounts) {
  fs::mkdir_p(root + "/containers/" + id, 0700);
  save_json_atomic(root + "/containers/" + id + "/config.json", json{{"Id", id}, {"Name", "/" + name}, {"Mounts", mounts}});
}
json volume_mount(const std::string& name) { return json{{"Type", "volume"}, {"Name", name}, {"Destination", "/d"}}; }
}  // namespace

TEST_CASE("volume names") {
  CHECK(volume::valid_name("db-data_1.x"));
  CHECK_FALSE(volume::valid_name("a"));
  CHECK_FALSE(volume::valid_name("-ab"));
  CHECK_FALSE(volume::valid_name("a/b"));
  CHECK_THROWS_AS(volume::validate_name("../x"), Error);
}

TEST_CASE("create, find, list; create again returns the existing volume") {
  TempRoot t;
  volume::Store s(t.path);
  auto lock = s.lock();
  auto v = s.create("data", {{"app", "web"}});
  CHECK(v.mountpoint == t.path + "/volumes/data/_data");
  CHECK(fs::is_dir(v.mountpoint));
  struct stat st {};
  REQUIRE(::stat((t.path + "/volumes").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto again = s.create("data", {{"other", "x"}});
  CHECK(again.labels.count("app") == 1);
  CHECK(again.created_ns == v.created_ns);
  auto anon = s.create_anonymous();
  CHECK(anon.name.size() == 64);
  CHECK(anon.anonymous);
  CHECK(s.list().size() == 2);
  CHECK(s.find("data")->labels.at("app") == "web");
  CHECK_FALSE(s.find("nope"));
  json j = s.inspect(*s.find("data"));
  CHECK(j["Driver"] == "local");
  CHECK(j["Mountpoint"] == v.mountpoint);
  CHECK(j["Options"].is_null());
  CHECK_THROWS_WITH_AS(s.create("x1", {}, {{"bogus", "1"}}), "invalid option key: \"bogus\"", Error);
  CHECK_THROWS_AS(s.create("x2", {}, {{"type", "nfs"}}), Error);
  CHECK_NOTHROW(s.create("x3", {}, {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}}));
}

TEST_CASE("rm refuses a volume in use, even forced, naming the container") {
  TempRoot t;
  volume::Store s(t.path);
  auto lock = s.lock();
  s.create("db");
  add_container(t.path, "c1", "web_1", json::array({volume_mount("db")}));
  try {
    s.remove("db", true);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "remove db: volume is in use - [web_1]");
    CHECK(e.exit_code() == 1);
  }
  CHECK(s.find("db"));
  CHECK_THROWS_WITH_AS(s.remove("nope", false), "get nope: no such volume", Error);
  CHECK_NOTHROW(s.remove("nope", true));
  fs::remove_tree(t.path + "/containers/c1");
  s.remove("db", false);
  CHECK_FALSE(s.find("db"));
  CHECK_FALSE(fs::exists(t.path + "/volumes/db"));
}

TEST_CASE("prune: unused anonymous volumes by default, all unused with all; label filters") {
  TempRoot t;
  volume::Store s(t.path);
  auto lock = s.lock();
  s.create("named-unused", {{"keep", "yes"}});
  s.create("named-used");
  auto anon_unused = s.create_anonymous();
  auto anon_used = s.create_anonymous();
  add_container(t.path, "c1", "app", json::array({volume_mount("named-used"), volume_mount(anon_used.name)}));
  fs::write_file(anon_unused.mountpoint + "/f", std::string(10000, 'x'));
  uint64_t bytes = 0;
  auto removed = s.prune(false, {}, &bytes);
  REQUIRE(removed.size() == 1);
  CHECK(removed[0] == anon_unused.name);
  CHECK(bytes >= 10000);
  CHECK(s.prune(true, {"label!=keep"}, nullptr).empty());
  removed = s.prune(true, {"label=keep=yes"}, nullptr);
  CHECK(removed == std::vector<std::string>{"named-unused"});
  CHECK(s.list().size() == 2);
  CHECK_THROWS_AS(s.prune(true, {"dangling=true"}, nullptr), Error);
}

TEST_CASE("anonymous volumes of --rm containers go with the container; rm -v names only anonymous ones") {
  TempRoot t;
  volume::Store s(t.path);
  auto lock = s.lock();
  auto a = s.create_anonymous("c9");
  auto kept = s.create_anonymous();
  s.create("named");
  add_container(t.path, "c9", "tmp", json::array({volume_mount(a.name), volume_mount("named")}));
  s.sweep_autoremoved();
  CHECK(s.find(a.name));  // the container still exists
  json mounts = json::array({volume_mount(a.name), volume_mount("named"), json{{"Type", "bind"}}});
  CHECK(volume::anonymous_volumes_in(s, mounts) == std::vector<std::string>{a.name});
  fs::remove_tree(t.path + "/containers/c9");
  s.sweep_autoremoved();
  CHECK_FALSE(s.find(a.name));
  CHECK(s.find(kept.name));
  CHECK(s.find("named"));
}

TEST_CASE("initialized marker persists") {
  TempRoot t;
  volume::Store s(t.path);
  auto lock = s.lock();
  s.create("v1");
  CHECK_FALSE(s.find("v1")->initialized);
  s.mark_initialized("v1");
  CHECK(s.find("v1")->initialized);
}
