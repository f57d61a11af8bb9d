// Validation: FILE:LINE:COL: path: message; hint — every error of a file, cross-reference checks.
#include "helpers.h"

using namespace berth::compose;
using namespace berth::compose::test;

TEST_CASE("errors: unknown keys, wrong types, all reported with positions") {
  std::string err = load_errors(R"(services:
  web:
    image: nginx
    imagee: typo
    ports:
      - "80:80"
      - "abc"
    restart: sometimes
    mem_limit: lots
    healthcheck:
      interval: soon
      retries: many
    deploy:
      replicas: two
x-ok: fine
bogus: 1
)",
                                false);
  CAPTURE(err);
  CHECK(err.find("/work/proj/compose.yaml:4:5: services.web.imagee: additional property \"imagee\" is not allowed; "
                 "check the spelling, or prefix custom keys with x-") != std::string::npos);
  CHECK(err.find("compose.yaml:7:9: services.web.ports[1]: invalid container port \"abc\"") != std::string::npos);
  CHECK(err.find("compose.yaml:8:14: services.web.restart: invalid restart policy \"sometimes\"") != std::string::npos);
  CHECK(err.find("compose.yaml:9:16: services.web.mem_limit: invalid byte size \"lots\"") != std::string::npos);
  CHECK(err.find("compose.yaml:11:17: services.web.healthcheck.interval: invalid duration \"soon\"") != std::string::npos);
  CHECK(err.find("compose.yaml:12:16: services.web.healthcheck.retries: must be an integer") != std::string::npos);
  CHECK(err.find("compose.yaml:14:17: services.web.deploy.replicas: must be an integer") != std::string::npos);
  CHECK(err.find("compose.yaml:16:1: bogus: additional property") != std::string::npos);
  CHECK(err.find("x-ok") == std::string::npos);
}

TEST_CASE("errors: exit code is Compose's 15 for invalid files") {
  try {
    load_project(options_for("services:\n  web:\n    nope: 1\n"));
    FAIL("should throw");
  } catch (const LoadError& e) {
    CHECK(e.exit_code() == 15);
    CHECK(e.diagnostics().size() == 1);
  }
}

TEST_CASE("errors: cross references") {
  std::string err = load_errors(R"(services:
  web:
    image: x
    networks: [missing-net]
    volumes: [missing-vol:/data, /a:/t, /b:/t]
    secrets: [missing-secret]
    depends_on: [missing-svc]
    healthcheck:
      test: [WRONG]
  nothing:
    restart: always
  both:
    image: x
    network_mode: host
    networks: [front]
networks:
  front:
  ext:
    external: true
    driver: bridge
secrets:
  empty: {}
)");
  CAPTURE(err);
  CHECK(err.find("service \"web\" refers to undefined network missing-net") != std::string::npos);
  CHECK(err.find("service \"web\" refers to undefined volume missing-vol") != std::string::npos);
  CHECK(err.find("target /t already mounted") != std::string::npos);
  CHECK(err.find("service \"web\" refers to undefined secret missing-secret") != std::string::npos);
  CHECK(err.find("service \"web\" depends on undefined service \"missing-svc\"") != std::string::npos);
  CHECK(err.find("healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\"") != std::string::npos);
  CHECK(err.find("service \"nothing\" has neither an image nor a build context specified") != std::string::npos);
  CHECK(err.find("mutually exclusive `network_mode` and `networks`") != std::string::npos);
  CHECK(err.find("network ext is external, `driver` is not allowed") != std::string::npos);
  CHECK(err.find("secret \"empty\" must declare either `file` or `environment`") != std::string::npos);
}

TEST_CASE("errors: dependency cycles are printed") {
  std::string err = load_errors("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n"
                                "  c: {image: x, depends_on: [a]}\n");
  CHECK(err.find("dependency cycle detected: a -> b -> c -> a") != std::string::npos);
}

TEST_CASE("errors: scale vs deploy.replicas, container_name with scale") {
  std::string err = load_errors("services:\n  a:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n"
                                "  b:\n    image: x\n    container_name: b\n    scale: 2\n");
  CHECK(err.find("can't set distinct values on 'scale' and 'deploy.replicas'") != std::string::npos);
  CHECK(err.find("can't set container_name and b as container name must be unique") != std::string::npos);
}

TEST_CASE("project name: -p is validated, directory names normalized") {
  auto o = options_for("services: {}\n");
  o.project_name = "My App";
  CHECK_THROWS_WITH(load_project(o), doctest::Contains("invalid project name \"My App\""));
  o.project_name.clear();
  o.working_dir = "/tmp/My_App.v2";
  CHECK(load_project(o).project.name == "my_appv2");
  o.environment->emplace("COMPOSE_PROJECT_NAME", "fromenv");
  CHECK(load_project(o).project.name == "fromenv");
  CHECK(normalize_project_name("__Hello-World!") == "hello-world");
  CHECK(is_valid_project_name("a_b-1"));
  CHECK_FALSE(is_valid_project_name("-a"));
}
