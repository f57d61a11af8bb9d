#pragma once
// berth-heavy: the helper program that holds the code needing libarchive (layer unpack) or
// libseccomp (filter compile). berth runs it as a child process on the rare paths that need it
// (image import, a seccomp cache miss), so berth itself is a static executable that links
// neither library and starts without the dynamic loader (docs/startup.md).
//
// Protocol: `berth-heavy PROTOCOL VERB ARGS...`, a request (if any) or a layer's bytes on stdin,
// one JSON document on stdout: the result with exit status 0, or
// {"error": {"message", "hint", "exit_code"}} with exit status 1. berth and berth-heavy are
// built and installed together; PROTOCOL catches a helper from another build.
#include <cstdint>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::image {

constexpr const char* kHeavyProtocol = "berth-heavy-1 " BERTH_VERSION;

// <libexec_dir>/berth-heavy
std::string heavy_helper_path();

// Runs `berth-heavy PROTOCOL args...` with input_fd (or, when input_fd < 0, the request text) as
// its stdin and returns its JSON answer. A failure it reports becomes berth::Error with its
// message, hint and exit code; a missing helper is "cannot run <path>: ..." with the hint
// "reinstall Berth".
json run_heavy(const std::vector<std::string>& args, int input_fd, const std::string& request = {});

// How many times this process ran the helper (tests check that cache hits never do).
uint64_t heavy_runs();

}  // namespace berth::image
