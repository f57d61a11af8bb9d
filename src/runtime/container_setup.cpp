// The child side of a container start. Every step reports its failure to the supervisor with
// the step's name and errno, then exits; nothing here throws (no unwinding across clone).
#include "berth/runtime/container_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "berth/runtime/frames.h"
#include "berth/util/strings.h"

namespace berth::runtime {

int exit_code_for_start_failure(const ChildReport& r) {
  if (std::strcmp(r.step, "exec") == 0) {
    if (r.err == ENOENT) return 127;
    if (r.err == EACCES || r.err == ENOEXEC || r.err == EISDIR || r.err == EPERM) return 126;
  }
  return 125;
}

namespace {

int g_sync_fd = -1;

[[noreturn]] void fail(const char* step, int err, const std::string& detail = {}) {
  ChildReport r;
  r.kind = 'F';
  r.err = err;
  std::snprintf(r.step, sizeof r.step, "%s", step);
  std::snprintf(r.detail, sizeof r.detail, "%s", detail.c_str());
  (void)!::send(g_sync_fd, &r, sizeof r, MSG_NOSIGNAL);
  ::_exit(125);
}

int sys_openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve, mode_t mode = 0) {
  open_how how{};
  how.flags = flags;
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Opens (creating when missing) a path inside the rootfs; symlinks never resolve outside it.
int open_in_root(int root_fd, const std::string& path, bool is_file) {
  std::string rel;
  int parent = ::dup(root_fd);
  auto parts = str::split(path, '/');
  std::vector<std::string> comps;
  for (auto& p : parts)
    if (!p.empty() && p != ".") comps.push_back(p);
  for (size_t i = 0; i < comps.size(); ++i) {
    rel += (rel.empty() ? "" : "/") + comps[i];
    bool last = i + 1 == comps.size();
    int fd = sys_openat2(root_fd, rel.c_str(), O_PATH | O_CLOEXEC | ((last && is_file) ? 0 : O_DIRECTORY), kInRoot);
    if (fd < 0 && errno == ENOENT) {
      if (last && is_file) {
        int c = ::openat(parent, comps[i].c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (c >= 0) ::close(c);
      } else {
        ::mkdirat(parent, comps[i].c_str(), 0755);
      }
      fd = sys_openat2(root_fd, rel.c_str(), O_PATH | O_CLOEXEC | ((last && is_file) ? 0 : O_DIRECTORY), kInRoot);
    }
    ::close(parent);
    if (fd < 0) return -1;
    parent = fd;
  }
  return parent;
}

void write_proc_file(const char* path, const std::string& value, const char* step) {
  int fd = sys_openat2(AT_FDCWD, path, O_WRONLY | O_CLOEXEC | O_TRUNC, RESOLVE_NO_SYMLINKS);
  if (fd < 0) fail(step, errno, path);
  if (::write(fd, value.data(), value.size()) < 0) fail(step, errno, path);
  ::close(fd);
}

void make_dev_nodes(int dev_fd) {
  struct Node {
    const char* name;
    unsigned maj, min;
  };
  static const Node nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                               {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const auto& n : nodes) {
    if (::mknodat(dev_fd, n.name, S_IFCHR | 0666, makedev(n.maj, n.min)) != 0 && errno != EEXIST)
      fail("create /dev nodes", errno, n.name);
    ::fchmodat(dev_fd, n.name, 0666, 0);
  }
  struct Link {
    const char* target;
    const char* name;
  };
  static const Link links[] = {{"pts/ptmx", "ptmx"},        {"/proc/self/fd", "fd"},
                               {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
                               {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"}};
  for (const auto& l : links)
    if (::symlinkat(l.target, dev_fd, l.name) != 0 && errno != EEXIST) fail("create /dev links", errno, l.name);
}

void apply_mount(int root_fd, const MountSpec& m) {
  bool bind = m.fstype == "bind";
  std::string step = "mount " + m.target;
  if (m.fstype == "remount") {  // make an earlier mount read-only (e.g. the /sys/fs/cgroup tmpfs)
    int fd = open_in_root(root_fd, m.target, false);
    if (fd < 0) fail("remount", errno, m.target);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
      fail("remount", errno, m.target);
    ::close(fd);
    return;
  }
  bool is_file = m.is_file;
  if (bind) {
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) fail("bind mount", errno, m.source);
    is_file = !S_ISDIR(st.st_mode);
  }
  int target = open_in_root(root_fd, m.target, is_file);
  if (target < 0) fail("resolve mount target", errno, m.target);
  std::string where = fd_path(target);
  if (bind) {
    if (::mount(m.source.c_str(), where.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      fail("bind mount", errno, m.source + " on " + m.target);
    ::close(target);
    unsigned long extra = m.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if (m.recursive_readonly || (m.flags & MS_RDONLY) || extra) {
      // Reopen: the old fd names the covered directory, not the new mount.
      target = open_in_root(root_fd, m.target, is_file);
      if (target < 0) fail("resolve mount target", errno, m.target);
      mount_attr attr{};
      if (m.recursive_readonly || (m.flags & MS_RDONLY)) attr.attr_set |= MOUNT_ATTR_RDONLY;
      if (m.flags & MS_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
      if (m.flags & MS_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
      if (m.flags & MS_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
      if (::syscall(SYS_mount_setattr, target, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
        fail("make bind mount read-only", errno, m.target);
      ::close(target);
    }
    if (m.propagation) {  // bind-propagation=shared|slave|private (r*: the whole subtree)
      target = open_in_root(root_fd, m.target, is_file);
      if (target < 0) fail("resolve mount target", errno, m.target);
      if (::mount(nullptr, fd_path(target).c_str(), nullptr, m.propagation, nullptr) != 0)
        fail("set bind propagation", errno, m.target);
      ::close(target);
    }
    return;
  }
  if (::mount(m.source.c_str(), where.c_str(), m.fstype.c_str(), m.flags,
              m.data.empty() ? nullptr : m.data.c_str()) != 0) {
    int err = errno;
    // sysfs cannot be mounted in some setups (host network namespace owned elsewhere): bind it.
    if (m.fstype == "sysfs" && (err == EPERM || err == EBUSY)) {
      if (::mount("/sys", where.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0) {
        ::close(target);
        int fd = open_in_root(root_fd, m.target, false);
        mount_attr attr{};
        attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        if (!(m.flags & MS_RDONLY)) attr.attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR_RDONLY);
        ::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
        ::close(fd);
        return;
      }
    }
    fail(step.c_str(), err, m.fstype + " " + m.data);
  }
  ::close(target);
  if (m.target == "/dev" && m.fstype == "tmpfs") {
    int dev = open_in_root(root_fd, "/dev", false);
    int devdir = ::openat(dev, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(dev);
    if (devdir < 0) fail("open /dev", errno);
    make_dev_nodes(devdir);
    ::close(devdir);
  }
}

void setup_rootfs(const LaunchPlan& p) {
  // Container mounts never propagate back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) fail("make / rslave", errno);
  std::string lower;
  for (size_t i = 0; i < p.lower_dirs.size(); ++i) lower += (i ? ":" : "") + p.lower_dirs[i];
  std::string data = "lowerdir=" + lower + ",upperdir=" + p.upper_dir + ",workdir=" + p.work_dir;
  // A --rm container's upper layer is deleted at exit: nothing in it needs to reach the disk.
  // Without `volatile` the last exit in the mount namespace unmounts the overlay, which syncs the
  // whole host filesystem below it (ovl_sync_fs) and waits for that writeback.
  if (p.autoremove) data += ",volatile";
  if (p.lower_dirs.empty()) fail("mount rootfs", EINVAL, "image has no layers");
  int rc = ::mount("overlay", p.rootfs_dir.c_str(), "overlay", 0, data.c_str());
  if (rc != 0 && errno == EINVAL && p.autoremove) {  // kernels before 5.10 have no `volatile`
    data.resize(data.size() - std::strlen(",volatile"));
    rc = ::mount("overlay", p.rootfs_dir.c_str(), "overlay", 0, data.c_str());
  }
  if (rc != 0) fail("mount rootfs overlay", errno, data);
  if (::mount(nullptr, p.rootfs_dir.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
    fail("make rootfs private", errno);
  int root_fd = ::open(p.rootfs_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) fail("open rootfs", errno, p.rootfs_dir);
  // Docker refuses an image whose /dev is a symlink (CVE-2026-41579 family).
  struct stat st {};
  if (::fstatat(root_fd, "dev", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    fail("check rootfs", ELOOP, "/dev in the image is a symlink");
  for (const auto& m : p.mounts) apply_mount(root_fd, m);
  // The working directory exists before the switch to the container's user (Docker creates it).
  if (p.cwd != "/") {
    int fd = open_in_root(root_fd, p.cwd, false);
    if (fd >= 0) ::close(fd);
  }

  // pivot_root(".", "."): afterwards the host filesystem is unreachable from this namespace.
  int old_root = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  int new_root = ::open(p.rootfs_dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root < 0 || new_root < 0) fail("open roots", errno);
  if (::fchdir(new_root) != 0) fail("chdir rootfs", errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail("pivot_root", errno);
  if (::fchdir(old_root) != 0) fail("chdir old root", errno);
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) fail("make old root rslave", errno);
  if (::umount2(".", MNT_DETACH) != 0) fail("detach old root", errno);
  if (::chdir("/") != 0) fail("chdir /", errno);
  ::close(old_root);
  ::close(new_root);
  ::close(root_fd);
}

void apply_sysctls(const LaunchPlan& p) {
  for (const auto& [key, value] : p.sysctls) {
    std::string rel = key;
    for (auto& c : rel)
      if (c == '.') c = '/';
    write_proc_file(("/proc/sys/" + rel).c_str(), value, "write sysctl");
  }
}

void apply_readonly_and_masked(const LaunchPlan& p) {
  for (const auto& path : p.readonly_paths) {
    int fd = sys_openat2(AT_FDCWD, path.c_str(), O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      fail("readonly path", errno, path);
    }
    std::string where = fd_path(fd);
    if (::mount(where.c_str(), where.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      fail("readonly path", errno, path);
    ::close(fd);
    fd = sys_openat2(AT_FDCWD, path.c_str(), O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (fd < 0 || ::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
      fail("readonly path", errno, path);
    ::close(fd);
  }
  // Masking binds /dev/null over files: check it really is the null device (CVE-2025-31133).
  int null_fd = sys_openat2(AT_FDCWD, "/dev/null", O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
  struct stat nst {};
  bool null_ok = null_fd >= 0 && ::fstat(null_fd, &nst) == 0 && S_ISCHR(nst.st_mode) &&
                 nst.st_rdev == makedev(1, 3);
  for (const auto& path : p.masked_paths) {
    int fd = sys_openat2(AT_FDCWD, path.c_str(), O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      fail("mask path", errno, path);
    }
    struct stat st {};
    ::fstat(fd, &st);
    std::string where = fd_path(fd);
    if (S_ISDIR(st.st_mode)) {
      if (::mount("tmpfs", where.c_str(), "tmpfs", MS_RDONLY, "size=0") != 0) fail("mask path", errno, path);
    } else {
      if (!null_ok) fail("mask path", EINVAL, "/dev/null is not the null device");
      if (::mount(fd_path(null_fd).c_str(), where.c_str(), nullptr, MS_BIND, nullptr) != 0)
        fail("mask path", errno, path);
    }
    ::close(fd);
  }
  if (null_fd >= 0) ::close(null_fd);
}

void setup_terminal() {
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("open terminal", errno, "/dev/ptmx");
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) != 0) fail("unlock terminal", errno);
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) fail("open terminal peer", errno);
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) fail("set controlling terminal", errno);
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) < 0) fail("dup terminal", errno);
  if (slave > 2) ::close(slave);
  // Hand the master to the supervisor, which relays it; the CLI's own terminal never enters.
  ChildReport r;
  r.kind = 'T';
  if (send_with_fds(g_sync_fd, &r, sizeof r, &master, 1) < 0) fail("send terminal", errno);
  ::close(master);
}

// A new network namespace starts with loopback down; Docker's containers have it up.
void bring_up_loopback() {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("bring up loopback", errno);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) fail("bring up loopback", errno);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) fail("bring up loopback", errno);
  ::close(sock);
}

void load_seccomp(const std::vector<char>& bpf) {
  if (bpf.empty()) return;
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(bpf.size() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(const_cast<char*>(bpf.data()));
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) fail("load seccomp filter", errno);
}

int last_cap() {
  int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {};
  int n = fd >= 0 ? static_cast<int>(::read(fd, buf, sizeof buf - 1)) : -1;
  if (fd >= 0) ::close(fd);
  return n > 0 ? std::atoi(buf) : 40;
}

// Bounding set, keepcaps, groups and ids, then the final sets (runc's finalizeNamespace order).
void apply_identity(const ProcessIdentity& p) {
  int last = last_cap();
  for (int cap = 0; cap <= last; ++cap)
    if (!(p.capabilities & (1ULL << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      fail("drop bounding capabilities", errno);
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail("keep capabilities", errno);
  std::vector<gid_t> groups(p.additional_gids.begin(), p.additional_gids.end());
  if (::setgroups(groups.size(), groups.data()) != 0) fail("setgroups", errno);
  if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) fail("setresgid", errno);
  if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) fail("setresuid", errno);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) fail("clear keepcaps", errno);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  uint32_t lo = static_cast<uint32_t>(p.capabilities), hi = static_cast<uint32_t>(p.capabilities >> 32);
  data[0].effective = data[0].permitted = lo;
  data[1].effective = data[1].permitted = hi;
  if (::syscall(SYS_capset, &hdr, data) != 0) fail("set capabilities", errno);
  for (int cap = 0; cap <= last; ++cap) ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
}

[[noreturn]] void exec_command(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::string path_var = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (e.rfind("PATH=", 0) == 0) path_var = e.substr(5);
  }
  envp.push_back(nullptr);
  const std::string& cmd = args.at(0);
  int err = ENOENT;
  if (cmd.find('/') != std::string::npos) {
    ::execve(cmd.c_str(), argv.data(), envp.data());
    err = errno;
  } else {
    bool saw_eacces = false;
    for (const auto& dir : str::split(path_var, ':')) {
      std::string full = (dir.empty() ? "." : dir) + "/" + cmd;
      ::execve(full.c_str(), argv.data(), envp.data());
      if (errno == EACCES) saw_eacces = true;
      else if (errno != ENOENT && errno != ENOTDIR) {
        err = errno;
        break;
      }
    }
    if (err == ENOENT && saw_eacces) err = EACCES;
  }
  std::string reason = std::strerror(err);  // Go-style lower case, as Docker prints it
  if (!reason.empty()) reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
  std::string what = err == ENOENT ? "exec: \"" + cmd + "\": executable file not found in $PATH"
                                   : "exec: \"" + cmd + "\": " + reason;
  if (cmd.find('/') != std::string::npos && err == ENOENT)
    what = "exec: \"" + cmd + "\": stat " + cmd + ": no such file or directory";
  fail("exec", err, what);
}

void apply_rlimits(const std::vector<Rlimit>& rlimits) {
  for (const auto& r : rlimits) {
    rlimit rl{static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (::setrlimit(r.resource, &rl) != 0) fail("setrlimit", errno, std::to_string(r.resource));
  }
}

// Default dispositions and an empty mask, whatever the supervisor (or the shell that started
// the CLI) ignored: SIG_IGN survives execve, and a shell that inherits SIGINT ignored cannot even
// trap it. The raw syscall, because glibc's signal() refuses its own signals 32 and 33, which a
// posix_spawn'd parent may have left ignored.
void reset_signals() {
  struct {
    void* handler = nullptr;  // SIG_DFL
    unsigned long flags = 0;
    void* restorer = nullptr;
    uint64_t mask = 0;
  } default_action;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      ::syscall(SYS_rt_sigaction, sig, &default_action, nullptr, sizeof default_action.mask);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// `container run` configures the network while we get here: the command must not run before
// it has its address. EOF or anything else instead: the CLI called the start off.
void await_network(int fd) {
  auto frame = read_frame(fd);
  if (!frame || frame->first != Frame::NetworkReady)
    fail("wait for the network", ECANCELED, "the CLI did not finish the container's network");
}

// The calling process into every hierarchy's dir. The files are host paths: before the mount
// namespace changes. On v1 "0" goes into `tasks`: the writing thread alone, which is the whole
// process (a clone child, or the exec helper forked by the CLI: one thread each). The kernel
// moves the current thread without cgroup_threadgroup_rwsem, whereas any write to cgroup.procs
// takes it for writing and, when it is cold, first waits for an RCU grace period (~6 ms here,
// docs/cgroups.md). v2 dirs have no `tasks` (and cgroup.threads only in threaded subtrees):
// cgroup.procs.
void join_cgroups(const std::vector<std::string>& dirs) {
  for (const auto& dir : dirs) {
    std::string file = dir + "/tasks";
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
      file = dir + "/cgroup.procs";
      fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail("join cgroup", errno, file);
    ::close(fd);
  }
}

}  // namespace

// The steps exec shares with the container's first process (container_setup.h).
int receive_report(int fd, ChildReport& report, int& passed_fd) {
  std::vector<int> fds;
  long n = recv_with_fds(fd, &report, sizeof report, fds);
  if (n <= 0) {
    for (int f : fds) ::close(f);
    return static_cast<int>(n);
  }
  // A report carries at most one descriptor (the terminal's master).
  for (size_t i = 0; i < fds.size(); ++i) {
    if (i + 1 < fds.size()) ::close(fds[i]);
    else passed_fd = fds[i];
  }
  return static_cast<int>(n);
}

namespace setup {
void set_report_fd(int fd) { g_sync_fd = fd; }
void reset_signals() { runtime::reset_signals(); }
void join_cgroups(const std::vector<std::string>& dirs) { runtime::join_cgroups(dirs); }
void report_failure(const char* step, int err, const std::string& detail) { fail(step, err, detail); }
void apply_rlimits(const std::vector<Rlimit>& rlimits) { runtime::apply_rlimits(rlimits); }
void setup_terminal() { runtime::setup_terminal(); }
void load_seccomp(const std::vector<char>& bpf) { runtime::load_seccomp(bpf); }
void apply_identity(const ProcessIdentity& identity) { runtime::apply_identity(identity); }
void exec_command(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  runtime::exec_command(args, env);
}
}  // namespace setup

[[noreturn]] void run_container_child(const LaunchPlan& p, const ChildContext& ctx) {
  g_sync_fd = ctx.sync_fd;
  // The supervisor killed while we set up: we go too (until execve, below; as before the change
  // to a shared address space, when we waited for its go).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  ::umask(0);
  reset_signals();
  if (ctx.cgroup_dirs) join_cgroups(*ctx.cgroup_dirs);  // before anything else runs
  if (::unshare(CLONE_NEWCGROUP) != 0) fail("create cgroup namespace", errno);
  for (const auto& ns : p.namespaces) {
    if (ns.path.empty()) continue;
    int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, 0) != 0) fail("join namespace", errno, ns.path);
    ::close(fd);
  }
  // A new session keyring: the host's keys are not the container's (runc does the same).
  if (::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, nullptr) < 0 && errno != ENOSYS)
    fail("join session keyring", errno);
  for (const auto& ns : p.namespaces)
    if (ns.type == "net" && ns.path.empty()) bring_up_loopback();
  setup_rootfs(p);
  if (!p.hostname.empty() && ::sethostname(p.hostname.c_str(), p.hostname.size()) != 0)
    fail("sethostname", errno);
  apply_sysctls(p);
  if (!p.privileged) apply_readonly_and_masked(p);
  if (p.readonly_rootfs) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (::syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
      fail("make rootfs read-only", errno);
    ::close(fd);
  }
  if (ctx.network_ready_fd >= 0) await_network(ctx.network_ready_fd);
  apply_rlimits(p.rlimits);
  if (::setsid() < 0) fail("setsid", errno);
  if (p.terminal) setup_terminal();
  if (!p.no_new_privileges) load_seccomp(*ctx.seccomp_bpf);  // needs CAP_SYS_ADMIN: before the drop
  apply_identity({p.uid, p.gid, p.additional_gids, p.capabilities});
  if (::chdir(p.cwd.c_str()) != 0) fail("chdir", errno, p.cwd);
  if (p.no_new_privileges) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("set no_new_privs", errno);
    load_seccomp(*ctx.seccomp_bpf);  // as close to execve as possible
  }
  ::umask(022);
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);  // the container outlives its supervisor, as with Docker
  // Nothing of the supervisor's reaches the container: everything above stdio closes at execve.
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  exec_command(p.args, p.env);
}

}  // namespace berth::runtime
