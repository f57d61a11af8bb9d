// No libseccomp here: this file is meant for the static supervisor (runtime library).
#include "berth/seccomp/load.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace berth::seccomp {

int read_bpf_file(const std::string& path, std::string& program) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (!S_ISREG(st.st_mode) || size == 0 || size % sizeof(sock_filter) != 0 ||
      size / sizeof(sock_filter) > BPF_MAXINSNS) {
    ::close(fd);
    return -EINVAL;
  }
  program.resize(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, program.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EINVAL;  // shorter than fstat said: a file being replaced in place
      ::close(fd);
      return -err;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return 0;
}

int load_bpf_program(const std::string& program) {
  if (program.empty() || program.size() % sizeof(sock_filter) != 0 ||
      program.size() / sizeof(sock_filter) > BPF_MAXINSNS)
    return -EINVAL;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.size() / sizeof(sock_filter));
  // The kernel copies the program; the cast drops const only for the struct's field type.
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()));
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return -errno;
  return 0;
}

int load_bpf_file(const std::string& path) {
  std::string program;
  if (int rc = read_bpf_file(path, program); rc != 0) return rc;
  return load_bpf_program(program);
}

}  // namespace berth::seccomp
