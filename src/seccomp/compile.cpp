#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/strings.h"

namespace berth::seccomp {
namespace {

std::atomic<uint64_t> compiles{0};

constexpr uint32_t x32_syscall_bit = 0x40000000;

// Owns a libseccomp filter context.
struct FilterContext {
  scmp_filter_ctx ctx;
  explicit FilterContext(uint32_t default_action) : ctx(seccomp_init(default_action)) {
    if (!ctx) throw Error("seccomp_init failed (unsupported default action?)");
  }
  ~FilterContext() { seccomp_release(ctx); }
  FilterContext(const FilterContext&) = delete;
  FilterContext& operator=(const FilterContext&) = delete;
};

uint32_t scmp_action(const Action& action) {
  switch (action.kind) {
    case ActionKind::allow: return SCMP_ACT_ALLOW;
    case ActionKind::errno_ret: return SCMP_ACT_ERRNO(action.value);
    case ActionKind::kill_thread: return SCMP_ACT_KILL_THREAD;
    case ActionKind::kill_process: return SCMP_ACT_KILL_PROCESS;
    case ActionKind::trap: return SCMP_ACT_TRAP;
    case ActionKind::trace: return SCMP_ACT_TRACE(action.value);
    case ActionKind::log: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare scmp_op(CompareOp op) {
  switch (op) {
    case CompareOp::eq: return SCMP_CMP_EQ;
    case CompareOp::ne: return SCMP_CMP_NE;
    case CompareOp::lt: return SCMP_CMP_LT;
    case CompareOp::le: return SCMP_CMP_LE;
    case CompareOp::gt: return SCMP_CMP_GT;
    case CompareOp::ge: return SCMP_CMP_GE;
    case CompareOp::masked_eq: return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

uint32_t arch_token(const std::string& arch) {
  uint32_t token = seccomp_arch_resolve_name(arch.c_str());
  if (token == 0) throw Error("seccomp: libseccomp " + libseccomp_version() + " does not know the arch \"" + arch + "\"");
  return token;
}

std::string export_bpf(const FilterContext& filter) {
  UniqueFd fd(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!fd) throw_errno("memfd_create");
  if (int rc = seccomp_export_bpf(filter.ctx, fd.get()); rc < 0) throw SysError("seccomp_export_bpf", -rc);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("lseek");
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read exported BPF");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// A prefix to libseccomp's program, as runc's patchbpf does: a syscall number above the highest
// one libseccomp knows for the arch is newer than the profile could name, so answer ENOSYS (libc
// then falls back) rather than the default EPERM. On x86_64 the kernel reports x32 syscalls with
// the x86_64 audit arch and the x32 bit set in the number, so that range gets its own limits.
std::vector<sock_filter> enosys_stub(const std::vector<std::string>& arches) {
  struct ArchLimits {
    uint32_t audit_arch;
    std::optional<uint32_t> max_native;           // numbers without the x32 bit
    std::optional<std::pair<uint32_t, uint32_t>>  // x32: highest below 512, highest overall (with bit)
        x32;
  };
  std::vector<ArchLimits> limits;
  auto entry_for = [&](uint32_t audit) -> ArchLimits& {
    for (auto& l : limits)
      if (l.audit_arch == audit) return l;
    limits.push_back({audit, {}, {}});
    return limits.back();
  };
  for (const auto& arch : arches) {
    if (arch == "x32") {
      // x32 has the common numbers below 512 and its own compat calls at 512..547.
      entry_for(AUDIT_ARCH_X86_64).x32 = {highest_known_syscall("x32", 512), highest_known_syscall("x32")};
    } else {
      uint32_t audit = arch == "x86_64" ? AUDIT_ARCH_X86_64 : arch == "x86" ? AUDIT_ARCH_I386 : arch_token(arch);
      entry_for(audit).max_native = highest_known_syscall(arch);
    }
  }

  // Jump targets are indexes into the stub; enosys and next_filter are patched at the end.
  constexpr int next = -1, enosys = -2, next_filter = -3;
  struct Insn {
    sock_filter f;
    int jt = next, jf = next;
  };
  std::vector<Insn> code;
  auto stmt = [&](uint16_t op, uint32_t k) { code.push_back({BPF_STMT(op, k), next, next}); };
  auto jump = [&](uint16_t op, uint32_t k, int jt, int jf) { code.push_back({BPF_JUMP(op, k, 0, 0), jt, jf}); };

  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  std::vector<size_t> arch_jumps;
  for (const auto& l : limits) {
    arch_jumps.push_back(code.size());
    jump(BPF_JMP | BPF_JEQ | BPF_K, l.audit_arch, 0 /* patched */, next);
  }
  code.push_back({BPF_STMT(BPF_JMP | BPF_JA, 0), next_filter, next});  // unknown arch: libseccomp decides
  for (size_t i = 0; i < limits.size(); ++i) {
    const auto& l = limits[i];
    code[arch_jumps[i]].jt = static_cast<int>(code.size());
    stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
    if (l.audit_arch == AUDIT_ARCH_X86_64) {
      size_t split = code.size();
      jump(BPF_JMP | BPF_JSET | BPF_K, x32_syscall_bit, next_filter, next);
      if (l.max_native) jump(BPF_JMP | BPF_JGT | BPF_K, *l.max_native, enosys, next_filter);
      else code.push_back({BPF_STMT(BPF_JMP | BPF_JA, 0), next_filter, next});
      if (l.x32) {
        code[split].jt = static_cast<int>(code.size());
        jump(BPF_JMP | BPF_JGT | BPF_K, l.x32->second, enosys, next);
        jump(BPF_JMP | BPF_JGE | BPF_K, x32_syscall_bit + 512, next_filter, next);
        jump(BPF_JMP | BPF_JGT | BPF_K, l.x32->first, enosys, next_filter);
      }
    } else {
      jump(BPF_JMP | BPF_JGT | BPF_K, l.max_native.value_or(0), enosys, next_filter);
    }
  }
  const int enosys_at = static_cast<int>(code.size());
  const int next_filter_at = enosys_at + 1;
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));

  std::vector<sock_filter> out;
  for (size_t i = 0; i < code.size(); ++i) {
    auto target = [&](int t) {
      int abs = t == next ? static_cast<int>(i) + 1 : t == enosys ? enosys_at : t == next_filter ? next_filter_at : t;
      int rel = abs - static_cast<int>(i) - 1;
      if (rel < 0 || rel > 255) throw Error("seccomp: ENOSYS stub jump out of range");
      return rel;
    };
    sock_filter f = code[i].f;
    if (BPF_CLASS(f.code) == BPF_JMP) {
      if (BPF_OP(f.code) == BPF_JA) {
        if (code[i].jt != next) f.k = static_cast<uint32_t>(target(code[i].jt));
      } else {
        f.jt = static_cast<uint8_t>(target(code[i].jt));
        f.jf = static_cast<uint8_t>(target(code[i].jf));
      }
    }
    out.push_back(f);
  }
  return out;
}

// SHA-256 (FIPS 180-4), here so the cache key needs no crypto library in berth_seccomp.
struct Sha256 {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block[64];
  size_t used = 0;
  uint64_t total = 0;

  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void compress(const unsigned char* p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = uint32_t(p[4 * i]) << 24 | uint32_t(p[4 * i + 1]) << 16 | uint32_t(p[4 * i + 2]) << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }

  void update(const unsigned char* p, size_t n) {
    total += n;
    while (n > 0) {
      size_t take = std::min(n, sizeof block - used);
      std::memcpy(block + used, p, take);
      used += take, p += take, n -= take;
      if (used == sizeof block) compress(block), used = 0;
    }
  }

  std::string hex() {
    uint64_t bits = total * 8;
    unsigned char pad = 0x80;
    update(&pad, 1);
    unsigned char zero = 0;
    while (used != 56) update(&zero, 1);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint32_t word : h)
      for (int shift = 28; shift >= 0; shift -= 4) out += digits[(word >> shift) & 0xf];
    return out;
  }
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  Sha256 s;
  s.update(reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return s.hex();
}

std::string libseccomp_version() {
  const scmp_version* v = seccomp_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

uint64_t compile_count() { return compiles.load(); }

uint32_t highest_known_syscall(const std::string& arch, uint32_t below) {
  const uint32_t token = arch_token(arch);
  const uint32_t base = arch == "x32" ? x32_syscall_bit : 0;
  for (uint32_t nr = below; nr-- > 0;) {
    char* name = seccomp_syscall_resolve_num_arch(token, static_cast<int>(base + nr));
    if (name) {
      std::free(name);
      return base + nr;
    }
  }
  throw Error("seccomp: libseccomp knows no syscalls for arch " + arch);
}

CompiledFilter compile(const ResolvedProfile& profile) {
  ++compiles;
  CompiledFilter out;
  const uint32_t default_action = scmp_action(profile.default_action);
  FilterContext filter(default_action);
  // We export the program and load it ourselves; no_new_privs is the runtime's decision.
  if (int rc = seccomp_attr_set(filter.ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0) throw SysError("seccomp_attr_set", -rc);
  const uint32_t native = seccomp_arch_native();
  bool keep_native = false;
  for (const auto& arch : profile.arches) {
    uint32_t token = arch_token(arch);
    if (token == native) {
      keep_native = true;
      continue;
    }
    if (int rc = seccomp_arch_add(filter.ctx, token); rc < 0 && rc != -EEXIST)
      throw SysError("seccomp: add arch " + arch, -rc);
  }
  if (!keep_native) seccomp_arch_remove(filter.ctx, native);

  for (const auto& rule : profile.rules) {
    const uint32_t action = scmp_action(rule.action);
    if (action == default_action) continue;  // libseccomp refuses redundant rules, as runc skips them
    std::vector<scmp_arg_cmp> cmps;
    for (const auto& a : rule.args) cmps.push_back({a.index, scmp_op(a.op), a.value, a.value_two});
    for (const auto& name : rule.syscalls) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        if (std::find(out.unknown_syscalls.begin(), out.unknown_syscalls.end(), name) == out.unknown_syscalls.end())
          out.unknown_syscalls.push_back(name);
        continue;
      }
      int rc = seccomp_rule_add_array(filter.ctx, action, nr, static_cast<unsigned>(cmps.size()), cmps.data());
      if (rc < 0) {
        std::string conditions;
        for (const auto& a : rule.args) conditions += (conditions.empty() ? " if " : " && ") + to_string(a);
        throw Error("seccomp: libseccomp rejected the rule " + to_string(rule.action) + " " + name + conditions +
                        ": " + std::strerror(-rc),
                    "check the profile's rules for " + name);
      }
    }
  }

  std::string program = export_bpf(filter);
  const bool needs_stub = profile.default_action.kind != ActionKind::allow &&
                          !(profile.default_action.kind == ActionKind::errno_ret && profile.default_action.value == ENOSYS);
  if (needs_stub) {
    auto stub = enosys_stub(profile.arches);
    out.stub_instructions = stub.size();
    out.bpf.assign(reinterpret_cast<const char*>(stub.data()), stub.size() * sizeof(sock_filter));
  }
  out.bpf += program;
  if (out.bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS)
    throw Error("seccomp: the compiled filter has more than " + std::to_string(BPF_MAXINSNS) + " instructions");
  return out;
}

std::string cached_filter(const std::vector<std::string>& capabilities, const std::string& profile_path,
                          const std::string& cache_dir) {
  std::string text;  // only read for a profile file
  if (!profile_path.empty()) {
    try {
      text = fs::read_file(profile_path);
    } catch (const SysError& e) {
      throw Error("seccomp profile " + profile_path + ": cannot read: " + std::strerror(e.err()),
                  "--security-opt seccomp=FILE needs a readable Docker-format JSON file");
    }
  }
  const Target target = host_target(capabilities);
  // Everything the compiled program depends on; a change in any of it is a different file.
  // The built-in profile's hash is computed at build time: a cache hit then hashes ~300 bytes.
  const std::string profile_hash = profile_path.empty() ? std::string(builtin_profile_sha256()) : sha256_hex(text);
  const std::string key = "berth-seccomp-bpf 1\nlibseccomp " + libseccomp_version() + "\narch " + target.arch +
                          "\nkernel " + std::to_string(target.kernel.major) + "." +
                          std::to_string(target.kernel.minor) + "\ncaps " + str::join(target.caps, ",") +
                          "\nprofile-sha256 " + profile_hash;
  const std::string path = fs::join(cache_dir, sha256_hex(key) + ".bpf");

  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      st.st_size % static_cast<off_t>(sizeof(sock_filter)) == 0)
    return path;

  Profile parsed = profile_path.empty() ? builtin_profile() : parse_profile(text, profile_path);
  CompiledFilter compiled = compile(resolve(parsed, target));
  fs::mkdir_p(cache_dir, 0700);
  fs::write_file_atomic(path, compiled.bpf, 0644);
  return path;
}

SeccompChoice choose_profile(const std::vector<std::string>& security_opts, bool privileged) {
  SeccompChoice choice;
  for (const auto& opt : security_opts) {
    // Docker accepts both seccomp=VALUE and the older seccomp:VALUE.
    if (!opt.starts_with("seccomp=") && !opt.starts_with("seccomp:")) continue;
    std::string value = opt.substr(8);
    if (value.empty())
      throw Error("invalid --security-opt " + opt + ": missing profile",
                  "use seccomp=unconfined or seccomp=/path/to/profile.json");
    if (value == "unconfined") {
      choice = {false, ""};
    } else if (value == "builtin" || value == "default") {
      choice = {true, ""};
    } else {
      choice = {true, value};
    }
  }
  if (privileged) choice = {false, ""};
  return choice;
}

}  // namespace berth::seccomp
