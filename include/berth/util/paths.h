#pragma once
// Where Berth keeps state. BERTH_ROOT and BERTH_RUN override the defaults (tests use their own).
#include <string>

namespace berth::paths {

std::string state_root();    // persistent: /var/lib/berth
std::string run_root();      // runtime, valid for one boot: /run/berth
std::string libexec_dir();   // directory holding berth-supervisor and berth-init
std::string cgroup_parent(); // BERTH_CGROUP_PARENT or "berth": containers live at /<parent>/<id>

}  // namespace berth::paths
