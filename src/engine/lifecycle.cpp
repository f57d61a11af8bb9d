// Lifecycle requests to a container's supervisor, and restore after a reboot.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "berth/cgroup/cgroup.h"
#include <cstdio>

#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/runtime/frames.h"
#include "berth/runtime/launch_plan.h"
#include "berth/runtime/launcher.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/paths.h"
#include "store_lock.h"

namespace berth::engine {

namespace {

UniqueFd connect_supervisor(const std::string& id) {
  ContainerPaths cp = container_paths(id);
  UniqueFd dir(::open(cp.run_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return {};
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // sun_path holds 108 bytes: connect through the directory's fd.
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/ctl.sock", dir.get());
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  return sock;
}

cgroup::Plan cgroups_of(const std::string& id) {
  auto launch = fs::read_file_if_exists(container_paths(id).run_dir + "/launch.json");
  if (launch) return cgroup::plan_from_json(json::parse(*launch).at("cgroups"));
  return cgroup::plan_for_existing(cgroup::detect(), paths::cgroup_parent(), id);
}

}  // namespace

UniqueFd attach_container(const std::string& id) {
  UniqueFd sock = connect_supervisor(id);
  if (!sock) throw Error("cannot attach to container " + short_id(id) + ": its supervisor does not answer", "", 1);
  if (!runtime::send_frame(sock.get(), runtime::Frame::Request, json{{"op", "attach"}, {"version", 1}}.dump()))
    throw Error("cannot attach to container " + short_id(id) + ": the supervisor closed the connection", "", 1);
  for (;;) {
    auto frame = runtime::read_frame(sock.get());
    if (!frame) throw Error("cannot attach to container " + short_id(id) + ": the supervisor closed the connection", "", 1);
    if (frame->first != runtime::Frame::Response) continue;
    json resp = json::parse(frame->second);
    if (!resp.value("ok", false))
      throw Error("cannot attach to container " + short_id(id) + ": " + resp.value("error", ""), "", 1);
    return sock;
  }
}

std::optional<json> supervisor_request(const std::string& id, json request) {
  UniqueFd sock = connect_supervisor(id);
  if (!sock) return std::nullopt;
  request["version"] = 1;
  if (!runtime::send_frame(sock.get(), runtime::Frame::Request, request.dump())) return std::nullopt;
  for (;;) {
    auto frame = runtime::read_frame(sock.get());
    if (!frame) return std::nullopt;
    if (frame->first == runtime::Frame::Response) return json::parse(frame->second);
  }
}

bool stop_container(const std::string& id, std::optional<int> timeout) {
  ContainerView v = view_container(id);
  if (v.status == "supervisor lost") {
    cgroup::kill_all(cgroups_of(id), SIGKILL);
    return true;
  }
  if (v.status != "running" && v.status != "restarting" && v.status != "paused") return false;
  if (v.status == "paused") pause_container(id, false);  // a frozen process cannot handle its stop signal
  json req = {{"op", "stop"}};
  if (timeout) req["timeout"] = *timeout;
  auto resp = supervisor_request(id, req);
  if (!resp || !resp->value("ok", false))
    throw Error("cannot stop container " + short_id(id) + (resp ? ": " + resp->value("error", "") : ""),
                "force it with berth container rm -f", 1);
  return true;
}

void kill_container(const std::string& id, int signal) {
  ContainerView v = view_container(id);
  if (v.status == "supervisor lost") {
    cgroup::kill_all(cgroups_of(id), signal);
    return;
  }
  if (v.status != "running" && v.status != "paused")
    throw Error("cannot kill container " + v.name + ": container " + short_id(id) + " is not running", "", 1);
  auto resp = supervisor_request(id, {{"op", "kill"}, {"signal", signal}});
  if (!resp || !resp->value("ok", false))
    throw Error("cannot kill container " + v.name + (resp ? ": " + resp->value("error", "") : ""), "", 1);
}

int wait_container(const std::string& id) {
  if (auto resp = supervisor_request(id, {{"op", "wait"}}); resp && resp->value("ok", false))
    return resp->value("exit_code", 0);
  // No supervisor: the state file has the last word; a lost supervisor's container is polled.
  for (;;) {
    ContainerView v = view_container(id);
    if (v.status != "supervisor lost") return v.record["State"].value("ExitCode", 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void pause_container(const std::string& id, bool pause) {
  ContainerView v = view_container(id);
  if (pause && v.status != "running")
    throw Error("cannot pause container " + v.name + ": container is not running", "", 1);
  if (!pause && v.status != "paused")
    throw Error("cannot unpause container " + v.name + ": container is not paused", "", 1);
  cgroup::freeze(cgroups_of(id), pause);
}

std::vector<std::string> restore_containers() {
  std::vector<std::string> started;
  for (const auto& v : list_containers()) {
    std::string policy = v.record["HostConfig"]["RestartPolicy"].value("Name", "no");
    bool by_hand = v.record["State"].value("ManuallyStopped", false);
    bool wanted = policy == "always" || (policy == "unless-stopped" && !by_hand);
    // Docker: always comes back even after a manual stop; unless-stopped only if not stopped.
    if (!wanted || v.status == "running" || v.status == "supervisor lost") continue;
    try {
      restore_container_network(v.id, v.record);
      ::close(start_container(v.id));
      started.push_back(v.id);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "berth: warning: cannot restore container %s: %s\n", v.name.c_str(), e.what());
    }
  }
  return started;
}

void restore_after_reboot() {
  if (::geteuid() != 0) return;
  std::string file = paths::run_root() + "/boot_id";
  std::string now = runtime::boot_id();
  auto recorded = fs::read_file_if_exists(file);
  if (recorded && *recorded == now) return;
  fs::mkdir_p(paths::run_root(), 0700);
  StoreLock lock(paths::run_root(), "restore");
  recorded = fs::read_file_if_exists(file);
  if (recorded && *recorded == now) return;  // another command restored meanwhile
  // Only a changed boot id is a reboot; the first command on a fresh root has nothing to do.
  if (recorded) {
    restore_containers();
    sync_outbound_nat();  // the kernel forgot table inet berth in the reboot
  }
  fs::write_file_atomic(file, now, 0600);
}

}  // namespace berth::engine
