#pragma once
// Pure parsers for `berth container run` options and the image config, with Docker's rules and
// messages (docker/cli opts, go-units, moby daemon). Every failure is a berth::Error, exit code 125.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::engine {

// ---- sizes, cpus, durations ----

// go-units RAMInBytes: "1024", "512k", "32m", "1.5g", "2GiB", "10 MB" (binary multiples, any case).
// flag names the option in the error, e.g. "--memory".
int64_t parse_memory_bytes(const std::string& s, const std::string& flag = "--memory");
// docker/cli NanoCPUs: "0.5" -> 500000000; at most 9 decimals, not negative.
int64_t parse_nano_cpus(const std::string& s, const std::string& flag = "--cpus");
// Go time.ParseDuration: "1m30s", "500ms", "2h", "1.5s", "0"; negative values are rejected.
uint64_t parse_duration_ns(const std::string& s, const std::string& flag = "duration");

// ---- ulimits ----

constexpr uint64_t kUlimitUnlimited = UINT64_MAX;  // RLIM_INFINITY; written as -1 on the command line

struct Ulimit {
  int resource = 0;   // RLIMIT_*
  std::string name;   // Docker's name: "nofile"
  uint64_t soft = 0;  // kUlimitUnlimited for -1
  uint64_t hard = 0;
};
// "nofile=1024:2048", "nproc=512" (hard = soft), "-1" = unlimited.
Ulimit parse_ulimit(const std::string& s);

// ---- environment, labels ----

// docker run --env-file: comments and blank lines skipped, leading whitespace trimmed, KEY=VAL kept
// literally, a UTF-8 BOM on line 1 dropped. A bare KEY takes the caller's value; when the caller has
// none it stays a bare "KEY" (Docker keeps it: merge_env then drops it and also unsets the image's KEY).
std::vector<std::string> parse_env_file(const std::string& path);

// Docker's container env: PATH first (user, else image, else the default below), then
// runtime_env (e.g. "HOSTNAME=<id>", "TERM=xterm"), then user_env, then image_env keys the user did
// not set. Later values win by key, in the place of the first occurrence. A bare "KEY" in user_env
// (from -e KEY or an env file) takes the caller's environment value; when unset, KEY is removed
// from the result, including the image's value (Docker's unset).
inline constexpr const char* kDefaultPathEnv =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
std::vector<std::string> merge_env(const std::vector<std::string>& image_env,
                                   const std::vector<std::string>& user_env,
                                   const std::vector<std::string>& runtime_env = {});

// docker run --label k=v: the key must be non-empty and contain no whitespace. Returns s.
std::string validate_label(const std::string& s);
// --label-file files first (in order), then --label flags; later wins. "KEY" alone = empty value.
std::map<std::string, std::string> parse_labels(const std::vector<std::string>& kv,
                                                const std::vector<std::string>& label_files);

// ---- command ----

// Docker's merge of image Entrypoint/Cmd with --entrypoint and the arguments after the image:
// --entrypoint (even "") drops the image Cmd and Entrypoint; args replace the image Cmd.
// Empty result -> Error "no command specified".
std::vector<std::string> merge_command(const std::vector<std::string>& image_entrypoint,
                                       const std::vector<std::string>& image_cmd,
                                       const std::optional<std::string>& entrypoint_flag,
                                       const std::vector<std::string>& cmd_args);

// ---- mounts ----

struct TmpfsMount {
  std::string target;
  // Docker's merged option list (what the OCI spec gets), e.g.
  // "noexec,nosuid,nodev,rprivate,rw,size=64m,mode=1777".
  std::string options;
  std::string data;         // the mount(2) data part: "size=64m,mode=1777"
  unsigned long flags = 0;  // MS_* flags for mount(2), without propagation
  unsigned long propagation = 0;  // MS_PRIVATE|MS_REC etc., applied with a second mount(2)
};
// --tmpfs TARGET[:OPTIONS]; defaults noexec,nosuid,nodev,rprivate; the user's options override them.
TmpfsMount parse_tmpfs(const std::string& s);

struct BindMount {
  std::string source;  // cleaned absolute host path (binds only)
  std::string target;  // cleaned absolute container path
  bool readonly = false;
  std::string propagation;  // "rprivate" (default), "private", "shared", "rshared", "slave", "rslave"
  bool named = false;   // a volume, not a bind: name is its name, "" for an anonymous volume
  std::string name;
  bool nocopy = false;  // "nocopy" mode (volumes only matter)
  std::string mode;     // the raw third field, e.g. "ro,z"
};
// -v [SOURCE:]TARGET[:MODE] with moby's linux parser rules. Modes: ro|rw, z|Z (ignored),
// a propagation, nocopy, consistent|cached|delegated (ignored); one of each kind at most.
BindMount parse_volume_flag(const std::string& s);

// ---- capabilities ----

// Docker's 14 default capabilities (runtime-security.md 1.1), in Docker's order.
const std::vector<std::string>& default_capabilities();
// "CAP_CHOWN" for 0 ... "CAP_CHECKPOINT_RESTORE" for 40, "CAP_<n>" above; empty for negative.
std::string capability_name(int number);
// Number of "CAP_NET_ADMIN", "net_admin", "CAP_12"; -1 when unknown or above last_cap.
int capability_number(const std::string& name, int last_cap);
// /proc/sys/kernel/cap_last_cap (40 when unreadable), read once per process.
int host_cap_last_cap();

// Upper-case, add CAP_, validate. "ALL" passes through. Unknown -> Error "unknown capability: \"CAP_FOO\"".
std::vector<std::string> normalize_capabilities(const std::vector<std::string>& in,
                                                int last_cap = host_cap_last_cap());
// Docker's TweakCapabilities: privileged or --cap-add ALL = every capability in the caller's
// bounding set (minus --cap-drop); --cap-drop ALL = only --cap-add; else defaults - drop + add.
// Defaults the caller lacks are left out; an explicit --cap-add the caller lacks is an Error.
std::vector<std::string> effective_capabilities(const std::vector<std::string>& cap_add,
                                                const std::vector<std::string>& cap_drop,
                                                bool privileged, uint64_t bounding_mask_of_caller,
                                                int last_cap = host_cap_last_cap());
// Bit mask (1 << number) of capability names in any accepted spelling ("ALL" not allowed).
uint64_t capability_mask(const std::vector<std::string>& names, int last_cap = host_cap_last_cap());

// ---- sysctls ----

// runc's rule: only keys of a kernel namespace the container owns (IPC: kernel.msg*, kernel.sem,
// kernel.shm*, fs.mqueue.*; UTS: kernel.hostname, kernel.domainname; net.* only with a private
// network namespace, not network_mode host or container:X). "" when allowed, else the reason.
std::string sysctl_refusal(const std::string& key, const std::string& network_mode);
// --sysctl KEY=VALUE, in order (later wins); a bad form or a refused key is an Error naming it.
std::map<std::string, std::string> parse_sysctls(const std::vector<std::string>& kv,
                                                 const std::string& network_mode);

// ---- signals ----

// "SIGTERM", "term", "15", "SIGRTMIN+3", "RTMAX-2" -> number (1..64). Invalid -> Error.
int parse_signal(const std::string& s);

}  // namespace berth::engine
