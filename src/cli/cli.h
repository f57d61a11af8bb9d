#pragma once
// CLI wiring: one file per command family, each adding its subcommands to the app.
// Commands throw berth::Error for user-facing failures; main() prints them on one line and
// exits with the error's code. A command that must exit with another code sets exit_code().
#include "berth/util/std_streams.h"  // before CLI11, which includes <iostream>
#include <CLI/CLI.hpp>
#include <string_view>

namespace berth::cli {

int& exit_code();

// cmd_container.cpp: berth container …; only `subcommand` when it is run or ls (else all).
void add_container_commands(CLI::App& app, std::string_view subcommand = {});
void add_container_lifecycle_commands(CLI::App& container);  // cmd_lifecycle.cpp: start, stop, …
void add_container_monitor_commands(CLI::App& container);    // cmd_monitor.cpp: top, stats
void add_system_commands(CLI::App& app);
void add_exec_command(CLI::App& container);                  // cmd_exec.cpp: berth container exec
void add_copy_command(CLI::App& container);                  // cmd_copy.cpp: berth container cp
void add_compose_copy_command(CLI::App& app);                // cmd_copy.cpp: berth cp (Compose)
void add_logs_command(CLI::App& container);                  // cmd_logs.cpp: berth container logs                     // cmd_system.cpp: berth system …
void add_image_commands(CLI::App& app);      // cmd_image.cpp: berth image …
void add_volume_commands(CLI::App& app);     // cmd_volume.cpp: berth volume …
void add_inspect_command(CLI::App& app);     // cmd_inspect.cpp: berth inspect (any object)
void add_config_command(CLI::App& app);      // cmd_config.cpp: berth config (Compose)
void add_network_commands(CLI::App& app);    // cmd_network.cpp: berth network …
void add_compose_commands(CLI::App& app);    // cmd_compose.cpp: berth up, down, run
void add_port_command(CLI::App& container);  // cmd_network.cpp: berth container port
void add_compose_ops_commands(CLI::App& app);  // cmd_compose_ops.cpp: ps, logs, stop, start, … on a project

// Follows a freshly started supervisor's stream (cmd_container.cpp): reports a failed start as an
// Error with Docker's exit code; detached, returns 0 once started (printing the id if print_id);
// attached, relays stdio and signals and returns the container's exit code.
}  // namespace berth::cli

#include "berth/engine/container_options.h"

namespace berth::cli {
// started_here: we started it (read its start report; return when the supervisor is done, after
// --rm); false: attached to a running container (return at its exit; our EOF keeps its stdin).
int attach_container_stream(int sock, const engine::ContainerOptions& o, const std::string& id, bool print_id,
                            bool started_here = true);

}  // namespace berth::cli

// ---- pieces shared by the container commands and the Compose verbs (cmd_compose_ops.cpp) ----
#include "berth/engine/engine.h"

namespace berth::cli {
// Docker's STATUS column ("Up 3 seconds (healthy)", "Exited (0) 2 minutes ago"); cmd_container.cpp.
std::string container_status_text(const engine::ContainerView& v);
// Docker's PORTS column ("0.0.0.0:8080->80/tcp, ..."), empty unless running; cmd_container.cpp.
std::string container_ports_column(const engine::ContainerView& v);
// Docker's Labels text in `--format json` ("k=v,k=v"); cmd_container.cpp.
std::string container_labels_text(const engine::ContainerView& v);
// --tail N|all (UINT64_MAX = all) and "still producing logs" for follow; cmd_logs.cpp.
uint64_t parse_log_tail(const std::string& value);
bool container_keeps_running(const std::string& id);
// Container exec (cmd_exec.cpp): returns the command's exit code.
struct ExecOptions {
  bool interactive = false, tty = false, detach = false, privileged = false;
  std::string user, workdir;
  std::vector<std::string> env;
};
int run_exec(const std::string& ref, const std::vector<std::string>& command, const ExecOptions& o);
// Prints the processes of a running container (cmd_monitor.cpp); throws when it is not running.
void print_container_top(const std::string& id);
// The published host addresses of a container for "PORT/PROTO" ("0.0.0.0:8080"), or every
// "80/tcp -> 0.0.0.0:8080" line when want is empty (cmd_network.cpp).
std::vector<std::string> container_port_lines(const engine::ContainerView& v, const std::string& want);
// Starts a stopped container in the background (returns once it runs); cmd_lifecycle.cpp.
void start_container_detached(const std::string& id);
// Docker's sizes (go-units): decimal units, three significant digits by default ("4.26MB",
// "782B"; `volume prune` shows four); cmd_image.cpp.
std::string decimal_size_text(uint64_t bytes, int significant_digits = 3);
}  // namespace berth::cli
