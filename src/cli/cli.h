#pragma once
// CLI wiring: one file per command family, each adding its subcommands to the app.
// Commands throw berth::Error for user-facing failures; main() prints them on one line and
// exits with the error's code. A command that must exit with another code sets exit_code().
#include <CLI/CLI.hpp>

namespace berth::cli {

int& exit_code();

void add_container_commands(CLI::App& app);  // cmd_container.cpp: berth container …
void add_container_lifecycle_commands(CLI::App& container);  // cmd_lifecycle.cpp: start, stop, …
void add_container_monitor_commands(CLI::App& container);    // cmd_monitor.cpp: top, stats
void add_system_commands(CLI::App& app);
void add_exec_command(CLI::App& container);                  // cmd_exec.cpp: berth container exec
void add_logs_command(CLI::App& container);                  // cmd_logs.cpp: berth container logs                     // cmd_system.cpp: berth system …
void add_image_commands(CLI::App& app);      // cmd_image.cpp: berth image …
void add_volume_commands(CLI::App& app);     // cmd_volume.cpp: berth volume …
void add_inspect_command(CLI::App& app);     // cmd_inspect.cpp: berth inspect (any object)
void add_config_command(CLI::App& app);      // cmd_config.cpp: berth config (Compose)
void add_network_commands(CLI::App& app);    // cmd_network.cpp: berth network …
void add_port_command(CLI::App& container);  // cmd_network.cpp: berth container port

// Follows a freshly started supervisor's stream (cmd_container.cpp): reports a failed start as an
// Error with Docker's exit code; detached, returns 0 once started (printing the id if print_id);
// attached, relays stdio and signals and returns the container's exit code.
}  // namespace berth::cli

#include "berth/engine/container_options.h"

namespace berth::cli {
int attach_container_stream(int sock, const engine::ContainerOptions& o, const std::string& id, bool print_id);

}  // namespace berth::cli
