// berth: the command line. Top-level verbs are Compose's; single objects live under their nouns.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

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

namespace {

constexpr std::string_view kVersionLine = "Berth version " BERTH_VERSION "\n";

// `berth --version` is answered before the static initialisers of CLI11, yaml-cpp and libstdc++
// run (this constructor runs first, priority 101), and without stdio's buffer or exit handlers:
// they touch pages that cost ~12 us each here (docs/startup.md).
__attribute__((constructor(101))) void answer_version_early(int argc, char** argv, char**) {
  if (argc != 2 || (std::strcmp(argv[1], "--version") != 0 && std::strcmp(argv[1], "version") != 0)) return;
  ssize_t n = ::write(1, kVersionLine.data(), kVersionLine.size());
  ::_exit(n == static_cast<ssize_t>(kVersionLine.size()) ? 0 : 1);
}

// Each group adds its top-level commands. Building every CLI11 option costs ~500 KB of heap and,
// with page faults at ~12 us here, a few milliseconds: a command builds only its own group.
struct CommandGroup {
  std::initializer_list<std::string_view> names;
  void (*add)(CLI::App&);
};

void add_container_group(CLI::App& app) { berth::cli::add_container_commands(app); }

const CommandGroup kGroups[] = {
    {{"up", "down", "run"}, berth::cli::add_compose_commands},
    {{"container"}, add_container_group},
    {{"image"}, berth::cli::add_image_commands},
    {{"volume"}, berth::cli::add_volume_commands},
    {{"network"}, berth::cli::add_network_commands},
    {{"inspect"}, berth::cli::add_inspect_command},
    {{"config"}, berth::cli::add_config_command},
    {{"system"}, berth::cli::add_system_commands},
    {{"ps", "logs", "start", "stop", "restart", "kill", "pause", "unpause", "rm", "exec", "top", "port",
      "images", "ls", "wait", "events"},
     berth::cli::add_compose_ops_commands},
    {{"cp"}, berth::cli::add_compose_copy_command},
};

// The index of the first word after the global flags (those taking a separate value are skipped
// with it); argc when there is none.
int command_word_index(int argc, char** argv) {
  static constexpr std::string_view kValueFlags[] = {"-f",        "--file",    "-p",         "--project-name",
                                                     "--project-directory", "--env-file", "--profile",
                                                     "--parallel", "--ansi",    "--progress"};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.empty() || arg[0] != '-') return i;
    for (auto flag : kValueFlags)
      if (arg == flag) {
        ++i;
        break;
      }
  }
  return argc;
}

// Only the group of the command given; all of them for help, a typo or no command at all.
// `container` builds only the subcommand named next when that is a hot one (run, ls).
void add_commands(CLI::App& app, int argc, char** argv) {
  int at = command_word_index(argc, argv);
  std::string_view word = at < argc ? argv[at] : "";
  if (word == "container") {
    berth::cli::add_container_commands(app, at + 1 < argc ? argv[at + 1] : "");
    return;
  }
  for (const auto& group : kGroups)
    for (auto name : group.names)
      if (name == word) {
        group.add(app);
        return;
      }
  for (const auto& group : kGroups) group.add(app);
}

}  // namespace

int main(int argc, char** argv) {
  // `berth --version` never gets here: answer_version_early.
  // Never destroyed: tearing the option tree down at exit only costs time.
  auto& app = *new CLI::App{"Berth: run Compose stacks on a built-in container runtime"};
  app.require_subcommand(1);
  // CLI11 prints it with a newline of its own.
  app.set_version_flag("--version", std::string(kVersionLine.substr(0, kVersionLine.size() - 1)));
  using namespace berth::cli;
  add_global_project_flags(app);
  add_commands(app, argc, argv);
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
    berth::std_streams();  // CLI11 prints help and usage errors to std::cout/cerr
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
