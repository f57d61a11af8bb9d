#pragma once
// berth-heavy.so: the code that needs libarchive (layer unpack) or libseccomp (filter compile),
// kept out of the berth binary so that every other command starts without mapping those
// libraries (docs/startup.md). The module exports one C function, berth_heavy_api_v1, returning
// the table below; the loader dlopens it on first use. Errors come back as strings and become
// berth::Error on this side: no C++ exception crosses the boundary.
//
// The table passes Berth's own C++ structs by pointer. Module and binary are built and installed
// together; abi and layout_id catch a module from another build.
#include <cstdint>
#include <string>

namespace berth::image {
struct UnpackedLayer;
}
namespace berth::seccomp {
struct ResolvedProfile;
struct CompiledFilter;
}  // namespace berth::seccomp

extern "C" {

// Filled by a failing call; release with BerthHeavyApi::free_error.
struct BerthHeavyError {
  char* message;
  char* hint;
  int exit_code;
};

#define BERTH_HEAVY_ABI 1
#define BERTH_HEAVY_ENTRY "berth_heavy_api_v1"

struct BerthHeavyApi {
  uint32_t abi;            // BERTH_HEAVY_ABI
  uint32_t size;           // sizeof(BerthHeavyApi)
  const char* layout_id;   // berth::image::heavy_layout_id() of the module's build
  // All return 0, or -1 with *error filled.
  int (*unpack_layer)(int input_fd, const char* blob_path, const char* dest_dir,
                      berth::image::UnpackedLayer* out, BerthHeavyError* error);
  int (*seccomp_compile)(const berth::seccomp::ResolvedProfile* profile,
                         berth::seccomp::CompiledFilter* out, BerthHeavyError* error);
  int (*seccomp_highest_known_syscall)(const char* arch, uint32_t below, uint32_t* out,
                                       BerthHeavyError* error);
  const char* (*libseccomp_version)();  // of the library loaded at run time: "2.5.4"
  void (*free_error)(BerthHeavyError* error);
};

typedef const BerthHeavyApi* (*BerthHeavyEntry)();
}

namespace berth::image {

// <libexec_dir>/berth-heavy.so
std::string heavy_module_path();
// Loads the module once (thread-safe); throws berth::Error "cannot load <path>: ..." with the
// hint "reinstall Berth" when it is missing or from another build.
const BerthHeavyApi& heavy_module();
// True once heavy_module() has succeeded in this process (tests check that cache hits skip it).
bool heavy_module_loaded();
// Turns a filled BerthHeavyError into berth::Error (and frees it).
[[noreturn]] void throw_heavy_error(const BerthHeavyApi& api, BerthHeavyError& error);

// Identifies the struct layouts passed by pointer; both sides compute it from their own headers.
const char* heavy_layout_id();

}  // namespace berth::image
