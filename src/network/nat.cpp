// Opt-in outbound NAT: the setting, the nft ruleset text and applying it. See nat.h.
#include "berth/network/nat.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "berth/network/ipam.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/json.h"
#include "berth/util/paths.h"
#include "berth/util/strings.h"

namespace berth::network {

namespace {

constexpr const char* kEnvVar = "BERTH_OUTBOUND_NAT";
constexpr const char* kLibrary = "libnftables.so.1";
constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";

// Interface names as nft sees them in iifname/oifname: IFNAMSIZ-1 bytes of a harmless alphabet,
// so a quoted name can never close its quotes or start another statement.
bool valid_device(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

// Parsed and printed again: the text that reaches nft is always our own canonical form.
std::string canonical_subnet(const NatNetwork& n) {
  return format_cidr(parse_cidr(n.subnet, "subnet of network " + n.name));
}

std::string quoted(const std::string& device) { return "\"" + device + "\""; }

// ---- libnftables, declared here: no header or link-time dependency ----
struct NftApi {
  void* (*ctx_new)(uint32_t flags);
  void (*ctx_free)(void* ctx);
  int (*buffer_output)(void* ctx);
  int (*buffer_error)(void* ctx);
  const char* (*get_output_buffer)(void* ctx);
  const char* (*get_error_buffer)(void* ctx);
  int (*run_cmd_from_buffer)(void* ctx, const char* buf);
  void (*set_dry_run)(void* ctx, bool dry);
};
constexpr uint32_t kNftCtxDefault = 0;

struct NftLoad {
  NftApi api{};
  std::string error;  // empty: loaded
};

// Loaded once per process and never unloaded (the handle would only be reopened).
const NftLoad& nft_load() {
  static const NftLoad loaded = [] {
    NftLoad out;
    void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = ::dlerror();
      out.error = why ? why : "not found";
      return out;
    }
    auto sym = [&](const char* name) -> void* {
      void* p = ::dlsym(handle, name);
      if (!p && out.error.empty()) out.error = std::string(kLibrary) + " has no " + name;
      return p;
    };
    out.api.ctx_new = reinterpret_cast<void* (*)(uint32_t)>(sym("nft_ctx_new"));
    out.api.ctx_free = reinterpret_cast<void (*)(void*)>(sym("nft_ctx_free"));
    out.api.buffer_output = reinterpret_cast<int (*)(void*)>(sym("nft_ctx_buffer_output"));
    out.api.buffer_error = reinterpret_cast<int (*)(void*)>(sym("nft_ctx_buffer_error"));
    out.api.get_output_buffer = reinterpret_cast<const char* (*)(void*)>(sym("nft_ctx_get_output_buffer"));
    out.api.get_error_buffer = reinterpret_cast<const char* (*)(void*)>(sym("nft_ctx_get_error_buffer"));
    out.api.run_cmd_from_buffer = reinterpret_cast<int (*)(void*, const char*)>(sym("nft_run_cmd_from_buffer"));
    out.api.set_dry_run = reinterpret_cast<void (*)(void*, bool)>(sym("nft_ctx_set_dry_run"));
    return out;
  }();
  return loaded;
}

const NftApi& nft_api() {
  const NftLoad& l = nft_load();
  if (!l.error.empty())
    throw Error("outbound NAT needs " + std::string(kLibrary) + ", which cannot be loaded: " + l.error,
                "install it (apt-get install libnftables1), or turn outbound NAT off (BERTH_OUTBOUND_NAT=0)");
  return l.api;
}

std::string trimmed(const char* s) { return s ? str::trim(s) : std::string(); }

}  // namespace

bool outbound_nat_enabled() {
  if (const char* env = std::getenv(kEnvVar); env && *env) {
    std::string v = str::lower(str::trim(env));
    if (v == "1" || v == "true" || v == "yes") return true;
    if (v == "0" || v == "false" || v == "no") return false;
    throw Error(std::string(kEnvVar) + "=" + env + " is not a yes/no value",
                "use BERTH_OUTBOUND_NAT=1 (on) or BERTH_OUTBOUND_NAT=0 (off)");
  }
  std::string path = paths::state_root() + "/berth.json";
  auto text = fs::read_file_if_exists(path);
  if (!text) return false;
  json config = json::parse(*text, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    throw Error(path + " is not a JSON object", "fix it, e.g. {\"outbound-nat\": true}");
  if (!config.contains("outbound-nat")) return false;
  const json& v = config["outbound-nat"];
  if (!v.is_boolean())
    throw Error(path + ": \"outbound-nat\" must be true or false", "e.g. {\"outbound-nat\": true}");
  return v.get<bool>();
}

std::string outbound_ruleset(const std::vector<NatNetwork>& input) {
  struct Net {
    std::string name, bridge, subnet;
    bool internal;
  };
  std::vector<Net> nets;
  std::set<std::string> devices;
  for (const auto& n : input) {
    if (!valid_device(n.bridge))
      throw Error("network " + n.name + ": bridge device name \"" + n.bridge + "\" is not valid for nftables",
                  "a device name is 1-15 characters of A-Z a-z 0-9 _ . -");
    if (!devices.insert(n.bridge).second)
      throw Error("bridge device " + n.bridge + " belongs to two networks",
                  "remove one of them (berth network rm NAME)");
    nets.push_back({n.name, n.bridge, canonical_subnet(n), n.internal});
  }
  std::sort(nets.begin(), nets.end(),
            [](const Net& a, const Net& b) { return a.name != b.name ? a.name < b.name : a.bridge < b.bridge; });

  // add + delete first: the table is replaced in one transaction whether it exists or not.
  std::string out = "add table inet berth\ndelete table inet berth\n";
  if (nets.empty()) return out;
  out += "table inet berth {\n";
  out += "\tchain forward {\n";
  out += "\t\ttype filter hook forward priority filter; policy accept;\n";
  // Within one network: seen here only when br_netfilter passes bridged frames to IP hooks;
  // containers of one network (internal ones too) always reach each other, as in Docker.
  for (const auto& n : nets) out += "\t\tiifname " + quoted(n.bridge) + " oifname " + quoted(n.bridge) + " accept\n";
  // Isolation: nothing crosses from one Berth network to another, in either direction.
  for (const auto& a : nets)
    for (const auto& b : nets)
      if (a.bridge != b.bridge) out += "\t\tiifname " + quoted(a.bridge) + " oifname " + quoted(b.bridge) + " drop\n";
  // --internal: the bridge is closed both ways.
  for (const auto& n : nets) {
    if (!n.internal) continue;
    out += "\t\tiifname " + quoted(n.bridge) + " drop\n";
    out += "\t\toifname " + quoted(n.bridge) + " drop\n";
  }
  // Others: replies come back in, new connections from outside do not, containers go out.
  for (const auto& n : nets) {
    if (n.internal) continue;
    out += "\t\toifname " + quoted(n.bridge) + " ct state established,related accept\n";
    out += "\t\toifname " + quoted(n.bridge) + " drop\n";
    out += "\t\tiifname " + quoted(n.bridge) + " accept\n";
  }
  out += "\t}\n";
  out += "\tchain postrouting {\n";
  out += "\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& n : nets)
    if (!n.internal) out += "\t\tip saddr " + n.subnet + " oifname != " + quoted(n.bridge) + " masquerade\n";
  out += "\t}\n";
  out += "}\n";
  return out;
}

Nftables::Nftables(bool dry_run) {
  const NftApi& api = nft_api();
  ctx_ = api.ctx_new(kNftCtxDefault);
  if (!ctx_) throw Error("libnftables: cannot create a context", "");
  api.buffer_output(ctx_);
  api.buffer_error(ctx_);
  if (dry_run) api.set_dry_run(ctx_, true);
}

Nftables::~Nftables() {
  if (ctx_) nft_load().api.ctx_free(ctx_);
}

bool Nftables::available() { return nft_load().error.empty(); }

std::string Nftables::run(const std::string& commands) {
  const NftApi& api = nft_api();
  int rc = api.run_cmd_from_buffer(ctx_, commands.c_str());
  std::string output = trimmed(api.get_output_buffer(ctx_));
  std::string error = trimmed(api.get_error_buffer(ctx_));
  if (rc != 0)
    throw Error("nftables refused the commands: " + (error.empty() ? std::string("(no message)") : error),
                "outbound NAT needs root (CAP_NET_ADMIN) and a kernel with nf_tables and NAT");
  return output;
}

void apply_outbound_nat(const std::vector<NatNetwork>& networks, bool dry_run) {
  std::string script = outbound_ruleset(networks);  // validated before anything is loaded
  Nftables nft(dry_run);
  nft.run(script);
  if (dry_run || networks.empty()) return;
  // Only now: forwarding without the isolating rules would join the networks to each other.
  auto current = fs::read_file_if_exists(kIpForward);
  if (current && str::trim(*current) == "1") return;
  try {
    fs::write_file(kIpForward, "1\n");
  } catch (const Error& e) {
    throw Error(std::string("cannot turn on IPv4 forwarding: ") + e.what(),
                "outbound NAT needs root; or set net.ipv4.ip_forward=1 yourself");
  }
}

}  // namespace berth::network
