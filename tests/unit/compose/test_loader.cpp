// Loader on real files: discovery, .env, env_file, include, profiles, normalization, typed model, hash.
#include <unistd.h>

#include "berth/util/fs.h"
#include "helpers.h"

using namespace berth::compose;
using namespace berth::compose::test;
namespace fs = berth::fs;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/berth-compose-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_tree(path); }
  void write(const std::string& rel, const std::string& text) {
    fs::mkdir_p(fs::dirname(path + "/" + rel));
    fs::write_file(path + "/" + rel, text);
  }
};

LoadOptions in_dir(const std::string& dir, std::map<std::string, std::string> env = {}) {
  LoadOptions o;
  o.working_dir = dir;
  env.emplace("HOME", "/home/u");
  o.environment = env;
  return o;
}
}  // namespace

TEST_CASE("loader: discovery walks up and picks the override file") {
  TempDir t;
  t.write("compose.yaml", "services:\n  web:\n    image: a\n");
  t.write("compose.override.yml", "services:\n  web:\n    image: b\n");
  t.write("sub/dir/.keep", "");
  auto r = load_project(in_dir(t.path + "/sub/dir"));
  CHECK(r.project.config_files.size() == 2);
  CHECK(r.project.service("web")->image == "b");
  CHECK(r.project.working_dir == t.path);
  TempDir empty;
  try {
    load_project(in_dir(empty.path));
    if (!fs::exists("/compose.yaml")) FAIL("expected no configuration file");
  } catch (const berth::Error& e) {
    CHECK(e.exit_code() == 14);
  }
}

TEST_CASE("loader: .env feeds interpolation, the OS environment wins; --env-file replaces .env") {
  TempDir t;
  t.write("compose.yaml", "services:\n  web:\n    image: ${IMG}:${TAG}\n");
  t.write(".env", "IMG=fromdotenv\nTAG=1\n");
  t.write("other.env", "IMG=other\nTAG=2\n");
  CHECK(load_project(in_dir(t.path)).project.service("web")->image == "fromdotenv:1");
  CHECK(load_project(in_dir(t.path, {{"TAG", "os"}})).project.service("web")->image == "fromdotenv:os");
  auto o = in_dir(t.path);
  o.env_files = {t.path + "/other.env"};
  CHECK(load_project(o).project.service("web")->image == "other:2");
  o = in_dir(t.path, {{"COMPOSE_FILE", t.path + "/compose.yaml"}, {"COMPOSE_PROJECT_NAME", "envname"}});
  CHECK(load_project(o).project.name == "envname");
}

TEST_CASE("loader: env_file merges under environment, later files win") {
  TempDir t;
  t.write("compose.yaml", "services:\n  web:\n    image: x\n    env_file: [a.env, b.env]\n    environment:\n      B: explicit\n");
  t.write("a.env", "A=a\nB=a\nC=a\n");
  t.write("b.env", "C=b\n");
  auto result = load_project(in_dir(t.path));  // held: a reference into a temporary would dangle
  auto& env = result.project.services[0].environment;
  CHECK(env == std::map<std::string, std::string>{{"A", "a"}, {"B", "explicit"}, {"C", "b"}});
}

TEST_CASE("loader: include imports resources with their own directory and .env") {
  TempDir t;
  t.write("compose.yaml", "include:\n  - lib/db.yaml\nservices:\n  web:\n    image: x\n    depends_on: [db]\n");
  t.write("lib/db.yaml", "services:\n  db:\n    image: postgres:${PGV}\n    volumes: [./data:/data]\n");
  t.write("lib/.env", "PGV=16\n");
  auto r = load_project(in_dir(t.path));
  const Service* db = r.project.service("db");
  REQUIRE(db);
  CHECK(db->image == "postgres:16");
  CHECK(db->volumes[0].source == t.path + "/lib/data");
  t.write("lib/db.yaml", "include: [../compose.yaml]\nservices:\n  db:\n    image: x\n");
  CHECK_THROWS_WITH(load_project(in_dir(t.path)), doctest::Contains("include cycle detected"));
}

TEST_CASE("loader: extends from another file resolves its paths against that file") {
  TempDir t;
  t.write("compose.yaml", "services:\n  web:\n    extends: {file: common/base.yaml, service: base}\n    image: x\n");
  t.write("common/base.yaml", "services:\n  base:\n    build: ./ctx\n    environment: {A: '1'}\n");
  auto r = load_project(in_dir(t.path));
  CHECK(r.project.service("web")->build->context == t.path + "/common/ctx");
  CHECK(r.project.service("web")->environment.at("A") == "1");
}

TEST_CASE("loader: profiles") {
  std::string yaml = "services:\n  web: {image: x}\n  debug: {image: x, profiles: [dev]}\n  all: {image: x, profiles: [a, b]}\n";
  auto o = options_for(yaml);
  auto names = [](const LoadResult& r) {
    std::vector<std::string> n;
    for (auto& s : r.project.services) n.push_back(s.name);
    return n;
  };
  CHECK(names(load_project(o)) == std::vector<std::string>{"web"});
  o.profiles = {"b"};
  CHECK(names(load_project(o)) == std::vector<std::string>{"all", "web"});
  o.profiles = {};
  o.services = {"debug"};
  CHECK(names(load_project(o)) == std::vector<std::string>{"debug", "web"});
  o = options_for(yaml, {{"COMPOSE_PROFILES", "dev,a"}});
  CHECK(names(load_project(o)).size() == 3);
  o = options_for("services:\n  web: {image: x, depends_on: [debug]}\n  debug: {image: x, profiles: [dev]}\n");
  CHECK_THROWS_WITH(load_project(o), doctest::Contains("disabled by profiles"));
}

TEST_CASE("loader: normalization adds the default network, names and implicit depends_on") {
  auto o = options_for("name: demo\nservices:\n  web:\n    image: x\n    volumes_from: [data]\n  data:\n    image: x\n"
                       "  side:\n    image: x\n    network_mode: service:web\nvolumes:\n  v: {}\n  e: {external: true}\n");
  auto r = load_project(o);
  CHECK(r.model["networks"]["default"]["name"] == "demo_default");
  CHECK(r.model["services"]["web"]["networks"] == json::parse(R"({"default":null})"));
  CHECK_FALSE(r.model["services"]["side"].contains("networks"));
  CHECK(r.model["volumes"]["v"]["name"] == "demo_v");
  CHECK(r.model["volumes"]["e"]["name"] == "e");
  CHECK(r.project.service("side")->depends_on.at("web").restart == true);
  CHECK(r.project.service("web")->depends_on.at("data").restart == false);
  CHECK(r.model["name"] == "demo");
}

TEST_CASE("typed model: every group lands in its field") {
  auto r = load_project(options_for(R"(services:
  web:
    image: nginx
    command: echo hi
    ports: ["127.0.0.1:8080:80/udp"]
    healthcheck: {test: [CMD, true], interval: 1m30s, retries: 2}
    deploy: {replicas: 2, resources: {limits: {cpus: '1.5', memory: 256m}}, restart_policy: {condition: on-failure}}
    secrets: [s]
    ulimits: {nofile: 1024}
    stop_grace_period: 20s
    mem_limit: 1k
secrets:
  s: {environment: SECRET}
)",
                                    {{"SECRET", "shh"}}));
  const Service& s = *r.project.service("web");
  CHECK(*s.command == std::vector<std::string>{"echo", "hi"});
  CHECK_FALSE(s.entrypoint.has_value());
  CHECK(s.ports[0].host_ip == "127.0.0.1");
  CHECK(s.ports[0].target == 80);
  CHECK(s.ports[0].published == "8080");
  CHECK(s.ports[0].protocol == "udp");
  CHECK(*s.healthcheck->interval_ns == 90'000'000'000LL);
  CHECK(*s.healthcheck->retries == 2);
  CHECK(*s.deploy->replicas == 2);
  CHECK(*s.deploy->limits.cpus == 1.5);
  CHECK(*s.deploy->limits.memory == 256LL * 1024 * 1024);
  CHECK(s.deploy->restart_policy->condition == "on-failure");
  CHECK(s.secrets[0].target == "/run/secrets/s");
  CHECK(s.ulimits.at("nofile").soft == 1024);
  CHECK(*s.stop_grace_period_ns == 20'000'000'000LL);
  CHECK(*s.mem_limit == 1024);
  CHECK(r.project.secrets.at("s").content == "shh");
  CHECK(s.networks.count("default") == 1);
}

TEST_CASE("loader: typed_project = false gives the same model and warnings, no typed project") {
  auto o = options_for("services:\n  web:\n    image: nginx\n    tty: yes\n  db:\n    image: pg\n");
  auto full = load_project(o);
  o.typed_project = false;
  auto model_only = load_project(o);
  CHECK(model_only.model == full.model);
  CHECK(model_only.project.services.empty());
  CHECK(full.project.services.size() == 2);
  REQUIRE(model_only.warnings.size() == full.warnings.size());
  CHECK(model_only.warnings.size() == 1);
  CHECK(model_only.warnings[0].str() == full.warnings[0].str());
  CHECK(model_only.environment == full.environment);
}

TEST_CASE("config_hash ignores scale, depends_on, build, profiles and deploy.replicas") {
  auto hash = [](const std::string& extra) {
    auto r = load_project(options_for("services:\n  db: {image: x}\n  web:\n    image: nginx\n" + extra));
    return config_hash(r.project, "web");
  };
  std::string base = hash("");
  CHECK(base.size() == 64);
  CHECK(hash("    scale: 3\n") == base);
  CHECK(hash("    depends_on: [db]\n") == base);
  CHECK(hash("    pull_policy: always\n") == base);
  CHECK(hash("    environment: {A: b}\n") != base);
  auto r = load_project(options_for("services:\n  web: {image: x}\n"));
  CHECK_THROWS_AS(config_hash(r.project, "nope"), berth::Error);
}

TEST_CASE("formats: durations and byte sizes") {
  CHECK(load_raw("services:\n  w:\n    image: x\n    stop_grace_period: 1h2m3.5s\n")["services"]["w"]["stop_grace_period"] ==
        "1h2m3.5s");
  CHECK(load_raw("services:\n  w:\n    image: x\n    stop_grace_period: 500ms\n")["services"]["w"]["stop_grace_period"] ==
        "500ms");
  CHECK(load_raw("services:\n  w:\n    image: x\n    stop_grace_period: 10\n")["services"]["w"]["stop_grace_period"] ==
        "10s");
  CHECK(load_raw("services:\n  w:\n    image: x\n    shm_size: 2gb\n")["services"]["w"]["shm_size"] == "2147483648");
  CHECK(load_raw("services:\n  w:\n    image: x\n    shm_size: 100\n")["services"]["w"]["shm_size"] == "100");
}
