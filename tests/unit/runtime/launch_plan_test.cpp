#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/runtime/container_setup.h"
#include "berth/runtime/frames.h"
#include "berth/runtime/launch_plan.h"

using namespace berth::runtime;

TEST_CASE("launch plan survives a JSON round trip") {
  LaunchPlan p;
  p.id = "abc";
  p.hostname = "abc";
  p.lower_dirs = {"/l2", "/l1"};
  p.mounts.push_back({"proc", "/proc", "proc", 14, "", false, false});
  p.namespaces = {{"pid", ""}, {"net", "/run/berth/netns/x"}};
  p.args = {"/bin/sh", "-c", "true"};
  p.capabilities = 0xa80425fbULL;
  p.rlimits = {{7, 1024, 2048}};
  p.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "0"}};
  LaunchPlan q = launch_plan_from_json(to_json(p));
  CHECK(to_json(q) == to_json(p));
  CHECK(q.namespaces[1].path == "/run/berth/netns/x");
  CHECK(q.capabilities == 0xa80425fbULL);
}

TEST_CASE("a plan from another version is refused with a clear error") {
  auto j = to_json(LaunchPlan{});
  j["version"] = 99;
  CHECK_THROWS_WITH(launch_plan_from_json(j), doctest::Contains("version 99"));
}

TEST_CASE("start failures map to Docker's exit codes") {
  ChildReport r;
  std::snprintf(r.step, sizeof r.step, "exec");
  r.err = ENOENT;
  CHECK(exit_code_for_start_failure(r) == 127);
  r.err = EACCES;
  CHECK(exit_code_for_start_failure(r) == 126);
  std::snprintf(r.step, sizeof r.step, "mount /proc");
  CHECK(exit_code_for_start_failure(r) == 125);
}

TEST_CASE("frames carry type and payload, and EOF ends the stream") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  CHECK(send_frame(sv[0], Frame::Stdout, "hello\n"));
  CHECK(send_frame(sv[0], Frame::Exited, "{}"));
  close(sv[0]);
  auto a = read_frame(sv[1]);
  REQUIRE(a);
  CHECK(a->first == Frame::Stdout);
  CHECK(a->second == "hello\n");
  auto b = read_frame(sv[1]);
  REQUIRE(b);
  CHECK(b->first == Frame::Exited);
  CHECK_FALSE(read_frame(sv[1]));
  close(sv[1]);
}
