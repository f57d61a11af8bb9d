// `berth container cp` and Compose's `berth cp` (engine/copy.h, docs/copy.md).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "berth/engine/copy.h"
#include "berth/engine/engine.h"
#include "berth/orchestrator/orchestrator.h"
#include "berth/util/error.h"
#include "berth/util/json.h"
#include "cli.h"
#include "compose_project.h"

namespace berth::cli {

namespace {

struct CopyArgs {
  engine::CopyOptions options;
  bool quiet = false;
  std::string source, dest;
};

void add_copy_flags(CLI::App* cmd, CopyArgs& a) {
  cmd->add_flag("-a,--archive", a.options.archive, "Archive mode (copy all uid/gid information)");
  cmd->add_flag("-L,--follow-link", a.options.follow_link, "Always follow symbol link in SRC_PATH");
}

// Docker prints this on a terminal only (-q or no terminal: nothing).
void report_copied(bool quiet, uint64_t bytes, const std::string& where) {
  if (quiet || !::isatty(2)) return;
  std::fprintf(stderr, "Successfully copied %s to %s\n", decimal_size_text(bytes).c_str(), where.c_str());
}

std::string resolve_for_copy(const std::string& ref) {
  try {
    return engine::resolve_container(ref);
  } catch (const Error& e) {
    throw Error(e.what(), e.hint(), 1);  // Docker's cp exits 1 for a missing container
  }
}

int run_container_copy(const std::string& source, const std::string& dest, const engine::CopyOptions& options,
                       bool quiet) {
  engine::require_root();
  auto [src_container, src_path] = engine::split_copy_argument(source);
  auto [dst_container, dst_path] = engine::split_copy_argument(dest);
  if (!src_container.empty() && !dst_container.empty())
    throw Error("copying between containers is not supported", "", 1);
  if (src_container.empty() && dst_container.empty())
    throw Error("must specify at least one container source", "", 1);
  if (!src_container.empty()) {
    std::string id = resolve_for_copy(src_container);
    uint64_t n = engine::copy_from_container(id, src_container, src_path, dst_path, options);
    if (dst_path != "-") report_copied(quiet, n, dst_path);
  } else {
    std::string id = resolve_for_copy(dst_container);
    uint64_t n = engine::copy_to_container(src_path, id, dst_container, dst_path, options);
    report_copied(quiet, n, dest);
  }
  return 0;
}

}  // namespace

void add_copy_command(CLI::App& container) {
  auto a = std::make_shared<CopyArgs>();
  auto* cmd = container.add_subcommand("cp", "Copy files/folders between a container and the local filesystem");
  add_copy_flags(cmd, *a);
  cmd->add_flag("-q,--quiet", a->quiet, "Suppress progress output during copy (automatic without a terminal)");
  cmd->add_option("SRC", a->source, "CONTAINER:SRC_PATH or SRC_PATH|-")->required();
  cmd->add_option("DEST", a->dest, "DEST_PATH|- or CONTAINER:DEST_PATH")->required();
  cmd->footer(
      "Usage: berth container cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
      "       berth container cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH");
  cmd->callback([a] { exit_code() = run_container_copy(a->source, a->dest, a->options, a->quiet); });
}

void add_compose_copy_command(CLI::App& app) {
  struct Args {
    ProjectFlags flags;
    CopyArgs copy;
    bool all = false;
    int index = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("cp", "Copy files/folders between a service container and the local filesystem");
  add_project_flags(cmd, a->flags);
  add_copy_flags(cmd, a->copy);
  cmd->add_flag("--all", a->all, "Include containers created by the run command");
  cmd->add_option("--index", a->index, "Index of the container if service has multiple replicas");
  cmd->add_option("SRC", a->copy.source, "SERVICE:SRC_PATH or SRC_PATH|-")->required();
  cmd->add_option("DEST", a->copy.dest, "DEST_PATH|- or SERVICE:DEST_PATH")->required();
  cmd->footer(
      "Usage: berth cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n"
      "       berth cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH");
  cmd->callback([a] {
    engine::require_root();
    auto [src_service, src_path] = engine::split_copy_argument(a->copy.source);
    auto [dst_service, dst_path] = engine::split_copy_argument(a->copy.dest);
    if (!src_service.empty() && !dst_service.empty()) throw Error("copying between services is not supported", "", 1);
    if (src_service.empty() && dst_service.empty()) throw Error("unknown copy direction", "", 1);
    bool from_service = !src_service.empty();
    if (from_service && a->all) throw Error("cannot use the --all flag when copying from a service", "", 1);
    const std::string& service = from_service ? src_service : dst_service;

    // Compose: --index picks that replica; else every replica when copying in (one-offs too with
    // --all), the first when copying out.
    Target project = resolve_target(a->flags, {service});
    std::vector<const ProjectContainer*> targets;
    if (a->index > 0) {
      for (const auto& c : project.containers)
        if (c.service == service && !c.oneoff && c.number == a->index) targets.push_back(&c);
      if (targets.empty())
        throw Error("service \"" + service + "\" is not running container #" + std::to_string(a->index), "", 1);
    } else {
      for (const auto& c : project.containers)
        if (c.service == service && (!c.oneoff || a->all)) targets.push_back(&c);
      if (targets.empty()) throw Error("no container found for service \"" + service + "\"", "", 1);
      if (from_service) targets.erase(targets.begin() + 1, targets.end());
    }
    if (!from_service && src_path == "-" && targets.size() > 1)
      throw Error("cannot copy a stream from stdin to several containers", "pick one with --index", 1);
    for (const auto* c : targets) {
      if (from_service) {
        uint64_t n = engine::copy_from_container(c->view.id, c->view.name, src_path, dst_path, a->copy.options);
        if (dst_path != "-") report_copied(a->copy.quiet, n, dst_path);
      } else {
        uint64_t n = engine::copy_to_container(src_path, c->view.id, c->view.name, dst_path, a->copy.options);
        report_copied(a->copy.quiet, n, c->view.name + ":" + dst_path);
      }
    }
  });
}

}  // namespace berth::cli
