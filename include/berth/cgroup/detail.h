#pragma once
// Shared by the cgroup module's own sources; not an API for other modules.
#include <string>

#include "berth/cgroup/cgroup.h"

namespace berth::cgroup::detail {

// "/a//b/" → "a/b"; throws Error for an empty parent or one with . or .. components.
std::string clean_parent(const std::string& parent);
// Whether containers get a dir in this hierarchy (Hybrid: v1 hierarchies only).
bool uses_hierarchy(const Layout& layout, const Hierarchy& h);

}  // namespace berth::cgroup::detail
