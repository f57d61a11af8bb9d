#include "../temp_dir.h"
#include "berth/engine/options.h"
#include "berth/runtime/exec.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "berth/util/error.h"
#include "berth/util/fs.h"

using namespace berth::engine;

namespace {

// Runs f, expects a berth::Error with exactly this message, exit code 125 and a hint.
template <typename F>
void check_error(F&& f, const std::string& message) {
  try {
    f();
    FAIL("no error, expected: " << message);
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()) == message);
    CHECK(e.exit_code() == 125);
    CHECK_FALSE(e.hint().empty());
  }
}

using berth::testing::TempDir;

constexpr uint64_t kAllCaps = (1ULL << 41) - 1;

}  // namespace

TEST_CASE("parse_memory_bytes follows go-units RAMInBytes") {
  CHECK(parse_memory_bytes("1024") == 1024);
  CHECK(parse_memory_bytes("512k") == 512 * 1024);
  CHECK(parse_memory_bytes("32m") == 32LL << 20);
  CHECK(parse_memory_bytes("32M") == 32LL << 20);
  CHECK(parse_memory_bytes("1g") == 1LL << 30);
  CHECK(parse_memory_bytes("1.5g") == 1610612736);
  CHECK(parse_memory_bytes("2GiB") == 2LL << 30);
  CHECK(parse_memory_bytes("10MB") == 10LL << 20);
  CHECK(parse_memory_bytes("10 mb") == 10LL << 20);
  CHECK(parse_memory_bytes("1t") == 1LL << 40);
  CHECK(parse_memory_bytes("1p") == 1LL << 50);
  CHECK(parse_memory_bytes("100b") == 100);
  CHECK(parse_memory_bytes("100B") == 100);
  CHECK(parse_memory_bytes("0") == 0);
  check_error([] { parse_memory_bytes("x"); }, "invalid argument \"x\" for \"--memory\" flag: invalid size: 'x'");
  check_error([] { parse_memory_bytes("1x"); }, "invalid argument \"1x\" for \"--memory\" flag: invalid suffix: 'x'");
  check_error([] { parse_memory_bytes("1kbb"); },
              "invalid argument \"1kbb\" for \"--memory\" flag: invalid suffix: 'kbb'");
  check_error([] { parse_memory_bytes("1ba"); }, "invalid argument \"1ba\" for \"--memory\" flag: invalid suffix: 'ba'");
  check_error([] { parse_memory_bytes("1mx"); }, "invalid argument \"1mx\" for \"--memory\" flag: invalid suffix: 'mx'");
  check_error([] { parse_memory_bytes("-1"); }, "invalid argument \"-1\" for \"--memory\" flag: invalid size: '-1'");
  check_error([] { parse_memory_bytes("1.2.3m"); },
              "invalid argument \"1.2.3m\" for \"--memory\" flag: strconv.ParseFloat: parsing \"1.2.3\": invalid syntax");
  check_error([] { parse_memory_bytes("", "--shm-size"); },
              "invalid argument \"\" for \"--shm-size\" flag: invalid size: ''");
  check_error([] { parse_memory_bytes("99999p"); }, "invalid argument \"99999p\" for \"--memory\" flag: invalid size: '99999p'");
}

TEST_CASE("parse_nano_cpus") {
  CHECK(parse_nano_cpus("0.5") == 500000000);
  CHECK(parse_nano_cpus("2") == 2000000000);
  CHECK(parse_nano_cpus(".25") == 250000000);
  CHECK(parse_nano_cpus("1.000000001") == 1000000001);
  CHECK(parse_nano_cpus("1.50000000000") == 1500000000);
  CHECK(parse_nano_cpus("0") == 0);
  check_error([] { parse_nano_cpus("abc"); },
              "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number");
  check_error([] { parse_nano_cpus(""); }, "invalid argument \"\" for \"--cpus\" flag: failed to parse  as a rational number");
  check_error([] { parse_nano_cpus("1.0000000001"); },
              "invalid argument \"1.0000000001\" for \"--cpus\" flag: value is too precise");
  check_error([] { parse_nano_cpus("-1"); },
              "invalid argument \"-1\" for \"--cpus\" flag: the number of CPUs must not be negative");
}

TEST_CASE("parse_duration_ns follows Go's time.ParseDuration") {
  CHECK(parse_duration_ns("1m30s") == 90'000'000'000ULL);
  CHECK(parse_duration_ns("500ms") == 500'000'000ULL);
  CHECK(parse_duration_ns("2h") == 7'200'000'000'000ULL);
  CHECK(parse_duration_ns("1.5s") == 1'500'000'000ULL);
  CHECK(parse_duration_ns("1h2m3.5s") == 3'723'500'000'000ULL);
  CHECK(parse_duration_ns("300us") == 300'000ULL);
  CHECK(parse_duration_ns("3\xC2\xB5s") == 3'000ULL);
  CHECK(parse_duration_ns("7ns") == 7ULL);
  CHECK(parse_duration_ns(".5s") == 500'000'000ULL);
  CHECK(parse_duration_ns("0") == 0);
  CHECK(parse_duration_ns("+10s") == 10'000'000'000ULL);
  check_error([] { parse_duration_ns("1", "--health-interval"); },
              "invalid --health-interval \"1\": time: missing unit in duration \"1\"");
  check_error([] { parse_duration_ns("1d"); }, "invalid duration \"1d\": time: unknown unit \"d\" in duration \"1d\"");
  check_error([] { parse_duration_ns(""); }, "invalid duration \"\": time: invalid duration \"\"");
  check_error([] { parse_duration_ns("abc"); }, "invalid duration \"abc\": time: invalid duration \"abc\"");
  check_error([] { parse_duration_ns(".s"); }, "invalid duration \".s\": time: invalid duration \".s\"");
  check_error([] { parse_duration_ns("-1s"); }, "invalid duration \"-1s\": durations must not be negative");
  check_error([] { parse_duration_ns("3000000h"); }, "invalid duration \"3000000h\": time: invalid duration \"3000000h\"");
}

TEST_CASE("parse_ulimit") {
  auto nofile = parse_ulimit("nofile=1024:2048");
  CHECK(nofile.resource == RLIMIT_NOFILE);
  CHECK(nofile.name == "nofile");
  CHECK(nofile.soft == 1024);
  CHECK(nofile.hard == 2048);
  auto nproc = parse_ulimit("nproc=512");
  CHECK(nproc.resource == RLIMIT_NPROC);
  CHECK(nproc.soft == 512);
  CHECK(nproc.hard == 512);
  auto core = parse_ulimit("core=-1");
  CHECK(core.resource == RLIMIT_CORE);
  CHECK(core.soft == kUlimitUnlimited);
  CHECK(core.hard == kUlimitUnlimited);
  auto memlock = parse_ulimit("memlock=65536:-1");
  CHECK(memlock.soft == 65536);
  CHECK(memlock.hard == kUlimitUnlimited);
  for (const char* name : {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
                           "rss", "rtprio", "rttime", "sigpending", "stack"})
    CHECK(parse_ulimit(std::string(name) + "=1").name == name);
  CHECK(parse_ulimit("rttime=5").resource == RLIMIT_RTTIME);
  CHECK(parse_ulimit("stack=5").resource == RLIMIT_STACK);
  check_error([] { parse_ulimit("nofile"); }, "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile");
  check_error([] { parse_ulimit("files=1"); }, "invalid argument \"files=1\" for \"--ulimit\" flag: invalid ulimit type: files");
  check_error([] { parse_ulimit("nofile=1:2:3"); },
              "invalid argument \"nofile=1:2:3\" for \"--ulimit\" flag: too many limit value arguments - 1:2:3, can only "
              "have up to two, `soft[:hard]`");
  check_error([] { parse_ulimit("nofile=2048:1024"); },
              "invalid argument \"nofile=2048:1024\" for \"--ulimit\" flag: ulimit soft limit must be less than or "
              "equal to hard limit: 2048 > 1024");
  check_error([] { parse_ulimit("nofile=-1:1024"); },
              "invalid argument \"nofile=-1:1024\" for \"--ulimit\" flag: ulimit soft limit must be less than or "
              "equal to hard limit: -1 > 1024");
  check_error([] { parse_ulimit("nofile=abc"); },
              "invalid argument \"nofile=abc\" for \"--ulimit\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax");
  check_error([] { parse_ulimit("nofile=-2"); },
              "invalid argument \"nofile=-2\" for \"--ulimit\" flag: ulimit values must be -1 (unlimited) or greater: -2");
}

TEST_CASE("parse_env_file follows docker/cli") {
  TempDir dir;
  setenv("BERTH_TEST_PRESENT", "from caller", 1);
  unsetenv("BERTH_TEST_ABSENT");
  auto path = dir.write("ok.env",
                        "\xEF\xBB\xBF"
                        "foo=bar\n"
                        "    baz=quux\n"
                        "# comment\n"
                        "\n"
                        "_foobar=foobaz\r\n"
                        "with.dots=working\n"
                        "and_underscore=working too \n"
                        "quoted=\"kept\"\n"
                        "BERTH_TEST_PRESENT\n"
                        "BERTH_TEST_ABSENT\n"
                        "empty=\n"
                        "   \t  ");
  auto lines = parse_env_file(path);
  CHECK(lines == std::vector<std::string>{"foo=bar", "baz=quux", "_foobar=foobaz", "with.dots=working",
                                          "and_underscore=working too ", "quoted=\"kept\"",
                                          "BERTH_TEST_PRESENT=from caller", "BERTH_TEST_ABSENT", "empty="});
  CHECK(parse_env_file(dir.write("empty.env", "")).empty());

  auto spaced = dir.write("spaced.env", "foo=bar\n    f   =quux\n");
  check_error([&] { parse_env_file(spaced); },
              "poorly formatted environment in " + spaced + ":2: variable 'f   ' contains whitespaces");
  auto noname = dir.write("noname.env", "# c\n=blank\n");
  check_error([&] { parse_env_file(noname); },
              "poorly formatted environment in " + noname + ":2: no variable name on line '=blank'");
  auto binary = dir.write("binary.env", "a=1\nb=2\nc=\xff\xfe\n");
  check_error([&] { parse_env_file(binary); }, "env file " + binary + " contains invalid utf8 bytes at line 3");
  auto surrogate = dir.write("surrogate.env", "a=\xED\xA0\x80\n");
  check_error([&] { parse_env_file(surrogate); }, "env file " + surrogate + " contains invalid utf8 bytes at line 1");
  CHECK(parse_env_file(dir.write("utf8.env", "name=J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x90\xB3\n")) ==
        std::vector<std::string>{"name=J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x90\xB3"});
  check_error([&] { parse_env_file(dir.path + "/missing.env"); },
              "open " + dir.path + "/missing.env: no such file or directory");
}

TEST_CASE("merge_env: Docker's order, overrides and unsets") {
  setenv("BERTH_TEST_PRESENT", "from caller", 1);
  unsetenv("BERTH_TEST_ABSENT");
  // user first, then the image's other keys; PATH keeps the first slot.
  CHECK(merge_env({"PATH=/img/bin", "A=1", "B=2"}, {"B=3", "C=4"}) ==
        std::vector<std::string>{"PATH=/img/bin", "B=3", "C=4", "A=1"});
  CHECK(merge_env({"A=1"}, {}) == std::vector<std::string>{kDefaultPathEnv, "A=1"});
  CHECK(merge_env({}, {}) == std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  CHECK(merge_env({"PATH=/img"}, {"PATH=/user"}) == std::vector<std::string>{"PATH=/user"});
  // runtime defaults come after PATH and can be overridden by the user.
  CHECK(merge_env({"A=1"}, {"HOSTNAME=mine"}, {"HOSTNAME=abc123", "TERM=xterm"}) ==
        std::vector<std::string>{kDefaultPathEnv, "HOSTNAME=mine", "TERM=xterm", "A=1"});
  // bare KEY: the caller's value, or an unset that also removes the image's value.
  CHECK(merge_env({"A=1", "BERTH_TEST_ABSENT=img"}, {"BERTH_TEST_PRESENT", "BERTH_TEST_ABSENT"}) ==
        std::vector<std::string>{kDefaultPathEnv, "BERTH_TEST_PRESENT=from caller", "A=1"});
  CHECK(merge_env({"A=1"}, {"BERTH_TEST_ABSENT", "BERTH_TEST_ABSENT=later"}) ==
        std::vector<std::string>{kDefaultPathEnv, "BERTH_TEST_ABSENT=later", "A=1"});
  // later wins, in the first one's place; empty values are values.
  CHECK(merge_env({}, {"A=1", "B=2", "A=3", "E="}) == std::vector<std::string>{kDefaultPathEnv, "A=3", "B=2", "E="});
  CHECK(merge_env({"X=a=b"}, {}) == std::vector<std::string>{kDefaultPathEnv, "X=a=b"});
  check_error([] { merge_env({}, {"=x"}); }, "invalid environment variable: =x");
}

TEST_CASE("labels") {
  TempDir dir;
  auto file = dir.write("labels", "a=0\n# comment\nd=4\n  e\n");
  auto labels = parse_labels({"a=1", "b", "c=x=y", " f=leading"}, {file});
  CHECK(labels == std::map<std::string, std::string>{
                      {"a", "1"}, {"b", ""}, {"c", "x=y"}, {"d", "4"}, {"e", ""}, {" f", "leading"}});
  CHECK(validate_label("k=v w") == "k=v w");
  check_error([] { validate_label("=x"); }, "invalid label '=x': empty name");
  check_error([] { validate_label("a b=1"); }, "label 'a b' contains whitespaces");
  check_error([] { parse_labels({"  =x"}, {}); }, "invalid label '  =x': empty name");
  auto bad = dir.write("bad-labels", "ok=1\nnot ok=2\n");
  check_error([&] { parse_labels({}, {bad}); },
              "poorly formatted label file " + bad + ":2: variable 'not ok' contains whitespaces");
  auto binary = dir.write("binary-labels", "\xc3\x28=1\n");
  check_error([&] { parse_labels({}, {binary}); }, "label file " + binary + " contains invalid utf8 bytes at line 1");
}

TEST_CASE("merge_command follows the daemon's merge") {
  const std::vector<std::string> ep = {"/entry", "-x"}, cmd = {"serve", "--port=80"};
  using V = std::vector<std::string>;
  CHECK(merge_command(ep, cmd, std::nullopt, {}) == V{"/entry", "-x", "serve", "--port=80"});
  CHECK(merge_command(ep, cmd, std::nullopt, {"sh"}) == V{"/entry", "-x", "sh"});
  CHECK(merge_command({}, cmd, std::nullopt, {}) == V{"serve", "--port=80"});
  CHECK(merge_command({}, cmd, std::nullopt, {"ls", "-l"}) == V{"ls", "-l"});
  CHECK(merge_command(ep, cmd, std::string("/bin/sh"), {}) == V{"/bin/sh"});  // image Cmd dropped
  CHECK(merge_command(ep, cmd, std::string("/bin/sh"), {"-c", "id"}) == V{"/bin/sh", "-c", "id"});
  CHECK(merge_command(ep, cmd, std::string(""), {"id"}) == V{"id"});
  CHECK(merge_command({""}, cmd, std::nullopt, {}) == V{"serve", "--port=80"});
  check_error([&] { merge_command(ep, cmd, std::string(""), {}); }, "no command specified");
  check_error([] { merge_command({}, {}, std::nullopt, {}); }, "no command specified");
}

TEST_CASE("parse_tmpfs merges options as moby does") {
  auto run = parse_tmpfs("/run:rw,size=64m,mode=1777");
  CHECK(run.target == "/run");
  CHECK(run.options == "noexec,nosuid,nodev,rprivate,rw,size=64m,mode=1777");
  CHECK(run.data == "size=64m,mode=1777");
  CHECK(run.flags == (MS_NOEXEC | MS_NOSUID | MS_NODEV));
  CHECK(run.propagation == (MS_PRIVATE | MS_REC));

  auto plain = parse_tmpfs("/tmp/");
  CHECK(plain.target == "/tmp");
  CHECK(plain.options == "noexec,nosuid,nodev,rprivate");
  CHECK(plain.data.empty());

  auto exec = parse_tmpfs("/x:exec,size=1m,size=2m");
  CHECK(exec.options == "nosuid,nodev,rprivate,exec,size=2m");
  CHECK(exec.flags == (MS_NOSUID | MS_NODEV));
  CHECK(exec.data == "size=2m");

  auto ro = parse_tmpfs("/x:ro,shared,uid=1000,gid=1000");
  CHECK(ro.options == "noexec,nosuid,nodev,ro,shared,uid=1000,gid=1000");
  CHECK(ro.flags == (MS_NOEXEC | MS_NOSUID | MS_NODEV | MS_RDONLY));
  CHECK(ro.propagation == MS_SHARED);
  CHECK(parse_tmpfs("/x:defaults").options == "noexec,nosuid,nodev,rprivate");

  check_error([] { parse_tmpfs("run:size=1m"); },
              "invalid tmpfs mount \"run:size=1m\": invalid mount path: 'run' mount path must be absolute");
  check_error([] { parse_tmpfs(":size=1m"); },
              "invalid tmpfs mount \":size=1m\": invalid mount path: '' mount path must be absolute");
  check_error([] { parse_tmpfs("/"); }, "invalid tmpfs mount \"/\": invalid specification: destination can't be '/'");
  check_error([] { parse_tmpfs("/x:foo"); }, "invalid tmpfs option [\"foo\"] in \"/x:foo\"");
  check_error([] { parse_tmpfs("/x:color=red"); }, "invalid tmpfs option [\"color=red\"] in \"/x:color=red\"");
  check_error([] { parse_tmpfs("/x:bind"); }, "invalid tmpfs option \"bind\" in \"/x:bind\": a tmpfs cannot be a bind mount");
}

TEST_CASE("parse_volume_flag follows moby's linux parser") {
  auto bind = parse_volume_flag("/host/data/:/data");
  CHECK_FALSE(bind.named);
  CHECK(bind.source == "/host/data");
  CHECK(bind.target == "/data");
  CHECK_FALSE(bind.readonly);
  CHECK(bind.propagation == "rprivate");

  auto ro = parse_volume_flag("/h:/c/../d:ro,Z");
  CHECK(ro.readonly);
  CHECK(ro.target == "/d");
  CHECK(ro.mode == "ro,Z");
  CHECK(parse_volume_flag("/h:/c:rw,rshared").propagation == "rshared");
  CHECK(parse_volume_flag("/h:/c:slave,cached").propagation == "slave");
  CHECK(parse_volume_flag("/h:/c:").propagation == "rprivate");

  auto named = parse_volume_flag("db-data:/var/lib/db:nocopy");
  CHECK(named.named);
  CHECK(named.name == "db-data");
  CHECK(named.source.empty());
  CHECK(named.nocopy);
  auto anonymous = parse_volume_flag("/cache");
  CHECK(anonymous.named);
  CHECK(anonymous.name.empty());
  CHECK(anonymous.target == "/cache");

  auto relative = parse_volume_flag("./sub/../data:/data");
  CHECK_FALSE(relative.named);
  CHECK(relative.source == std::filesystem::current_path().string() + "/data");

  check_error([] { parse_volume_flag("/h:rel"); },
              "invalid volume specification: '/h:rel': invalid mount config for type \"bind\": invalid mount path: "
              "'rel' mount path must be absolute");
  check_error([] { parse_volume_flag("name:rel"); },
              "invalid volume specification: 'name:rel': invalid mount config for type \"volume\": invalid mount path: "
              "'rel' mount path must be absolute");
  check_error([] { parse_volume_flag("rel"); },
              "invalid volume specification: 'rel': invalid mount config for type \"volume\": invalid mount path: "
              "'rel' mount path must be absolute");
  check_error([] { parse_volume_flag("/h:/"); },
              "invalid volume specification: '/h:/': invalid mount config for type \"bind\": invalid specification: "
              "destination can't be '/'");
  check_error([] { parse_volume_flag("/h:/c:ro,rw"); }, "invalid mode: ro,rw");
  check_error([] { parse_volume_flag("/h:/c:bogus"); }, "invalid mode: bogus");
  check_error([] { parse_volume_flag("/a:/b:ro:x"); }, "invalid volume specification: '/a:/b:ro:x'");
  check_error([] { parse_volume_flag("/foo:rw"); }, "invalid volume specification: '/foo:rw'");
  check_error([] { parse_volume_flag(":/c"); }, "invalid volume specification: ':/c'");
  check_error([] { parse_volume_flag(""); }, "invalid volume specification: ''");
  check_error([] { parse_volume_flag("bad/name:/c"); },
              "\"bad/name\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
              "allowed. If you intended to pass a host directory, use absolute path");
}

TEST_CASE("capability names and normalization") {
  CHECK(capability_name(0) == "CAP_CHOWN");
  CHECK(capability_name(21) == "CAP_SYS_ADMIN");
  CHECK(capability_name(40) == "CAP_CHECKPOINT_RESTORE");
  CHECK(capability_name(41) == "CAP_41");
  CHECK(capability_number("net_admin", 40) == 12);
  CHECK(capability_number("CAP_BPF", 40) == 39);
  CHECK(capability_number("CAP_BPF", 37) == -1);  // the kernel does not know it
  CHECK(capability_number("CAP_41", 41) == 41);
  CHECK(capability_number("CAP_41", 40) == -1);
  CHECK(capability_number("CAP_FOO", 40) == -1);
  CHECK(default_capabilities().size() == 14);

  CHECK(normalize_capabilities({"net_admin", "CAP_SYS_ADMIN", "all", "Chown", "cap_12", "CAP_41"}, 41) ==
        std::vector<std::string>{"CAP_NET_ADMIN", "CAP_SYS_ADMIN", "ALL", "CAP_CHOWN", "CAP_NET_ADMIN", "CAP_41"});
  check_error([] { normalize_capabilities({"foo"}, 40); }, "unknown capability: \"CAP_FOO\"");
  check_error([] { normalize_capabilities({"cap_bpf"}, 37); }, "unknown capability: \"CAP_BPF\"");
  CHECK(host_cap_last_cap() >= 30);
  CHECK((berth::runtime::caller_bounding_set() & 1) == 1);  // CAP_CHOWN is in every usual bounding set

  CHECK(capability_mask({"CAP_CHOWN", "kill"}, 40) == (1ULL | (1ULL << 5)));
  CHECK(capability_mask({"CAP_CHECKPOINT_RESTORE"}, 40) == (1ULL << 40));
  CHECK(capability_mask({}, 40) == 0);
  check_error([] { capability_mask({"ALL"}, 40); }, "\"ALL\" is not a capability");
  check_error([] { capability_mask({"nope"}, 40); }, "unknown capability: \"CAP_NOPE\"");
}

TEST_CASE("effective_capabilities follows TweakCapabilities within the caller's bounding set") {
  using V = std::vector<std::string>;
  CHECK(effective_capabilities({}, {}, false, kAllCaps, 40) == default_capabilities());
  CHECK(effective_capabilities({"NET_ADMIN"}, {"ALL"}, false, kAllCaps, 40) == V{"CAP_NET_ADMIN"});
  CHECK(effective_capabilities({}, {"all"}, false, kAllCaps, 40).empty());

  auto tweaked = effective_capabilities({"net_admin", "CAP_KILL"}, {"chown", "CAP_MKNOD"}, false, kAllCaps, 40);
  CHECK(tweaked == V{"CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
                     "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
                     "CAP_AUDIT_WRITE", "CAP_NET_ADMIN"});

  auto all_but_mknod = effective_capabilities({"ALL"}, {"MKNOD"}, false, kAllCaps, 40);
  CHECK(all_but_mknod.size() == 40);
  CHECK(std::find(all_but_mknod.begin(), all_but_mknod.end(), "CAP_MKNOD") == all_but_mknod.end());

  // privileged: what the caller holds, not a fixed mask (this CI host lacks CAP_SYS_RESOURCE).
  const uint64_t without_sys_resource = 0x1fffeffffffULL;
  auto privileged = effective_capabilities({}, {}, true, without_sys_resource, 40);
  CHECK(privileged.size() == 40);
  CHECK(std::find(privileged.begin(), privileged.end(), "CAP_SYS_RESOURCE") == privileged.end());
  CHECK(privileged.front() == "CAP_CHOWN");
  CHECK(privileged.back() == "CAP_CHECKPOINT_RESTORE");
  CHECK(effective_capabilities({}, {}, true, kAllCaps, 37).size() == 38);  // older kernel
  CHECK(effective_capabilities({"ALL"}, {}, false, without_sys_resource, 40).size() == 40);

  // defaults the caller lacks are left out; an explicit add it lacks is an error.
  const uint64_t without_mknod = kAllCaps & ~(1ULL << 27);
  CHECK(effective_capabilities({}, {}, false, without_mknod, 40).size() == 13);
  check_error([&] { effective_capabilities({"SYS_RESOURCE"}, {}, false, without_sys_resource, 40); },
              "cannot add capability CAP_SYS_RESOURCE: berth itself does not have it in its bounding set");
  check_error([] { effective_capabilities({"bogus"}, {}, false, kAllCaps, 40); }, "unknown capability: \"CAP_BOGUS\"");
  check_error([] { effective_capabilities({}, {"bogus"}, false, kAllCaps, 40); }, "unknown capability: \"CAP_BOGUS\"");
}

TEST_CASE("parse_signal") {
  CHECK(parse_signal("SIGTERM") == 15);
  CHECK(parse_signal("TERM") == 15);
  CHECK(parse_signal("term") == 15);
  CHECK(parse_signal("sigkill") == 9);
  CHECK(parse_signal("15") == 15);
  CHECK(parse_signal("SIGHUP") == 1);
  CHECK(parse_signal("SIGUSR1") == 10);
  CHECK(parse_signal("SIGWINCH") == 28);
  CHECK(parse_signal("SIGRTMIN") == 34);
  CHECK(parse_signal("SIGRTMIN+3") == 37);
  CHECK(parse_signal("RTMAX-2") == 62);
  CHECK(parse_signal("SIGRTMAX") == 64);
  CHECK(parse_signal("64") == 64);
  check_error([] { parse_signal("0"); }, "invalid signal: 0");
  check_error([] { parse_signal("65"); }, "invalid signal: 65");
  check_error([] { parse_signal("-9"); }, "invalid signal: -9");
  check_error([] { parse_signal("SIGFOO"); }, "invalid signal: SIGFOO");
  check_error([] { parse_signal("SIGRTMIN+31"); }, "invalid signal: SIGRTMIN+31");
  check_error([] { parse_signal("RTMIN+x"); }, "invalid signal: RTMIN+x");
  check_error([] { parse_signal(""); }, "invalid signal: ");
}
