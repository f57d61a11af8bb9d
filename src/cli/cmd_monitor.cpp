// berth container top | stats: read from /proc, the container's cgroups and its veths.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <thread>

#include "berth/cgroup/cgroup.h"
#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
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

struct StatsSample {
  cgroup::Stats cgroups;
  engine::NetworkIo network;
  int64_t taken_ns = 0;
};

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One frame of `stats`: CPU % over the time since the previous sample of the same container
// (Docker's figure: 100 % is one CPU), the rest as read now. A container without runtime state
// (stopped, or removed meanwhile) gets a row of zeros when it was named, as in Docker, and is
// left out otherwise. Returns false once stdout is gone (a closed pipe).
bool print_stats_frame(const std::vector<std::string>& ids, bool zero_rows,
                       std::map<std::string, StatsSample>& previous) {
  uint64_t host_mem = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  Table t({"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"});
  std::map<std::string, StatsSample> now;
  for (const auto& id : ids) {
    StatsSample s;
    std::string name;
    bool live = true;
    try {
      auto view = engine::view_container(id, engine::ViewDetail::summary);
      name = view.name;
      if (view.status != "running" && view.status != "paused") throw Error("not running", "");
      s.cgroups = cgroup::stats(cgroups_of(id));
      s.network = engine::container_network_io(id);
      s.taken_ns = monotonic_ns();
    } catch (const std::exception&) {  // a record or plan that went away or is being rewritten
      live = false;
    }
    if (!live) {
      if (zero_rows && !name.empty())
        t.add({short_id(id), name, "0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"});
      continue;
    }
    double cpu = 0;
    if (auto it = previous.find(id); it != previous.end() && s.taken_ns > it->second.taken_ns &&
                                     s.cgroups.cpu_usage_ns >= it->second.cgroups.cpu_usage_ns)
      cpu = 100.0 * static_cast<double>(s.cgroups.cpu_usage_ns - it->second.cgroups.cpu_usage_ns) /
            static_cast<double>(s.taken_ns - it->second.taken_ns);
    uint64_t limit = s.cgroups.memory_limit ? s.cgroups.memory_limit : host_mem;
    char cpu_text[16], mem_pct[16];
    std::snprintf(cpu_text, sizeof cpu_text, "%.2f%%", cpu);
    std::snprintf(mem_pct, sizeof mem_pct, "%.2f%%",
                  limit ? 100.0 * static_cast<double>(s.cgroups.memory_usage) / static_cast<double>(limit) : 0.0);
    t.add({short_id(id), name, cpu_text, human_bytes(s.cgroups.memory_usage) + " / " + human_bytes(limit), mem_pct,
           decimal_size_text(s.network.rx) + " / " + decimal_size_text(s.network.tx),
           decimal_size_text(s.cgroups.block_read) + " / " + decimal_size_text(s.cgroups.block_write),
           std::to_string(s.cgroups.pids)});
    now[id] = s;
  }
  t.print();
  previous = std::move(now);
  return std::fflush(stdout) == 0 && !std::ferror(stdout);
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
    auto* cmd = container.add_subcommand("stats", "Display a live stream of containers' resource usage");
    auto refs = std::make_shared<std::vector<std::string>>();
    auto no_stream = std::make_shared<bool>(false);
    cmd->add_flag("--no-stream", *no_stream, "Disable streaming stats and only pull the first result");
    cmd->add_option("CONTAINER", *refs, "Containers (default: all running)");
    cmd->callback([refs, no_stream] {
      // As Docker: the named containers, or every running one (listed again for each frame, so
      // containers that start later appear); a frame a second until interrupted.
      std::vector<std::string> named;
      for (const auto& r : *refs) named.push_back(engine::resolve_container(r));
      auto targets = [&] {
        if (!named.empty()) return named;
        std::vector<std::string> ids;
        for (const auto& v : engine::list_containers(engine::ViewDetail::summary))
          if (v.status == "running" || v.status == "paused") ids.push_back(v.id);
        return ids;
      };
      std::map<std::string, StatsSample> previous;
      // A first sample, so that even the first frame shows CPU % over a second, as Docker's does.
      for (const auto& id : targets()) {
        try {
          previous[id] = {cgroup::stats(cgroups_of(id)), {}, monotonic_ns()};
        } catch (const std::exception&) {
        }
      }
      bool terminal = ::isatty(STDOUT_FILENO) == 1;
      for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        if (terminal && !*no_stream) std::fputs("\033[2J\033[H", stdout);  // redraw in place
        if (!print_stats_frame(targets(), !named.empty(), previous) || *no_stream) return;
      }
    });
  }
}

}  // namespace berth::cli
