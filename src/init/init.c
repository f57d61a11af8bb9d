/* berth-init: PID 1 for `--init`. Starts the command, forwards signals to it and reaps zombies.
 * Static and tiny; it enters containers only as a read-only bind mount. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child = -1;

static void forward(int sig) {
  if (child > 0) kill(child, sig);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "berth-init: usage: berth-init COMMAND [ARG...]\n");
    return 125;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  child = fork();
  if (child < 0) {
    perror("berth-init: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    setpgid(0, 0);
    /* Keep the terminal's foreground group on the command, as tini does. */
    if (isatty(STDIN_FILENO)) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(STDIN_FILENO, getpgrp());
      signal(SIGTTOU, SIG_DFL);
    }
    execvp(argv[1], argv + 1);
    int err = errno;
    fprintf(stderr, "berth-init: exec %s: %s\n", argv[1], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward;
  for (int s = 1; s < NSIG; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD) continue;
    sigaction(s, &sa, NULL);
  }
  sigset_t wait_mask;
  sigemptyset(&wait_mask);
  sigprocmask(SIG_SETMASK, &wait_mask, NULL);
  int exit_code = 0;
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      break; /* ECHILD: nothing left */
    }
    if (p == child) {
      exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      child = -1;
      /* Reap the rest without blocking, then leave: the pid namespace dies with us. */
      while (waitpid(-1, &status, WNOHANG) > 0) {
      }
      break;
    }
  }
  return exit_code;
}
