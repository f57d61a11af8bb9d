#include "berth/util/fd.h"

namespace berth {
namespace {

struct FdLimit {
  rlimit original{};
  bool known = false;
};

FdLimit& fd_limit() {
  static FdLimit limit;
  if (!limit.known) {
    ::getrlimit(RLIMIT_NOFILE, &limit.original);
    limit.known = true;
  }
  return limit;
}

}  // namespace

rlimit original_fd_limit() { return fd_limit().original; }

void raise_fd_limit() {
  rlimit raised = fd_limit().original;
  if (raised.rlim_cur == raised.rlim_max) return;
  raised.rlim_cur = raised.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &raised);
}

}  // namespace berth
