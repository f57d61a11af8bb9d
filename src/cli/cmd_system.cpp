// berth system restore
#include <cstdio>

#include "berth/engine/engine.h"
#include "cli.h"

namespace berth::cli {

void add_system_commands(CLI::App& app) {
  auto* system = app.add_subcommand("system", "Manage Berth");
  system->require_subcommand(1);
  auto* restore = system->add_subcommand(
      "restore", "Start the containers whose restart policy says so (run at boot; any command runs it after a reboot)");
  restore->callback([] {
    engine::require_root();
    for (const auto& id : engine::restore_containers()) std::printf("%s\n", id.c_str());
  });
}

}  // namespace berth::cli
