// Pass "canonical" + bind: short syntax → canonical JSON, one case per attribute group.
#include "helpers.h"

using namespace berth::compose;
using namespace berth::compose::test;

static json web(const std::string& body) { return service_of("services:\n  web:\n" + body); }

TEST_CASE("ports: short forms expand to long entries") {
  auto s = web("    ports:\n      - 80\n      - \"8080:80/udp\"\n      - \"127.0.0.1::53\"\n      - \"[::1]:9000:9000\"\n"
               "      - \"8000-8001:80-81\"\n      - \"9000-9100:80\"\n");
  CHECK(s["ports"] == json::parse(R"([
    {"mode":"ingress","target":80,"protocol":"tcp"},
    {"mode":"ingress","target":80,"published":"8080","protocol":"udp"},
    {"mode":"ingress","host_ip":"127.0.0.1","target":53,"protocol":"tcp"},
    {"mode":"ingress","host_ip":"::1","target":9000,"published":"9000","protocol":"tcp"},
    {"mode":"ingress","target":80,"published":"8000","protocol":"tcp"},
    {"mode":"ingress","target":81,"published":"8001","protocol":"tcp"},
    {"mode":"ingress","target":80,"published":"9000-9100","protocol":"tcp"}])"));
  auto l = web("    ports:\n      - target: 80\n        published: 8080\n        host_ip: 0.0.0.0\n        mode: host\n");
  CHECK(l["ports"][0] == json::parse(R"({"target":80,"published":"8080","host_ip":"0.0.0.0","mode":"host"})"));
}

TEST_CASE("volumes: short forms infer the type") {
  auto s = web("    volumes:\n      - /data\n      - db:/var/lib/db:nocopy\n      - ./src:/app/:ro,z\n"
               "      - ~/cfg:/cfg:rshared\n      - /abs:/abs\n");
  CHECK(s["volumes"] == json::parse(R"([
    {"type":"volume","target":"/data","volume":{}},
    {"type":"volume","source":"db","target":"/var/lib/db","volume":{"nocopy":true}},
    {"type":"bind","source":"/work/proj/src","target":"/app","read_only":true,"bind":{"selinux":"z"}},
    {"type":"bind","source":"/home/u/cfg","target":"/cfg","bind":{"propagation":"rshared"}},
    {"type":"bind","source":"/abs","target":"/abs","bind":{}}])"));
  auto t = web("    volumes:\n      - type: tmpfs\n        target: /t\n        tmpfs: {size: 64m, mode: 1777}\n");
  CHECK(t["volumes"][0]["tmpfs"] == json::parse(R"({"size":"67108864","mode":1777})"));
}

TEST_CASE("environment, labels, annotations, sysctls: list → map") {
  auto s = web("    environment: [A=1, B=, C, D=x=y]\n    labels: [l1=v, l2]\n    annotations: [a=b]\n"
               "    sysctls: [net.core.somaxconn=1024]\n");
  // C has no value and no project value: it is removed (unset).
  CHECK(s["environment"] == json::parse(R"({"A":"1","B":"","D":"x=y"})"));
  CHECK(s["labels"] == json::parse(R"({"l1":"v","l2":""})"));
  CHECK(s["annotations"] == json::parse(R"({"a":"b"})"));
  CHECK(s["sysctls"] == json::parse(R"({"net.core.somaxconn":"1024"})"));
  auto m = load_raw("services:\n  web:\n    environment:\n      C:\n      N: 5\n      T: 'true'\n", {{"C", "from-env"}});
  CHECK(m["services"]["web"]["environment"] == json::parse(R"({"C":"from-env","N":"5","T":"true"})"));
}

TEST_CASE("command and entrypoint: strings are shell-split; null and [] stay distinct") {
  auto s = web("    command: sh -c 'echo \"a b\"' x\\ y\n    entrypoint: []\n");
  CHECK(s["command"] == json::parse(R"(["sh","-c","echo \"a b\"","x y"])"));
  CHECK(s["entrypoint"] == json::array());
  CHECK(web("    command:\n    image: x\n")["command"].is_null());
}

TEST_CASE("depends_on: list → map with defaults; long form keeps restart") {
  auto s = web("    depends_on: [db]\n");
  CHECK(s["depends_on"] == json::parse(R"({"db":{"condition":"service_started","required":true}})"));
  auto l = web("    depends_on:\n      db: {condition: service_healthy, restart: true}\n");
  CHECK(l["depends_on"] == json::parse(R"({"db":{"condition":"service_healthy","required":true,"restart":true}})"));
}

TEST_CASE("networks (service): list → map of null") {
  CHECK(web("    networks: [front, back]\n")["networks"] == json::parse(R"({"front":null,"back":null})"));
  CHECK(web("    networks:\n      front:\n        aliases: [w]\n        priority: 5\n")["networks"] ==
        json::parse(R"({"front":{"aliases":["w"],"priority":5}})"));
}

TEST_CASE("env_file and label_file: string/list forms") {
  auto o = options_for("services:\n  web:\n    image: x\n    env_file: missing.env\n");
  CHECK_THROWS_WITH_AS(load_project(o), doctest::Contains("env file /work/proj/missing.env not found"), LoadError);
  auto s = web("    env_file:\n      - path: a.env\n        required: false\n      - path: b.env\n        required: false\n"
               "        format: raw\n");
  CHECK(s["env_file"] == json::parse(R"([{"path":"/work/proj/a.env","required":false},
                                          {"path":"/work/proj/b.env","required":false,"format":"raw"}])"));
}

TEST_CASE("secrets and configs: short → {source}; modes are octal strings") {
  auto s = web("    secrets: [s1, {source: s2, target: t, mode: 0400, uid: 1}]\n    configs: [c1]\n");
  CHECK(s["secrets"] == json::parse(R"([{"source":"s1"},{"source":"s2","target":"t","mode":"0400","uid":"1"}])"));
  CHECK(s["configs"] == json::parse(R"([{"source":"c1"}])"));
  CHECK(web("    secrets: [{source: s, mode: \"0440\"}]\n")["secrets"][0]["mode"] == "0440");
  CHECK(web("    secrets: [{source: s, mode: 288}]\n")["secrets"][0]["mode"] == "0440");
}

TEST_CASE("healthcheck: string test → CMD-SHELL; durations in Go form") {
  auto s = web("    healthcheck:\n      test: curl -f http://x\n      interval: 90s\n      timeout: 1500ms\n"
               "      start_period: 1h\n      retries: 3\n");
  CHECK(s["healthcheck"] == json::parse(R"({"test":["CMD-SHELL","curl -f http://x"],"interval":"1m30s",
        "timeout":"1.5s","start_period":"1h0m0s","retries":3})"));
  CHECK(web("    healthcheck:\n      disable: true\n")["healthcheck"]["disable"] == true);
}

TEST_CASE("ulimits, devices, extra_hosts, dns, tmpfs") {
  auto s = web("    ulimits:\n      nproc: 65535\n      nofile: {soft: 1, hard: 2}\n    devices: [/dev/fuse, \"/dev/a:/dev/b:r\"]\n"
               "    extra_hosts: [\"b:10.0.0.2\", \"a=10.0.0.1\"]\n    dns: 8.8.8.8\n    tmpfs: /run\n");
  CHECK(s["ulimits"] == json::parse(R"({"nproc":65535,"nofile":{"soft":1,"hard":2}})"));
  CHECK(s["devices"] == json::parse(R"([{"source":"/dev/fuse","target":"/dev/fuse","permissions":"rwm"},
                                         {"source":"/dev/a","target":"/dev/b","permissions":"r"}])"));
  CHECK(s["extra_hosts"] == json::parse(R"(["a=10.0.0.1","b=10.0.0.2"])"));
  CHECK(web("    extra_hosts:\n      h: 1.2.3.4\n")["extra_hosts"] == json::parse(R"(["h=1.2.3.4"])"));
  CHECK(s["dns"] == json::parse(R"(["8.8.8.8"])"));
  CHECK(s["tmpfs"] == json::parse(R"(["/run"])"));
}

TEST_CASE("build: string → {context}; args list → map; paths resolved") {
  auto s = web("    build: ./app\n");
  CHECK(s["build"] == json::parse(R"({"context":"/work/proj/app"})"));
  auto l = web("    build:\n      context: https://github.com/x/y.git\n      args: [A=1, B]\n      ssh: {default: /k}\n");
  CHECK(l["build"]["context"] == "https://github.com/x/y.git");
  CHECK(l["build"]["args"] == json::parse(R"({"A":"1","B":null})"));
  CHECK(l["build"]["ssh"] == json::parse(R"(["default=/k"])"));
}

TEST_CASE("byte sizes, numbers, booleans") {
  auto s = web("    mem_limit: 1g\n    shm_size: 64m\n    cpus: '0.5'\n    init: true\n    read_only: yes\n"
               "    pids_limit: 100\n    memswap_limit: -1\n    stop_grace_period: 1m\n");
  CHECK(s["mem_limit"] == "1073741824");
  CHECK(s["shm_size"] == "67108864");
  CHECK(s["cpus"] == 0.5);
  CHECK(s["init"] == true);
  CHECK(s["read_only"] == true);
  CHECK(s["pids_limit"] == 100);
  CHECK(s["memswap_limit"] == "-1");
  CHECK(s["stop_grace_period"] == "1m0s");
}

TEST_CASE("top-level resources: null → {}, external.name → name + external") {
  auto m = load_raw("services: {}\nnetworks:\n  n1:\n  n2:\n    external:\n      name: real\nvolumes:\n  v1:\n"
                    "secrets:\n  s:\n    file: ./s.txt\n");
  CHECK(m["networks"] == json::parse(R"({"n1":{},"n2":{"name":"real","external":true}})"));
  CHECK(m["volumes"] == json::parse(R"({"v1":{}})"));
  CHECK(m["secrets"]["s"]["file"] == "/work/proj/s.txt");
}

TEST_CASE("pull_policy alias and extends short form") {
  auto m = load_raw("services:\n  base:\n    image: b\n  web:\n    extends: base\n    pull_policy: if_not_present\n");
  CHECK(m["services"]["web"]["pull_policy"] == "missing");
  CHECK(m["services"]["web"]["image"] == "b");
}
