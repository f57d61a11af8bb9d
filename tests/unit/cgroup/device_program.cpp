// The v2 device policy program, run by a small interpreter of exactly the instructions it may
// use, against the rule list and against fixed expectations; and, where the kernel lets us,
// through the real verifier (load only: nothing is attached).
#include <doctest/doctest.h>
#include <errno.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "berth/cgroup/cgroup.h"

using namespace berth::cgroup;

namespace {

bpf_insn decode(uint64_t raw) {
  bpf_insn insn;
  std::memcpy(&insn, &raw, sizeof insn);
  return insn;
}

enum Access { M = BPF_DEVCG_ACC_MKNOD, R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE };

// Returns r0 at exit; fails the test on anything the emitter should never produce.
uint64_t run(const std::vector<uint64_t>& prog, char type, uint32_t major, uint32_t minor,
             uint32_t access) {
  bpf_cgroup_dev_ctx ctx{};
  ctx.access_type = (access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
  ctx.major = major;
  ctx.minor = minor;
  uint64_t reg[11] = {};
  bool init[11] = {};
  bool is_ctx[11] = {};
  init[1] = is_ctx[1] = true;
  auto use = [&](int r) {
    REQUIRE_MESSAGE(init[r], "read of uninitialised r" << r);
    return reg[r];
  };
  auto set = [&](int r, uint64_t v) {
    REQUIRE(r < 10);  // r10 is the read-only frame pointer
    reg[r] = v;
    init[r] = true;
    is_ctx[r] = false;
  };
  size_t pc = 0;
  for (int steps = 0; steps < 10000; ++steps) {
    REQUIRE(pc < prog.size());
    bpf_insn in = decode(prog[pc]);
    switch (in.code) {
      case BPF_LDX | BPF_W | BPF_MEM: {
        REQUIRE(is_ctx[in.src_reg]);
        REQUIRE((in.off == 0 || in.off == 4 || in.off == 8));
        uint32_t v;
        std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + in.off, sizeof v);
        set(in.dst_reg, v);
        break;
      }
      case BPF_ALU64 | BPF_MOV | BPF_K:
        set(in.dst_reg, static_cast<uint64_t>(static_cast<int64_t>(in.imm)));
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        set(in.dst_reg, use(in.src_reg));
        break;
      case BPF_ALU64 | BPF_AND | BPF_K:
        set(in.dst_reg, use(in.dst_reg) & static_cast<uint64_t>(static_cast<int64_t>(in.imm)));
        break;
      case BPF_ALU64 | BPF_RSH | BPF_K:
        REQUIRE((in.imm >= 0 && in.imm < 64));
        set(in.dst_reg, use(in.dst_reg) >> in.imm);
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
      case BPF_JMP | BPF_JNE | BPF_X: {
        REQUIRE(in.off >= 0);  // forward only: no loops
        uint64_t rhs = (in.code & BPF_X) ? use(in.src_reg)
                                         : static_cast<uint64_t>(static_cast<int64_t>(in.imm));
        if (use(in.dst_reg) != rhs) pc += static_cast<size_t>(in.off);
        break;
      }
      case BPF_JMP | BPF_EXIT:
        return use(0);
      default:
        FAIL("unexpected opcode " << int(in.code) << " at " << pc);
    }
    ++pc;
  }
  FAIL("program did not exit");
  return 0;
}

bool rules_allow(char type, uint32_t major, uint32_t minor, uint32_t access) {
  for (auto& rule : default_device_rules()) {
    if (rule.type != type) continue;
    if (rule.major >= 0 && rule.major != major) continue;
    if (rule.minor >= 0 && rule.minor != minor) continue;
    uint32_t allowed = 0;
    for (char c : rule.access) allowed |= c == 'r' ? R : c == 'w' ? W : M;
    if ((access & allowed) == access) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("device program: structure") {
  auto prog = device_program(false);
  REQUIRE(prog.size() > 10);
  CHECK(prog.size() < 4096);
  CHECK(decode(prog.back()).code == (BPF_JMP | BPF_EXIT));
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    bpf_insn in = decode(prog[pc]);
    if ((in.code & 0x07) == BPF_JMP && in.code != (BPF_JMP | BPF_EXIT)) {
      CHECK(in.off >= 0);
      CHECK(pc + 1 + static_cast<size_t>(in.off) < prog.size());  // lands on an instruction
    }
  }
  auto all = device_program(true);
  REQUIRE(all.size() == 2);
  CHECK(decode(all[0]).imm == 1);
}

TEST_CASE("device program: decisions") {
  auto prog = device_program(false);
  // Fixed expectations, independent of the rule list.
  CHECK(run(prog, 'c', 1, 3, R | W) == 1);     // /dev/null
  CHECK(run(prog, 'c', 1, 9, R) == 1);         // /dev/urandom
  CHECK(run(prog, 'c', 1, 7, W) == 1);         // /dev/full
  CHECK(run(prog, 'c', 5, 2, R | W) == 1);     // /dev/ptmx
  CHECK(run(prog, 'c', 136, 7, R | W) == 1);   // /dev/pts/7
  CHECK(run(prog, 'c', 10, 200, R | W) == 1);  // /dev/net/tun
  CHECK(run(prog, 'b', 8, 0, R) == 0);         // the host's disk: no read
  CHECK(run(prog, 'b', 253, 0, W) == 0);
  CHECK(run(prog, 'b', 8, 0, M) == 1);  // mknod is allowed, opening is not
  CHECK(run(prog, 'b', 8, 0, M | R) == 0);
  CHECK(run(prog, 'c', 10, 229, R | W) == 0);  // /dev/fuse
  CHECK(run(prog, 'c', 1, 1, R) == 0);         // /dev/mem
  CHECK(run(prog, 'c', 4, 1, W) == 0);         // a host tty
  CHECK(run(prog, 'c', 1, 3, R | W | M) == 1);

  // Exhaustively against the rule list over interesting numbers.
  int cases = 0;
  for (char type : {'c', 'b'})
    for (uint32_t major : {0u, 1u, 4u, 5u, 7u, 8u, 10u, 136u, 137u, 253u, 259u, 65535u})
      for (uint32_t minor : {0u, 1u, 2u, 3u, 5u, 7u, 8u, 9u, 200u, 229u, 12345u})
        for (uint32_t access = 1; access <= 7; ++access) {
          CHECK_MESSAGE(run(prog, type, major, minor, access) ==
                            (rules_allow(type, major, minor, access) ? 1u : 0u),
                        type << " " << major << ":" << minor << " access " << access);
          ++cases;
        }
  CHECK(cases == 2 * 12 * 11 * 7);
  auto all = device_program(true);
  CHECK(run(all, 'b', 8, 0, R | W) == 1);
}

TEST_CASE(
    "device program: the kernel's verifier accepts it (skipped without CAP_BPF/CAP_SYS_ADMIN)") {
  for (bool privileged : {false, true}) {
    auto prog = device_program(privileged);
    static char log[65536];
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uint64_t>(prog.data());
    attr.insn_cnt = static_cast<uint32_t>(prog.size());
    attr.license = reinterpret_cast<uint64_t>("Apache-2.0");
    attr.log_buf = reinterpret_cast<uint64_t>(log);
    attr.log_size = sizeof log;
    attr.log_level = 1;
    int fd = static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
    if (fd < 0 && (errno == EPERM || errno == ENOSYS)) {
      MESSAGE("skipped: bpf(2) not permitted here");
      return;
    }
    CHECK_MESSAGE(fd >= 0, "verifier: " << log);
    if (fd >= 0) ::close(fd);
  }
}
