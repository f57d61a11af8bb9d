/* berth-test-probe: a static binary run inside test containers to report from the inside. */
#include <stdio.h>
int main(void) {
  puts("probe");
  return 0;
}
