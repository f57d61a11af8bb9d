// runc's sysctl rule, as `container run --sysctl` and Compose's `sysctls:` apply it.
#include <doctest/doctest.h>

#include "berth/engine/options.h"
#include "berth/util/error.h"

using namespace berth;
using namespace berth::engine;

TEST_CASE("sysctl_refusal: namespaced keys only") {
  for (const char* key : {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                          "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue.msg_max",
                          "kernel.domainname", "kernel.hostname"})
    CHECK_MESSAGE(sysctl_refusal(key, "host") == "", key);
  CHECK(sysctl_refusal("net.core.somaxconn", "bridge") == "");
  CHECK(sysctl_refusal("net.ipv4.ip_forward", "myapp_default") == "");
  CHECK(sysctl_refusal("net.ipv4.ip_forward", "none") == "");
  CHECK(sysctl_refusal("net.core.somaxconn", "host") ==
        "sysctl \"net.core.somaxconn\" not allowed in host network namespace");
  CHECK(sysctl_refusal("net.core.somaxconn", "container:db").find("another container") != std::string::npos);
  CHECK(sysctl_refusal("vm.swappiness", "bridge") == "sysctl \"vm.swappiness\" is not in a separate kernel namespace");
  CHECK(sysctl_refusal("kernel.pid_max", "bridge").find("not in a separate kernel namespace") != std::string::npos);
  CHECK(sysctl_refusal("fs.file-max", "bridge") != "");
  CHECK(sysctl_refusal("net/../../kernel/x", "bridge").find("not a sysctl name") != std::string::npos);
  CHECK(sysctl_refusal("", "bridge") != "");
}

TEST_CASE("parse_sysctls") {
  auto m = parse_sysctls({"net.core.somaxconn=1024", "kernel.shmmax=1000", "net.core.somaxconn=2048",
                          "kernel.sem=250 32000 100 128"},
                         "bridge");
  CHECK(m.size() == 3);
  CHECK(m["net.core.somaxconn"] == "2048");
  CHECK(m["kernel.sem"] == "250 32000 100 128");
  CHECK_THROWS_WITH_AS(parse_sysctls({"vm.swappiness=10"}, "bridge"),
                       "invalid --sysctl vm.swappiness=10: sysctl \"vm.swappiness\" is not in a separate kernel namespace",
                       Error);
  CHECK_THROWS_AS(parse_sysctls({"net.core.somaxconn=1"}, "host"), Error);
  CHECK_THROWS_AS(parse_sysctls({"novalue"}, "bridge"), Error);
  CHECK_THROWS_AS(parse_sysctls({"=1"}, "bridge"), Error);
}
