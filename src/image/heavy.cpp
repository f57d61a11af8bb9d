// The loader of berth-heavy.so (see berth/image/heavy.h). No libarchive or libseccomp here.
#include "berth/image/heavy.h"

#include <dlfcn.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "berth/image/layer.h"
#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/paths.h"

namespace berth::image {
namespace {

std::once_flag load_once;
const BerthHeavyApi* loaded_api = nullptr;
std::atomic<bool> loaded{false};
std::string load_failure;

[[noreturn]] void cannot_load(const std::string& path, const std::string& why) {
  throw Error("cannot load " + path + ": " + why, "reinstall Berth");
}

}  // namespace

#define BERTH_STR2(x) #x
#define BERTH_STR(x) BERTH_STR2(x)

const char* heavy_layout_id() {
  // Sizes of the structs passed by pointer, plus the compiler: a module built from other headers
  // or with another libstdc++ ABI gets refused instead of corrupting memory.
  static const std::string id =
      std::string("berth ") + BERTH_VERSION + " gcc " __VERSION__ + " cxx11abi " BERTH_STR(_GLIBCXX_USE_CXX11_ABI) +
      " layer " + std::to_string(sizeof(UnpackedLayer)) + " profile " +
      std::to_string(sizeof(seccomp::ResolvedProfile)) + " rule " + std::to_string(sizeof(seccomp::Rule)) +
      " filter " + std::to_string(sizeof(seccomp::CompiledFilter));
  return id.c_str();
}

std::string heavy_module_path() { return paths::libexec_dir() + "/berth-heavy.so"; }

const BerthHeavyApi& heavy_module() {
  std::call_once(load_once, [] {
    const std::string path = heavy_module_path();
    try {
      // RTLD_LOCAL: the module's copies of libarchive/libseccomp symbols stay private to it.
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        std::string why = ::dlerror();
        if (why.starts_with(path + ": ")) why.erase(0, path.size() + 2);  // dlerror repeats the path
        cannot_load(path, why);
      }
      auto entry = reinterpret_cast<BerthHeavyEntry>(::dlsym(handle, BERTH_HEAVY_ENTRY));
      if (!entry) cannot_load(path, "no " BERTH_HEAVY_ENTRY " in it");
      const BerthHeavyApi* api = entry();
      if (!api || api->abi != BERTH_HEAVY_ABI || api->size != sizeof(BerthHeavyApi))
        cannot_load(path, "interface version mismatch (module from another Berth version)");
      if (std::strcmp(api->layout_id, heavy_layout_id()) != 0)
        cannot_load(path, std::string("built from another Berth build (") + api->layout_id + ")");
      loaded_api = api;  // the handle is never closed: the table points into the module
      loaded = true;
    } catch (const Error& e) {
      load_failure = e.what();
    }
  });
  if (!loaded_api) throw Error(load_failure, "reinstall Berth");
  return *loaded_api;
}

bool heavy_module_loaded() { return loaded.load(); }

void throw_heavy_error(const BerthHeavyApi& api, BerthHeavyError& error) {
  std::string message = error.message ? error.message : "berth-heavy.so: unknown error";
  std::string hint = error.hint ? error.hint : "";
  int exit_code = error.exit_code ? error.exit_code : 125;
  api.free_error(&error);
  throw Error(std::move(message), std::move(hint), exit_code);
}

}  // namespace berth::image
