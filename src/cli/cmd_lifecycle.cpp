// berth container start | stop | restart | kill | pause | unpause | wait
#include <cstdio>

#include "berth/engine/engine.h"
#include "berth/engine/options.h"
#include "berth/util/error.h"
#include "cli.h"

namespace berth::cli {

namespace {

// Runs fn for each container reference; Docker prints each name that worked and an error line
// for each that did not, and exits 1 if any failed.
template <typename Fn>
void for_each_container(const std::vector<std::string>& refs, Fn fn) {
  engine::require_root();
  int failures = 0;
  for (const auto& ref : refs) {
    try {
      fn(engine::resolve_container(ref), ref);
    } catch (const Error& e) {
      std::fprintf(stderr, "berth: %s\n", e.what());
      ++failures;
    }
  }
  if (failures) exit_code() = 1;
}

}  // namespace

void start_container_detached(const std::string& id) {
  int sock = engine::start_container(id);
  engine::ContainerOptions o;
  o.detach = true;
  attach_container_stream(sock, o, id, false);
}

void add_container_lifecycle_commands(CLI::App& container) {
  {
    auto* cmd = container.add_subcommand("attach", "Attach local standard input, output, and error streams to a running container (signals are proxied)");
    auto ref = std::make_shared<std::string>();
    auto no_stdin = std::make_shared<bool>(false);
    cmd->add_flag("--no-stdin", *no_stdin, "Do not attach STDIN");
    cmd->add_option("CONTAINER", *ref, "Container")->required();
    cmd->callback([ref, no_stdin] {
      engine::require_root();
      std::string id = engine::resolve_container(*ref);
      auto v = engine::view_container(id);
      if (v.status == "paused") throw Error("You cannot attach to a paused container, unpause it first", "", 1);
      if (v.status != "running") throw Error("You cannot attach to a stopped container, start it first", "", 1);
      const json& config = v.record["Config"];
      engine::ContainerOptions o;
      o.tty = config.value("Tty", false);
      o.interactive = config.value("OpenStdin", false) && !*no_stdin;
      UniqueFd sock = engine::attach_container(id);
      exit_code() = attach_container_stream(sock.release(), o, id, false, false);
    });
  }
  {
    auto* cmd = container.add_subcommand("rename", "Rename a container");
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("CONTAINER NEW_NAME", *names, "The container and its new name")->required()->expected(2);
    cmd->callback([names] {
      engine::require_root();
      engine::rename_container((*names)[0], (*names)[1]);
    });
  }
  {
    auto* cmd = container.add_subcommand("start", "Start one or more stopped containers");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto attach_flag = std::make_shared<bool>(false);
    cmd->add_flag("-a,--attach", *attach_flag, "Attach STDOUT/STDERR and forward signals");
    cmd->add_option("CONTAINER", *refs, "Containers")->required();
    cmd->callback([refs, attach_flag] {
      for_each_container(*refs, [&](const std::string& id, const std::string& ref) {
        auto v = engine::view_container(id);
        if (v.status == "running" || v.status == "paused" || v.status == "restarting") {
          std::printf("%s\n", ref.c_str());
          return;
        }
        int sock = engine::start_container(id);
        engine::ContainerOptions o;
        o.detach = !*attach_flag;
        int code = attach_container_stream(sock, o, id, false);
        if (*attach_flag) exit_code() = code;
        else std::printf("%s\n", ref.c_str());
      });
    });
  }
  {
    auto* cmd = container.add_subcommand("stop", "Stop one or more running containers");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto timeout = std::make_shared<int>(-1);
    cmd->add_option("-t,--time,--timeout", *timeout, "Seconds to wait before killing the container");
    cmd->add_option("CONTAINER", *refs, "Containers")->required();
    cmd->callback([refs, timeout] {
      for_each_container(*refs, [&](const std::string& id, const std::string& ref) {
        engine::stop_container(id, *timeout >= 0 ? std::optional<int>(*timeout) : std::nullopt);
        std::printf("%s\n", ref.c_str());
      });
    });
  }
  {
    auto* cmd = container.add_subcommand("restart", "Restart one or more containers");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto timeout = std::make_shared<int>(-1);
    cmd->add_option("-t,--time,--timeout", *timeout, "Seconds to wait before killing the container");
    cmd->add_option("CONTAINER", *refs, "Containers")->required();
    cmd->callback([refs, timeout] {
      for_each_container(*refs, [&](const std::string& id, const std::string& ref) {
        if (engine::stop_container(id, *timeout >= 0 ? std::optional<int>(*timeout) : std::nullopt))
          engine::wait_container(id);
        start_container_detached(id);
        std::printf("%s\n", ref.c_str());
      });
    });
  }
  {
    auto* cmd = container.add_subcommand("kill", "Kill one or more running containers");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto signal = std::make_shared<std::string>("KILL");
    cmd->add_option("-s,--signal", *signal, "Signal to send to the container");
    cmd->add_option("CONTAINER", *refs, "Containers")->required();
    cmd->callback([refs, signal] {
      int sig = engine::parse_signal(*signal);
      for_each_container(*refs, [&](const std::string& id, const std::string& ref) {
        engine::kill_container(id, sig);
        std::printf("%s\n", ref.c_str());
      });
    });
  }
  for (bool pause : {true, false}) {
    auto* cmd = container.add_subcommand(pause ? "pause" : "unpause",
                                         pause ? "Pause all processes within one or more containers"
                                               : "Unpause all processes within one or more containers");
    auto refs = std::make_shared<std::vector<std::string>>();
    cmd->add_option("CONTAINER", *refs, "Containers")->required();
    cmd->callback([refs, pause] {
      for_each_container(*refs, [&](const std::string& id, const std::string& ref) {
        engine::pause_container(id, pause);
        std::printf("%s\n", ref.c_str());
      });
    });
  }
  {
    auto* cmd = container.add_subcommand("wait", "Block until one or more containers stop, then print their exit codes");
    auto refs = std::make_shared<std::vector<std::string>>();
    cmd->add_option("CONTAINER", *refs, "Containers")->required();
    cmd->callback([refs] {
      for_each_container(*refs, [&](const std::string& id, const std::string&) {
        std::printf("%d\n", engine::wait_container(id));
        std::fflush(stdout);
      });
    });
  }
}

}  // namespace berth::cli
