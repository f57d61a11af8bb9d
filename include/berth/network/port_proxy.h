#pragma once
// The userland proxy a supervisor runs for its published ports (never DNAT with route_localnet,
// CVE-2020-8558). TCP: accept, connect to the container (retrying for ~2 s while the service
// starts, instead of resetting), then relay both ways with splice(2) through pipes. UDP: one
// connected socket per client address towards the container, idle flows dropped after 30 s.
#include <cstdint>
#include <string>
#include <vector>

#include "berth/util/event_source.h"

namespace berth::network {

struct ProxiedPort {
  std::string proto = "tcp";
  int listen_fd = -1;           // handed over by the CLI (bound, listening for tcp); owned from now
  uint32_t target_addr = 0;     // container address, host byte order
  uint16_t target_port = 0;
};

class PortProxy : public EventSource {
 public:
  explicit PortProxy(std::vector<ProxiedPort> ports);
  ~PortProxy() override;
  void add_fds(std::vector<pollfd>& fds) override;
  void handle(const std::vector<pollfd>& fds, int64_t now_ms) override;
  int64_t next_deadline_ms() const override;
  size_t active_connections() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace berth::network
