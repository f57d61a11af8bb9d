#pragma once
// CLI wiring: one file per command family, each adding its subcommands to the app.
// Commands throw berth::Error for user-facing failures; main() prints them on one line and
// exits with the error's code. A command that must exit with another code sets exit_code().
#include <CLI/CLI.hpp>

namespace berth::cli {

int& exit_code();

void add_container_commands(CLI::App& app);  // cmd_container.cpp: berth container …
void add_image_commands(CLI::App& app);      // cmd_image.cpp: berth image …
void add_inspect_command(CLI::App& app);     // cmd_inspect.cpp: berth inspect (any object)
void add_config_command(CLI::App& app);      // cmd_config.cpp: berth config (Compose)

}  // namespace berth::cli
