// Records which functions a run executes, in the order of their first call, for
// scripts/gen-function-order. Linked only into builds made with -DBERTH_TRACE_FUNCTIONS=ON, whose
// code is compiled with -finstrument-functions (GCC then calls __cyg_profile_func_enter on every
// function entry). At exit, the offsets (from __executable_start) go to
// /tmp/berth-function-trace/<program>.<pid> (if that directory exists; the supervisor gets no
// environment of ours), one hex number a line.
//
// A container's setup runs in the supervisor's memory (CLONE_VM) until its execve, so its
// functions land in the supervisor's table too. Built with BERTH_TRACE_QUIET (for the berth-heavy helper,
// whose code is instrumented too) the hooks do nothing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TRACE_SLOTS (1u << 16)
#define NO_TRACE __attribute__((no_instrument_function))

#ifdef BERTH_TRACE_QUIET
NO_TRACE void __cyg_profile_func_enter(void* fn, void* caller) {
  (void)fn;
  (void)caller;
}
NO_TRACE void __cyg_profile_func_exit(void* fn, void* caller) {
  (void)fn;
  (void)caller;
}
#else
extern const char __executable_start[];
static uintptr_t seen[TRACE_SLOTS];   // open addressing on the function's address
static uintptr_t order[TRACE_SLOTS];  // first-call order
static unsigned recorded;

NO_TRACE void __cyg_profile_func_enter(void* fn, void* caller) {
  (void)caller;
  uintptr_t address = (uintptr_t)fn;
  unsigned slot = (unsigned)((address >> 4) * 0x9E3779B97F4A7C15ull >> 48) & (TRACE_SLOTS - 1);
  for (unsigned probes = 0; probes < TRACE_SLOTS; ++probes, slot = (slot + 1) & (TRACE_SLOTS - 1)) {
    if (seen[slot] == address) return;
    if (seen[slot] == 0) {
      seen[slot] = address;
      if (recorded < TRACE_SLOTS) order[recorded++] = address;
      return;
    }
  }
}

NO_TRACE void __cyg_profile_func_exit(void* fn, void* caller) {
  (void)fn;
  (void)caller;
}

NO_TRACE __attribute__((destructor)) static void write_trace(void) {
  const char* dir = "/tmp/berth-function-trace";
  if (recorded == 0 || access(dir, W_OK) != 0) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.%d", dir, program_invocation_short_name, (int)getpid());
  int saved_errno = errno;
  FILE* out = fopen(path, "w");
  if (out) {
    for (unsigned i = 0; i < recorded; ++i) fprintf(out, "%lx\n", (unsigned long)(order[i] - (uintptr_t)__executable_start));
    fclose(out);
  }
  errno = saved_errno;
}
#endif
