// berth container top | stats --no-stream: read from /proc and the container's cgroups.
#include <unistd.h>

#include <cstdio>

#include "berth/cgroup/cgroup.h"
#include "berth/engine/engine.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/strings.h"
#include "cli.h"
#include "table.h"

namespace berth::cli {

namespace {

cgroup::Plan cgroups_of(const std::string& id) {
  auto launch = fs::read_file_if_exists(engine::container_paths(id).run_dir + "/launch.json");
  if (!launch) throw Error("container " + short_id(id) + " has no runtime state", "is it running?", 1);
  return cgroup::plan_from_json(json::parse(*launch).at("cgroups"));
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", v, units[u]);
  return buf;
}

}  // namespace

void print_container_top(const std::string& id) {
  auto v = engine::view_container(id);
  if (v.status != "running" && v.status != "paused" && v.status != "supervisor lost")
    throw Error("container " + v.name + " is not running", "", 1);
  Table t({"UID", "PID", "PPID", "CMD"});
  for (pid_t pid : cgroup::pids(cgroups_of(id))) {
    std::string base = "/proc/" + std::to_string(pid);
    auto status = fs::read_file_if_exists(base + "/status");
    auto cmdline = fs::read_file_if_exists(base + "/cmdline");
    if (!status || !cmdline) continue;
    std::string uid, ppid;
    for (const auto& line : str::split(*status, '\n')) {
      if (line.rfind("Uid:", 0) == 0) uid = str::split(str::trim(line.substr(4)), '\t')[0];
      if (line.rfind("PPid:", 0) == 0) ppid = str::trim(line.substr(5));
    }
    for (auto& c : *cmdline)
      if (c == '\0') c = ' ';
    t.add({uid, std::to_string(pid), ppid, str::trim(*cmdline)});
  }
  t.print();
}

void add_container_monitor_commands(CLI::App& container) {
  {
    auto* cmd = container.add_subcommand("top", "Display the running processes of a container");
    auto ref = std::make_shared<std::string>();
    cmd->add_option("CONTAINER", *ref, "Container")->required();
    cmd->callback([ref] { print_container_top(engine::resolve_container(*ref)); });
  }
  {
    auto* cmd = container.add_subcommand("stats", "Display a snapshot of containers' resource usage");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto no_stream = std::make_shared<bool>(false);
    cmd->add_flag("--no-stream", *no_stream, "Disable streaming stats and only pull the first result");
    cmd->add_option("CONTAINER", *refs, "Containers (default: all running)");
    cmd->callback([refs, no_stream] {
      if (!*no_stream)
        throw Error("streaming stats are not supported yet", "use berth container stats --no-stream");
      std::vector<std::string> ids;
      if (refs->empty()) {
        for (const auto& v : engine::list_containers())
          if (v.status == "running" || v.status == "paused") ids.push_back(v.id);
      } else {
        for (const auto& r : *refs) ids.push_back(engine::resolve_container(r));
      }
      uint64_t host_mem = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
      Table t({"CONTAINER ID", "NAME", "CPU TIME", "MEM USAGE / LIMIT", "MEM %", "PIDS"});
      for (const auto& id : ids) {
        auto v = engine::view_container(id);
        auto s = cgroup::stats(cgroups_of(id));
        uint64_t limit = s.memory_limit ? s.memory_limit : host_mem;
        char pct[16], cpu[32];
        std::snprintf(pct, sizeof pct, "%.2f%%", limit ? 100.0 * static_cast<double>(s.memory_usage) / static_cast<double>(limit) : 0.0);
        std::snprintf(cpu, sizeof cpu, "%.3fs", static_cast<double>(s.cpu_usage_ns) / 1e9);
        t.add({short_id(id), v.name, cpu, human_bytes(s.memory_usage) + " / " + human_bytes(limit), pct,
               std::to_string(s.pids)});
      }
      t.print();
    });
  }
}

}  // namespace berth::cli
