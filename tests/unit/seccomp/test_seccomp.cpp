// The seccomp module against moby's reference profile: the profile model (per syscall: action,
// argument conditions, errno) and the compiled BPF (run here by a small cBPF interpreter, and
// loaded for real in a forked child).
#include <doctest/doctest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "berth/image/heavy.h"
#include "berth/seccomp/load.h"
#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/json.h"

using namespace berth;
using namespace berth::seccomp;

namespace {

const std::vector<std::string> docker_default_caps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",           "CAP_MKNOD",    "CAP_NET_RAW",   "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP",      "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

std::vector<std::string> with_cap(std::vector<std::string> caps, const std::string& cap) {
  caps.push_back(cap);
  return caps;
}

const std::string corpus_path = std::string(BERTH_SHARED_DIR) + "/corpus/moby-seccomp/default.json";

// The reference profile, or nullptr when absent (a failure under CI=true, a skip otherwise).
const json* moby_profile() {
  static const std::optional<json> doc = []() -> std::optional<json> {
    if (!fs::exists(corpus_path)) return std::nullopt;
    return json::parse(fs::read_file(corpus_path));
  }();
  if (!doc) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL("reference profile missing under CI=true: " << corpus_path);
    MESSAGE("skipped: no reference profile at " << corpus_path);
    return nullptr;
  }
  return &*doc;
}

struct TempDir {
  std::string path = "/tmp/berth-seccomp-test-" + random_hex_id().substr(0, 12);
  TempDir() { fs::mkdir_p(path, 0700); }
  ~TempDir() { fs::remove_tree(path); }
};

// ---- moby's semantics, written straight against its JSON (independent of our parser) ----

using Condition = std::tuple<unsigned, std::string, uint64_t, uint64_t>;  // index, SCMP_CMP_*, value, valueTwo
struct Decision {
  std::string action;  // "allow" or "errno N"
  std::vector<Condition> args;
  auto operator<=>(const Decision&) const = default;
};

bool in(const json& list, const std::string& item) {
  for (const auto& x : list)
    if (x == item) return true;
  return false;
}

// The entries of moby's "syscalls" that daemon/seccomp_linux.go keeps for an amd64 host.
std::vector<json> moby_rules_for(const json& doc, const std::vector<std::string>& caps, KernelVersion kernel) {
  auto has_cap = [&](const std::string& c) { return std::find(caps.begin(), caps.end(), c) != caps.end(); };
  auto kernel_at_least = [&](const json& v) { return kernel >= *parse_kernel_version(v.get<std::string>()); };
  std::vector<json> out;
  for (const auto& rule : doc["syscalls"]) {
    if (rule.contains("excludes")) {
      const json& ex = rule["excludes"];
      if (ex.contains("arches") && in(ex["arches"], "amd64")) continue;
      bool excluded_cap = false;
      for (const auto& c : ex.value("caps", json::array())) excluded_cap |= has_cap(c);
      if (excluded_cap) continue;
      if (ex.contains("minKernel") && kernel_at_least(ex["minKernel"])) continue;
    }
    if (rule.contains("includes")) {
      const json& inc = rule["includes"];
      if (inc.contains("arches") && !in(inc["arches"], "amd64")) continue;
      bool all_caps = true;
      for (const auto& c : inc.value("caps", json::array())) all_caps &= has_cap(c);
      if (!all_caps) continue;
      if (inc.contains("minKernel") && !kernel_at_least(inc["minKernel"])) continue;
    }
    out.push_back(rule);
  }
  return out;
}

std::string moby_action(const json& rule_or_doc, const char* action_key, const char* errno_key) {
  std::string action = rule_or_doc[action_key];
  if (action == "SCMP_ACT_ALLOW") return "allow";
  if (action == "SCMP_ACT_ERRNO") return "errno " + std::to_string(rule_or_doc.value(errno_key, 1));
  return action;
}

std::set<Decision> moby_decisions(const std::vector<json>& rules, const std::string& name) {
  std::set<Decision> out;
  for (const auto& rule : rules) {
    if (!in(rule["names"], name)) continue;
    Decision d{moby_action(rule, "action", "errnoRet"), {}};
    for (const auto& a : rule.value("args", json::array()))
      d.args.emplace_back(a["index"].get<unsigned>(), a["op"].get<std::string>(), a["value"].get<uint64_t>(),
                          a.value("valueTwo", uint64_t{0}));
    std::sort(d.args.begin(), d.args.end());
    out.insert(d);
  }
  return out;
}

std::string op_name(CompareOp op) {
  switch (op) {
    case CompareOp::eq: return "SCMP_CMP_EQ";
    case CompareOp::ne: return "SCMP_CMP_NE";
    case CompareOp::lt: return "SCMP_CMP_LT";
    case CompareOp::le: return "SCMP_CMP_LE";
    case CompareOp::gt: return "SCMP_CMP_GT";
    case CompareOp::ge: return "SCMP_CMP_GE";
    case CompareOp::masked_eq: return "SCMP_CMP_MASKED_EQ";
  }
  return "?";
}

std::set<Decision> our_decisions(const ResolvedProfile& profile, const std::string& name) {
  std::set<Decision> out;
  for (const auto& rule : profile.rules) {
    if (std::find(rule.syscalls.begin(), rule.syscalls.end(), name) == rule.syscalls.end()) continue;
    Decision d{to_string(rule.action), {}};
    for (const auto& a : rule.args) d.args.emplace_back(a.index, op_name(a.op), a.value, a.value_two);
    std::sort(d.args.begin(), d.args.end());
    out.insert(d);
  }
  return out;
}

std::string describe(const std::set<Decision>& decisions) {
  if (decisions.empty()) return "(default)";
  std::string s;
  for (const auto& d : decisions) {
    s += "[" + d.action;
    for (const auto& [i, op, v, v2] : d.args)
      s += " arg" + std::to_string(i) + " " + op + " " + std::to_string(v) + "/" + std::to_string(v2);
    s += "]";
  }
  return s;
}

bool condition_holds(const Condition& c, uint64_t arg) {
  const auto& [index, op, value, value_two] = c;
  if (op == "SCMP_CMP_EQ") return arg == value;
  if (op == "SCMP_CMP_NE") return arg != value;
  if (op == "SCMP_CMP_LT") return arg < value;
  if (op == "SCMP_CMP_LE") return arg <= value;
  if (op == "SCMP_CMP_GT") return arg > value;
  if (op == "SCMP_CMP_GE") return arg >= value;
  if (op == "SCMP_CMP_MASKED_EQ") return (arg & value) == value_two;
  FAIL("unknown op " << op);
  return false;
}

// What the kernel should return for a call, per moby's rules: the first rule whose conditions hold.
uint32_t expected_ret(const std::set<Decision>& decisions, const uint64_t (&args)[6]) {
  for (const auto& d : decisions) {
    bool holds = true;
    for (const auto& c : d.args) holds &= condition_holds(c, args[std::get<0>(c)]);
    if (!holds) continue;
    if (d.action == "allow") return SECCOMP_RET_ALLOW;
    return SECCOMP_RET_ERRNO | static_cast<uint32_t>(std::stoul(d.action.substr(6)));
  }
  return SECCOMP_RET_ERRNO | EPERM;
}

// ---- a classic BPF interpreter, enough for seccomp programs ----

uint32_t run_bpf(const std::string& program, const seccomp_data& data) {
  const auto* insns = reinterpret_cast<const sock_filter*>(program.data());
  const size_t count = program.size() / sizeof(sock_filter);
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < count; ++pc) {
    const sock_filter& f = insns[pc];
    const uint32_t src = BPF_SRC(f.code) == BPF_X ? x : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS) {
          REQUIRE(f.k + 4 <= sizeof data);
          std::memcpy(&a, bytes + f.k, 4);
        } else if (BPF_MODE(f.code) == BPF_IMM) a = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM) a = mem[f.k];
        else if (BPF_MODE(f.code) == BPF_LEN) a = sizeof data;
        else FAIL("unsupported ld at " << pc);
        break;
      case BPF_LDX:
        if (BPF_MODE(f.code) == BPF_IMM) x = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM) x = mem[f.k];
        else if (BPF_MODE(f.code) == BPF_LEN) x = sizeof data;
        else FAIL("unsupported ldx at " << pc);
        break;
      case BPF_ST: mem[f.k] = a; break;
      case BPF_STX: mem[f.k] = x; break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD: a += src; break;
          case BPF_SUB: a -= src; break;
          case BPF_MUL: a *= src; break;
          case BPF_DIV: a = src ? a / src : 0; break;
          case BPF_AND: a &= src; break;
          case BPF_OR: a |= src; break;
          case BPF_XOR: a ^= src; break;
          case BPF_LSH: a <<= src; break;
          case BPF_RSH: a >>= src; break;
          case BPF_NEG: a = -a; break;
          default: FAIL("unsupported alu at " << pc);
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool taken = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ: taken = a == src; break;
          case BPF_JGT: taken = a > src; break;
          case BPF_JGE: taken = a >= src; break;
          case BPF_JSET: taken = (a & src) != 0; break;
          default: FAIL("unsupported jmp at " << pc);
        }
        pc += taken ? f.jt : f.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(f.code) == BPF_A ? a : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) x = a;
        else a = x;
        break;
    }
  }
  FAIL("program ran off its end");
  return 0;
}

seccomp_data call(uint32_t arch, int nr, const uint64_t (&args)[6] = {}) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  for (int i = 0; i < 6; ++i) d.args[i] = args[i];
  return d;
}

// Argument values around every constant a rule compares with.
std::vector<uint64_t> probes_for(const std::set<Decision>& decisions, unsigned index) {
  std::set<uint64_t> values = {0};
  for (const auto& d : decisions)
    for (const auto& [i, op, v, v2] : d.args) {
      if (i != index) continue;
      if (op == "SCMP_CMP_MASKED_EQ") {
        values.insert(v);
        for (int bit = 0; bit < 64; ++bit)
          if (v & (uint64_t{1} << bit)) values.insert(uint64_t{1} << bit);
      } else {
        values.insert(v - 1), values.insert(v), values.insert(v + 1);
      }
    }
  return {values.begin(), values.end()};
}

std::vector<std::string> all_moby_names(const json& doc) {
  std::set<std::string> names;
  for (const auto& rule : doc["syscalls"])
    for (const auto& n : rule["names"]) names.insert(n.get<std::string>());
  return {names.begin(), names.end()};
}

// Cap sets the comparison covers: Docker's default, +CAP_SYS_ADMIN, and +each cap the profile names.
std::vector<std::pair<std::string, std::vector<std::string>>> cap_sets(const json& doc) {
  std::vector<std::pair<std::string, std::vector<std::string>>> sets = {
      {"default caps", docker_default_caps}, {"default + CAP_SYS_ADMIN", with_cap(docker_default_caps, "CAP_SYS_ADMIN")}};
  std::set<std::string> named;
  for (const auto& rule : doc["syscalls"])
    for (const char* key : {"includes", "excludes"})
      if (rule.contains(key))
        for (const auto& c : rule[key].value("caps", json::array())) named.insert(c.get<std::string>());
  for (const auto& c : named)
    if (c != "CAP_SYS_ADMIN") sets.push_back({"default + " + c, with_cap(docker_default_caps, c)});
  return sets;
}

// CPU time of this thread in ms: the machine is shared, so wall time alone says little.
double cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::string compile_for(const std::vector<std::string>& caps) {
  return compile(resolve(builtin_profile(), host_target(caps))).bpf;
}

}  // namespace

TEST_CASE("sha256 matches the FIPS 180-4 examples") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(builtin_profile_text()) == builtin_profile_sha256());
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("the built-in profile parses and targets x86_64 with x86 and x32") {
  const Profile& p = builtin_profile();
  CHECK(p.default_action == Action{ActionKind::errno_ret, EPERM});
  auto resolved = resolve(p, host_target(docker_default_caps));
  CHECK(resolved.arches == std::vector<std::string>{"x86_64", "x86", "x32"});
}

TEST_CASE("a resolved profile and a compiled filter survive the trip to berth-heavy and back") {
  ResolvedProfile profile = resolve(builtin_profile(), host_target(with_cap(docker_default_caps, "CAP_SYS_ADMIN")));
  ResolvedProfile back = resolved_profile_from_json(json::parse(to_json(profile).dump()));
  CHECK(back.default_action == profile.default_action);
  CHECK(back.arches == profile.arches);
  REQUIRE(back.rules.size() == profile.rules.size());
  bool any_args = false;
  for (size_t i = 0; i < profile.rules.size(); ++i) {
    CHECK(back.rules[i].syscalls == profile.rules[i].syscalls);
    CHECK(back.rules[i].action == profile.rules[i].action);
    CHECK(back.rules[i].args == profile.rules[i].args);
    any_args = any_args || !profile.rules[i].args.empty();
  }
  CHECK(any_args);  // the default profile's clone/personality rules carry argument conditions

  CompiledFilter filter;
  filter.bpf = std::string("\x00\x01\x7f\x80\xff\x20", 6);
  filter.unknown_syscalls = {"futex_waitv"};
  filter.stub_instructions = 7;
  CompiledFilter filter_back = compiled_filter_from_json(json::parse(to_json(filter).dump()));
  CHECK(filter_back.bpf == filter.bpf);
  CHECK(filter_back.unknown_syscalls == filter.unknown_syscalls);
  CHECK(filter_back.stub_instructions == 7);
  CHECK_THROWS_AS(compiled_filter_from_json(json{{"bpf", "0g"}, {"unknown_syscalls", json::array()},
                                                 {"stub_instructions", 0}}),
                  berth::Error);
}

TEST_CASE("for every syscall in moby's profile, ours makes the same decision") {
  const json* moby = moby_profile();
  if (!moby) return;
  const KernelVersion kernel = running_kernel();
  const auto names = all_moby_names(*moby);
  MESSAGE(names.size() << " syscall names in the reference profile");
  CHECK(names.size() > 380);

  for (const auto& [label, caps] : cap_sets(*moby)) {
    CAPTURE(label);
    const auto moby_rules = moby_rules_for(*moby, caps, kernel);
    const auto ours = resolve(builtin_profile(), Target{"x86_64", normalize_caps(caps), kernel});
    CHECK(to_string(ours.default_action) == moby_action(*moby, "defaultAction", "defaultErrnoRet"));
    size_t differences = 0;
    for (const auto& name : names) {
      auto expected = moby_decisions(moby_rules, name);
      auto actual = our_decisions(ours, name);
      if (expected != actual) {
        ++differences;
        FAIL_CHECK(name << ": moby " << describe(expected) << ", ours " << describe(actual));
      }
    }
    CHECK(differences == 0);
    // And through our Docker-format parser, the path seccomp=FILE takes.
    auto via_parser = resolve(parse_docker_profile(fs::read_file(corpus_path), corpus_path),
                              Target{"x86_64", normalize_caps(caps), kernel});
    for (const auto& name : names) CHECK_MESSAGE(our_decisions(via_parser, name) == moby_decisions(moby_rules, name), name);
  }
  // The two cases the brief names, spelled out.
  auto dflt = resolve(builtin_profile(), Target{"x86_64", normalize_caps(docker_default_caps), kernel});
  auto admin = resolve(builtin_profile(), Target{"x86_64", normalize_caps(with_cap(docker_default_caps, "CAP_SYS_ADMIN")), kernel});
  CHECK(describe(our_decisions(dflt, "clone3")) == "[errno 38]");
  CHECK(describe(our_decisions(admin, "clone3")) == "[allow]");
  CHECK(describe(our_decisions(dflt, "mount")) == "(default)");
  CHECK(describe(our_decisions(admin, "mount")) == "[allow]");
  CHECK(describe(our_decisions(dflt, "clone")) == "[allow arg0 SCMP_CMP_MASKED_EQ 2114060288/0]");
}

TEST_CASE("the compiled BPF makes moby's decision for every syscall libseccomp knows, on x86_64, x86 and x32") {
  const json* moby = moby_profile();
  if (!moby) return;
  const KernelVersion kernel = running_kernel();
  const auto names = all_moby_names(*moby);
  struct ArchCase {
    const char* name;
    uint32_t scmp_arch;
    uint32_t audit_arch;
  };
  const ArchCase arches[] = {{"x86_64", SCMP_ARCH_X86_64, AUDIT_ARCH_X86_64},
                             {"x86", SCMP_ARCH_X86, AUDIT_ARCH_I386},
                             {"x32", SCMP_ARCH_X32, AUDIT_ARCH_X86_64}};

  for (const auto& [label, caps] : cap_sets(*moby)) {
    CAPTURE(label);
    const auto moby_rules = moby_rules_for(*moby, caps, kernel);
    const std::string bpf = compile_for(caps);
    size_t calls_checked = 0, mismatches = 0;
    for (const auto& arch : arches) {
      CAPTURE(arch.name);
      for (const auto& name : names) {
        int nr = seccomp_syscall_resolve_name_arch(arch.scmp_arch, name.c_str());
        if (nr < 0) continue;  // unknown to libseccomp, or not a real syscall on this arch
        const auto decisions = moby_decisions(moby_rules, name);
        // 32-bit arches see 32-bit arguments: probe only values that fit.
        const bool wide = std::string(arch.name) == "x86_64";
        for (unsigned index = 0; index < 6; ++index) {
          for (uint64_t probe : probes_for(decisions, index)) {
            if (!wide && probe > 0xffffffffu) continue;
            uint64_t args[6] = {};
            args[index] = probe;
            uint32_t want = expected_ret(decisions, args);
            uint32_t got = run_bpf(bpf, call(arch.audit_arch, nr, args));
            ++calls_checked;
            if (want != got) {
              ++mismatches;
              FAIL_CHECK(name << " (nr " << nr << ") arg" << index << "=" << probe << ": want " << want
                              << " got " << got);
            }
          }
        }
      }
    }
    CHECK(mismatches == 0);
    MESSAGE(label << ": " << calls_checked << " (arch, syscall, argument) cases checked in the BPF");
  }
}

TEST_CASE("syscalls newer than libseccomp get ENOSYS from the stub; known gaps keep EPERM") {
  const std::string bpf = compile_for(docker_default_caps);
  const uint32_t enosys = SECCOMP_RET_ERRNO | ENOSYS, eperm = SECCOMP_RET_ERRNO | EPERM;
  const uint32_t x32_bit = 0x40000000;
  const uint32_t max64 = highest_known_syscall("x86_64");
  const uint32_t max32 = highest_known_syscall("x86");
  MESSAGE("libseccomp " << libseccomp_version() << " knows x86_64 up to " << max64 << ", x86 up to " << max32
                        << ", x32 up to x32_bit+" << highest_known_syscall("x32", 512) - 0x40000000
                        << " (common) and x32_bit+" << highest_known_syscall("x32") - 0x40000000 << " (compat)");
  CHECK(max64 >= 435);  // clone3
  // mseal (462), statmount (457), listmount (458): allowed by moby, unknown to libseccomp 2.5.4.
  for (uint32_t nr : {max64 + 1, 457u, 458u, 462u, 1000u}) {
    CAPTURE(nr);
    CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, static_cast<int>(nr))) == enosys);
    CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, static_cast<int>(x32_bit + nr))) == enosys);
  }
  for (uint32_t nr : {max32 + 1, 462u, 1000u}) CHECK(run_bpf(bpf, call(AUDIT_ARCH_I386, static_cast<int>(nr))) == enosys);
  // x32's own compat range (512..547) is known; between the common and compat ranges is new.
  CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, static_cast<int>(x32_bit + 511))) == enosys);
  CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, static_cast<int>(x32_bit + 512))) == SECCOMP_RET_ALLOW);  // rt_sigaction
  // A number in the x86_64 gap below the highest known one is not new: the default applies.
  CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, 400)) == eperm);
  // x86_64 syscalls that moby does not allow keep EPERM; clone3 gets moby's ENOSYS.
  CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, SYS_mount)) == eperm);
  CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, SYS_clone3)) == enosys);
  CHECK(run_bpf(bpf, call(AUDIT_ARCH_X86_64, SYS_getpid)) == SECCOMP_RET_ALLOW);
  // An arch outside the profile is libseccomp's bad-arch action (kill).
  CHECK((run_bpf(bpf, call(AUDIT_ARCH_AARCH64, 172)) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_THREAD);

  auto compiled = compile(resolve(builtin_profile(), host_target(docker_default_caps)));
  MESSAGE("unknown to libseccomp (left to the stub): " << compiled.unknown_syscalls.size() << ", stub "
                                                        << compiled.stub_instructions << " instructions, program "
                                                        << compiled.bpf.size() / sizeof(sock_filter) << " instructions");
  CHECK(compiled.stub_instructions > 0);
  CHECK(std::find(compiled.unknown_syscalls.begin(), compiled.unknown_syscalls.end(), "mseal") !=
        compiled.unknown_syscalls.end());
}

TEST_CASE("moby's default.json given as seccomp=FILE compiles to a filter with the same decisions") {
  const json* moby = moby_profile();
  if (!moby) return;
  TempDir dir;
  const std::string ours = fs::read_file(cached_filter(docker_default_caps, "", dir.path));
  const std::string theirs = fs::read_file(cached_filter(docker_default_caps, corpus_path, dir.path));
  size_t checked = 0;
  for (uint32_t arch : {uint32_t(AUDIT_ARCH_X86_64), uint32_t(AUDIT_ARCH_I386)})
    for (uint32_t base : {0u, 0x40000000u}) {
      if (arch == AUDIT_ARCH_I386 && base) continue;
      for (int nr = 0; nr < 1100; ++nr)
        for (uint64_t arg0 : {0ull, 8ull, 38ull, 39ull, 40ull, 0x10000ull, 0x20000000ull, 0xffffffffull}) {
          uint64_t args[6] = {arg0};
          auto d = call(arch, static_cast<int>(base + nr), args);
          CHECK_MESSAGE(run_bpf(ours, d) == run_bpf(theirs, d), "arch " << arch << " nr " << base + nr);
          ++checked;
        }
    }
  MESSAGE(checked << " calls give the same result under both filters");
}

TEST_CASE("cached_filter compiles once and then hits the cache") {
  TempDir dir;
  const uint64_t before = compile_count();
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_ms();
  const std::string first = cached_filter(docker_default_caps, "", dir.path);
  double c1 = cpu_ms();
  auto t1 = std::chrono::steady_clock::now();
  CHECK(compile_count() == before + 1);
  struct stat st1 {};
  REQUIRE(::stat(first.c_str(), &st1) == 0);
  CHECK(st1.st_size % sizeof(sock_filter) == 0);

  constexpr int hits = 2000;
  auto t2 = std::chrono::steady_clock::now();
  double c2 = cpu_ms();
  size_t same = 0;
  for (int i = 0; i < hits; ++i) same += cached_filter(docker_default_caps, "", dir.path) == first;
  double c3 = cpu_ms();
  auto t3 = std::chrono::steady_clock::now();
  CHECK(same == hits);
  CHECK(compile_count() == before + 1);
  struct stat st2 {};
  REQUIRE(::stat(first.c_str(), &st2) == 0);
  CHECK(st1.st_mtim.tv_sec == st2.st_mtim.tv_sec);
  CHECK(st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec);
  CHECK(st1.st_ino == st2.st_ino);

  // Capabilities are part of the key; their order and spelling are not.
  const std::string admin = cached_filter(with_cap(docker_default_caps, "CAP_SYS_ADMIN"), "", dir.path);
  CHECK(admin != first);
  CHECK(compile_count() == before + 2);
  std::vector<std::string> reordered(docker_default_caps.rbegin(), docker_default_caps.rend());
  for (auto& c : reordered) c = c.substr(4);  // "CHOWN"
  CHECK(cached_filter(reordered, "", dir.path) == first);
  CHECK(compile_count() == before + 2);
  // A truncated cache file is recompiled rather than loaded.
  fs::write_file_atomic(first, "short", 0644);
  CHECK(cached_filter(docker_default_caps, "", dir.path) == first);
  CHECK(compile_count() == before + 3);

  using ms = std::chrono::duration<double, std::milli>;
  MESSAGE("cache miss (parse + resolve + compile 3 arches + atomic write): " << ms(t1 - t0).count() << " ms wall, "
                                                                           << c1 - c0 << " ms CPU");
  MESSAGE("cache hit: " << ms(t3 - t2).count() * 1000 / hits << " us wall, " << (c3 - c2) * 1000 / hits
                        << " us CPU per call");
}

TEST_CASE("compile time: three arches and native only") {
  const Target target = host_target(docker_default_caps);
  ResolvedProfile full = resolve(builtin_profile(), target);
  ResolvedProfile native = full;
  native.arches = {"x86_64"};
  using ms = std::chrono::duration<double, std::milli>;
  constexpr int runs = 20;
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_ms();
  for (int i = 0; i < runs; ++i) compile(full);
  double c1 = cpu_ms();
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) compile(native);
  double c2 = cpu_ms();
  auto t2 = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) (void)parse_berth_profile(builtin_profile_text(), "built-in");
  double c3 = cpu_ms();
  auto t3 = std::chrono::steady_clock::now();
  MESSAGE("compile x86_64+x86+x32: " << ms(t1 - t0).count() / runs << " ms wall, " << (c1 - c0) / runs
                                     << " ms CPU; x86_64 only: " << ms(t2 - t1).count() / runs << " ms wall, "
                                     << (c2 - c1) / runs << " ms CPU; parse built-in profile: "
                                     << ms(t3 - t2).count() / runs << " ms wall, " << (c3 - c2) / runs << " ms CPU");
  CHECK(compile(native).bpf.size() < compile(full).bpf.size());
}

TEST_CASE("bad profile files are reported with the file and the problem") {
  TempDir dir;
  auto expect_error = [&](const std::string& body, const std::string& fragment) {
    const std::string path = dir.path + "/p" + std::to_string(body.size()) + ".json";
    fs::write_file(path, body);
    try {
      cached_filter(docker_default_caps, path, dir.path + "/cache");
      FAIL("no error for " << body);
    } catch (const Error& e) {
      CAPTURE(e.what());
      CHECK(std::string(e.what()).find(path) != std::string::npos);
      CHECK(std::string(e.what()).find(fragment) != std::string::npos);
    }
  };
  expect_error("{", "invalid JSON");
  expect_error(R"({"syscalls": []})", "defaultAction");
  expect_error(R"({"defaultAction": "SCMP_ACT_NOPE"})", "unknown action \"SCMP_ACT_NOPE\"");
  expect_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
               "syscalls[0].args[0].index");
  expect_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]})",
               "syscalls[0].args[0].op");
  expect_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "X86_64"}]})", "architecture");
  expect_error(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]})", "syscalls[0].action");
  expect_error(R"({"berth_seccomp": 1, "default": "errno EPERM", "rules": [{"action": "allow", "syscalls": ["socket"],
               "if_any": ["arg0 << 3"]}]})",
               "rules[0].if_any");
  try {
    cached_filter(docker_default_caps, dir.path + "/missing.json", dir.path);
    FAIL("no error for a missing file");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("missing.json: cannot read") != std::string::npos);
  }
}

TEST_CASE("a Docker-format profile: allow-by-default gets no stub, errnoRet and arg conditions work") {
  TempDir dir;
  const std::string path = dir.path + "/p.json";
  fs::write_file(path, R"({"defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                 {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["not_a_syscall_at_all"], "action": "SCMP_ACT_ERRNO"}]})");
  auto compiled = compile(resolve(parse_profile(fs::read_file(path), path), host_target({})));
  CHECK(compiled.stub_instructions == 0);
  CHECK(compiled.unknown_syscalls == std::vector<std::string>{"not_a_syscall_at_all"});
  CHECK(run_bpf(compiled.bpf, call(AUDIT_ARCH_X86_64, SYS_mkdirat)) == (SECCOMP_RET_ERRNO | EACCES));
  uint64_t sigkill[6] = {0, 9}, sigterm[6] = {0, 15};
  CHECK(run_bpf(compiled.bpf, call(AUDIT_ARCH_X86_64, SYS_kill, sigkill)) == (SECCOMP_RET_ERRNO | EPERM));
  CHECK(run_bpf(compiled.bpf, call(AUDIT_ARCH_X86_64, SYS_kill, sigterm)) == SECCOMP_RET_ALLOW);
  CHECK(run_bpf(compiled.bpf, call(AUDIT_ARCH_X86_64, 462)) == SECCOMP_RET_ALLOW);
}

TEST_CASE("choose_profile follows Docker's --security-opt and --privileged") {
  CHECK(choose_profile({}, false).confined);
  CHECK(choose_profile({}, false).profile_path.empty());
  CHECK_FALSE(choose_profile({"seccomp=unconfined"}, false).confined);
  CHECK_FALSE(choose_profile({"seccomp:unconfined"}, false).confined);
  CHECK(choose_profile({"no-new-privileges", "seccomp=/etc/p.json"}, false).profile_path == "/etc/p.json");
  CHECK_FALSE(choose_profile({"seccomp=/etc/p.json"}, true).confined);
  CHECK(choose_profile({"seccomp=builtin"}, false).profile_path.empty());
  CHECK_THROWS_AS(choose_profile({"seccomp="}, false), Error);
}

namespace {
// Runs checks in a child that loads the filter; returns the child's exit status (0 = all good,
// N = check N failed, 100+ = load failed).
int run_in_filtered_child(const std::string& bpf_path, bool with_sys_admin) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(99);
    int rc = load_bpf_file(bpf_path);
    if (rc != 0) ::_exit(100 + (-rc & 0x1f));
    auto fails_with = [](long ret, int err) { return ret == -1 && errno == err; };
    if (::getpid() <= 0) ::_exit(1);
    if (with_sys_admin) {
      if (fails_with(::syscall(SYS_clone3, nullptr, 0), ENOSYS)) ::_exit(2);  // kernel says EFAULT/EINVAL
      if (::syscall(SYS_unshare, 0) != 0) ::_exit(3);
    } else {
      if (!fails_with(::syscall(SYS_clone3, nullptr, 0), ENOSYS)) ::_exit(2);
      if (!fails_with(::syscall(SYS_unshare, 0), EPERM)) ::_exit(3);  // unshare(0) is a no-op without the filter
      if (!fails_with(::syscall(SYS_mount, "none", "/nonexistent", "tmpfs", 0, nullptr), EPERM)) ::_exit(4);
    }
    if (!fails_with(::syscall(SYS_personality, 0x0004), EPERM)) ::_exit(5);  // a non-Linux persona
    if (::syscall(SYS_personality, 0xffffffffUL) < 0) ::_exit(6);            // the query is allowed
    if (!fails_with(::socket(AF_VSOCK, SOCK_STREAM, 0), EPERM)) ::_exit(7);
    if (!fails_with(::syscall(462 /* mseal */, 0, 0, 0), ENOSYS)) ::_exit(8);  // unfiltered 6.18: 0
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) ::_exit(9);
    ::close(fd);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) return 200 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
}  // namespace

TEST_CASE("the cached filter, loaded with seccomp(2) in a child, blocks and allows what it should") {
  TempDir dir;
  CHECK(run_in_filtered_child(cached_filter(docker_default_caps, "", dir.path), false) == 0);
  CHECK(run_in_filtered_child(cached_filter(with_cap(docker_default_caps, "CAP_SYS_ADMIN"), "", dir.path), true) == 0);
  // The loader refuses a file that is not a whole program, before any syscall.
  fs::write_file(dir.path + "/odd.bpf", "1234567");
  CHECK(load_bpf_file(dir.path + "/odd.bpf") == -EINVAL);
  CHECK(load_bpf_file(dir.path + "/none.bpf") == -ENOENT);
}

// A cache hit must not run berth-heavy (libseccomp): that is what keeps container start fast.
// The missing-helper case runs in a fresh copy of the test binary with another BERTH_LIBEXEC
// (the "child:" case below does nothing unless started this way).
namespace {
int run_child_case(const std::string& test_case, const std::vector<std::string>& env) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::string filter = "-tc=" + test_case;
    ::execl("/proc/self/exe", "unit-seccomp", filter.c_str(), "--no-intro", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

TEST_CASE("child: missing helper") {
  if (!std::getenv("BERTH_TEST_NO_HELPER")) return;
  try {
    compile(resolve(builtin_profile(), host_target({})));
    FAIL("compile without berth-heavy succeeded");
  } catch (const berth::Error& e) {
    const std::string libexec = std::getenv("BERTH_LIBEXEC");
    CHECK(std::string(e.what()) == "cannot run " + libexec + "/berth-heavy: No such file or directory");
    CHECK(e.hint() == "reinstall Berth");
  }
}

TEST_CASE("a cache hit does not run berth-heavy; a missing helper is a clear error") {
  TempDir dir;
  const uint64_t cold = berth::image::heavy_runs();
  const std::string path = cached_filter(docker_default_caps, "", dir.path);
  CHECK(berth::image::heavy_runs() == cold + 1);  // one run: the answer names libseccomp's version
  const uint64_t compiles_before = compile_count(), runs_before = berth::image::heavy_runs();
  CHECK(cached_filter(docker_default_caps, "", dir.path) == path);
  CHECK(compile_count() == compiles_before);
  CHECK(berth::image::heavy_runs() == runs_before);
  CHECK(run_child_case("child: missing helper", {"BERTH_TEST_NO_HELPER=1", "BERTH_LIBEXEC=" + dir.path}) == 0);
}

TEST_CASE("berth-heavy refuses a caller from another build, in JSON, with exit status 1") {
  const char* libexec = std::getenv("BERTH_LIBEXEC");
  REQUIRE(libexec != nullptr);
  const std::string helper = std::string(libexec) + "/berth-heavy";
  FILE* out = ::popen((helper + " other-protocol libseccomp-version").c_str(), "r");
  REQUIRE(out != nullptr);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, out)) > 0;) text.append(buf, n);
  int status = ::pclose(out);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  json answer = json::parse(text);
  CHECK(answer["error"]["message"] == helper + " is from another Berth build (protocol 'other-protocol', expected '" +
                                         std::string(berth::image::kHeavyProtocol) + "')");
  CHECK(answer["error"]["hint"] == "reinstall Berth");
  CHECK(answer["error"]["exit_code"] == 125);
  // The matching protocol answers the same request.
  CHECK(berth::image::run_heavy({"libseccomp-version"}, -1).at("version").get<std::string>() == libseccomp_version());
  // An unknown verb is an error the caller sees as berth::Error, with the helper's own words.
  try {
    berth::image::run_heavy({"nonsense"}, -1);
    FAIL("an unknown verb succeeded");
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()) == "berth-heavy: unknown request 'nonsense'");
    CHECK(e.hint() == "berth runs this helper itself; reinstall Berth");
    CHECK(e.exit_code() == 125);
  }
}
