// observe: what exists of a project, found by Compose's labels in the store (no lock taken:
// records are replaced atomically).
#include <algorithm>
#include <set>

#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/image/store.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/fs.h"
#include "berth/volume/store.h"

namespace berth::orchestrator {

namespace {

std::string label(const json& labels, const char* key) {
  auto it = labels.find(key);
  return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Observed observe(const std::string& project_name) {
  Observed out;
  for (const auto& v : engine::list_containers()) {
    const json& labels = v.record["Config"].contains("Labels") ? v.record["Config"]["Labels"] : json::object();
    if (label(labels, kProjectLabel) != project_name) continue;
    ObservedContainer c;
    c.id = v.id;
    c.name = v.name;
    c.service = label(labels, kServiceLabel);
    c.status = v.status;
    c.config_hash = label(labels, kConfigHashLabel);
    c.image_id = v.record.value("Image", "");
    std::string number = label(labels, kNumberLabel);
    c.number = number.empty() ? 0 : std::atoi(number.c_str());
    c.oneoff = label(labels, kOneoffLabel) == "True";
    const json& state = v.record.contains("State") ? v.record["State"] : json::object();
    c.exit_code = state.value("ExitCode", 0);
    if (state.contains("Health") && state["Health"].is_object()) c.health = state["Health"].value("Status", "");
    c.labels = labels;
    if (auto text = fs::read_file_if_exists(engine::container_paths(v.id).state_dir + "/" + kServiceConfigFile)) {
      try {
        c.service_config = json::parse(*text);
      } catch (const std::exception&) {
      }
    }
    out.containers.push_back(std::move(c));
  }
  std::sort(out.containers.begin(), out.containers.end(), [](const auto& a, const auto& b) {
    return a.service != b.service ? a.service < b.service : a.number < b.number;
  });
  for (const auto& n : engine::list_networks()) out.networks.insert(n.value("Name", ""));
  for (const auto& v : volume::Store().list()) out.volumes.insert(v.name);
  return out;
}

std::map<std::string, std::string> local_image_ids(const compose::Project& project) {
  std::map<std::string, std::string> ids;
  image::Store images;
  for (const auto& svc : project.services)
    if (auto img = images.find(svc.image.empty() ? project.name + "-" + svc.name : svc.image)) ids[svc.name] = img->id;
  return ids;
}

std::vector<std::string> project_names() {
  std::set<std::string> names;
  for (const auto& v : engine::list_containers()) {
    const json& labels = v.record["Config"].contains("Labels") ? v.record["Config"]["Labels"] : json::object();
    std::string p = label(labels, kProjectLabel);
    if (!p.empty()) names.insert(p);
  }
  return {names.begin(), names.end()};
}

}  // namespace berth::orchestrator
