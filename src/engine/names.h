// The names index, engine-internal: <root>/names/<name> holds the id of the container with that
// name, written under the names lock, so that a create checks one file instead of reading every
// record (which made `up` of a large stack quadratic). rm, rename and a --rm supervisor drop
// their entries; one left stale (a killed supervisor) is dropped when that name is next checked
// (create.cpp) or by `container prune`.
#pragma once
#include <string>

namespace berth::engine {

std::string names_dir();
// Whether a container has this name now; drops the entry when it is stale. Under the names lock.
bool name_taken(const std::string& name);
// Drops <name>'s entry if it still names this container (rm, rename).
void forget_name(const std::string& name, const std::string& id);

}  // namespace berth::engine
