#pragma once
// A seam for unit tests that run the cgroup operations against a plain directory tree: the
// kernel creates control files on mkdir, removes them on rmdir and attaches BPF programs; a fake
// tree needs someone to play that part.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace berth::cgroup::testing {

struct FakeKernel {
  std::function<void(const std::string& dir)> after_mkdir;   // create the control files
  std::function<void(const std::string& dir)> before_rmdir;  // delete them so rmdir succeeds
  std::function<void(const std::string& dir, const std::vector<uint64_t>& program)> attach_bpf;
};

// nullptr (the default) = the real kernel. Not thread-safe: tests only.
void use_fake_kernel(FakeKernel* kernel);

}  // namespace berth::cgroup::testing
