#pragma once
// Puts the calling thread into a network namespace for one scope and brings it back. Used for
// what only works from inside (creating a socket there, opening /proc/sys/net/...). The callers
// are single-threaded, so nothing else runs in the other namespace meanwhile.
#include "berth/util/fd.h"

namespace berth::network::detail {

class NetnsEntry {
 public:
  explicit NetnsEntry(int netns_fd);  // throws SysError
  ~NetnsEntry();
  NetnsEntry(const NetnsEntry&) = delete;
  NetnsEntry& operator=(const NetnsEntry&) = delete;

 private:
  UniqueFd original_;
};

// The current thread's network namespace, for coming back to it.
UniqueFd open_current_netns();
// setns back to `original`. Aborts on failure: carrying on in the wrong namespace would
// configure the container's network as if it were the host's (and the reverse).
void return_to_netns(int original);

}  // namespace berth::network::detail
