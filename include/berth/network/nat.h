#pragma once
// Opt-in outbound NAT and forwarding (docs/networking.md, "Outbound NAT (opt-in)").
//
// Off by default. When on, Berth keeps ONE nftables table, `inet berth`, rebuilt as a whole from
// the network records and replaced atomically: a forward chain that isolates Berth's bridges from
// each other, keeps --internal bridges closed and lets the others out (replies back in), and a
// postrouting chain that masquerades each non-internal subnet leaving through another interface.
// The ruleset text is a pure function (unit-tested as text); applying it loads libnftables at run
// time (dlopen), so nothing links it and `berth --version` never loads it.
#include <string>
#include <vector>

namespace berth::network {

struct NatNetwork {
  std::string name;    // the network's name (sorting only)
  std::string bridge;  // its bridge device: [A-Za-z0-9_.-]{1,15}
  std::string subnet;  // IPv4 CIDR, network address with zero host bits: "172.18.0.0/16"
  bool internal = false;
};

// BERTH_OUTBOUND_NAT=1|true|yes (on) or 0|false|no (off) when set and non-empty; otherwise
// {"outbound-nat": true|false} in <state root>/berth.json; otherwise off. Any other value is an
// Error naming the variable or the file.
bool outbound_nat_enabled();

// The nft script that replaces table inet berth (sorted by name, so the text is deterministic).
// No networks: the script only deletes the table. Refuses (Error) bad device names, bad CIDRs
// and two networks on one device: nothing from a record reaches the text unchecked.
std::string outbound_ruleset(const std::vector<NatNetwork>& networks);

// libnftables, loaded on first use with dlopen("libnftables.so.1"). Error (with the package to
// install) when the library is missing. dry_run: the kernel checks the commands but nothing is
// committed.
class Nftables {
 public:
  explicit Nftables(bool dry_run = false);
  ~Nftables();
  Nftables(const Nftables&) = delete;
  Nftables& operator=(const Nftables&) = delete;
  // Runs nft commands; returns their output. Error with nft's message when they fail.
  std::string run(const std::string& commands);
  static bool available();  // libnftables.so.1 can be loaded

 private:
  void* ctx_ = nullptr;
};

// Replaces table inet berth with outbound_ruleset(networks), then (not in a dry run) sets
// net.ipv4.ip_forward=1. Forwarding is turned on only after the isolating rules are in place.
void apply_outbound_nat(const std::vector<NatNetwork>& networks, bool dry_run);

}  // namespace berth::network
