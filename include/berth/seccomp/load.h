#pragma once
// Installs a compiled seccomp program (see seccomp.h: cached_filter) with seccomp(2) alone:
// no libseccomp, so the static supervisor can link it. Loading needs no_new_privs or
// CAP_SYS_ADMIN in the calling thread.
#include <string>

namespace berth::seccomp {

// Reads a raw BPF program (struct sock_filter[]); returns 0 or -errno (-EINVAL for a size that
// is not a whole, non-empty program of at most BPF_MAXINSNS instructions). Read it before
// pivot_root: the cache lives on the host.
int read_bpf_file(const std::string& path, std::string& program);
// seccomp(SECCOMP_SET_MODE_FILTER, 0, program); returns 0 or -errno.
int load_bpf_program(const std::string& program);
// read_bpf_file + load_bpf_program.
int load_bpf_file(const std::string& path);

}  // namespace berth::seccomp
