// berth volume create | ls | inspect | rm | prune (Docker's flags, output and exit codes).
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "berth/engine/engine.h"
#include "berth/util/error.h"
#include "berth/util/id.h"
#include "berth/util/json.h"
#include "berth/util/std_streams.h"
#include "berth/volume/store.h"
#include "cli.h"
#include "table.h"

namespace berth::cli {

namespace {

std::map<std::string, std::string> key_values(const std::vector<std::string>& items, const char* what) {
  std::map<std::string, std::string> out;
  for (const auto& kv : items) {
    auto eq = kv.find('=');
    if (eq == 0 || kv.empty()) throw Error(std::string("invalid ") + what + " '" + kv + "'", "use KEY=VALUE");
    if (std::string(what) == "option" && eq == std::string::npos)
      throw Error("invalid option '" + kv + "': expected KEY=VALUE", "e.g. -o type=tmpfs -o device=tmpfs -o o=size=64m");
    out[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return out;
}

bool label_filter(const volume::Volume& v, const std::string& expr) {
  auto eq = expr.find('=');
  auto it = v.labels.find(expr.substr(0, eq));
  if (it == v.labels.end()) return false;
  return eq == std::string::npos || it->second == expr.substr(eq + 1);
}

}  // namespace

void add_volume_commands(CLI::App& app) {
  auto* vol = app.add_subcommand("volume", "Manage volumes");
  vol->require_subcommand(1);

  struct CreateArgs {
    std::string name, driver = "local";
    std::vector<std::string> labels, opts;
  };
  auto ca = std::make_shared<CreateArgs>();
  auto* create = vol->add_subcommand("create", "Create a volume");
  create->add_option("NAME", ca->name, "Volume name (default: a random 64-hex name)");
  create->add_option("-d,--driver", ca->driver, "Specify volume driver name (local)");
  create->add_option("--label", ca->labels, "Set metadata for a volume")->allow_extra_args(false);
  create->add_option("-o,--opt", ca->opts, "Set driver specific options (type, device, o)")->allow_extra_args(false);
  create->callback([ca] {
    engine::require_root();
    if (ca->driver != "local")
      throw Error("error looking up volume plugin " + ca->driver + ": plugin \"" + ca->driver + "\" not found",
                  "berth has the local driver only", 1);
    auto labels = key_values(ca->labels, "label");
    auto opts = key_values(ca->opts, "option");
    volume::Store store;
    auto lock = store.lock();
    store.sweep_autoremoved();
    volume::Volume v = ca->name.empty() ? store.create(random_hex_id(), labels, opts) : store.create(ca->name, labels, opts);
    std::printf("%s\n", v.name.c_str());
  });

  struct LsArgs {
    bool quiet = false;
    std::vector<std::string> filters;
    std::string format;
  };
  auto la = std::make_shared<LsArgs>();
  auto* ls = vol->add_subcommand("ls", "List volumes");
  ls->alias("list");
  ls->add_flag("-q,--quiet", la->quiet, "Only display volume names");
  ls->add_option("-f,--filter", la->filters, "Provide filter values (dangling=true|false, label=KEY[=VALUE], name=NAME)")
      ->allow_extra_args(false);
  ls->add_option("--format", la->format, "Format output: table or json");
  ls->callback([la] {
    engine::require_root();
    volume::Store store;
    std::vector<volume::Volume> volumes;
    std::map<std::string, std::vector<std::string>> users;
    {
      auto lock = store.lock();
      store.sweep_autoremoved();
      volumes = store.list();
      users = store.users();
    }
    Table t({"DRIVER", "VOLUME NAME"});
    for (const auto& v : volumes) {
      bool keep = true;
      for (const auto& f : la->filters) {
        auto eq = f.find('=');
        if (eq == std::string::npos)
          throw Error("bad format of filter (expected name=value): " + f, "e.g. --filter dangling=true", 1);
        std::string key = f.substr(0, eq), value = f.substr(eq + 1);
        if (key == "dangling") {
          if (value != "true" && value != "false" && value != "1" && value != "0")
            throw Error("invalid filter 'dangling=" + value + "'", "use dangling=true or dangling=false", 1);
          bool dangling = !users.count(v.name) || users[v.name].empty();
          keep &= dangling == (value == "true" || value == "1");
        } else if (key == "label") {
          keep &= label_filter(v, value);
        } else if (key == "name") {
          keep &= v.name.find(value) != std::string::npos;
        } else if (key == "driver") {
          keep &= value == "local";
        } else {
          throw Error("invalid filter '" + key + "'", "use dangling, label, name or driver", 1);
        }
      }
      if (!keep) continue;
      if (la->quiet) {
        std::printf("%s\n", v.name.c_str());
      } else if (la->format == "json") {
        std::printf("%s\n", json{{"Driver", "local"}, {"Name", v.name}, {"Mountpoint", v.mountpoint},
                                 {"Scope", "local"}, {"Labels", v.labels}}.dump().c_str());
      } else {
        t.add({"local", v.name});
      }
    }
    if (!la->quiet && la->format != "json") t.print();
  });

  auto inspect_names = std::make_shared<std::vector<std::string>>();
  auto* inspect = vol->add_subcommand("inspect", "Display detailed information on one or more volumes");
  inspect->add_option("VOLUME", *inspect_names, "Volumes")->required();
  inspect->callback([inspect_names] {
    engine::require_root();
    volume::Store store;
    json out = json::array();
    bool missing = false;
    for (const auto& name : *inspect_names) {
      if (auto v = store.find(name)) {
        out.push_back(store.inspect(*v));
      } else {
        std::fprintf(stderr, "berth: No such volume: %s\n", name.c_str());
        missing = true;
      }
    }
    std::printf("%s\n", out.dump(4).c_str());
    if (missing) exit_code() = 1;
  });

  auto rm_force = std::make_shared<bool>(false);
  auto rm_names = std::make_shared<std::vector<std::string>>();
  auto* rm = vol->add_subcommand("rm", "Remove one or more volumes");
  rm->alias("remove");
  rm->add_flag("-f,--force", *rm_force, "Force the removal of one or more volumes (never of one in use)");
  rm->add_option("VOLUME", *rm_names, "Volumes")->required();
  rm->callback([rm_force, rm_names] {
    engine::require_root();
    volume::Store store;
    auto lock = store.lock();
    int failures = 0;
    for (const auto& name : *rm_names) {
      try {
        store.remove(name, *rm_force);
        std::printf("%s\n", name.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "berth: %s\n", e.what());
        if (!e.hint().empty()) std::fprintf(stderr, "  hint: %s\n", e.hint().c_str());
        ++failures;
      }
    }
    if (failures) exit_code() = 1;
  });

  struct PruneArgs {
    bool all = false, yes = false;
    std::vector<std::string> filters;
  };
  auto pa = std::make_shared<PruneArgs>();
  auto* prune = vol->add_subcommand("prune", "Remove unused local volumes");
  prune->add_flag("-a,--all", pa->all, "Remove all unused volumes, not just anonymous ones");
  prune->add_flag("-f,--force", pa->yes, "Do not prompt for confirmation");
  prune->add_option("--filter", pa->filters, "Provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE])")
      ->allow_extra_args(false);
  prune->callback([pa] {
    engine::require_root();
    if (!pa->yes) {
      std::printf("WARNING! This will remove %s local volumes not used by at least one container.\n"
                  "Are you sure you want to continue? [y/N] ",
                  pa->all ? "all" : "anonymous");
      std::fflush(stdout);
      std::string answer;
      std_streams();
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y" && answer != "yes") return;
    }
    volume::Store store;
    auto lock = store.lock();
    store.sweep_autoremoved();
    uint64_t reclaimed = 0;
    auto removed = store.prune(pa->all, pa->filters, &reclaimed);
    if (!removed.empty()) {
      std::printf("Deleted Volumes:\n");
      for (const auto& n : removed) std::printf("%s\n", n.c_str());
      std::printf("\n");
    }
    std::printf("Total reclaimed space: %s\n", decimal_size_text(reclaimed, 4).c_str());
  });
}

}  // namespace berth::cli
