#pragma once
// A seccomp profile as data: rules with capability/arch/kernel conditions, read from Berth's own
// format (schemas/seccomp-default.json) or from a Docker-format JSON file, and resolved for one
// container (its capabilities, the host arch and kernel) the way moby's daemon does it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::seccomp {

enum class ActionKind { allow, errno_ret, kill_thread, kill_process, trap, trace, log };

struct Action {
  ActionKind kind = ActionKind::allow;
  uint32_t value = 0;  // the errno for errno_ret, the message for trace
  bool operator==(const Action&) const = default;
};
std::string to_string(const Action& action);  // "allow", "errno 38", "kill_process"

enum class CompareOp { eq, ne, lt, le, gt, ge, masked_eq };

// One comparison on a syscall argument. masked_eq means (arg & value) == value_two.
struct ArgCondition {
  unsigned index = 0;
  CompareOp op = CompareOp::eq;
  uint64_t value = 0;
  uint64_t value_two = 0;
  bool operator==(const ArgCondition&) const = default;
  auto operator<=>(const ArgCondition&) const = default;
};
std::string to_string(const ArgCondition& condition);  // "arg0 & 0x7e020000 == 0"

struct KernelVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const KernelVersion&) const = default;
};
std::optional<KernelVersion> parse_kernel_version(std::string_view text);  // "6.18.44-fc" → 6.18
KernelVersion running_kernel();

// moby's includes/excludes: a rule applies when the container has every included cap, the
// native arch is listed, and the kernel is new enough; it is dropped when any excluded
// condition holds.
struct RuleCondition {
  std::vector<std::string> caps;    // CAP_SYS_ADMIN, ...
  std::vector<std::string> arches;  // native arch names: x86_64, x86, x32, aarch64, ...
  std::optional<KernelVersion> min_kernel;
  bool empty() const { return caps.empty() && arches.empty() && !min_kernel; }
};

struct Rule {
  std::vector<std::string> syscalls;
  Action action;
  std::vector<ArgCondition> args;  // all must hold
  RuleCondition includes;
  RuleCondition excludes;
};

struct ArchGroup {
  std::string native;             // x86_64
  std::vector<std::string> subs;  // x86, x32
};

struct Profile {
  std::string origin;  // file name or "built-in default", for messages
  Action default_action{ActionKind::errno_ret, 1};
  std::vector<ArchGroup> arch_map;
  std::vector<std::string> flat_arches;  // Docker's older "architectures" list
  std::vector<Rule> rules;
};

// Everything about one container that a profile's conditions look at.
struct Target {
  std::string arch;                    // native arch, e.g. "x86_64"
  std::vector<std::string> caps;       // normalised: CAP_ prefix, upper case, sorted
  KernelVersion kernel;
};
std::string native_arch();                                         // of this build: "x86_64"
std::vector<std::string> normalize_caps(std::vector<std::string> caps);  // "chown" → "CAP_CHOWN"
Target host_target(const std::vector<std::string>& caps);

// The rules that apply to one target, conditions evaluated away.
struct ResolvedProfile {
  Action default_action;
  std::vector<std::string> arches;  // native first
  std::vector<Rule> rules;          // includes/excludes empty
};
ResolvedProfile resolve(const Profile& profile, const Target& target);

// Parsers throw berth::Error naming origin and the offending field.
Profile parse_docker_profile(std::string_view text, const std::string& origin);
Profile parse_berth_profile(std::string_view text, const std::string& origin);
// Berth's format if the document has "berth_seccomp", else Docker's.
Profile parse_profile(std::string_view text, const std::string& origin);

// The built-in default (schemas/seccomp-default.json, embedded at build time).
std::string_view builtin_profile_text();
std::string_view builtin_profile_sha256();  // hex, computed at build time
const Profile& builtin_profile();

}  // namespace berth::seccomp
