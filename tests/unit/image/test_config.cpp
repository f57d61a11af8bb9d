#include <doctest/doctest.h>

#include "berth/image/config.h"
#include "berth/util/error.h"

using namespace berth::image;
using berth::json;

static ImageConfig changed(const std::vector<std::string>& changes) {
  ImageConfig c;
  for (const auto& ch : changes) apply_change(c, ch);
  return c;
}

TEST_CASE("CMD and ENTRYPOINT: JSON and shell form") {
  auto c = changed({R"(CMD ["sh", "-c", "echo hi"])", "ENTRYPOINT /bin/init --flag"});
  CHECK(c.cmd == std::vector<std::string>{"sh", "-c", "echo hi"});
  CHECK(c.entrypoint == std::vector<std::string>{"/bin/sh", "-c", "/bin/init --flag"});
  CHECK(changed({"cmd [\"sh\"]"}).cmd ==
        std::vector<std::string>{"sh"});  // keyword case-insensitive
  CHECK(changed({"CMD [not json"}).cmd == std::vector<std::string>{"/bin/sh", "-c", "[not json"});
  CHECK(changed({"CMD []"}).cmd.empty());
  CHECK_THROWS_AS(changed({"CMD"}), berth::Error);
}

TEST_CASE("ENV, LABEL: key=value pairs, quotes, legacy form, replacement") {
  auto c = changed({R"(ENV A=1 B="two words" C=x\ y)", "ENV LEGACY some value here", "ENV A=3"});
  CHECK(c.env == std::vector<std::string>{"A=3", "B=two words", "C=x y", "LEGACY=some value here"});
  auto l = changed({R"(LABEL org.opencontainers.image.title="Berth test" a='b c')", "LABEL x y"});
  CHECK(l.labels.at("org.opencontainers.image.title") == "Berth test");
  CHECK(l.labels.at("a") == "b c");
  CHECK(l.labels.at("x") == "y");
  CHECK_THROWS_AS(changed({"ENV =x"}), berth::Error);
  CHECK_THROWS_AS(changed({"ENV ONLYKEY"}), berth::Error);
  CHECK_THROWS_AS(changed({"ENV A=\"open"}), berth::Error);
}

TEST_CASE("WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL") {
  auto c = changed({"WORKDIR /app", "WORKDIR sub/../src", "USER tester:testers",
                    "EXPOSE 80 53/udp 8000-8002/tcp 80", R"(VOLUME ["/data", "/logs"])",
                    "VOLUME /cache", "STOPSIGNAL SIGQUIT"});
  CHECK(c.working_dir == "/app/src");
  CHECK(c.user == "tester:testers");
  CHECK(c.exposed_ports ==
        std::vector<std::string>{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"});
  CHECK(c.volumes == std::vector<std::string>{"/data", "/logs", "/cache"});
  CHECK(c.stop_signal == "SIGQUIT");
  CHECK(changed({"STOPSIGNAL SIGRTMIN+3"}).stop_signal == "SIGRTMIN+3");
  CHECK(changed({"STOPSIGNAL 9"}).stop_signal == "9");
  CHECK_THROWS_AS(changed({"STOPSIGNAL SIGNOPE"}), berth::Error);
  CHECK_THROWS_AS(changed({"EXPOSE 70000"}), berth::Error);
  CHECK_THROWS_AS(changed({"EXPOSE 80/icmp"}), berth::Error);
  CHECK_THROWS_AS(changed({"USER"}), berth::Error);
}

TEST_CASE("HEALTHCHECK: durations in ns, CMD and CMD-SHELL, NONE") {
  auto c =
      changed({"HEALTHCHECK --interval=5s --timeout=1m30s --start-period=500ms --start-interval=1s "
               "--retries=4 CMD wget -q localhost"});
  REQUIRE(c.healthcheck);
  json hc = *c.healthcheck;
  CHECK(hc["Test"] == json::array({"CMD-SHELL", "wget -q localhost"}));
  CHECK(hc["Interval"] == 5000000000LL);
  CHECK(hc["Timeout"] == 90000000000LL);
  CHECK(hc["StartPeriod"] == 500000000LL);
  CHECK(hc["StartInterval"] == 1000000000LL);
  CHECK(hc["Retries"] == 4);
  auto exec = changed({R"(HEALTHCHECK CMD ["true"])"});
  CHECK((*exec.healthcheck)["Test"] == json::array({"CMD", "true"}));
  CHECK_FALSE(exec.healthcheck->contains("Interval"));
  CHECK((*changed({"HEALTHCHECK NONE"}).healthcheck)["Test"] == json::array({"NONE"}));
  CHECK_THROWS_AS(changed({"HEALTHCHECK --interval=1us CMD true"}), berth::Error);
  CHECK_THROWS_AS(changed({"HEALTHCHECK --bogus=1 CMD true"}), berth::Error);
  CHECK_THROWS_AS(changed({"HEALTHCHECK EXEC true"}), berth::Error);
  CHECK_THROWS_AS(changed({"HEALTHCHECK NONE extra"}), berth::Error);
}

TEST_CASE("unknown instruction: an error that names it, exit 125") {
  try {
    changed({"RUN apt-get update"});
    FAIL("accepted RUN");
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()).find("RUN") != std::string::npos);
    CHECK(e.exit_code() == 125);
    CHECK(std::string(e.hint()).find("CMD") != std::string::npos);
  }
}

TEST_CASE("Go durations") {
  CHECK(parse_go_duration("0") == 0);
  CHECK(parse_go_duration("30s") == 30000000000LL);
  CHECK(parse_go_duration("1h2m3s") == 3723000000000LL);
  CHECK(parse_go_duration("1.5s") == 1500000000LL);
  CHECK(parse_go_duration("250us") == 250000);
  CHECK(parse_go_duration("10ns") == 10);
  CHECK_THROWS_AS(parse_go_duration("10"), berth::Error);
  CHECK_THROWS_AS(parse_go_duration("s"), berth::Error);
  CHECK_THROWS_AS(parse_go_duration("3d"), berth::Error);
}

TEST_CASE("config JSON round trip, Docker field names") {
  auto c = changed({"CMD [\"sh\"]", "ENV A=1", "WORKDIR /w", "USER 1000", "EXPOSE 80", "VOLUME /v",
                    "LABEL k=v", "STOPSIGNAL SIGTERM", "HEALTHCHECK CMD true"});
  json j = config_to_json(c);
  CHECK(j["Cmd"] == json::array({"sh"}));
  CHECK(j["ExposedPorts"] == json{{"80/tcp", json::object()}});
  CHECK(j["Volumes"] == json{{"/v", json::object()}});
  CHECK(j["WorkingDir"] == "/w");
  CHECK_FALSE(j.contains("Entrypoint"));
  auto back = config_from_json(j);
  CHECK(back.cmd == c.cmd);
  CHECK(back.env == c.env);
  CHECK(back.user == "1000");
  CHECK(back.exposed_ports == c.exposed_ports);
  CHECK(back.volumes == c.volumes);
  CHECK(back.labels == c.labels);
  CHECK(back.stop_signal == "SIGTERM");
  CHECK(back.healthcheck == c.healthcheck);
  CHECK(config_to_json(ImageConfig{}) == json::object());
}
