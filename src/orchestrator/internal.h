// Helpers shared by execute.cpp and run.cpp; not part of the orchestrator's interface.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "berth/orchestrator/orchestrator.h"
#include "berth/util/fd.h"

namespace berth::engine {
class LinkBatch;
}

namespace berth::orchestrator {

void emit(const Progress& progress, const std::string& object, const std::string& state);
// Blocks until `dep`'s containers satisfy the depends_on condition of `service`; throws with the
// reason (the dependency's last probe output, its exit code) otherwise. deadline_ms 0: no limit.
void wait_condition(const compose::Project& project, const std::string& service, const std::string& dep,
                    const compose::DependsOn& spec, const Progress& progress, int64_t deadline_ms = 0);
// Writes the spec's generated files, creates the container (not started; its published ports are
// bound into port_fds), joins its other networks and records the service config beside it.
std::string create_from_spec(const compose::Service& svc, ContainerSpec& spec, std::vector<UniqueFd>* port_fds);
// Stops (grace period timeout_s, -1: the container's own) and removes one container, with
// progress events; a container that removed itself meanwhile (run --rm) counts as removed.
// links: where its host veths go to be deleted with others' (null: deleted here). stopped: called
// once, when the container is down (or its stop failed), before the removal.
void stop_and_remove(const std::string& id, const std::string& name, int timeout_s, bool volumes,
                     const Progress& progress, engine::LinkBatch* links = nullptr,
                     const std::function<void()>& stopped = nullptr);
// Several containers at once, in parallel: a stop may wait for its grace period. A container stops
// only once every container of a lower level has stopped (`down`: dependents first); removals do
// not hold the next level back. Returns the first failure as "name: reason", "" when all went.
struct Doomed {
  std::string id, name;
  int level = 0;
};
std::string stop_and_remove_all(const std::vector<Doomed>& containers, int timeout_s, bool volumes,
                                const Progress& progress, engine::LinkBatch* links = nullptr);

}  // namespace berth::orchestrator
