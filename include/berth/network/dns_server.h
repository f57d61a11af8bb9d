#pragma once
// The DNS responder that a container's supervisor runs: UDP on 127.0.0.11:53 inside the
// container's network namespace; names from the network records, read again when a record file
// changes (so a recreated container's new address is served at once); other names forwarded to
// the upstream resolvers from the host namespace; never forwarded when every network of the
// container is internal (CVE-2024-29018): unknown names then get NXDOMAIN at once. Known names
// asked for AAAA or another type get an empty NOERROR answer, never a timeout.
#include <string>
#include <vector>

#include "berth/util/event_source.h"
#include "berth/util/fd.h"

namespace berth::network {

struct DnsConfig {
  std::string netns_path;               // the container's namespace (bind mount)
  std::string bind_address = "127.0.0.11";
  int port = 53;
  std::vector<std::string> network_records;  // <root>/networks/<name>.json of the container
  bool forward = true;                  // false when only on internal networks
  // The container's launch plan: when its "dns" section changes (network connect/disconnect on a
  // running container), the record list and forward flag above follow. Empty: fixed at start.
  std::string launch_plan_path;
  // "ip" or "ip:port". Empty: read from /etc/resolv.conf (dns::upstream_servers). The environment
  // variable BERTH_DNS_UPSTREAM ("ip[:port][,ip[:port]]", loopback allowed: the supervisor
  // forwards from the host namespace) overrides both; tests use it with a local fake upstream.
  std::vector<std::string> upstreams;
};

class DnsServer : public EventSource {
 public:
  // Creates the socket inside the namespace (setns there and back). Throws berth::Error.
  explicit DnsServer(DnsConfig cfg);
  ~DnsServer() override;
  void add_fds(std::vector<pollfd>& fds) override;
  void handle(const std::vector<pollfd>& fds, int64_t now_ms) override;
  int64_t next_deadline_ms() const override;
  // The bound UDP port (the configured one, or the kernel's pick when cfg.port is 0).
  int port() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace berth::network
