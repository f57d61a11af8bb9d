// down: stop and remove the project's containers (in reverse dependency order when the file is
// known), then its networks, and with -v its named volumes; --rmi removes images.
#include <algorithm>
#include <map>
#include <set>

#include "berth/engine/engine.h"
#include "berth/engine/networking.h"
#include "berth/image/store.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "berth/volume/store.h"
#include "internal.h"

namespace berth::orchestrator {

void down(const std::string& project_name, const compose::Project* project, const DownOptions& options,
          const Progress& progress) {
  Observed observed = observe(project_name);
  // Dependents before their dependencies: by depth (a service without dependencies is 0, else
  // one more than its deepest dependency), deepest first. Services of one depth never depend on
  // each other, so they go together.
  std::map<std::string, int> depth;
  if (project)
    for (const auto& name : dependency_order(*project, {}, true)) {  // dependencies come first
      int d = 0;
      for (const auto& [dep, spec] : project->service(name)->depends_on)
        if (auto it = depth.find(dep); it != depth.end()) d = std::max(d, it->second + 1);
      depth[name] = d;
    }
  auto rank = [&](const ObservedContainer& c) {
    auto it = depth.find(c.service);
    return it == depth.end() ? -1000000 : -it->second;  // containers of unknown services first
  };
  std::vector<ObservedContainer> doomed;
  for (const auto& c : observed.containers) {
    bool orphan = project && !project->service(c.service);
    // Without the file every container of the project goes; with it, orphans only on request.
    if (orphan && !options.remove_orphans && !c.oneoff) continue;
    doomed.push_back(c);
  }
  std::stable_sort(doomed.begin(), doomed.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  // The removed containers' veths and the removed networks' bridges go in one kernel batch at the
  // end: one RCU grace period instead of one per link (compose-5: 6 links, ~100 ms less).
  engine::LinkBatch links;
  // Dependents stop first, level by level (the containers of one level stop in parallel); each
  // container is removed as soon as it is down, beside the next level's stops.
  std::vector<Doomed> levels;
  std::set<std::string> images;
  for (const auto& c : doomed) {
    levels.push_back({c.id, c.name, rank(c)});
    // --rmi local: only the images Compose names itself, <project>-<service>, for services with
    // `build:` and no `image:` (built elsewhere and imported under that name, until Berth builds).
    std::string image = c.labels.value(kImageLabel, "");
    bool local = image == project_name + "-" + c.service || image == project_name + "-" + c.service + ":latest";
    if (options.rmi == "all" || (options.rmi == "local" && local)) images.insert(image);
  }
  std::string first_error = stop_and_remove_all(levels, options.timeout_s, true, progress, &links);
  if (!first_error.empty()) throw Error("cannot remove container " + first_error, "retry berth down", 1);
  // Networks: the project's (by label when the file is unknown), not external ones. Their
  // bridges go in the link batch with the veths; "Removed" is said once that batch went.
  std::vector<std::string> networks_going;
  for (const auto& net : engine::list_networks()) {
    const json& labels = net.value("Labels", json::object());
    if (labels.value(kProjectLabel, "") != project_name) continue;
    std::string name = net.value("Name", "");
    emit(progress, "Network " + name, "Removing");
    try {
      engine::remove_network(name, &links);
      networks_going.push_back(name);
    } catch (const Error& e) {
      emit(progress, "Network " + name, std::string("Error: ") + e.what());
    }
  }
  // A failed link deletion fails `down`, but only after the volumes and images below went too.
  std::string link_error;
  try {
    links.flush();
  } catch (const std::exception& e) {
    link_error = e.what();
  }
  for (const auto& name : networks_going)
    emit(progress, "Network " + name, link_error.empty() ? "Removed" : "Error: " + link_error);
  // Generated secret and config files: nothing of the project uses them any more.
  if (project || observed.containers.size() == doomed.size()) fs::remove_tree(generated_files_dir(project_name));
  if (options.volumes) {
    volume::Store store;
    auto lock = store.lock();
    for (const auto& v : store.list()) {
      if (v.labels.count(kProjectLabel) == 0 || v.labels.at(kProjectLabel) != project_name) continue;
      emit(progress, "Volume " + v.name, "Removing");
      store.remove(v.name, true);
      emit(progress, "Volume " + v.name, "Removed");
    }
  }
  image::Store store;
  for (const auto& img : images) {
    if (img.empty()) continue;
    try {
      if (store.find(img)) {
        store.remove(img, false, [](const std::string& id) { return engine::containers_using_image(id); });
        emit(progress, "Image " + img, "Removed");
      }
    } catch (const Error& e) {
      emit(progress, "Image " + img, std::string("Error: ") + e.what());
    }
  }
  if (!link_error.empty()) throw Error("cannot delete the project's network links: " + link_error,
                                   "delete the link named there by hand (ip link del NAME)", 1);
}

}  // namespace berth::orchestrator
