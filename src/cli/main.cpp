// berth: the command line. Top-level verbs are Compose's; single objects live under their nouns.
#include <cstdio>
#include <cstring>
#include <string>

#include "berth/engine/engine.h"
#include "berth/util/error.h"
#include "cli.h"
#include "compose_project.h"

namespace berth::cli {
int& exit_code() {
  static int code = 0;
  return code;
}
}  // namespace berth::cli

int main(int argc, char** argv) {
  // Hot path: `berth --version` must not pay for building the whole command tree.
  if (argc == 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0)) {
    std::printf("Berth version %s\n", BERTH_VERSION);
    return 0;
  }
  CLI::App app{"Berth: run Compose stacks on a built-in container runtime"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("Berth version ") + BERTH_VERSION);
  using namespace berth::cli;
  add_global_project_flags(app);
  add_compose_commands(app);
  add_container_commands(app);
  add_image_commands(app);
  add_volume_commands(app);
  add_network_commands(app);
  add_inspect_command(app);
  add_config_command(app);
  add_system_commands(app);
  add_compose_ops_commands(app);
  // No systemd here to run `berth system restore` at boot: the first command after a reboot does.
  app.preparse_callback([](size_t) {
    try {
      berth::engine::restore_after_reboot();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "berth: warning: restore after reboot: %s\n", e.what());
    }
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;  // Docker uses 125 for usage errors
  } catch (const berth::Error& e) {
    std::fprintf(stderr, "berth: %s\n", e.what());
    if (!e.hint().empty()) std::fprintf(stderr, "  hint: %s\n", e.hint().c_str());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth: internal error: %s\n", e.what());
    return 125;
  }
  return exit_code();
}
