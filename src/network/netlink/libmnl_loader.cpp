// libmnl, loaded on first use: berth does not link it, so the commands that never touch netlink
// (`--version`, `container ls`, a run with --network none, ...) start without the dynamic loader
// mapping and relocating one more library (docs/startup.md). Each libmnl function Berth calls is
// defined here with libmnl.h's own prototype (the compiler checks that they match) and forwards
// to the library's, found with dlsym when it is first called.
#include <dlfcn.h>
#include <libmnl/libmnl.h>

#include <cerrno>
#include <string>

#include "berth/util/error.h"

namespace {

// By the path pkg-config gave at build time first: a path spares the loader its ld.so.cache (an
// open, a map and an unmap: ~0.4 ms here, on `container run`'s critical path); else the
// loader's own search.
void* open_libmnl() {
  if (void* handle = ::dlopen(BERTH_LIBMNL_DIR "/libmnl.so.0", RTLD_NOW | RTLD_LOCAL)) return handle;
  return ::dlopen("libmnl.so.0", RTLD_NOW | RTLD_LOCAL);
}

struct Libmnl {
  void* handle;
  // berth is a static executable, so libmnl runs on the libc that dlopen loaded for it, whose
  // errno is another variable than ours: each call copies it across (ErrnoFromLibmnl).
  int* (*errno_location)();
};

const Libmnl& libmnl() {
  static const Libmnl library = [] {
    void* handle = open_libmnl();
    if (!handle)
      throw berth::Error(std::string("cannot load libmnl.so.0 for netlink: ") + ::dlerror(),
                         "install it: apt-get install libmnl0");
    auto errno_location = reinterpret_cast<int* (*)()>(::dlsym(handle, "__errno_location"));
    if (!errno_location) throw berth::Error("libmnl.so.0: its libc has no __errno_location", "reinstall libc6");
    return Libmnl{handle, errno_location};
  }();
  return library;
}

void* libmnl_symbol(const char* name) {
  void* symbol = ::dlsym(libmnl().handle, name);
  if (!symbol)
    throw berth::Error(std::string("libmnl.so.0 has no ") + name, "install libmnl0 1.0.4 or newer");
  return symbol;
}

// Copies libmnl's errno to ours when a call returns (a no-op where both are one libc).
struct ErrnoFromLibmnl {
  ~ErrnoFromLibmnl() { errno = *libmnl().errno_location(); }
};

}  // namespace

#define BERTH_LIBMNL(ret, name, params, args)                                        \
  ret name params {                                                                  \
    static const auto real = reinterpret_cast<decltype(&name)>(libmnl_symbol(#name)); \
    ErrnoFromLibmnl copy_errno;                                                      \
    return real args;                                                                \
  }

extern "C" {
BERTH_LIBMNL(const char*, mnl_attr_get_str, (const struct nlattr* attr), (attr))
BERTH_LIBMNL(uint16_t, mnl_attr_get_type, (const struct nlattr* attr), (attr))
BERTH_LIBMNL(uint32_t, mnl_attr_get_u32, (const struct nlattr* attr), (attr))
BERTH_LIBMNL(void, mnl_attr_nest_end, (struct nlmsghdr* nlh, struct nlattr* start), (nlh, start))
BERTH_LIBMNL(struct nlattr*, mnl_attr_nest_start, (struct nlmsghdr* nlh, uint16_t type), (nlh, type))
BERTH_LIBMNL(struct nlattr*, mnl_attr_next, (const struct nlattr* attr), (attr))
BERTH_LIBMNL(bool, mnl_attr_ok, (const struct nlattr* attr, int len), (attr, len))
BERTH_LIBMNL(void, mnl_attr_put, (struct nlmsghdr* nlh, uint16_t type, size_t len, const void* data),
             (nlh, type, len, data))
BERTH_LIBMNL(void, mnl_attr_put_strz, (struct nlmsghdr* nlh, uint16_t type, const char* data), (nlh, type, data))
BERTH_LIBMNL(void, mnl_attr_put_u32, (struct nlmsghdr* nlh, uint16_t type, uint32_t data), (nlh, type, data))
BERTH_LIBMNL(int, mnl_attr_validate, (const struct nlattr* attr, enum mnl_attr_data_type type), (attr, type))
BERTH_LIBMNL(int, mnl_cb_run,
             (const void* buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb_data, void* data),
             (buf, numbytes, seq, portid, cb_data, data))
BERTH_LIBMNL(void*, mnl_nlmsg_get_payload, (const struct nlmsghdr* nlh), (nlh))
BERTH_LIBMNL(void*, mnl_nlmsg_get_payload_offset, (const struct nlmsghdr* nlh, size_t offset), (nlh, offset))
BERTH_LIBMNL(void*, mnl_nlmsg_get_payload_tail, (const struct nlmsghdr* nlh), (nlh))
BERTH_LIBMNL(struct nlmsghdr*, mnl_nlmsg_next, (const struct nlmsghdr* nlh, int* len), (nlh, len))
BERTH_LIBMNL(bool, mnl_nlmsg_ok, (const struct nlmsghdr* nlh, int len), (nlh, len))
BERTH_LIBMNL(void*, mnl_nlmsg_put_extra_header, (struct nlmsghdr* nlh, size_t size), (nlh, size))
BERTH_LIBMNL(struct nlmsghdr*, mnl_nlmsg_put_header, (void* buf), (buf))
BERTH_LIBMNL(int, mnl_socket_bind, (struct mnl_socket* nl, unsigned int groups, pid_t pid), (nl, groups, pid))
BERTH_LIBMNL(int, mnl_socket_close, (struct mnl_socket* nl), (nl))
BERTH_LIBMNL(unsigned int, mnl_socket_get_portid, (const struct mnl_socket* nl), (nl))
BERTH_LIBMNL(struct mnl_socket*, mnl_socket_open2, (int bus, int flags), (bus, flags))
BERTH_LIBMNL(ssize_t, mnl_socket_recvfrom, (const struct mnl_socket* nl, void* buf, size_t siz), (nl, buf, siz))
BERTH_LIBMNL(ssize_t, mnl_socket_sendto, (const struct mnl_socket* nl, const void* req, size_t siz), (nl, req, siz))
BERTH_LIBMNL(int, mnl_socket_setsockopt, (const struct mnl_socket* nl, int type, void* buf, socklen_t len),
             (nl, type, buf, len))
}
