#include "berth/util/memory.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

namespace berth::memory {

namespace {
constexpr std::uintptr_t kHugePage = 2u << 20;
// Kept reachable so the compiler cannot drop the allocation and leak checkers do not report it.
void* volatile heap_skip = nullptr;
std::uintptr_t align_up(std::uintptr_t v, std::uintptr_t a) { return (v + a - 1) & ~(a - 1); }
}  // namespace

void use_huge_pages_for_heap(std::size_t expected_bytes) {
  // Smaller trees fault in few pages; a huge page would cost more to clear than it saves.
  if (expected_bytes < kHugePage / 8) return;
  // Once per process: the arrangement holds for the rest of it, and a second skip block would be
  // a real leak in a process that loads projects again and again.
  static bool arranged = false;
  if (arranged) return;
  arranged = true;
  // glibc never serves blocks above its mmap-threshold ceiling (32 MiB on 64-bit) from the heap.
  constexpr std::size_t kMaxBlock = (32u << 20) - kHugePage;
  std::size_t span = expected_bytes < 2 * kHugePage ? 2 * kHugePage : expected_bytes;
  if (span > kMaxBlock - kHugePage) span = kMaxBlock - kHugePage;
  // Keep every later block on the brk heap and keep freed pages mapped: the command is short-lived.
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(32u << 20));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(64u << 20));
  // Grow the heap by the span plus one huge page of slack, untouched (malloc writes only the
  // chunk headers at both ends).
  auto* block = static_cast<char*>(std::malloc(span + kHugePage));
  if (!block) return;
  auto start = reinterpret_cast<std::uintptr_t>(block);
  std::uintptr_t first_huge = align_up(start + 64, kHugePage);
  std::uintptr_t end = (start + span + kHugePage) & ~(kHugePage - 1);
  if (end > first_huge) madvise(reinterpret_cast<void*>(first_huge), end - first_huge, MADV_HUGEPAGE);
  std::free(block);
  // Fill the heap up to the first huge-page boundary with a block that is never used nor freed
  // (address space only, never touched), so that what comes next is served from huge pages.
  heap_skip = std::malloc(first_huge - start - 32);
}

}  // namespace berth::memory
