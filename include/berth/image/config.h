#pragma once
// The runnable part of an image config (OCI config "config" object, Docker field names), its JSON
// form, and Dockerfile-style `--change` instructions as `docker import --change` accepts them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "berth/util/json.h"

namespace berth::image {

struct ImageConfig {
  std::vector<std::string> entrypoint, cmd, env;  // env: "KEY=VALUE"
  std::string working_dir, user, stop_signal;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> volumes;        // "/data"
  std::map<std::string, std::string> labels;
  // Docker shape: Test, Interval, Timeout, StartPeriod, StartInterval (ns), Retries.
  std::optional<berth::json> healthcheck;
};

// OCI/Docker "config" object: Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts{}, Volumes{},
// Labels, StopSignal, Healthcheck. Empty fields are left out.
berth::json config_to_json(const ImageConfig& c);
ImageConfig config_from_json(const berth::json& j);  // tolerant: unknown keys ignored

// Applies one instruction: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL,
// STOPSIGNAL, HEALTHCHECK. Throws berth::Error (exit 125) naming the instruction on bad input.
void apply_change(ImageConfig& c, const std::string& instruction);

// Go's time.ParseDuration ("1m30s", "500ms", "1.5h") in nanoseconds; throws Error.
int64_t parse_go_duration(const std::string& s);

}  // namespace berth::image
