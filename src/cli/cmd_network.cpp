// berth network create | ls | inspect | rm | prune | connect | disconnect, and berth container port
#include <cstdio>
#include <memory>

#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/network/ports.h"
#include "berth/util/error.h"
#include "berth/util/id.h"
#include "berth/util/json.h"
#include "cli.h"
#include "table.h"

namespace berth::cli {

namespace {

// "KEY=VALUE" list into a map; Docker's message for a missing '='.
std::map<std::string, std::string> key_values(const std::vector<std::string>& kv, const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const auto& s : kv) {
    auto eq = s.find('=');
    if (flag == "--label" && eq == std::string::npos) {
      out[s] = "";
      continue;
    }
    if (eq == std::string::npos || eq == 0)
      throw Error("invalid " + flag + " \"" + s + "\": expected KEY=VALUE", "e.g. " + flag + " key=value");
    out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

// Docker lists the predefined host and none networks too; Berth has no records for them.
json predefined(const std::string& name) {
  return {{"Name", name}, {"Id", name}, {"Driver", name == "host" ? "host" : "null"}, {"Scope", "local"},
          {"Internal", false}, {"Labels", json::object()}, {"Containers", json::object()}};
}

}  // namespace

void add_network_commands(CLI::App& app) {
  auto* network = app.add_subcommand("network", "Manage networks");
  network->require_subcommand(1);

  auto* create = network->add_subcommand("create", "Create a network");
  auto spec = std::make_shared<network::NetworkSpec>();
  auto labels = std::make_shared<std::vector<std::string>>();
  auto options = std::make_shared<std::vector<std::string>>();
  auto driver = std::make_shared<std::string>("bridge");
  create->add_option("--subnet", spec->subnet, "Subnet in CIDR format that represents a network segment");
  create->add_option("--gateway", spec->gateway, "IPv4 Gateway for the master subnet");
  create->add_option("--ip-range", spec->ip_range, "Allocate container ip from a sub-range");
  create->add_flag("--internal", spec->internal, "Restrict external access to the network");
  create->add_option("--label", *labels, "Set metadata on a network");
  create->add_option("-o,--opt", *options, "Set driver specific options");
  create->add_option("-d,--driver", *driver, "Driver to manage the Network (bridge)");
  create->add_option("name", spec->name, "Network name")->required();
  for (auto* opt : create->get_options()) opt->allow_extra_args(false);
  create->callback([spec, labels, options, driver] {
    engine::require_root();
    if (*driver != "bridge")
      throw Error("network driver \"" + *driver + "\" is not supported", "Berth networks are bridges: drop -d");
    spec->labels = key_values(*labels, "--label");
    spec->options = key_values(*options, "--opt");
    json rec = engine::create_network(*spec);
    std::printf("%s\n", rec.value("Id", "").c_str());
  });

  auto* ls = network->add_subcommand("ls", "List networks");
  ls->alias("list");
  auto quiet = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>();
  ls->add_flag("-q,--quiet", *quiet, "Only display network IDs");
  ls->add_option("--format", *format, "Format output: table or json");
  ls->callback([quiet, format] {
    std::vector<json> nets = engine::list_networks();
    nets.push_back(predefined("host"));
    nets.push_back(predefined("none"));
    std::sort(nets.begin(), nets.end(),
              [](const json& a, const json& b) { return a.value("Name", "") < b.value("Name", ""); });
    if (*format == "json") {
      for (const auto& n : nets)
        std::printf("%s\n", json{{"ID", short_id(n.value("Id", ""))}, {"Name", n.value("Name", "")},
                                 {"Driver", n.value("Driver", "")}, {"Scope", "local"},
                                 {"Internal", n.value("Internal", false) ? "true" : "false"}}
                                .dump()
                                .c_str());
      return;
    }
    Table t({"NETWORK ID", "NAME", "DRIVER", "SCOPE"});
    for (const auto& n : nets) {
      if (*quiet) {
        std::printf("%s\n", short_id(n.value("Id", "")).c_str());
        continue;
      }
      t.add({short_id(n.value("Id", "")), n.value("Name", ""), n.value("Driver", ""), "local"});
    }
    if (!*quiet) t.print();
  });

  auto* inspect = network->add_subcommand("inspect", "Display detailed information on one or more networks");
  auto refs = std::make_shared<std::vector<std::string>>();
  inspect->add_option("network", *refs, "Networks")->required();
  inspect->callback([refs] {
    json out = json::array();
    for (const auto& r : *refs) out.push_back(r == "host" || r == "none" ? predefined(r) : engine::inspect_network(r));
    std::printf("%s\n", out.dump(4).c_str());
  });

  auto* rm = network->add_subcommand("rm", "Remove one or more networks");
  rm->alias("remove");
  auto rm_refs = std::make_shared<std::vector<std::string>>();
  rm->add_option("network", *rm_refs, "Networks")->required();
  rm->callback([rm_refs] {
    engine::require_root();
    bool failed = false;
    for (const auto& r : *rm_refs) {
      try {
        if (r == "host" || r == "none")
          throw Error(r + " is a pre-defined network and cannot be removed", "");
        engine::remove_network(r);
        std::printf("%s\n", r.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "Error response from daemon: %s\n", e.what());
        if (!e.hint().empty()) std::fprintf(stderr, "  hint: %s\n", e.hint().c_str());
        failed = true;
      }
    }
    if (failed) exit_code() = 1;
  });

  auto* prune = network->add_subcommand("prune", "Remove all unused networks");
  auto force = std::make_shared<bool>(false);
  prune->add_flag("-f,--force", *force, "Do not prompt for confirmation");
  prune->callback([] {
    engine::require_root();
    auto removed = engine::prune_networks();
    if (!removed.empty()) {
      std::printf("Deleted Networks:\n");
      for (const auto& n : removed) std::printf("%s\n", n.c_str());
    }
  });

  auto* connect = network->add_subcommand("connect", "Connect a container to a network");
  auto c_net = std::make_shared<std::string>();
  auto c_ctr = std::make_shared<std::string>();
  auto c_aliases = std::make_shared<std::vector<std::string>>();
  auto c_ip = std::make_shared<std::string>();
  connect->add_option("--alias", *c_aliases, "Add network-scoped alias for the container")->allow_extra_args(false);
  connect->add_option("--ip", *c_ip, "IPv4 address (e.g., 172.30.100.104)");
  connect->add_option("network", *c_net, "Network")->required();
  connect->add_option("container", *c_ctr, "Container")->required();
  connect->callback([c_net, c_ctr, c_aliases, c_ip] {
    engine::require_root();
    engine::connect_container(*c_net, *c_ctr, *c_aliases, *c_ip);
  });

  auto* disconnect = network->add_subcommand("disconnect", "Disconnect a container from a network");
  auto d_net = std::make_shared<std::string>();
  auto d_ctr = std::make_shared<std::string>();
  auto d_force = std::make_shared<bool>(false);
  disconnect->add_flag("-f,--force", *d_force, "Force the container to disconnect from a network");
  disconnect->add_option("network", *d_net, "Network")->required();
  disconnect->add_option("container", *d_ctr, "Container")->required();
  disconnect->callback([d_net, d_ctr] {
    engine::require_root();
    engine::disconnect_container(*d_net, *d_ctr);
  });
}

std::vector<std::string> container_port_lines(const engine::ContainerView& v, const std::string& want) {
  json ports = v.record.contains("NetworkSettings") ? v.record["NetworkSettings"].value("Ports", json::object())
                                                    : json::object();
  std::vector<std::string> out;
  for (const auto& line : network::port_lines(ports)) {
    if (want.empty()) out.push_back(line);
    else if (line.rfind(want + " -> ", 0) == 0) out.push_back(line.substr(want.size() + 4));
  }
  return out;
}

void add_port_command(CLI::App& container) {
  auto* port = container.add_subcommand("port", "List port mappings or a specific mapping for the container");
  auto ref = std::make_shared<std::string>();
  auto filter = std::make_shared<std::string>();
  port->add_option("container", *ref, "Container")->required();
  port->add_option("port", *filter, "PRIVATE_PORT[/PROTO]");
  port->callback([ref, filter] {
    auto v = engine::view_container(engine::resolve_container(*ref));
    std::string want = *filter;
    if (!want.empty() && want.find('/') == std::string::npos) want += "/tcp";
    auto lines = container_port_lines(v, want);
    for (const auto& line : lines) std::printf("%s\n", line.c_str());
    if (!want.empty() && lines.empty())
      throw Error("No public port '" + want + "' published for " + v.name, "", 1);
  });
}

}  // namespace berth::cli
