#include "berth/util/memory.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

// Under ASan the sanitizer's allocator replaces glibc's: no brk heap, no mallopt.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kGlibcMalloc = false;
#else
constexpr bool kGlibcMalloc = true;
#endif

bool thp_available() { return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good(); }

// VmFlags of the mapping that holds `addr`, from /proc/self/smaps.
std::string vm_flags_of(const void* addr) {
  std::ifstream smaps("/proc/self/smaps");
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find('-') < 17) inside = lo <= a && a < hi;
    else if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

}  // namespace

TEST_CASE("use_huge_pages_for_heap: later blocks come from the brk heap, madvised for huge pages") {
  berth::memory::use_huge_pages_for_heap(0);  // too small: nothing happens
  berth::memory::use_huge_pages_for_heap(8u << 20);
  // A block above glibc's default mmap threshold (128 KiB) now comes from the brk heap.
  auto* big = static_cast<char*>(std::malloc(1u << 20));
  REQUIRE(big != nullptr);
  if (kGlibcMalloc) CHECK(big < static_cast<char*>(sbrk(0)));
  std::memset(big, 0x5a, 1u << 20);
  // Many small blocks: all usable, contents intact.
  std::vector<char*> small;
  for (int i = 0; i < 20000; ++i) {
    small.push_back(static_cast<char*>(std::malloc(64)));
    std::memset(small.back(), i & 0xff, 64);
  }
  bool intact = true;
  for (int i = 0; i < 20000; ++i) intact = intact && small[i][63] == static_cast<char>(i & 0xff);
  CHECK(intact);
  if (kGlibcMalloc && thp_available()) {
    // The small blocks start past the first 2 MiB boundary of the grown heap: a huge-page range.
    CHECK(vm_flags_of(small.back()).find(" hg") != std::string::npos);
  }
  for (char* p : small) std::free(p);
  std::free(big);
}
