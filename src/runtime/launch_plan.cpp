#include "berth/runtime/launch_plan.h"

#include "berth/util/error.h"

namespace berth::runtime {

static json mount_to_json(const MountSpec& m) {
  return {{"source", m.source},   {"target", m.target},
          {"fstype", m.fstype},   {"flags", m.flags},
          {"data", m.data},       {"recursive_readonly", m.recursive_readonly},
          {"is_file", m.is_file}, {"propagation", m.propagation}};
}

json to_json(const LaunchPlan& p) {
  json mounts = json::array();
  for (const auto& m : p.mounts) mounts.push_back(mount_to_json(m));
  json ns = json::array();
  for (const auto& n : p.namespaces) ns.push_back({{"type", n.type}, {"path", n.path}});
  json rl = json::array();
  for (const auto& r : p.rlimits) rl.push_back({{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
  return {{"version", p.version},
          {"id", p.id},
          {"hostname", p.hostname},
          {"lower_dirs", p.lower_dirs},
          {"upper_dir", p.upper_dir},
          {"work_dir", p.work_dir},
          {"rootfs_dir", p.rootfs_dir},
          {"readonly_rootfs", p.readonly_rootfs},
          {"mounts", mounts},
          {"masked_paths", p.masked_paths},
          {"readonly_paths", p.readonly_paths},
          {"namespaces", ns},
          {"sysctls", p.sysctls},
          {"args", p.args},
          {"env", p.env},
          {"cwd", p.cwd},
          {"uid", p.uid},
          {"gid", p.gid},
          {"additional_gids", p.additional_gids},
          {"capabilities", p.capabilities},
          {"no_new_privileges", p.no_new_privileges},
          {"seccomp_bpf", p.seccomp_bpf},
          {"rlimits", rl},
          {"terminal", p.terminal},
          {"stdin_open", p.stdin_open},
          {"privileged", p.privileged},
          {"cgroups", p.cgroups},
          {"log_path", p.log_path},
          {"log_max_size", p.log_max_size},
          {"log_max_files", p.log_max_files},
          {"autoremove", p.autoremove},
          {"restart_policy", p.restart_policy},
          {"restart_max", p.restart_max},
          {"stop_signal", p.stop_signal},
          {"stop_timeout_s", p.stop_timeout_s},
          {"healthcheck", p.healthcheck},
          {"dns", p.dns},
          {"ports", p.ports},
          {"netns_path", p.netns_path},
          {"networks", p.networks},
          {"autoremove_dirs", p.autoremove_dirs},
          {"state_dir", p.state_dir},
          {"run_dir", p.run_dir}};
}

LaunchPlan launch_plan_from_json(const json& j) {
  LaunchPlan p;
  if (j.value("version", 0) != 1)
    throw Error("launch plan version " + std::to_string(j.value("version", 0)) + " is not supported",
                "recreate the container with this version of Berth");
  p.id = j.at("id");
  p.hostname = j.at("hostname");
  p.lower_dirs = j.at("lower_dirs").get<std::vector<std::string>>();
  p.upper_dir = j.at("upper_dir");
  p.work_dir = j.at("work_dir");
  p.rootfs_dir = j.at("rootfs_dir");
  p.readonly_rootfs = j.at("readonly_rootfs");
  for (const auto& m : j.at("mounts"))
    p.mounts.push_back(MountSpec{m.at("source"), m.at("target"), m.at("fstype"), m.at("flags"),
                                 m.at("data"), m.at("recursive_readonly"), m.at("is_file"),
                                 m.value("propagation", 0ul)});
  p.masked_paths = j.at("masked_paths").get<std::vector<std::string>>();
  p.readonly_paths = j.at("readonly_paths").get<std::vector<std::string>>();
  for (const auto& n : j.at("namespaces")) p.namespaces.push_back(Namespace{n.at("type"), n.at("path")});
  p.sysctls = j.at("sysctls").get<std::map<std::string, std::string>>();
  p.args = j.at("args").get<std::vector<std::string>>();
  p.env = j.at("env").get<std::vector<std::string>>();
  p.cwd = j.at("cwd");
  p.uid = j.at("uid");
  p.gid = j.at("gid");
  p.additional_gids = j.at("additional_gids").get<std::vector<uint32_t>>();
  p.capabilities = j.at("capabilities");
  p.no_new_privileges = j.at("no_new_privileges");
  p.seccomp_bpf = j.at("seccomp_bpf");
  for (const auto& r : j.at("rlimits")) p.rlimits.push_back(Rlimit{r.at("resource"), r.at("soft"), r.at("hard")});
  p.terminal = j.at("terminal");
  p.stdin_open = j.at("stdin_open");
  p.privileged = j.at("privileged");
  p.cgroups = j.at("cgroups");
  p.log_path = j.at("log_path");
  p.log_max_size = j.value("log_max_size", uint64_t{0});
  p.log_max_files = j.value("log_max_files", 1);
  p.autoremove = j.at("autoremove");
  p.restart_policy = j.value("restart_policy", "no");
  p.restart_max = j.value("restart_max", 0);
  p.stop_signal = j.value("stop_signal", 15);
  p.stop_timeout_s = j.value("stop_timeout_s", 10);
  p.healthcheck = j.value("healthcheck", json());
  p.dns = j.value("dns", json());
  p.ports = j.value("ports", json::array());
  p.netns_path = j.value("netns_path", "");
  p.networks = j.value("networks", std::vector<std::string>{});
  p.autoremove_dirs = j.value("autoremove_dirs", std::vector<std::string>{});
  p.state_dir = j.at("state_dir");
  p.run_dir = j.at("run_dir");
  return p;
}

}  // namespace berth::runtime
