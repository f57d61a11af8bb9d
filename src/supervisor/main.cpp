// berth-supervisor placeholder; the real one replays a launch plan (src/supervisor).
#include <cstdio>
int main() {
  std::fprintf(stderr, "berth-supervisor: not yet implemented\n");
  return 125;
}
