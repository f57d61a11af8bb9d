// berth config: load the Compose project and print its canonical model (or parts of it).
#include <cstdio>
#include <functional>
#include <memory>
#include <set>

#include "berth/compose/loader.h"
#include "berth/util/fs.h"
#include "cli.h"
#include "compose_project.h"

namespace berth::cli {
namespace {

struct ConfigFlags {
  compose::LoadOptions load;
  std::string format = "yaml";
  std::string output;
  std::string hash;
  bool quiet = false, services = false, volumes = false, networks = false, images = false, profiles = false;
  bool no_interpolate = false, no_normalize = false, no_path_resolution = false, no_consistency = false;
  bool no_env_resolution = false;
};

// Keeps the named services and everything they depend on.
void keep_services(json& model, const std::vector<std::string>& names) {
  if (names.empty() || !model.contains("services")) return;
  json& services = model["services"];
  std::set<std::string> keep;
  std::function<void(const std::string&)> add = [&](const std::string& name) {
    if (!services.contains(name))
      throw berth::Error("no such service: " + name, "see `berth config --services`", compose::kExitParseFailure);
    if (!keep.insert(name).second) return;
    if (services[name].contains("depends_on"))
      for (const auto& [dep, spec] : services[name]["depends_on"].items())
        if (services.contains(dep)) add(dep);
  };
  for (const auto& n : names) add(n);
  json filtered = json::object();
  for (const auto& n : keep) filtered[n] = services[n];
  services = filtered;
}

std::string render(const ConfigFlags& flags, compose::LoadResult& result) {
  json& model = result.model;
  std::string out;
  auto lines = [&](const json& section) {
    if (section.is_object())
      for (const auto& [k, v] : section.items()) out += k + "\n";
  };
  if (flags.services) {
    lines(model.value("services", json::object()));
  } else if (flags.volumes) {
    lines(model.value("volumes", json::object()));
  } else if (flags.networks) {
    lines(model.value("networks", json::object()));
  } else if (flags.images) {
    for (const auto& svc : result.project.services)
      out += (svc.image.empty() ? result.project.name + "-" + svc.name : svc.image) + "\n";
  } else if (flags.profiles) {
    compose::LoadOptions all = flags.load;
    all.profiles = {"*"};
    all.typed_project = true;
    auto everything = compose::load_project(all);
    std::set<std::string> names;
    for (const auto& svc : everything.project.services) names.insert(svc.profiles.begin(), svc.profiles.end());
    for (const auto& n : names) out += n + "\n";
  } else if (!flags.hash.empty()) {
    std::vector<std::string> names;
    if (flags.hash == "*")
      for (const auto& svc : result.project.services) names.push_back(svc.name);
    else
      names = {flags.hash};
    for (const auto& n : names) out += n + " " + compose::config_hash(result.project, n) + "\n";
  } else if (flags.format == "json") {
    out = model.dump(4, ' ', false, json::error_handler_t::replace) + "\n";  // invalid UTF-8 → U+FFFD
  } else {
    out = compose::to_yaml(model);
  }
  return out;
}

void run_config(ConfigFlags& flags) {
  ProjectFlags local;
  local.files = flags.load.files;
  local.project_name = flags.load.project_name;
  local.project_directory = flags.load.project_directory;
  local.env_files = flags.load.env_files;
  local.profiles = flags.load.profiles;
  ProjectFlags m = merged(local);
  flags.load.files = m.files;
  flags.load.project_name = m.project_name;
  flags.load.project_directory = m.project_directory;
  flags.load.env_files = m.env_files;
  flags.load.profiles = m.profiles;
  flags.load.interpolate = !flags.no_interpolate;
  flags.load.normalize = !flags.no_normalize;
  flags.load.resolve_paths = !flags.no_path_resolution;
  flags.load.consistency = !flags.no_consistency;
  flags.load.resolve_env = !flags.no_env_resolution;
  // Only --images and --hash read the typed project; the other outputs print the model.
  bool needs_project = flags.images || !flags.hash.empty();
  flags.load.typed_project = needs_project && !flags.quiet;
  // Never destroyed: the process ends right after, and freeing a large model took ~7% of the run.
  auto& result = *new compose::LoadResult(compose::load_project(flags.load));
  for (const auto& w : result.warnings) std::fprintf(stderr, "berth: warning: %s\n", w.str().c_str());
  if (flags.quiet) return;
  keep_services(result.model, flags.load.services);
  if (needs_project && !flags.load.services.empty()) result.project = compose::project_from_json(result.model);
  std::string out = render(flags, result);
  if (flags.output.empty()) std::fwrite(out.data(), 1, out.size(), stdout);
  else fs::write_file(flags.output, out);
}

}  // namespace

void add_config_command(CLI::App& app) {
  auto flags = std::make_shared<ConfigFlags>();
  auto* cmd = app.add_subcommand("config", "Parse, resolve and render the Compose file in canonical format");
  cmd->add_option("-f,--file", flags->load.files, "Compose configuration files (repeatable, - for stdin)");
  cmd->add_option("-p,--project-name", flags->load.project_name, "Project name");
  cmd->add_option("--project-directory", flags->load.project_directory, "Alternate working directory");
  cmd->add_option("--env-file", flags->load.env_files, "Alternate environment file (repeatable)");
  cmd->add_option("--profile", flags->load.profiles, "Profile to enable (repeatable)");
  cmd->add_option("--format", flags->format, "Format the output: yaml or json")->check(CLI::IsMember({"yaml", "json"}));
  cmd->add_flag("-q,--quiet", flags->quiet, "Only validate the configuration, print nothing");
  cmd->add_flag("--services", flags->services, "Print the service names, one per line");
  cmd->add_flag("--volumes", flags->volumes, "Print the volume names, one per line");
  cmd->add_flag("--networks", flags->networks, "Print the network names, one per line");
  cmd->add_flag("--images", flags->images, "Print the image names, one per line");
  cmd->add_flag("--profiles", flags->profiles, "Print the profile names, one per line");
  cmd->add_option("--hash", flags->hash, "Print the config hash of SERVICE (or * for all)");
  cmd->add_flag("--no-interpolate", flags->no_interpolate, "Don't interpolate environment variables");
  cmd->add_flag("--no-normalize", flags->no_normalize, "Don't normalize the model (default network, names)");
  cmd->add_flag("--no-path-resolution", flags->no_path_resolution, "Don't resolve file paths");
  cmd->add_flag("--no-consistency", flags->no_consistency, "Don't check cross-references");
  cmd->add_flag("--no-env-resolution", flags->no_env_resolution, "Don't merge env_file into environment");
  cmd->add_option("-o,--output", flags->output, "Save to FILE instead of stdout");
  cmd->add_option("services", flags->load.services, "Services to print (with their dependencies)");
  cmd->callback([flags] { run_config(*flags); });
}

}  // namespace berth::cli
