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

bool send_frame(int fd, Frame type, const std::string& payload) {
  char hdr[5];
  hdr[0] = static_cast<char>(type);
  uint32_t len = static_cast<uint32_t>(payload.size());
  std::memcpy(hdr + 1, &len, 4);
  std::string buf(hdr, 5);
  buf += payload;
  return write_all(fd, buf.data(), buf.size());
}

std::optional<std::pair<Frame, std::string>> read_frame(int fd) {
  char hdr[5];
  if (!read_all(fd, hdr, 5)) return std::nullopt;
  uint32_t len;
  std::memcpy(&len, hdr + 1, 4);
  if (len > (1u << 24)) return std::nullopt;
  std::string payload(len, '\0');
  if (len && !read_all(fd, payload.data(), len)) return std::nullopt;
  return std::make_pair(static_cast<Frame>(hdr[0]), std::move(payload));
}

}  // namespace berth::runtime
