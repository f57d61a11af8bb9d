// Compose service -> engine options (convert.cpp), on projects loaded from YAML text.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "../temp_dir.h"
#include "berth/compose/loader.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/paths.h"

using namespace berth;
using namespace berth::orchestrator;

namespace {

const char* kWordpress = R"(
name: blog
services:
  db:
    image: mysql:8.0
    environment:
      MYSQL_DATABASE: wordpress
      MYSQL_ROOT_PASSWORD_FILE: /run/secrets/db_root_password
    volumes:
      - db_data:/var/lib/mysql
    secrets:
      - db_root_password
    networks:
      back:
        aliases: [mysql]
        ipv4_address: 172.30.0.10
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 1500ms
      timeout: 5s
      start_period: 1m
      start_interval: 2s
      retries: 10
    restart: unless-stopped
    sysctls:
      kernel.shmmax: "1073741824"
      net.core.somaxconn: "1024"
    ulimits:
      nofile: {soft: 20000, hard: 40000}
      nproc: 512
    shm_size: 256m
    stop_grace_period: 1m30s
    stop_signal: SIGINT
  wordpress:
    image: wordpress:6
    depends_on:
      db: {condition: service_healthy, restart: true}
    ports:
      - "8080:80"
      - "127.0.0.1:8443:443/tcp"
      - "9000-9001:9000-9001/udp"
      - "3000"
    environment:
      WORDPRESS_DB_HOST: db:3306
      WORDPRESS_DB_USER: wordpress
    labels:
      com.example.tier: frontend
    volumes:
      - ./wp-content:/var/www/html/wp-content
      - type: bind
        source: ./php.ini
        target: /usr/local/etc/php/php.ini
        read_only: true
        bind: {create_host_path: false}
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 64m}
      - type: volume
        target: /cache
    configs:
      - source: site_conf
        target: /etc/site.conf
      - file_conf
    secrets:
      - source: api_key
        target: api.key
    networks:
      front: {}
      back: {priority: 10}
    extra_hosts: ["metadata=10.0.0.1"]
    dns: [9.9.9.9]
    dns_search: [example.com]
    dns_opt: [ndots:2]
    hostname: wp
    domainname: example.com
    user: "33:33"
    group_add: [mail]
    working_dir: /var/www/html
    entrypoint: ["docker-entrypoint.sh", "--verbose"]
    command: ["apache2-foreground"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    security_opt: ["no-new-privileges:true", "label:disable"]
    tmpfs: [/run]
    init: true
    tty: true
    stdin_open: true
    read_only: true
    mem_limit: 256m
    cpus: 0.25
    pids_limit: 50
    cpu_shares: 512
    memswap_limit: 1g
    deploy:
      resources:
        limits: {memory: 512M, cpus: "1.5", pids: 100}
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: "3", compress: "true"}
    mem_reservation: 128m
  cron:
    image: wordpress:6
    network_mode: "service:wordpress"
    entrypoint: []
    command: ["cron", "-f"]
    healthcheck: {disable: true}
    scale: 2
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 4}
  builder:
    build: ./app
    healthcheck:
      test: curl -f http://localhost/
networks:
  front: {}
  back: {}
volumes:
  db_data: {}
secrets:
  db_root_password:
    file: ./secrets/root.txt
  api_key:
    environment: API_KEY
configs:
  site_conf:
    content: "server_name blog;"
  file_conf:
    file: ./file.conf
)";

compose::LoadResult load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  compose::LoadOptions o;
  o.contents = {{"compose.yaml", yaml}};
  o.working_dir = "/work/proj";
  env.emplace("HOME", "/home/u");
  o.environment = env;
  return compose::load_project(o);
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

ContainerSpec spec_of(const compose::LoadResult& r, const std::string& service, int number = 1) {
  const compose::Service* s = r.project.service(service);
  REQUIRE(s);
  return container_spec(r.project, *s, number, "hash-" + service, false, r.environment);
}

// The Error message of converting `service` of `yaml` ("" when it converts).
std::string convert_error(const std::string& yaml, const std::string& service = "app") {
  auto r = load(yaml);
  try {
    spec_of(r, service);
  } catch (const Error& e) {
    CHECK(e.exit_code() == 15);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("names and replicas") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  CHECK(container_name(r.project, *r.project.service("db"), 1) == "blog-db-1");
  CHECK(container_name(r.project, *r.project.service("cron"), 2) == "blog-cron-2");
  CHECK(replicas(*r.project.service("db")) == 1);
  CHECK(replicas(*r.project.service("cron")) == 2);
  auto spec = spec_of(r, "cron", 2);
  CHECK(spec.name == "blog-cron-2");
  CHECK(spec.options.name == "blog-cron-2");
  CHECK(spec.number == 2);
  auto named = load("services:\n  app:\n    image: x\n    container_name: my-app\n");
  CHECK(spec_of(named, "app").name == "my-app");
  auto replicated = load("services:\n  app:\n    image: x\n    deploy: {replicas: 3}\n");
  CHECK(replicas(*replicated.project.service("app")) == 3);
}

TEST_CASE("labels: the service's and Compose's") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto wp = spec_of(r, "wordpress");
  const auto& l = wp.options.labels;
  CHECK(has(l, "com.example.tier=frontend"));
  CHECK(has(l, "com.docker.compose.project=blog"));
  CHECK(has(l, "com.docker.compose.service=wordpress"));
  CHECK(has(l, "com.docker.compose.container-number=1"));
  CHECK(has(l, "com.docker.compose.config-hash=hash-wordpress"));
  CHECK(has(l, "com.docker.compose.oneoff=False"));
  CHECK(has(l, "com.docker.compose.project.working_dir=/work/proj"));
  CHECK(has(l, "com.docker.compose.project.config_files=" + r.project.config_files.at(0)));
  CHECK(has(l, "com.docker.compose.depends_on=db:service_healthy:true"));
  CHECK(has(l, "com.docker.compose.image=wordpress:6"));
  CHECK(has(l, std::string("com.docker.compose.version=") + kComposeVersion));
  auto run = container_spec(r.project, *r.project.service("db"), 1, "h", true, r.environment);
  CHECK(has(run.options.labels, "com.docker.compose.oneoff=True"));
  CHECK(run.name == "blog-db-run-1");
}

TEST_CASE("process: image, command, entrypoint, environment, identity") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto wp = spec_of(r, "wordpress").options;
  CHECK(wp.image == "wordpress:6");
  REQUIRE(wp.entrypoint);
  CHECK(*wp.entrypoint == "docker-entrypoint.sh");
  CHECK(wp.cmd == std::vector<std::string>{"--verbose", "apache2-foreground"});
  CHECK(has(wp.env, "WORDPRESS_DB_HOST=db:3306"));
  CHECK(has(wp.env, "WORDPRESS_DB_USER=wordpress"));
  CHECK(wp.env.size() == 2);
  CHECK(wp.user == "33:33");
  CHECK(wp.group_add == std::vector<std::string>{"mail"});
  CHECK(wp.workdir == "/var/www/html");
  CHECK(wp.hostname == "wp");
  CHECK(wp.domainname == "example.com");
  CHECK(wp.tty);
  CHECK(wp.interactive);
  CHECK(wp.init);
  CHECK(wp.read_only);
  CHECK(wp.cap_add == std::vector<std::string>{"NET_ADMIN"});
  CHECK(wp.cap_drop == std::vector<std::string>{"MKNOD"});
  CHECK(wp.security_opt == std::vector<std::string>{"no-new-privileges:true"});
  CHECK(wp.tmpfs == std::vector<std::string>{"/run"});
  CHECK(wp.add_hosts == std::vector<std::string>{"metadata:10.0.0.1"});
  CHECK(wp.dns == std::vector<std::string>{"9.9.9.9"});
  CHECK(wp.dns_search == std::vector<std::string>{"example.com"});
  CHECK(wp.dns_options == std::vector<std::string>{"ndots:2"});

  auto cron = spec_of(r, "cron").options;
  REQUIRE(cron.entrypoint);
  CHECK(cron.entrypoint->empty());  // `entrypoint: []` clears the image's
  CHECK(cron.cmd == std::vector<std::string>{"cron", "-f"});
  auto db = spec_of(r, "db").options;
  CHECK_FALSE(db.entrypoint);
  CHECK(db.cmd.empty());
  // No image but a build: the image Compose would build.
  CHECK(spec_of(r, "builder").options.image == "blog-builder");
}

TEST_CASE("ports") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto wp = spec_of(r, "wordpress").options;
  CHECK(wp.publish == std::vector<std::string>{"8080:80/tcp", "127.0.0.1:8443:443/tcp", "9000:9000/udp",
                                               "9001:9001/udp", "3000/tcp"});
  auto ranged = load("services:\n  app:\n    image: x\n    ports: [\"8000-8010:80\", \"127.0.0.1::53/udp\"]\n");
  CHECK(spec_of(ranged, "app").options.publish == std::vector<std::string>{"8000-8010:80/tcp", "127.0.0.1::53/udp"});
}

TEST_CASE("networks: priority, platform names, aliases, addresses, network_mode") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto wp = spec_of(r, "wordpress");
  REQUIRE(wp.networks.size() == 2);
  CHECK(wp.networks[0].network == "blog_back");  // priority 10 first
  CHECK(wp.networks[1].network == "blog_front");
  CHECK(wp.networks[0].aliases == std::vector<std::string>{"wordpress"});
  CHECK(wp.options.network == "blog_back");
  CHECK(wp.options.network_aliases == std::vector<std::string>{"wordpress"});

  auto db = spec_of(r, "db");
  REQUIRE(db.networks.size() == 1);
  CHECK(db.networks[0].aliases == std::vector<std::string>{"db", "mysql"});
  CHECK(db.networks[0].ipv4_address == "172.30.0.10");
  CHECK(db.options.ip == "172.30.0.10");

  // No networks: the project's default network.
  auto builder = spec_of(r, "builder");
  REQUIRE(builder.networks.size() == 1);
  CHECK(builder.networks[0].network == "blog_default");

  auto cron = spec_of(r, "cron");
  CHECK(cron.options.network == "container:blog-wordpress-1");
  CHECK(cron.networks.empty());
  auto host = load("services:\n  app:\n    image: x\n    network_mode: host\n");
  CHECK(spec_of(host, "app").options.network == "host");
}

TEST_CASE("volumes, secrets and configs") {
  auto r = load(kWordpress, {{"API_KEY", "s3cret"}});
  auto db = spec_of(r, "db");
  CHECK(db.options.mounts == std::vector<std::string>{
                                 "type=volume,source=blog_db_data,target=/var/lib/mysql",
                                 "type=bind,source=/work/proj/secrets/root.txt,target=/run/secrets/db_root_password,readonly"});
  CHECK(db.files.empty());

  auto wp = spec_of(r, "wordpress");
  CHECK(wp.options.volumes == std::vector<std::string>{"/work/proj/wp-content:/var/www/html/wp-content"});
  std::string root = paths::state_root() + "/compose/blog/";
  CHECK(wp.options.mounts ==
        std::vector<std::string>{
            "type=bind,source=/work/proj/php.ini,target=/usr/local/etc/php/php.ini,readonly",
            "type=tmpfs,target=/tmp,tmpfs-size=67108864",
            "type=volume,target=/cache",
            "type=bind,source=" + root + "secrets/wordpress/api_key,target=/run/secrets/api.key,readonly",
            "type=bind,source=" + root + "configs/wordpress/site_conf,target=/etc/site.conf,readonly",
            "type=bind,source=/work/proj/file.conf,target=/file_conf,readonly",
        });
  CHECK(wp.files.size() == 2);
  CHECK(wp.files.at(root + "secrets/wordpress/api_key") == GeneratedFile{"s3cret", 0, 0, 0444});
  CHECK(wp.files.at(root + "configs/wordpress/site_conf") == GeneratedFile{"server_name blog;", 0, 0, 0444});

  // uid, gid and mode apply to generated files; a file-based secret that sets them is copied.
  testing::TempDir dir;
  std::string pw = dir.write("pw.txt", "from-file");
  auto attrs = load("services:\n  app:\n    image: x\n    secrets:\n"
                    "      - {source: pw, uid: \"999\", gid: \"998\", mode: 0400}\n"
                    "      - {source: token, mode: 0440}\n"
                    "secrets:\n  pw: {file: " + pw + "}\n  token: {environment: TOKEN}\n",
                    {{"TOKEN", "t0k"}});
  auto app = spec_of(attrs, "app");
  std::string gen = paths::state_root() + "/compose/" + attrs.project.name + "/secrets/app/";
  CHECK(app.files.at(gen + "pw") == GeneratedFile{"from-file", 999, 998, 0400});
  CHECK(app.files.at(gen + "token") == GeneratedFile{"t0k", 0, 0, 0440});
  CHECK(app.options.mounts.at(0) == "type=bind,source=" + gen + "pw,target=/run/secrets/pw,readonly");
  CHECK(convert_error("services:\n  app:\n    image: x\n    secrets: [{source: s, uid: www}]\n"
                      "secrets:\n  s: {environment: HOME}\n")
            .find("uid \"www\" is not a number") != std::string::npos);

  // A secret from an unset variable is refused, naming it.
  auto unset = load(kWordpress);
  CHECK_THROWS_WITH_AS(spec_of(unset, "wordpress"),
                       doctest::Contains("reads the environment variable API_KEY, which is not set"), Error);
  CHECK(convert_error("services:\n  app:\n    image: x\n    volumes: [{type: volume, source: v, target: /d, "
                      "volume: {subpath: sub}}]\nvolumes: {v: {}}\n")
            .find("subpath") != std::string::npos);
}

TEST_CASE("healthcheck") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto db = spec_of(r, "db").options;
  CHECK(db.health_test == std::vector<std::string>{"CMD", "mysqladmin", "ping", "-h", "localhost"});
  CHECK(db.health_interval == "1500ms");
  CHECK(db.health_timeout == "5s");
  CHECK(db.health_start_period == "60s");
  CHECK(db.health_start_interval == "2s");
  CHECK(db.health_retries == 10);
  CHECK_FALSE(db.no_healthcheck);
  auto builder = spec_of(r, "builder").options;
  CHECK(builder.health_test == std::vector<std::string>{"CMD-SHELL", "curl -f http://localhost/"});
  CHECK(spec_of(r, "cron").options.no_healthcheck);
  auto none = load("services:\n  app:\n    image: x\n    healthcheck: {test: [\"NONE\"]}\n");
  CHECK(spec_of(none, "app").options.no_healthcheck);
}

TEST_CASE("resources, limits, restart, logging, stop") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto wp = spec_of(r, "wordpress");
  // deploy.resources.limits win over mem_limit, cpus and pids_limit, as in Compose.
  CHECK(wp.options.memory == "536870912");
  CHECK(wp.options.cpus == "1.5");
  CHECK(wp.options.pids_limit == 100);
  CHECK(wp.options.cpu_shares == 512);
  CHECK(wp.options.memory_swap == "1073741824");
  CHECK(wp.options.log_driver == "json-file");
  CHECK(wp.options.log_opts == std::vector<std::string>{"max-file=3", "max-size=10m"});
  CHECK(wp.options.restart == "no");
  // Accepted but not applied: said so, once each.
  auto warned = [&](const std::string& what) {
    return std::any_of(wp.warnings.begin(), wp.warnings.end(),
                       [&](const std::string& w) { return w.find(what) != std::string::npos; });
  };
  CHECK(warned("mem_reservation"));
  CHECK(warned("logging option compress"));
  CHECK(warned("label:disable"));

  auto db = spec_of(r, "db").options;
  CHECK(db.restart == "unless-stopped");
  CHECK(db.stop_timeout == 90);
  CHECK(db.stop_signal == "SIGINT");
  CHECK(db.shm_size == "268435456");
  CHECK(db.ulimits == std::vector<std::string>{"nofile=20000:40000", "nproc=512:512"});
  CHECK(spec_of(r, "cron").options.restart == "on-failure:4");

  auto svc_level = load("services:\n  app:\n    image: x\n    mem_limit: 1g\n    cpus: 0.5\n    pids_limit: 7\n"
                        "    restart: on-failure:3\n    logging: {driver: none}\n");
  auto o = spec_of(svc_level, "app").options;
  CHECK(o.memory == "1073741824");
  CHECK(o.cpus == "0.5");
  CHECK(o.pids_limit == 7);
  CHECK(o.restart == "on-failure:3");
  CHECK(o.log_driver == "none");
  auto quota = load("services:\n  app:\n    image: x\n    cpu_quota: 50000\n    cpu_period: 100000\n");
  CHECK(spec_of(quota, "app").options.cpus == "0.5");
}

TEST_CASE("sysctls: namespaced keys accepted, others refused with the key named") {
  auto r = load(kWordpress, {{"API_KEY", "k"}});
  auto db = spec_of(r, "db").options;
  CHECK(db.sysctls == std::vector<std::string>{"kernel.shmmax=1073741824", "net.core.somaxconn=1024"});
  CHECK(convert_error("services:\n  app:\n    image: x\n    sysctls: {vm.swappiness: 10}\n") ==
        "service \"app\": sysctls: sysctl \"vm.swappiness\" is not in a separate kernel namespace");
  CHECK(convert_error("services:\n  app:\n    image: x\n    network_mode: host\n    sysctls: [net.core.somaxconn=1]\n") ==
        "service \"app\": sysctls: sysctl \"net.core.somaxconn\" not allowed in host network namespace");
  CHECK(convert_error("services:\n  app:\n    image: x\n    network_mode: host\n    sysctls: [kernel.msgmax=65536]\n") == "");
  CHECK(convert_error("services:\n  web:\n    image: x\n  app:\n    image: x\n    network_mode: service:web\n"
                      "    sysctls: [net.ipv4.ip_forward=1]\n")
            .find("another container") != std::string::npos);
}

TEST_CASE("what the runtime cannot do is refused, naming service and attribute") {
  CHECK(convert_error("services:\n  app:\n    image: x\n    pid: host\n") ==
        "service \"app\": pid: \"host\" is not supported");
  CHECK(convert_error("services:\n  app:\n    image: x\n    ipc: host\n").find("ipc: \"host\"") != std::string::npos);
  CHECK(convert_error("services:\n  app:\n    image: x\n    ipc: shareable\n") == "");
  CHECK(convert_error("services:\n  app:\n    image: x\n    userns_mode: host\n") == "");
  CHECK(convert_error("services:\n  app:\n    image: x\n    userns_mode: \"keep-id\"\n").find("userns_mode") !=
        std::string::npos);
  CHECK(convert_error("services:\n  app:\n    image: x\n    devices: [/dev/fuse]\n").find("/dev/fuse") !=
        std::string::npos);
  CHECK(convert_error("services:\n  app:\n    image: x\n    runtime: runsc\n").find("runtime") != std::string::npos);
  CHECK(convert_error("services:\n  app:\n    image: x\n    logging: {driver: syslog}\n").find("syslog") !=
        std::string::npos);
  CHECK(convert_error("services:\n  db:\n    image: x\n  app:\n    image: x\n    links: [\"db:database\"]\n")
            .find("links") != std::string::npos);
  CHECK(convert_error("services:\n  db:\n    image: x\n  app:\n    image: x\n    links: [db]\n") == "");
  CHECK(convert_error("services:\n  app:\n    image: x\n    security_opt: [\"systempaths=unconfined\"]\n")
            .find("security_opt") != std::string::npos);
  CHECK(convert_error("services:\n  app:\n    image: x\n    networks:\n      n: {ipv6_address: \"fd00::2\"}\n"
                      "networks: {n: {}}\n")
            .find("ipv6_address") != std::string::npos);
  auto platform = load("services:\n  app:\n    image: x\n    platform: linux/arm64\n");
  auto spec = spec_of(platform, "app");
  REQUIRE(spec.warnings.size() == 1);
  CHECK(spec.warnings[0].find("platform") != std::string::npos);
}
