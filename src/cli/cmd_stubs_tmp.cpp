// Placeholders replaced by the real command families as they land.
#include "cli.h"
namespace berth::cli {
void add_container_commands(CLI::App& app) { app.add_subcommand("container", "Manage containers"); }
void add_image_commands(CLI::App& app) { app.add_subcommand("image", "Manage images"); }
void add_inspect_command(CLI::App& app) { app.add_subcommand("inspect", "Show low-level information on objects"); }
void add_config_command(CLI::App& app) { app.add_subcommand("config", "Show the Compose model"); }
}  // namespace berth::cli
