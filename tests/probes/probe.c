/* berth-test-probe: a static binary that integration tests run inside containers to report
 * what the container looks like from the inside. Plain C, libc only, so it runs in any rootfs.
 *
 * Every subcommand prints plain "key value" or errno-name lines that shell tests can match:
 *   probe caps                      CapEff/CapPrm/CapBnd/NoNewPrivs/Seccomp from /proc/self/status
 *   probe syscall NAME              OK or the errno name (EPERM, ENOSYS, ...) of one raw syscall
 *   probe open PATH [r|w]           OK or the errno name of open(2)
 *   probe read PATH                 "bytes N" (all of the file) or the errno name
 *   probe write PATH                OK or the errno name of creating/writing PATH
 *   probe mknod PATH c|b MAJ MIN    "mknod X" then "open X" (then "read X" if open worked)
 *   probe fds                       one line per open fd: "fd N -> target"
 *   probe ids                       uid/gid/groups as the kernel sees them
 *   probe rlimit nofile|nproc       "soft hard"
 *   probe hog MB                    allocates and touches MB MiB, then prints "hog done MB"
 *   probe forkbomb SECONDS          every process forks until the deadline (capped at 400 forks in
 *                                   total so a missing pids limit cannot hurt the host); prints
 *                                   "forkbomb ok=N eagain=M" where N = most live children at once
 *   probe sleep MS                  sleeps, for start/kill tests
 *   probe pid                       getpid()
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* errno_name(int e) {
  switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOTTY: return "ENOTTY";
    case EDQUOT: return "EDQUOT";
    default: return NULL;
  }
}

static void print_errno(const char* prefix, int e) {
  const char* n = errno_name(e);
  if (prefix) printf("%s ", prefix);
  if (n)
    printf("%s\n", n);
  else
    printf("E%d\n", e);
}

static int usage(void) {
  fputs("usage: probe caps|syscall NAME|open PATH [r|w]|read PATH|write PATH|mknod PATH c|b MAJ MIN|"
        "fds|ids|rlimit nofile|nproc|hog MB|forkbomb SECONDS|sleep MS|pid|udp-echo PORT\n",
        stderr);
  return 2;
}

static int cmd_caps(void) {
  FILE* f = fopen("/proc/self/status", "re");
  if (!f) {
    print_errno("status", errno);
    return 1;
  }
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapPrm:", 7) || !strncmp(line, "CapBnd:", 7) ||
        !strncmp(line, "CapInh:", 7) || !strncmp(line, "CapAmb:", 7) || !strncmp(line, "NoNewPrivs:", 11) ||
        !strncmp(line, "Seccomp:", 8))
      fputs(line, stdout);
  }
  fclose(f);
  return 0;
}

/* Each call is harmless when it succeeds (a child that exits at once, a namespace of our own). */
static int cmd_syscall(const char* name) {
  long r;
  errno = 0;
  if (!strcmp(name, "getpid")) {
    r = syscall(SYS_getpid);
  } else if (!strcmp(name, "unshare")) {
    r = syscall(SYS_unshare, CLONE_NEWUTS);
  } else if (!strcmp(name, "mount")) {
    r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0UL, "");
  } else if (!strcmp(name, "umount")) {
    r = syscall(SYS_umount2, "/proc", 2 /* MNT_DETACH */);
  } else if (!strcmp(name, "clone3")) {
#ifdef SYS_clone3
    struct {
      uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) _exit(0);
    if (r > 0) {
      waitpid((pid_t)r, NULL, 0);
      r = 0;
    }
#else
    r = -1;
    errno = ENOSYS;
#endif
  } else if (!strcmp(name, "keyctl")) {
    r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
  } else if (!strcmp(name, "add_key")) {
    r = syscall(SYS_add_key, "user", "berth-probe", "x", 1, -3);
  } else if (!strcmp(name, "chroot")) {
    r = syscall(SYS_chroot, "/");
  } else if (!strcmp(name, "sethostname")) {
    r = syscall(SYS_sethostname, "probe", 5);
  } else if (!strcmp(name, "vsock")) {
    r = syscall(SYS_socket, 40 /* AF_VSOCK */, 1 /* SOCK_STREAM */, 0);
  } else if (!strcmp(name, "personality")) {
    r = syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE: not on the allow list */);
  } else if (!strcmp(name, "setns")) {
    int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
    r = syscall(SYS_setns, fd, 0);
    if (fd >= 0) close(fd);
  } else {
    fprintf(stderr, "probe: unknown syscall %s\n", name);
    return 2;
  }
  print_errno(NULL, r < 0 ? errno : 0);
  return 0;
}

static int cmd_open(const char* path, const char* mode) {
  int flags = (mode && mode[0] == 'w') ? O_WRONLY : O_RDONLY;
  int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  print_errno(NULL, fd < 0 ? errno : 0);
  if (fd >= 0) close(fd);
  return 0;
}

static int cmd_read(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    print_errno(NULL, errno);
    return 0;
  }
  char buf[65536];
  long long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      print_errno(NULL, errno);
      close(fd);
      return 0;
    }
    if (n == 0) break;
    total += n;
    if (total > (64LL << 20)) break; /* enough to tell "empty" from "not empty" */
  }
  close(fd);
  printf("bytes %lld\n", total);
  return 0;
}

static int cmd_write(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    print_errno(NULL, errno);
    return 0;
  }
  ssize_t n = write(fd, "probe\n", 6);
  int e = n < 0 ? errno : 0;
  close(fd);
  print_errno(NULL, e);
  return 0;
}

static int cmd_mknod(const char* path, const char* type, const char* maj, const char* min) {
  mode_t kind = type[0] == 'b' ? S_IFBLK : S_IFCHR;
  dev_t dev = makedev((unsigned)strtoul(maj, NULL, 0), (unsigned)strtoul(min, NULL, 0));
  unlink(path);
  int r = mknod(path, kind | 0600, dev);
  print_errno("mknod", r < 0 ? errno : 0);
  if (r < 0) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  print_errno("open", fd < 0 ? errno : 0);
  if (fd >= 0) {
    char b[512];
    ssize_t n = read(fd, b, sizeof b);
    print_errno("read", n < 0 ? errno : 0);
    close(fd);
  }
  unlink(path);
  return 0;
}

static int cmd_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) {
    print_errno("fds", errno);
    return 1;
  }
  int self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self) continue;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n > 0 ? n : 0] = 0;
    printf("fd %d -> %s\n", fd, target);
  }
  closedir(d);
  return 0;
}

static int cmd_ids(void) {
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  getresuid(&ru, &eu, &su);
  getresgid(&rg, &eg, &sg);
  printf("uid %u\neuid %u\ngid %u\negid %u\ngroups", (unsigned)ru, (unsigned)eu, (unsigned)rg, (unsigned)eg);
  gid_t groups[256];
  int n = getgroups(256, groups);
  for (int i = 0; i < n; i++) printf(" %u", (unsigned)groups[i]);
  printf("\n");
  return 0;
}

static int cmd_rlimit(const char* which) {
  int res = !strcmp(which, "nproc") ? RLIMIT_NPROC : RLIMIT_NOFILE;
  struct rlimit rl;
  if (getrlimit(res, &rl) < 0) {
    print_errno(NULL, errno);
    return 1;
  }
  if (rl.rlim_cur == RLIM_INFINITY)
    printf("unlimited ");
  else
    printf("%llu ", (unsigned long long)rl.rlim_cur);
  if (rl.rlim_max == RLIM_INFINITY)
    printf("unlimited\n");
  else
    printf("%llu\n", (unsigned long long)rl.rlim_max);
  return 0;
}

static int cmd_hog(const char* mb_arg) {
  long mb = strtol(mb_arg, NULL, 10);
  long page = sysconf(_SC_PAGESIZE);
  for (long i = 0; i < mb; i++) {
    char* p = malloc(1 << 20);
    if (!p) {
      printf("hog malloc failed at %ld\n", i);
      return 1;
    }
    for (long off = 0; off < (1 << 20); off += page) p[off] = (char)off;
  }
  printf("hog done %ld\n", mb);
  return 0;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bomb_counters {
  volatile int live;     /* children alive now */
  volatile int max_live; /* most children alive at once */
  volatile int total;    /* forks that succeeded */
  volatile int eagain;   /* forks refused */
};

/* Every process keeps forking until the deadline; the shared counters make the total bounded
 * even if the pids limit is missing, and give the top process the numbers to print. */
static int cmd_forkbomb(const char* seconds_arg) {
  const int cap = 400;
  double deadline = now_seconds() + strtod(seconds_arg, NULL);
  struct bomb_counters* c =
      mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (c == MAP_FAILED) {
    print_errno("mmap", errno);
    return 1;
  }
  pid_t top = getpid();
  struct timespec pause_ms = {0, 2 * 1000 * 1000};
  while (now_seconds() < deadline) {
    /* Reserve a slot before forking so that racing processes cannot overshoot the cap. */
    if (__atomic_add_fetch(&c->total, 1, __ATOMIC_SEQ_CST) > cap) {
      __atomic_sub_fetch(&c->total, 1, __ATOMIC_SEQ_CST);
      nanosleep(&pause_ms, NULL);
      continue;
    }
    pid_t p = fork();
    if (p < 0) __atomic_sub_fetch(&c->total, 1, __ATOMIC_SEQ_CST);
    if (p == 0) {
      int live = __atomic_add_fetch(&c->live, 1, __ATOMIC_SEQ_CST);
      int seen = __atomic_load_n(&c->max_live, __ATOMIC_SEQ_CST);
      while (live > seen &&
             !__atomic_compare_exchange_n(&c->max_live, &seen, live, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
      }
      continue;
    }
    if (p < 0) {
      __atomic_add_fetch(&c->eagain, 1, __ATOMIC_SEQ_CST);
      nanosleep(&pause_ms, NULL);
    }
  }
  if (getpid() != top) {
    /* Children reap their own children so that only the top process is left at the end. */
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
    __atomic_sub_fetch(&c->live, 1, __ATOMIC_SEQ_CST);
    _exit(0);
  }
  /* Reap everything, including orphans re-parented to us when we are PID 1. */
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
  }
  printf("forkbomb ok=%d eagain=%d total=%d\n", c->max_live, c->eagain, c->total);
  return 0;
}

// A UDP echo server (busybox nc has no UDP): answers every datagram with "echo:" + the datagram.
static int cmd_udp_echo(const char* port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(port));
  if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("udp-echo");
    return 1;
  }
  printf("listening\n");
  for (;;) {
    char buf[2048];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf + 5, sizeof buf - 5, 0, (struct sockaddr*)&from, &len);
    if (n < 0) continue;
    memcpy(buf, "echo:", 5);
    sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr*)&from, len);
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return usage();
  const char* cmd = argv[1];
  if (!strcmp(cmd, "caps")) return cmd_caps();
  if (!strcmp(cmd, "syscall") && argc >= 3) return cmd_syscall(argv[2]);
  if (!strcmp(cmd, "open") && argc >= 3) return cmd_open(argv[2], argc >= 4 ? argv[3] : "r");
  if (!strcmp(cmd, "read") && argc >= 3) return cmd_read(argv[2]);
  if (!strcmp(cmd, "write") && argc >= 3) return cmd_write(argv[2]);
  if (!strcmp(cmd, "mknod") && argc >= 6) return cmd_mknod(argv[2], argv[3], argv[4], argv[5]);
  if (!strcmp(cmd, "fds")) return cmd_fds();
  if (!strcmp(cmd, "ids")) return cmd_ids();
  if (!strcmp(cmd, "rlimit") && argc >= 3) return cmd_rlimit(argv[2]);
  if (!strcmp(cmd, "hog") && argc >= 3) return cmd_hog(argv[2]);
  if (!strcmp(cmd, "forkbomb") && argc >= 3) return cmd_forkbomb(argv[2]);
  if (!strcmp(cmd, "sleep") && argc >= 3) {
    long ms = strtol(argv[2], NULL, 10);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return 0;
  }
  if (!strcmp(cmd, "udp-echo") && argc >= 3) return cmd_udp_echo(argv[2]);
  if (!strcmp(cmd, "pid")) {
    printf("%ld\n", (long)getpid());
    return 0;
  }
  return usage();
}
