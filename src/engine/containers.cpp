// Container records: start (spawn the supervisor), list with live status, remove, prune.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <thread>

#include "berth/cgroup/cgroup.h"
#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/runtime/frames.h"
#include "berth/runtime/launcher.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/paths.h"
#include "berth/util/strings.h"
#include "berth/util/time.h"
#include "names.h"
#include "store_lock.h"
#include "berth/volume/mounts.h"

namespace berth::engine {

namespace {

std::string containers_dir() { return paths::state_root() + "/containers"; }

std::optional<json> read_json(const std::string& path) { return read_json_if_valid(path); }

// A record for listings: only what `ls`-style listings show (name, image, command, created, labels,
// published ports) is kept while parsing. That is a tenth of the tree, and so of the allocations
// and page faults (~12 µs each here) of listing 100 containers.
std::optional<json> parse_record_summary(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::string section;  // the top-level key being parsed
  auto keep = [&section](int depth, json::parse_event_t event, json& parsed) {
    if (event != json::parse_event_t::key) return true;
    const auto& key = parsed.get_ref<const std::string&>();
    if (depth == 1) {
      section = key;
      return key == "Id" || key == "Name" || key == "Created" || key == "Path" || key == "Args" ||
             key == "Image" || key == "Config" || key == "NetworkSettings";
    }
    if (depth == 2 && section == "Config") return key == "Image" || key == "Labels";
    if (depth == 2 && section == "NetworkSettings") return key == "Ports";
    return true;
  };
  try {
    return json::parse(*text, keep);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

bool same_process_alive(const json& state, const char* pid_key, const char* start_key) {
  pid_t pid = state.value(pid_key, 0);
  if (pid <= 0) return false;
  if (state.value("BootId", "") != runtime::boot_id()) return false;
  unsigned long long start = runtime::process_start_time(pid);
  return start != 0 && start == state.value(start_key, 0ULL);
}

cgroup::Plan cgroup_plan_of(const std::string& id) {
  auto launch = read_json(container_paths(id).run_dir + "/launch.json");
  if (launch && launch->contains("cgroups")) {
    try {
      return cgroup::plan_from_json(launch->at("cgroups"));
    } catch (...) {
    }
  }
  return cgroup::plan_for_existing(cgroup::detect(), paths::cgroup_parent(), id);
}

// Kills the supervisor and every process in the container's cgroups, then removes the cgroups.
void kill_and_release(const std::string& id, const json& state) {
  if (same_process_alive(state, "SupervisorPid", "SupervisorStart"))
    ::kill(state.value("SupervisorPid", 0), SIGKILL);
  cgroup::Plan cg = cgroup_plan_of(id);
  for (int i = 0; i < 100; ++i) {
    auto pids = cgroup::pids(cg);
    if (pids.empty()) break;
    cgroup::kill_all(cg, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!cgroup::remove(cg, 5000))
    throw Error("cannot remove the cgroups of container " + short_id(id),
                "processes are still in them; retry berth container rm -f");
}

// The supervisor records which file says whether the container is frozen (v1 freezer.state,
// v2 cgroup.freeze), so `ls` needs no cgroup plan to tell "paused".
bool is_frozen(const json& state) {
  std::string file = state.value("FreezeFile", "");
  if (file.empty()) return false;
  std::string v = str::trim(fs::read_file_if_exists(file).value_or(""));
  return v == "FROZEN" || v == "FREEZING" || v == "1";
}

bool is_active(const std::string& status) {
  return status == "running" || status == "paused" || status == "restarting" || status == "supervisor lost";
}

// What the child of spawn_supervisor needs; it lives on the CLI's stack, which the child shares.
struct SupervisorExec {
  const char* path;
  const char* const* argv;
  const char* const* envp;
  const std::vector<UniqueFd>* fds;  // become fds 3, 4, ...
  int exec_errno = 0;                // set by the child when execve fails
};

// Runs in the child of runtime::clone_vfork while the CLI waits: only system calls. Its signals
// stay blocked through execve (the supervisor unblocks them first thing), so nothing needs
// resetting, unlike posix_spawn's child, which makes ~130 rt_sigaction calls while the CLI waits.
int supervisor_exec_child(void* arg) {
  auto* e = static_cast<SupervisorExec*>(arg);
  for (size_t i = 0; i < e->fds->size(); ++i)
    if (::dup2((*e->fds)[i].get(), 3 + static_cast<int>(i)) < 0) {
      e->exec_errno = errno;
      ::_exit(127);
    }
  ::syscall(SYS_close_range, 3 + static_cast<unsigned>(e->fds->size()), ~0U, 0);
  ::execve(e->path, const_cast<char* const*>(e->argv), const_cast<char* const*>(e->envp));
  e->exec_errno = errno;
  ::_exit(127);
}

// `berth-supervisor LAUNCH` (or `berth-supervisor - RUN_CONTAINERS_DIR`, early) with fd 3 = its
// end of a new stream socket and fds 4.. = the published ports' sockets. Returns the CLI's end.
UniqueFd spawn_supervisor(const std::string& launch, const std::vector<int>& port_fds) {
  std::string supervisor = paths::libexec_dir() + "/berth-supervisor";
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  UniqueFd cli_end(sv[0]), supervisor_end(sv[1]);
  // fd 3: the stream to the CLI; fds 4..: the port sockets, in the plan's order. Sources are first
  // copied above the last target, so that no dup2 in the child overwrites a source not yet moved.
  std::vector<UniqueFd> high;
  int above_targets = 3 + 1 + static_cast<int>(port_fds.size());
  high.emplace_back(::fcntl(supervisor_end.get(), F_DUPFD_CLOEXEC, above_targets));
  for (int fd : port_fds) high.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, above_targets));
  for (const auto& fd : high)
    if (!fd) throw_errno("dup");
  // Early: the plan comes on fd 3, within the containers' run directory named here (so that ps
  // and leak checks see which state root the supervisor belongs to).
  std::string run_containers = paths::run_root() + "/containers";
  const char* argv[] = {supervisor.c_str(), launch.c_str(), launch == "-" ? run_containers.c_str() : nullptr,
                        nullptr};
  const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
  SupervisorExec exec{supervisor.c_str(), argv, envp, &high};
  // The supervisor calls setsid itself and is reparented to init when the CLI exits, so a killed
  // CLI orphans nothing.
  int pid = runtime::clone_vfork(supervisor_exec_child, &exec, 0, 16384 /* a few system calls deep */);
  int failure = pid < 0 ? errno : exec.exec_errno;
  if (pid > 0 && failure) ::waitpid(pid, nullptr, 0);
  if (failure)
    throw Error("cannot start the supervisor " + supervisor + ": " + std::strerror(failure),
                "check that Berth is installed completely");
  return cli_end;
}

// The early supervisor's plan: a Plan frame with the path, the ports' sockets attached, and a
// second line when the command is to wait for NetworkReady.
void send_launch_plan(int sock, const std::string& id, const std::string& launch, const std::vector<int>& port_fds,
                      bool await_network) {
  std::string payload = await_network ? launch + "\n" + runtime::kAwaitNetwork : launch;
  if (!runtime::send_frame(sock, runtime::Frame::Plan, payload, port_fds))
    throw SupervisorLost("the supervisor of container " + short_id(id) + " exited before it got its launch plan: " +
                    std::strerror(errno),
                "start it again: berth container start " + short_id(id));
}

}  // namespace

int start_container(const std::string& id, const std::vector<int>* given_port_fds, UniqueFd* early,
                    bool await_network) {
  cgroup::prime_migrations();  // the container joins its cgroups soon (cgroup.h)
  ContainerPaths cp = container_paths(id);
  std::string launch = cp.run_dir + "/launch.json";
  if (!fs::exists(launch)) throw Error("container " + short_id(id) + " has no launch plan", "recreate it");
  // Published ports: bound again on a later start (same host ports as recorded).
  std::vector<int> port_fds = given_port_fds ? *given_port_fds : std::vector<int>{};
  std::vector<network::BoundPort> bound;
  if (!given_port_fds) {
    json plan = load_json_file(launch);
    std::vector<network::PortBinding> want;
    for (const auto& p : plan.value("ports", json::array())) {
      network::PortBinding b;
      b.proto = p.value("Proto", "tcp");
      b.host_ip = p.value("HostIp", "");
      b.host_port = static_cast<uint16_t>(p.value("HostPort", 0));
      b.container_port = static_cast<uint16_t>(p.value("ContainerPort", 0));
      want.push_back(b);
    }
    bound = bind_container_ports(want);
    for (const auto& b : bound) port_fds.push_back(b.fd.get());
  }
  if (early && *early) {
    send_launch_plan(early->get(), id, launch, port_fds, await_network);
    return early->release();
  }
  return spawn_supervisor(launch, port_fds).release();
}

UniqueFd spawn_supervisor_early() {
  cgroup::prime_migrations();  // the earliest point of `container run`: see cgroup.h
  return spawn_supervisor("-", {});
}

void finish_container_network(int sock, const std::string& id, const ContainerNetwork& net) {
  try {
    configure_container_network(net);
  } catch (const std::exception&) {
    // The half-built container gives up before its command (EOF instead of NetworkReady); its
    // supervisor reports that and exits. Then nothing of it is left, as after a failed create.
    ::shutdown(sock, SHUT_WR);
    while (runtime::read_frame(sock)) {
    }
    ::close(sock);
    try {
      remove_container(id, true, true);
    } catch (const Error&) {
    }
    throw;
  }
  // Unsent only when the supervisor is gone: the start report it may have left (a start that
  // failed before the wait) is still to be read, and its absence is reported by the reader.
  (void)runtime::send_frame(sock, runtime::Frame::NetworkReady, "");
}

void read_start_report(int sock, const std::string& id) {
  auto first = runtime::read_frame(sock);
  if (!first)
    throw SupervisorLost("the supervisor of container " + short_id(id) + " exited without a report",
                "see " + container_paths(id).run_dir + "/supervisor.log");
  if (first->first == runtime::Frame::Failed) {
    json f = json::parse(first->second);
    while (runtime::read_frame(sock)) {
    }
    throw Error("failed to start container " + short_id(id) + ": " + f.value("message", ""), "",
                f.value("exit_code", 125));
  }
}

namespace {

// The containers/ directories of the state and run roots, opened once by a listing: each file is
// then opened relative to them rather than by walking its whole path (two per container).
struct ContainerDirs {
  UniqueFd state, run;
  ContainerDirs()
      : state(::open((paths::state_root() + "/containers").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
        run(::open((paths::run_root() + "/containers").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {}
};

// A file of a container's state (state_side) or run directory, or nullopt when absent.
std::optional<std::string> read_container_file(const ContainerDirs* dirs, bool state_side, const std::string& id,
                                               const char* name) {
  if (dirs) {
    const UniqueFd& dir = state_side ? dirs->state : dirs->run;
    if (!dir) return std::nullopt;
    return fs::read_file_at(dir.get(), id + "/" + name);
  }
  ContainerPaths cp = container_paths(id);
  return fs::read_file_if_exists((state_side ? cp.state_dir : cp.run_dir) + "/" + name);
}

ContainerView build_view(const ContainerDirs* dirs, const std::string& id, ViewDetail detail) {
  auto text = read_container_file(dirs, true, id, "config.json");
  auto record = detail == ViewDetail::summary ? parse_record_summary(text)
                : text                             ? parse_json_if_valid(*text)
                                                   : std::nullopt;
  if (!record) throw Error("No such container: " + id, "", 1);
  ContainerView v;
  v.record = std::move(*record);  // `ls` views every container: no deep copies
  const json& rec = v.record;
  v.id = id;
  v.name = rec.value("Name", "/");
  if (!v.name.empty() && v.name[0] == '/') v.name.erase(0, 1);
  v.image = rec.at("Config").value("Image", "");
  std::vector<std::string> cmd{rec.value("Path", "")};
  if (auto args = rec.find("Args"); args != rec.end())
    for (const auto& a : *args) cmd.push_back(a.get<std::string>());
  v.command = str::join(cmd, " ");
  try {
    v.created_ns = timeutil::parse_rfc3339(rec.value("Created", ""));
  } catch (...) {
  }
  auto state_text = read_container_file(dirs, false, id, "state.json");
  json state = (state_text ? parse_json_if_valid(*state_text) : std::nullopt).value_or(json::object());
  std::string status = state.value("Status", "created");
  json st = {{"Status", status},
             {"Running", false},
             {"Paused", false},
             {"Restarting", false},
             {"OOMKilled", state.value("OOMKilled", false)},
             {"Dead", false},
             {"Pid", state.value("Pid", 0)},
             {"ExitCode", state.value("ExitCode", 0)},
             {"Error", state.value("Error", "")},
             {"StartedAt", state.value("StartedAt", "0001-01-01T00:00:00Z")},
             {"FinishedAt", state.value("FinishedAt", "0001-01-01T00:00:00Z")}};
  st["ManuallyStopped"] = state.value("ManuallyStopped", false);
  if (state.contains("Health")) st["Health"] = state["Health"];
  v.record["RestartCount"] = state.value("RestartCount", 0);
  if (status == "running" || status == "restarting") {
    if (same_process_alive(state, "SupervisorPid", "SupervisorStart")) {
      st["Running"] = status == "running";
      st["Restarting"] = status == "restarting";
      if (status == "running" && is_frozen(state)) {
        status = "paused";
        st["Paused"] = true;
      }
    } else if (same_process_alive(state, "Pid", "ContainerStart")) {
      // Tell the truth: the container runs but nobody supervises it any more.
      status = "supervisor lost";
      st["Running"] = true;
      st["Error"] = "supervisor lost";
    } else {
      status = "exited";
      st["Pid"] = 0;
      st["ExitCode"] = 255;
      st["Error"] = "supervisor lost";
    }
  }
  if (st["StartedAt"] == "") st["StartedAt"] = "0001-01-01T00:00:00Z";
  if (st["FinishedAt"] == "") st["FinishedAt"] = "0001-01-01T00:00:00Z";
  st["Status"] = status == "supervisor lost" ? "running" : status;
  if (st["Status"] == "exited" && state.empty()) st["Status"] = "created";
  v.status = status;
  v.record["State"] = st;
  return v;
}

}  // namespace

ContainerView view_container(const std::string& id, ViewDetail detail) { return build_view(nullptr, id, detail); }

std::vector<ContainerView> list_containers(ViewDetail detail) {
  std::vector<ContainerView> out;
  ContainerDirs dirs;
  for (const auto& id : fs::list_dir(containers_dir())) {
    try {
      out.push_back(build_view(&dirs, id, detail));  // throws for a dir without a record (a start killed early)
    } catch (...) {
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ContainerView& a, const ContainerView& b) { return a.created_ns > b.created_ns; });
  return out;
}

std::string resolve_container(const std::string& ref) {
  if (ref.empty()) throw Error("No such container: \"\"", "", 1);
  auto ids = fs::list_dir(containers_dir());
  if (std::find(ids.begin(), ids.end(), ref) != ids.end()) return ref;
  std::string name = ref[0] == '/' ? ref.substr(1) : ref;
  std::vector<std::string> prefix_matches;
  for (const auto& id : ids) {
    auto rec = read_json(containers_dir() + "/" + id + "/config.json");
    if (rec && rec->value("Name", "") == "/" + name) return id;
    if (id.rfind(ref, 0) == 0) prefix_matches.push_back(id);
  }
  if (prefix_matches.size() == 1) return prefix_matches[0];
  if (prefix_matches.size() > 1)
    throw Error("multiple containers match \"" + ref + "\"", "use more characters of the id", 1);
  throw Error("No such container: " + ref, "list containers with: berth container ls -a", 1);
}

void remove_container(const std::string& id, bool force, bool remove_volumes, LinkBatch* links) {
  ContainerPaths cp = container_paths(id);
  json state = read_json(cp.run_dir + "/state.json").value_or(json::object());
  json record = read_json(cp.state_dir + "/config.json").value_or(json::object());
  json mounts = record.value("Mounts", json::array());
  if (fs::exists(cp.state_dir + "/config.json")) {
    ContainerView v = view_container(id);
    if (is_active(v.status)) {
      if (!force)
        throw Error("cannot remove container \"/" + v.name +
                        "\": container is running: stop the container before removing or force remove",
                    "use berth container rm -f", 1);
    }
  }
  kill_and_release(id, state);
  teardown_container_network(id, links);
  fs::remove_tree(cp.run_dir);
  fs::remove_tree(cp.state_dir);
  // Its entry in the names index (create.cpp; a --rm supervisor forgets its own).
  if (std::string name = record.value("Name", ""); name.size() > 1) forget_name(name.substr(1), id);
  if (remove_volumes) {
    // Docker's rm -v: anonymous volumes only; one still used elsewhere stays, with a warning.
    volume::Store volumes;
    auto lock = volumes.lock();
    for (const auto& name : volume::anonymous_volumes_in(volumes, mounts)) {
      try {
        volumes.remove(name, false);
      } catch (const Error& e) {
        std::fprintf(stderr, "berth: warning: %s\n", e.what());
      }
    }
  }
}

std::vector<std::string> remove_incomplete_containers() {
  // create_container holds the names lock from its first directory until config.json exists:
  // under that lock, a directory without config.json belongs to a create that died.
  StoreLock names_lock(paths::state_root() + "/locks", "names");
  std::vector<std::string> removed;
  for (const auto& id : fs::list_dir(containers_dir())) {
    if (fs::exists(container_paths(id).state_dir + "/config.json")) continue;
    remove_container(id, true);
    removed.push_back(id);
  }
  // A create killed inside record_name's atomic write leaves "<name>.tmp-XXXXXXXX" in the name
  // index. name_taken removes such an entry (its id names no container of that name) and keeps
  // a real container whose name merely looks like one.
  for (const auto& name : fs::list_dir(names_dir()))
    if (name.find(".tmp-") != std::string::npos) name_taken(name);
  return removed;
}

std::vector<std::string> prune_containers() {
  std::vector<std::string> removed = remove_incomplete_containers();
  for (const auto& id : fs::list_dir(containers_dir())) {
    auto cp = container_paths(id);
    if (fs::exists(cp.state_dir + "/config.json")) {
      ContainerView v = view_container(id);
      if (is_active(v.status)) continue;
      // "created" with a live supervisor is a start in progress: leave it alone.
      json state = read_json(cp.run_dir + "/state.json").value_or(json::object());
      if (v.status == "created" && same_process_alive(state, "SupervisorPid", "SupervisorStart")) continue;
    }
    remove_container(id, true);
    removed.push_back(id);
  }
  // Leftovers that no record points to: run dirs and cgroups named from an id.
  for (const auto& id : fs::list_dir(paths::run_root() + "/containers")) {
    if (fs::exists(container_paths(id).state_dir)) continue;
    remove_container(id, true);
    removed.push_back(id);
  }
  // Address allocations and namespaces of containers that no longer exist (a killed create).
  for (const auto& net : list_networks())
    for (const auto& [id, ep] : net.value("Containers", json::object()).items())
      if (!fs::exists(container_paths(id).state_dir)) {
        teardown_container_network(id);
        removed.push_back(id);
      }
  for (const auto& id : fs::list_dir(paths::run_root() + "/netns"))
    if (!fs::exists(container_paths(id).state_dir)) {
      teardown_container_network(id);
      removed.push_back(id);
    }
  auto layout = cgroup::detect();
  for (const auto& id : cgroup::leftover_ids(layout, paths::cgroup_parent())) {
    if (fs::exists(container_paths(id).state_dir)) continue;
    kill_and_release(id, json::object());
    removed.push_back(id);
  }
  // Directories of --rm containers whose supervisor died before it emptied the trash (it moves
  // them there first). One still being emptied is raced harmlessly: whatever is gone is skipped.
  for (const auto& base : {paths::state_root(), paths::run_root()})
    for (const auto& id : fs::list_dir(base + "/trash")) {
      try {
        fs::remove_tree(base + "/trash/" + id);
      } catch (const std::exception&) {
        // e.g. ENOTEMPTY: the supervisor is still emptying it
      }
    }
  // Name index entries whose container is gone (such a supervisor had yet to forget the name).
  {
    StoreLock names_lock(paths::state_root() + "/locks", "names");
    for (const auto& name : fs::list_dir(names_dir())) name_taken(name);
  }
  std::sort(removed.begin(), removed.end());
  removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
  return removed;
}

std::vector<std::string> containers_using_image(const std::string& image_id) {
  std::vector<std::string> names;
  for (const auto& id : fs::list_dir(containers_dir())) {
    auto rec = read_json(containers_dir() + "/" + id + "/config.json");
    if (rec && rec->value("Image", "") == image_id) {
      std::string n = rec->value("Name", "/");
      names.push_back(n.empty() ? id : n.substr(1));
    }
  }
  return names;
}

}  // namespace berth::engine
