#include "berth/util/fd.h"

namespace berth {
namespace {

struct FdLimit {
  rlimit original{};
  bool known = false;
  bool raised = false;
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
  FdLimit& limit = fd_limit();
  if (limit.raised) return;  // once: `up` binds ports for one container after another
  limit.raised = true;
  if (limit.original.rlim_cur == limit.original.rlim_max) return;
  rlimit raised{limit.original.rlim_max, limit.original.rlim_max};
  ::setrlimit(RLIMIT_NOFILE, &raised);
}

}  // namespace berth
