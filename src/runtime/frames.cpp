#include "berth/runtime/frames.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace berth::runtime {

constexpr size_t kMaxFds = 253;  // descriptors one message may carry: the kernel's SCM_MAX_FD

static bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

long send_with_fds(int fd, const void* data, size_t size, const int* fds, size_t count) {
  iovec iov{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (count) {
    if (count > kMaxFds) {
      errno = EINVAL;
      return -1;
    }
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
  }
  ssize_t w;
  do w = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  return w;
}

long recv_with_fds(int fd, void* data, size_t size, std::vector<int>& fds, bool* truncated) {
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t r;
  do r = ::recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r < 0) return r;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int passed;
      std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
      fds.push_back(passed);
    }
  }
  if (truncated) *truncated = (mh.msg_flags & MSG_CTRUNC) != 0;
  return r;
}

bool send_frame(int fd, Frame type, const std::string& payload, const std::vector<int>& fds) {
  char hdr[5];
  hdr[0] = static_cast<char>(type);
  uint32_t len = static_cast<uint32_t>(payload.size());
  std::memcpy(hdr + 1, &len, 4);
  std::string buf(hdr, 5);
  buf += payload;
  // One message carries at most kMaxFds descriptors, so more ride on the frame's first bytes,
  // one byte and kMaxFds descriptors a message; read_frame collects them all.
  size_t chunks = (fds.size() + kMaxFds - 1) / kMaxFds;
  if (chunks > buf.size()) {
    errno = EINVAL;
    return false;
  }
  size_t sent = 0;
  for (size_t i = 0; i < chunks; ++i) {
    size_t first = i * kMaxFds, count = std::min(kMaxFds, fds.size() - first);
    size_t bytes = i + 1 == chunks ? buf.size() - sent : 1;
    long w = send_with_fds(fd, buf.data() + sent, bytes, fds.data() + first, count);
    if (w <= 0) return false;
    sent += static_cast<size_t>(w);
  }
  return write_all(fd, buf.data() + sent, buf.size() - sent);
}

// Reads exactly n bytes. With fds, every recvmsg keeps the descriptors that came with its bytes
// (a plain read would close them), so a frame's chunked descriptors all arrive.
static bool read_all(int fd, char* p, size_t n, std::vector<int>* fds) {
  while (n) {
    bool truncated = false;
    long r = fds ? recv_with_fds(fd, p, n, *fds, &truncated) : ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || truncated) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

std::optional<std::pair<Frame, std::string>> read_frame(int fd, std::vector<int>* fds) {
  char hdr[5];
  if (!read_all(fd, hdr, sizeof hdr, fds)) return std::nullopt;
  uint32_t len;
  std::memcpy(&len, hdr + 1, 4);
  if (len > (1u << 24)) return std::nullopt;
  std::string payload(len, '\0');
  if (len && !read_all(fd, payload.data(), len, fds)) return std::nullopt;
  return std::make_pair(static_cast<Frame>(hdr[0]), std::move(payload));
}

}  // namespace berth::runtime
