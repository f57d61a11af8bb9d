#include "berth/runtime/exec.h"

#include <doctest/doctest.h>
#include <sched.h>

#include <cerrno>
#include <cstdio>

#include "berth/util/error.h"

using namespace berth::runtime;
using Env = std::vector<std::string>;

namespace {
ChildReport report(const char* step, int err, const char* detail) {
  ChildReport r;
  r.kind = 'F';
  r.err = err;
  std::snprintf(r.step, sizeof r.step, "%s", step);
  std::snprintf(r.detail, sizeof r.detail, "%s", detail);
  return r;
}
}  // namespace

TEST_CASE("exec environment: the container's, then overrides in place") {
  Env base = {"PATH=/bin", "FOO=base", "HOME=/root"};
  CHECK(exec_environment(base, {}, false) == base);
  CHECK(exec_environment(base, {"FOO=over", "NEW=1"}, false) == Env{"PATH=/bin", "FOO=over", "HOME=/root", "NEW=1"});
  // The last of repeated overrides wins; an empty value is a value.
  CHECK(exec_environment(base, {"FOO=a", "FOO="}, false) == Env{"PATH=/bin", "FOO=", "HOME=/root"});
  // A value may hold '='.
  CHECK(exec_environment(base, {"X=a=b"}, false).back() == "X=a=b");
  // Entries without a key or without '=' are not environment entries.
  CHECK(exec_environment(base, {"=x", "JUSTKEY"}, false) == base);
}

TEST_CASE("exec environment: TERM with a terminal, HOME of the exec user") {
  Env base = {"PATH=/bin", "HOME=/root"};
  CHECK(exec_environment(base, {}, true) == Env{"PATH=/bin", "HOME=/root", "TERM=xterm"});
  CHECK(exec_environment({"TERM=vt100"}, {}, true) == Env{"TERM=vt100"});
  CHECK(exec_environment(base, {"TERM=dumb"}, true) == Env{"PATH=/bin", "HOME=/root", "TERM=dumb"});
  CHECK(exec_environment(base, {}, false, "/home/tester") == Env{"PATH=/bin", "HOME=/home/tester"});
  CHECK(exec_environment(base, {"HOME=/x"}, false, "/home/tester") == Env{"PATH=/bin", "HOME=/x"});
  CHECK(exec_environment({"PATH=/bin"}, {}, false, "/home/tester") == Env{"PATH=/bin", "HOME=/home/tester"});
}

TEST_CASE("exec failures: Docker's exit codes") {
  CHECK(exec_exit_code_for_failure(report("exec", ENOENT, "exec: \"x\": executable file not found in $PATH")) == 127);
  CHECK(exec_exit_code_for_failure(report("exec", EACCES, "")) == 126);
  CHECK(exec_exit_code_for_failure(report("exec", ENOEXEC, "")) == 126);
  // Anything but a missing command is 126 for exec (Docker's default for a failed exec start).
  CHECK(exec_exit_code_for_failure(report("chdir", ENOENT, "")) == 126);
  CHECK(exec_exit_code_for_failure(report("user", 0, "")) == 126);
  CHECK(exec_exit_code_for_failure(report("join namespaces", EPERM, "")) == 126);
}

TEST_CASE("exec failures: Docker's message") {
  CHECK(exec_failure_message(report("exec", ENOENT, "exec: \"nosuch\": executable file not found in $PATH")) ==
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuch\": "
        "executable file not found in $PATH: unknown");
  CHECK(exec_failure_message(report("user", 0, "unable to find user bob: no matching entries in passwd file")) ==
        "OCI runtime exec failed: exec failed: unable to start container process: unable to find user bob: "
        "no matching entries in passwd file: unknown");
  CHECK(exec_failure_message(report("join cgroup", ENOENT, "/sys/fs/cgroup/x/cgroup.procs")) ==
        "OCI runtime exec failed: exec failed: unable to start container process: join cgroup "
        "/sys/fs/cgroup/x/cgroup.procs: no such file or directory: unknown");
  CHECK(exec_failure_message(report("setsid", EPERM, "")) ==
        "OCI runtime exec failed: exec failed: unable to start container process: setsid: operation not permitted: unknown");
}

TEST_CASE("exec joins every namespace the plan gives the container") {
  LaunchPlan plan;
  plan.namespaces = {{"pid", ""}, {"mnt", ""}, {"uts", ""}, {"ipc", ""}, {"cgroup", ""}};
  CHECK(exec_namespace_flags(plan) == (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP));
  plan.namespaces.push_back({"net", ""});
  CHECK((exec_namespace_flags(plan) & CLONE_NEWNET) != 0);
  // A namespace the container joined by path is still the one its PID 1 is in.
  plan.namespaces = {{"net", "/run/netns/x"}};
  CHECK(exec_namespace_flags(plan) == CLONE_NEWNET);
}

TEST_CASE("exec refuses a plan without mount and pid namespaces before touching anything") {
  LaunchPlan plan;
  plan.id = "abc";
  plan.namespaces = {{"uts", ""}};
  ExecSpec spec;
  spec.args = {"true"};
  try {
    start_exec(plan, 1, 0, spec);
    FAIL("expected an error");
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()).find("no mount or pid namespace") != std::string::npos);
  }
  spec.args = {};
  plan.namespaces = {{"pid", ""}, {"mnt", ""}};
  CHECK_THROWS_AS(start_exec(plan, 1, 0, spec), berth::Error);
  spec.args = {"true"};
  spec.workdir = "relative";
  try {
    start_exec(plan, 1, 0, spec);
    FAIL("expected an error");
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()).find("is invalid") != std::string::npos);
  }
}

TEST_CASE("exec refuses a process whose start time does not match (a reused pid)") {
  LaunchPlan plan;
  plan.id = "abc";
  plan.namespaces = {{"pid", ""}, {"mnt", ""}};
  ExecSpec spec;
  spec.args = {"true"};
  try {
    start_exec(plan, 1, 12345678901234ULL, spec);  // PID 1 did not start then
    FAIL("expected an error");
  } catch (const berth::Error& e) {
    CHECK(e.exit_code() == 1);
    CHECK(std::string(e.what()) == "container abc is not running");
  }
}
