#include "berth/runtime/frames.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::runtime {

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

static bool read_all(int fd, char* p, size_t n) {
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool send_frame(int fd, Frame type, const std::string& payload, const std::vector<int>& fds) {
  char hdr[5];
  hdr[0] = static_cast<char>(type);
  uint32_t len = static_cast<uint32_t>(payload.size());
  std::memcpy(hdr + 1, &len, 4);
  std::string buf(hdr, 5);
  buf += payload;
  size_t sent = 0;
  if (!fds.empty()) {  // the descriptors ride on the first sendmsg; the rest is a plain stream
    iovec iov{buf.data(), buf.size()};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.data();
    mh.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    ssize_t w;
    do w = ::sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w <= 0) return false;
    sent = static_cast<size_t>(w);
  }
  return write_all(fd, buf.data() + sent, buf.size() - sent);
}

std::optional<std::pair<Frame, std::string>> read_frame(int fd, std::vector<int>* fds) {
  char hdr[5];
  size_t got = 0;
  if (fds) {  // the header's first recvmsg carries any descriptors sent with the frame
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 64)];
    iovec iov{hdr, sizeof hdr};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t r;
    do r = ::recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r <= 0) return std::nullopt;
    got = static_cast<size_t>(r);
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int passed;
        std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
        fds->push_back(passed);
      }
    }
    if (mh.msg_flags & MSG_CTRUNC) return std::nullopt;
  }
  if (!read_all(fd, hdr + got, 5 - got)) return std::nullopt;
  uint32_t len;
  std::memcpy(&len, hdr + 1, 4);
  if (len > (1u << 24)) return std::nullopt;
  std::string payload(len, '\0');
  if (len && !read_all(fd, payload.data(), len)) return std::nullopt;
  return std::make_pair(static_cast<Frame>(hdr[0]), std::move(payload));
}

}  // namespace berth::runtime
