#pragma once
// Something the supervisor's single-threaded poll(2) loop watches (DNS responder, port proxies).
// The loop asks every source for its fds, polls once, then hands the same vector back.
#include <poll.h>

#include <cstdint>
#include <vector>

namespace berth {

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Append the pollfds to watch (remember where they start: handle() gets the same vector).
  virtual void add_fds(std::vector<pollfd>& fds) = 0;
  // After poll(2): act on the ready fds among the ones this source added. now_ms is CLOCK_MONOTONIC.
  virtual void handle(const std::vector<pollfd>& fds, int64_t now_ms) = 0;
  // The earliest CLOCK_MONOTONIC ms at which handle() must run even with nothing ready; 0 = none.
  virtual int64_t next_deadline_ms() const { return 0; }
};

}  // namespace berth
