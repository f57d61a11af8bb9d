// The one exported symbol of berth-heavy.so: berth_heavy_api_v1 (see berth/image/heavy.h).
// Every entry catches what the C++ code throws and hands it back as strings.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "berth/image/heavy.h"
#include "berth/util/error.h"
#include "image/heavy/unpack.h"
#include "seccomp/heavy/compile_bpf.h"

namespace {

char* copy(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

template <class F>
int guarded(BerthHeavyError* error, F&& f) {
  try {
    f();
    return 0;
  } catch (const berth::Error& e) {
    *error = {copy(e.what()), copy(e.hint()), e.exit_code()};
  } catch (const std::exception& e) {
    *error = {copy(e.what()), nullptr, 125};
  } catch (...) {
    *error = {copy("berth-heavy.so: unknown exception"), nullptr, 125};
  }
  return -1;
}

int unpack_layer(int input_fd, const char* blob_path, const char* dest_dir, berth::image::UnpackedLayer* out,
                 BerthHeavyError* error) {
  return guarded(error, [&] { *out = berth::image::unpack_layer_with_libarchive(input_fd, blob_path, dest_dir); });
}

int seccomp_compile(const berth::seccomp::ResolvedProfile* profile, berth::seccomp::CompiledFilter* out,
                    BerthHeavyError* error) {
  return guarded(error, [&] { *out = berth::seccomp::compile_with_libseccomp(*profile); });
}

int seccomp_highest_known_syscall(const char* arch, uint32_t below, uint32_t* out, BerthHeavyError* error) {
  return guarded(error, [&] { *out = berth::seccomp::highest_known_syscall_libseccomp(arch, below); });
}

const char* libseccomp_version() {
  static const std::string version = berth::seccomp::runtime_libseccomp_version();
  return version.c_str();
}

void free_error(BerthHeavyError* error) {
  std::free(error->message);
  std::free(error->hint);
  *error = {};
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const BerthHeavyApi* berth_heavy_api_v1() {
  static const BerthHeavyApi api = {BERTH_HEAVY_ABI,  sizeof(BerthHeavyApi),          berth::image::heavy_layout_id(),
                                    unpack_layer,     seccomp_compile, seccomp_highest_known_syscall,
                                    libseccomp_version, free_error};
  return &api;
}
