// cgroup v2 has no devices.allow: the policy is a BPF_PROG_TYPE_CGROUP_DEVICE program, written
// here instruction by instruction (no libbpf in a static supervisor) and loaded with bpf(2).
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "berth/cgroup/cgroup.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"

namespace berth::cgroup {
namespace {

uint64_t pack(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0xf;
  insn.src_reg = src & 0xf;
  insn.off = off;
  insn.imm = imm;
  static_assert(sizeof insn == sizeof(uint64_t));
  uint64_t raw;
  std::memcpy(&raw, &insn, sizeof raw);
  return raw;
}

uint64_t load_u32(uint8_t dst, uint8_t src, int16_t off) {
  return pack(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
uint64_t alu_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return pack(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}
uint64_t mov_reg(uint8_t dst, uint8_t src) {
  return pack(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
uint64_t jne_imm(uint8_t dst, int32_t imm, int16_t off) {
  return pack(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm);
}
uint64_t jne_reg(uint8_t dst, uint8_t src, int16_t off) {
  return pack(BPF_JMP | BPF_JNE | BPF_X, dst, src, off, 0);
}
uint64_t exit_insn() { return pack(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

// Registers after the prologue: r2 device type, r3 requested access, r4 major, r5 minor.
constexpr uint8_t kType = 2, kAccess = 3, kMajor = 4, kMinor = 5, kScratch = 1;

int32_t access_mask(const std::string& access) {
  int32_t mask = 0;
  for (char c : access) {
    if (c == 'r') mask |= BPF_DEVCG_ACC_READ;
    if (c == 'w') mask |= BPF_DEVCG_ACC_WRITE;
    if (c == 'm') mask |= BPF_DEVCG_ACC_MKNOD;
  }
  return mask;
}

uint64_t with_offset(uint64_t raw, int16_t off) {
  bpf_insn insn;
  std::memcpy(&insn, &raw, sizeof insn);
  insn.off = off;
  std::memcpy(&raw, &insn, sizeof raw);
  return raw;
}

// One rule: every "does not match" jumps to the first instruction after the block.
std::vector<uint64_t> rule_block(const DeviceRule& rule) {
  std::vector<uint64_t> block;
  std::vector<size_t> jumps;
  auto skip_unless = [&](uint64_t jne) {
    jumps.push_back(block.size());
    block.push_back(jne);
  };
  skip_unless(jne_imm(kType, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
  const int32_t mask = access_mask(rule.access);
  if (mask != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
    // requested ⊆ allowed ⇔ (requested & allowed) == requested
    block.push_back(mov_reg(kScratch, kAccess));
    block.push_back(alu_imm(BPF_AND, kScratch, mask));
    skip_unless(jne_reg(kScratch, kAccess, 0));
  }
  if (rule.major >= 0) skip_unless(jne_imm(kMajor, static_cast<int32_t>(rule.major), 0));
  if (rule.minor >= 0) skip_unless(jne_imm(kMinor, static_cast<int32_t>(rule.minor), 0));
  block.push_back(alu_imm(BPF_MOV, 0, 1));
  block.push_back(exit_insn());
  for (size_t j : jumps)
    block[j] = with_offset(block[j], static_cast<int16_t>(block.size() - (j + 1)));
  return block;
}

}  // namespace

std::vector<uint64_t> device_program(bool privileged) {
  std::vector<uint64_t> prog;
  if (privileged) {
    prog.push_back(alu_imm(BPF_MOV, 0, 1));
    prog.push_back(exit_insn());
    return prog;
  }
  // struct bpf_cgroup_dev_ctx { u32 access_type /* access << 16 | type */; u32 major; u32 minor; }
  prog.push_back(load_u32(kType, 1, offsetof(bpf_cgroup_dev_ctx, access_type)));
  prog.push_back(mov_reg(kAccess, kType));
  prog.push_back(alu_imm(BPF_AND, kType, 0xffff));
  prog.push_back(alu_imm(BPF_RSH, kAccess, 16));
  prog.push_back(load_u32(kMajor, 1, offsetof(bpf_cgroup_dev_ctx, major)));
  prog.push_back(load_u32(kMinor, 1, offsetof(bpf_cgroup_dev_ctx, minor)));
  for (auto& rule : default_device_rules()) {
    auto block = rule_block(rule);
    prog.insert(prog.end(), block.begin(), block.end());
  }
  prog.push_back(alu_imm(BPF_MOV, 0, 0));  // no rule allowed it
  prog.push_back(exit_insn());
  return prog;
}

void attach_device_program(const std::string& cgroup_dir, const std::vector<uint64_t>& program) {
  static const char license[] = "Apache-2.0";
  auto load = [&](char* log, uint32_t log_size) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uint64_t>(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = reinterpret_cast<uint64_t>(license);
    if (log) {
      attr.log_buf = reinterpret_cast<uint64_t>(log);
      attr.log_size = log_size;
      attr.log_level = 1;
    }
    return static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
  };
  UniqueFd prog(load(nullptr, 0));
  if (!prog) {
    int err = errno;
    std::string log(16384, '\0');
    if (err != EPERM && load(log.data(), static_cast<uint32_t>(log.size())) < 0)
      log.resize(std::strlen(log.c_str()));
    else
      log.clear();
    throw Error("cannot load the device policy program: " + std::string(std::strerror(err)) +
                    (log.empty() ? "" : "\n" + log),
                err == EPERM ? "loading BPF programs needs CAP_SYS_ADMIN (or CAP_BPF)" : "");
  }
  UniqueFd dir(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw SysError("open " + cgroup_dir, errno);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(dir.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;  // the parent's programs keep running; all must allow
  if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) != 0)
    throw Error("cannot attach the device policy to " + cgroup_dir + ": " + std::strerror(errno));
  // The attachment holds its own reference: closing the program fd leaves the policy in place.
}

}  // namespace berth::cgroup
