// execute: the plan's actions, networks and volumes first, then one task per service, started as
// soon as the services it depends on are done and their depends_on conditions hold; up to
// `parallel` tasks at once. A failed task fails its dependents with the reason; independent
// services still come up (as Compose does); the first error is thrown at the end.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/engine/options.h"
#include "berth/image/store.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/util/id.h"
#include "berth/util/paths.h"
#include "internal.h"
#include "berth/network/store.h"
#include "berth/volume/mounts.h"
#include "berth/volume/store.h"

namespace berth::orchestrator {

using Clock = std::chrono::steady_clock;

void emit(const Progress& p, const std::string& object, const std::string& state) {
  if (p.event) p.event(object, state);
}

namespace {

std::map<std::string, std::string> compose_labels(const std::string& project, const char* kind_label,
                                                  const std::string& key) {
  return {{kProjectLabel, project}, {kind_label, key}, {kVersionLabel, kComposeVersion}};
}

void create_network(const compose::Project& project, const std::string& key, const compose::Network& net) {
  network::NetworkSpec spec;
  spec.name = net.name;
  spec.internal = net.internal;
  spec.options = net.driver_opts;
  spec.labels = net.labels;
  for (const auto& [k, v] : compose_labels(project.name, kNetworkLabel, key)) spec.labels[k] = v;
  if (net.ipam.is_object() && net.ipam.contains("config") && net.ipam["config"].is_array() &&
      !net.ipam["config"].empty()) {
    const json& c = net.ipam["config"][0];
    spec.subnet = c.value("subnet", "");
    spec.gateway = c.value("gateway", "");
    spec.ip_range = c.value("ip_range", "");
  }
  engine::create_network(spec);
}

void create_volume(const compose::Project& project, const std::string& key, const compose::Volume& vol) {
  volume::Store store;
  auto lock = store.lock();
  std::map<std::string, std::string> labels = vol.labels;
  for (const auto& [k, v] : compose_labels(project.name, kVolumeLabel, key)) labels[k] = v;
  store.create(vol.name, labels, vol.driver_opts);
}

// A container's state, fresh from the store.
struct Live {
  std::string status, health;
  int exit_code = 0;
  std::string last_probe_output;
};
Live live_state(const std::string& id) {
  Live l;
  auto v = engine::view_container(id);
  l.status = v.status;
  const json& st = v.record["State"];
  l.exit_code = st.value("ExitCode", 0);
  if (st.contains("Health") && st["Health"].is_object()) {
    l.health = st["Health"].value("Status", "");
    const json& log = st["Health"].value("Log", json::array());
    if (log.is_array() && !log.empty()) l.last_probe_output = log.back().value("Output", "");
  }
  // Just started, the supervisor may not have recorded the health yet: the config says there is one.
  if (l.health.empty() && v.record["Config"].contains("Healthcheck") && v.record["Config"]["Healthcheck"].is_object()) {
    auto test = v.record["Config"]["Healthcheck"].value("Test", std::vector<std::string>{});
    if (!test.empty() && test[0] != "NONE") l.health = "starting";
  }
  return l;
}

std::vector<std::string> containers_of(const std::string& project, const std::string& service) {
  std::vector<std::string> ids;
  for (const auto& c : observe(project).containers)
    if (c.service == service && !c.oneoff) ids.push_back(c.id);
  return ids;
}

}  // namespace

void wait_condition(const compose::Project& project, const std::string& service, const std::string& dep,
                    const compose::DependsOn& spec, const Progress& progress, int64_t deadline_ms) {
  if (spec.condition == "service_started") return;
  auto start = Clock::now();
  for (const auto& id : containers_of(project.name, dep)) {
    std::string name = engine::view_container(id).name;
    emit(progress, "Container " + name, "Waiting");
    for (;;) {
      Live l = live_state(id);
      if (spec.condition == "service_healthy") {
        if (l.health.empty())
          throw Error("dependency failed to start: container " + name + " has no healthcheck configured",
                      "add a healthcheck to service " + dep + ", or use condition: service_started");
        if (l.health == "healthy") break;
        if (l.health == "unhealthy")
          throw Error("dependency failed to start: container " + name + " is unhealthy" +
                          (l.last_probe_output.empty() ? "" : " (last probe: " + l.last_probe_output + ")"),
                      "see berth logs " + dep);
        if (l.status == "exited")
          throw Error("dependency failed to start: container " + name + " exited (" + std::to_string(l.exit_code) + ")",
                      "see berth logs " + dep);
      } else if (spec.condition == "service_completed_successfully") {
        if (l.status == "exited") {
          if (l.exit_code != 0)
            throw Error("service \"" + dep + "\" didn't complete successfully: exit " + std::to_string(l.exit_code),
                        "see berth logs " + dep);
          break;
        }
      } else {
        throw Error("service " + service + ": unknown depends_on condition " + spec.condition, "", 15);
      }
      if (deadline_ms && std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count() > deadline_ms)
        throw Error("timeout waiting for " + dep + " (" + spec.condition + ")", "");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    emit(progress, "Container " + name, spec.condition == "service_healthy" ? "Healthy" : "Exited");
  }
}

namespace {

// Starts the supervisor (with the port sockets bound at create, if any) and waits for its report.
// port_fds: null for an existing container (its ports are bound again from its plan).
void start_and_report(const std::string& id, const std::string& name, const std::vector<int>* port_fds,
                      const Progress& progress) {
  emit(progress, "Container " + name, "Starting");
  int sock = engine::start_container(id, port_fds);
  try {
    engine::read_start_report(sock, id);
  } catch (...) {
    ::close(sock);
    throw;
  }
  ::close(sock);
  emit(progress, "Container " + name, "Started");
}

// A container created and not started yet: its published ports stay bound until the start.
struct Created {
  std::string id, name;
  std::vector<UniqueFd> port_fds;
};

Created create_container(const compose::Project& project, const compose::Service& svc, int number,
                         const std::string& hash, const ExecuteOptions& options, const Progress& progress) {
  ContainerSpec spec = container_spec(project, svc, number, hash, false, options.environment);
  for (const auto& w : spec.warnings) emit(progress, "Service " + svc.name, "warning: " + w);
  emit(progress, "Container " + spec.name, "Creating");
  Created c;
  c.id = create_from_spec(svc, spec, &c.port_fds);
  c.name = spec.name;
  emit(progress, "Container " + spec.name, "Created");
  return c;
}

void start_created(Created& c, const Progress& progress) {
  std::vector<int> fds;
  for (const auto& f : c.port_fds) fds.push_back(f.get());
  start_and_report(c.id, c.name, &fds, progress);
  c.port_fds.clear();  // the supervisor holds them now
}

// Compose keeps a recreated container's anonymous volumes (the image's VOLUMEs, `volumes:
// [/path]`): the new container mounts the old one's at the same targets, unless the service now
// mounts something named or a host path there. Compose's --renew-anon-volumes is not offered yet.
void inherit_anonymous_volumes(const std::string& old_id, ContainerSpec& spec) {
  const json old_mounts = engine::view_container(old_id).record.value("Mounts", json::array());
  std::vector<std::string> image_volumes;
  if (auto img = image::Store().find(spec.options.image)) image_volumes = img->config.volumes;
  auto anonymous_volume_flag = [](const std::string& v) {
    auto b = engine::parse_volume_flag(v);
    return b.named && b.name.empty();
  };
  auto anonymous_mount_flag = [](const std::string& m) {
    auto r = volume::parse_mount_flag(m);
    return r.type == "volume" && r.source.empty();
  };
  volume::Store store;
  for (const auto& m : old_mounts) {
    if (m.value("Type", "") != "volume") continue;
    auto v = store.find(m.value("Name", ""));
    if (!v || !v->anonymous) continue;
    const std::string target = m.value("Destination", "");
    bool explicit_mount = false, anonymous_request = false;
    for (const auto& flag : spec.options.volumes) {
      if (engine::parse_volume_flag(flag).target != target) continue;
      (anonymous_volume_flag(flag) ? anonymous_request : explicit_mount) = true;
    }
    for (const auto& flag : spec.options.mounts) {
      if (volume::parse_mount_flag(flag).target != target) continue;
      (anonymous_mount_flag(flag) ? anonymous_request : explicit_mount) = true;
    }
    bool image_volume = std::find(image_volumes.begin(), image_volumes.end(), target) != image_volumes.end();
    if (explicit_mount || (!anonymous_request && !image_volume)) continue;
    std::erase_if(spec.options.volumes, [&](const std::string& f) {
      return anonymous_volume_flag(f) && engine::parse_volume_flag(f).target == target;
    });
    std::erase_if(spec.options.mounts, [&](const std::string& f) {
      return anonymous_mount_flag(f) && volume::parse_mount_flag(f).target == target;
    });
    spec.options.mounts.push_back("type=volume,source=" + v->name + ",target=" + target +
                                  (m.value("RW", true) ? "" : ",readonly"));
  }
}

// Compose's order: stop the old container, rename it out of the way, create the new one (with
// the old one's anonymous volumes), remove the old one, start the new one. A failed create puts
// the old name back, so the project never loses its container.
void recreate_container(const compose::Project& project, const compose::Service& svc, const Action& a,
                        const ExecuteOptions& options, const Progress& progress) {
  emit(progress, "Container " + a.container_name, "Recreate");
  emit(progress, "Container " + a.container_name, "Stopping");
  if (engine::stop_container(a.container_id, options.stop_timeout_s >= 0 ? std::optional<int>(options.stop_timeout_s)
                                                                        : std::nullopt))
    engine::wait_container(a.container_id);
  emit(progress, "Container " + a.container_name, "Stopped");
  engine::rename_container(a.container_id, short_id(a.container_id) + "_" + a.container_name);
  ContainerSpec spec = container_spec(project, svc, a.number, a.config_hash, false, options.environment);
  for (const auto& w : spec.warnings) emit(progress, "Service " + svc.name, "warning: " + w);
  std::vector<UniqueFd> port_fds;
  std::string id;
  try {
    inherit_anonymous_volumes(a.container_id, spec);
    emit(progress, "Container " + spec.name, "Creating");
    id = create_from_spec(svc, spec, &port_fds);
  } catch (...) {
    try {
      engine::rename_container(a.container_id, a.container_name);
    } catch (...) {
    }
    throw;
  }
  emit(progress, "Container " + spec.name, "Created");
  engine::remove_container(a.container_id, true, false);
  emit(progress, "Container " + a.container_name, "Recreated");
  if (!options.start) return;
  Created c{id, spec.name, std::move(port_fds)};
  start_created(c, progress);
}

}  // namespace

void stop_and_remove(const std::string& id, const std::string& name, int timeout_s, bool volumes,
                     const Progress& progress, engine::LinkBatch* links, const std::function<void()>& stopped) {
  bool reported = false;
  auto report_stopped = [&] {
    if (!reported && stopped) stopped();
    reported = true;
  };
  try {
    emit(progress, "Container " + name, "Stopping");
    if (engine::stop_container(id, timeout_s >= 0 ? std::optional<int>(timeout_s) : std::nullopt))
      engine::wait_container(id);
    emit(progress, "Container " + name, "Stopped");
    report_stopped();
    emit(progress, "Container " + name, "Removing");
    engine::remove_container(id, true, volumes, links);
  } catch (const std::exception&) {
    report_stopped();
    // A `run --rm` container removes itself once stopped: gone is what we wanted.
    if (fs::exists(engine::container_paths(id).state_dir)) throw;
  }
  emit(progress, "Container " + name, "Removed");
}

std::string stop_and_remove_all(const std::vector<Doomed>& containers, int timeout_s, bool volumes,
                                const Progress& progress, engine::LinkBatch* links) {
  std::mutex mu;
  std::condition_variable level_stopped;
  std::map<int, size_t> running;  // per level: containers not stopped yet
  for (const auto& c : containers) ++running[c.level];
  auto lower_levels_down = [&](int level) {
    for (const auto& [l, n] : running)
      if (l < level && n > 0) return false;
    return true;
  };
  std::string first_error;
  std::vector<std::thread> threads;
  for (const auto& c : containers)
    threads.emplace_back([&, c] {
      {
        std::unique_lock<std::mutex> lock(mu);
        level_stopped.wait(lock, [&] { return lower_levels_down(c.level); });
      }
      auto stopped = [&] {
        std::lock_guard<std::mutex> g(mu);
        --running[c.level];
        level_stopped.notify_all();
      };
      try {
        stop_and_remove(c.id, c.name, timeout_s, volumes, progress, links, stopped);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> g(mu);
        if (first_error.empty()) first_error = c.name + ": " + e.what();
      }
    });
  for (auto& t : threads) t.join();
  return first_error;
}

std::string create_from_spec(const compose::Service& svc, ContainerSpec& spec, std::vector<UniqueFd>* port_fds) {
  if (!image::Store().find(spec.options.image))
    throw Error("service \"" + svc.name + "\": no such image: " + spec.options.image,
                svc.build ? "building images comes later: build it elsewhere and import it with berth image import"
                          : "import it first: berth image import ROOTFS.tar " + spec.options.image +
                                " (pulling from registries comes later)",
                1);
  for (const auto& [path, file] : spec.files) {
    fs::mkdir_p(fs::dirname(path), 0700);  // only the file is bound: the container never sees these dirs
    fs::write_file_atomic(path, file.content, file.mode);
    if (::chown(path.c_str(), file.uid, file.gid) != 0) throw_errno("chown " + path);
    if (::chmod(path.c_str(), file.mode) != 0) throw_errno("chmod " + path);  // no umask in the way
  }
  spec.options.detach = true;
  std::string id = engine::create_container(spec.options, port_fds);
  try {
    fs::write_file_atomic(engine::container_paths(id).state_dir + "/" + kServiceConfigFile, svc.raw.dump(), 0600);
    for (size_t i = 1; i < spec.networks.size(); ++i)
      engine::connect_container(spec.networks[i].network, id, spec.networks[i].aliases, spec.networks[i].ipv4_address);
  } catch (...) {
    engine::remove_container(id, true);
    throw;
  }
  return id;
}

void execute(const compose::Project& project, const Plan& plan, const ExecuteOptions& options,
             const Progress& progress) {
  // Networks and volumes: few and fast, in order.
  for (const auto& a : plan.actions) {
    if (a.kind == ActionKind::CreateNetwork) {
      for (const auto& [key, net] : project.networks)
        if (net.name == a.object) {
          emit(progress, "Network " + a.object, "Creating");
          create_network(project, key, net);
          emit(progress, "Network " + a.object, "Created");
        }
    } else if (a.kind == ActionKind::CreateVolume) {
      for (const auto& [key, vol] : project.volumes)
        if (vol.name == a.object) {
          emit(progress, "Volume \"" + a.object + "\"", "Creating");
          create_volume(project, key, vol);
          emit(progress, "Volume \"" + a.object + "\"", "Created");
        }
    }
  }
  for (const auto& [key, net] : project.networks)
    if (net.external && !network::NetworkStore(paths::state_root()).find(net.name))
      throw Error("network " + net.name + " declared as external, but could not be found",
                  "create it first: berth network create " + net.name, 1);

  // Orphans (--remove-orphans): containers of services the file no longer has, removed first,
  // in parallel (a stop may wait for its grace period).
  std::set<std::string> in_plan(plan.service_order.begin(), plan.service_order.end());
  std::vector<Doomed> orphans;
  for (const auto& a : plan.actions)
    if (a.kind == ActionKind::Remove && !in_plan.count(a.service)) orphans.push_back({a.container_id, a.container_name});
  if (auto error = stop_and_remove_all(orphans, options.stop_timeout_s, false, progress); !error.empty())
    throw Error("cannot remove orphan container " + error, "retry berth up --remove-orphans", 1);

  // One task per service, in dependency order.
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::string> finished;  // service -> "" (ok) or the error
  std::string first_error;
  int first_exit = 1;
  int running = 0;
  int limit = options.parallel > 0 ? options.parallel : 64;

  auto run_service = [&](const std::string& name) {
    const compose::Service& svc = *project.service(name);
    // New containers are created at once, while their dependencies come up (as Compose creates
    // before it starts); only the start waits. One that joins another container's namespace
    // needs that container first, so it is created after the wait.
    bool joins_another = svc.network_mode.rfind("service:", 0) == 0 || svc.network_mode.rfind("container:", 0) == 0;
    std::map<int, Created> early;
    if (!joins_another)
      for (const auto& a : plan.actions)
        if (a.service == name && a.kind == ActionKind::Create)
          early[a.number] = create_container(project, svc, a.number, a.config_hash, options, progress);
    {
      std::unique_lock<std::mutex> g(mu);
      for (const auto& [dep, spec] : svc.depends_on) {
        if (!in_plan.count(dep)) continue;
        cv.wait(g, [&, d = dep] { return finished.count(d) > 0; });
        if (!finished[dep].empty() && spec.required) throw Error("dependency " + dep + " failed", "", 1);
      }
    }
    for (const auto& [dep, spec] : svc.depends_on) {
      if (!in_plan.count(dep)) {
        if (!project.service(dep)) continue;  // required: false and absent
        // Not part of this `up` (--no-deps or a subset): it must already satisfy the condition.
      }
      wait_condition(project, name, dep, spec, progress);
    }
    for (const auto& a : plan.actions) {
      if (a.service != name) continue;
      switch (a.kind) {
        case ActionKind::Create: {
          auto it = early.find(a.number);
          Created c = it != early.end() ? std::move(it->second)
                                        : create_container(project, svc, a.number, a.config_hash, options, progress);
          if (options.start) start_created(c, progress);
          break;
        }
        case ActionKind::Recreate: recreate_container(project, svc, a, options, progress); break;
        case ActionKind::Start:
          if (options.start) start_and_report(a.container_id, a.container_name, nullptr, progress);
          break;
        case ActionKind::Remove: stop_and_remove(a.container_id, a.container_name, options.stop_timeout_s, false, progress); break;
        case ActionKind::Keep: emit(progress, "Container " + a.container_name, "Running"); break;
        default: break;
      }
    }
  };

  std::vector<std::thread> threads;
  std::set<std::string> started;
  std::unique_lock<std::mutex> lock(mu);
  while (finished.size() < plan.service_order.size()) {
    bool launched = false;
    // In dependency order: a task waits only for tasks launched before it, so with any limit
    // the earliest running one can always finish.
    for (const auto& name : plan.service_order) {
      if (started.count(name) || running >= limit) continue;
      started.insert(name);
      ++running;
      launched = true;
      threads.emplace_back([&, name] {
        std::string error;
        int code = 1;
        try {
          run_service(name);
        } catch (const Error& e) {
          error = std::string(e.what()) + (e.hint().empty() ? "" : "\n  hint: " + e.hint());
          code = e.exit_code();
        } catch (const std::exception& e) {
          error = e.what();
        }
        std::lock_guard<std::mutex> g(mu);
        finished[name] = error;
        if (!error.empty() && first_error.empty()) {
          first_error = error;
          first_exit = code;
        }
        --running;
        cv.notify_all();
      });
    }
    if (!launched) cv.wait(lock);
  }
  lock.unlock();
  for (auto& t : threads) t.join();
  if (!first_error.empty()) {
    // Compose exits 1 for every failure of the engine; 14/15 stay (files, invalid project).
    if (first_exit != 14 && first_exit != 15) first_exit = 1;
    auto nl = first_error.find("\n  hint: ");
    if (nl == std::string::npos) throw Error(first_error, "", first_exit);
    throw Error(first_error.substr(0, nl), first_error.substr(nl + 9), first_exit);
  }

  if (options.wait) {
    // --wait: every service running (healthy when it has a healthcheck); a one-shot that others
    // wait on with service_completed_successfully counts once it exited 0.
    std::set<std::string> one_shots;
    for (const auto& s : project.services)
      for (const auto& [dep, spec] : s.depends_on)
        if (spec.condition == "service_completed_successfully") one_shots.insert(dep);
    auto start = Clock::now();
    for (const auto& name : plan.service_order) {
      for (const auto& id : containers_of(project.name, name)) {
        std::string cname = engine::view_container(id).name;
        emit(progress, "Container " + cname, "Waiting");
        std::string reached = "Running";
        for (;;) {
          Live l = live_state(id);
          if (!l.health.empty()) reached = "Healthy";
          if (one_shots.count(name)) reached = "Exited";
          if (one_shots.count(name) && l.status == "exited") {
            if (l.exit_code != 0)
              throw Error("container " + cname + " exited (" + std::to_string(l.exit_code) + ")", "see berth logs " + name);
            break;
          }
          if (l.status == "exited" || l.status == "supervisor lost")
            throw Error("container " + cname + " exited (" + std::to_string(l.exit_code) + ")", "see berth logs " + name);
          if (l.health == "unhealthy")
            throw Error("container " + cname + " is unhealthy" +
                            (l.last_probe_output.empty() ? "" : " (last probe: " + l.last_probe_output + ")"),
                        "see berth logs " + name);
          if (l.status == "running" && (l.health.empty() || l.health == "healthy")) break;
          if (options.wait_timeout_s > 0 &&
              std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count() >= options.wait_timeout_s)
            throw Error("timeout waiting for container " + cname + " to be " + (l.health.empty() ? "running" : "healthy"),
                        "raise --wait-timeout or see berth logs " + name);
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        emit(progress, "Container " + cname, reached);
      }
    }
  }
}

}  // namespace berth::orchestrator
