#pragma once
// An owned file descriptor, closed on scope exit.
#include <unistd.h>

#include <sys/resource.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

namespace berth {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Writes all of data, retrying short writes and EINTR; false when the fd refuses (a closed pipe).
inline bool write_all(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Appends everything up to EOF to out, retrying EINTR; false on a read error (errno is set).
inline bool read_all(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      return false;
    }
  }
}

// RLIMIT_NOFILE as this process started with, before any raise_fd_limit.
rlimit original_fd_limit();
// Raises the soft RLIMIT_NOFILE to the hard one: for a process that holds many sockets (the CLI
// binding a wide port range, a supervisor holding and proxying them), as Go programs such as
// Docker's do at start. Containers keep original_fd_limit (recorded in their launch plan).
void raise_fd_limit();

}  // namespace berth
