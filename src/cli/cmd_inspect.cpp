// berth inspect: any object by name or id (containers first, then images), as Docker does.
#include <cstdio>

#include "berth/engine/engine.h"
#include "berth/image/store.h"
#include "berth/util/error.h"
#include "cli.h"

namespace berth::cli {

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Return low-level information on containers or images");
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("NAME|ID", *refs, "Objects to inspect")->required();
  cmd->callback([refs] {
    json out = json::array();
    int missing = 0;
    for (const auto& ref : *refs) {
      try {
        out.push_back(engine::view_container(engine::resolve_container(ref)).record);
        continue;
      } catch (const Error&) {
      }
      image::Store images;
      if (auto img = images.find(ref)) {
        out.push_back(json::parse(images.inspect_json(*img)));
        continue;
      }
      std::fprintf(stderr, "berth: Error: No such object: %s\n", ref.c_str());
      ++missing;
    }
    std::printf("%s\n", out.dump(4).c_str());
    if (missing) exit_code() = 1;
  });
}

}  // namespace berth::cli
