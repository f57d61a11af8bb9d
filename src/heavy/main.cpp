// berth-heavy: the helper program that holds Berth's libarchive and libseccomp code (see
// berth/image/heavy.h for why and for the protocol). One request per run:
//   berth-heavy PROTOCOL unpack-layer BLOB_PATH DEST_DIR   (the layer's bytes on stdin)
//   berth-heavy PROTOCOL seccomp-compile                   (a resolved profile's JSON on stdin)
//   berth-heavy PROTOCOL highest-known-syscall ARCH BELOW
//   berth-heavy PROTOCOL libseccomp-version
// The answer is one JSON document on stdout; a failure is {"error": {...}} and exit status 1.
#include <exception>
#include <string>
#include <vector>

#include "berth/image/heavy.h"
#include "berth/image/layer.h"
#include "berth/seccomp/seccomp.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "image/heavy/unpack.h"
#include "seccomp/heavy/compile_bpf.h"

namespace {

using berth::Error;
using berth::json;

std::string read_stdin() {
  std::string text;
  if (!berth::read_all(0, text)) berth::throw_errno("berth-heavy: read request");
  return text;
}

json serve(const std::vector<std::string>& args) {
  const std::string& verb = args.at(0);
  if (verb == "unpack-layer" && args.size() == 3)
    return berth::image::unpack_layer_with_libarchive(0, args[1], args[2]).meta();
  if (verb == "seccomp-compile" && args.size() == 1) {
    auto profile = berth::seccomp::resolved_profile_from_json(json::parse(read_stdin()));
    json answer = berth::seccomp::to_json(berth::seccomp::compile_with_libseccomp(profile));
    answer["libseccomp_version"] = berth::seccomp::runtime_libseccomp_version();
    return answer;
  }
  if (verb == "highest-known-syscall" && args.size() == 3)
    return json{{"number", berth::seccomp::highest_known_syscall_libseccomp(
                               args[1], static_cast<uint32_t>(std::stoul(args[2])))}};
  if (verb == "libseccomp-version" && args.size() == 1)
    return json{{"version", berth::seccomp::runtime_libseccomp_version()}};
  throw Error("berth-heavy: unknown request '" + verb + "'", "berth runs this helper itself; reinstall Berth");
}

int answer(const json& doc, int status) {
  std::string text = doc.dump() + "\n";
  return berth::write_all(1, text) ? status : 1;
}

json error_json(const std::string& message, const std::string& hint, int exit_code) {
  return json{{"error", {{"message", message}, {"hint", hint}, {"exit_code", exit_code}}}};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2 || args[0] != berth::image::kHeavyProtocol)
    return answer(error_json(std::string(argv[0]) + " is from another Berth build (protocol '" +
                                 (args.empty() ? "" : args[0]) + "', expected '" + berth::image::kHeavyProtocol + "')",
                             "reinstall Berth", 125),
                  1);
  args.erase(args.begin());
  try {
    return answer(serve(args), 0);
  } catch (const Error& e) {
    return answer(error_json(e.what(), e.hint(), e.exit_code()), 1);
  } catch (const std::exception& e) {
    return answer(error_json(std::string("berth-heavy: ") + e.what(), "", 125), 1);
  }
}
