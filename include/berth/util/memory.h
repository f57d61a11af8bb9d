#pragma once
#include <cstddef>

namespace berth::memory {

// Serves the next `expected_bytes` of heap allocations from transparent huge pages. For a
// short-lived command about to build a large tree (the Compose loader: ~40 bytes of heap per byte
// of YAML). On this kind of VM a first touch of a 4 KiB page costs 12-16 µs (the hypervisor
// fills its own page tables too; MADV_POPULATE_WRITE does not avoid that), while a 2 MiB huge
// page costs ~0.3 µs per 4 KiB it covers. Below 256 KiB it does nothing; it acts once per
// process. Best effort: where THP
// is off ("never") or missing, malloc behaves as before.
// Side effects for the rest of the process: blocks up to 32 MiB come from the brk heap and freed
// memory is not handed back to the kernel.
void use_huge_pages_for_heap(std::size_t expected_bytes);

}  // namespace berth::memory
