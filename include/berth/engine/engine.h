#pragma once
// The local engine API that the CLI (and later the orchestrator) calls: containers as records in
// the state store (<root>/containers/<id>/config.json, written by the CLI) plus runtime state
// (<run>/containers/<id>/state.json, written by the supervisor). Images: berth::image::Store.
#include <optional>
#include <string>
#include <vector>

#include "berth/engine/container_options.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/json.h"

namespace berth::engine {

// Throws the "needs root" error (exit 125) unless running as root.
void require_root();

struct ContainerPaths {
  std::string state_dir;  // <root>/containers/<id>
  std::string run_dir;    // <run>/containers/<id>
};
ContainerPaths container_paths(const std::string& id);

// Creates the record, the launch plan and the network namespace; nothing runs yet. Returns the
// id. Published ports are bound before anything is created; their sockets go to *port_fds (to
// hand to start_container), or are closed when port_fds is null.
// deferred_network (`container run`): the namespace's veth is left unconfigured and described
// there (no endpoints: nothing left to do); start_container(..., await_network) and then
// finish_container_network configure it while the supervisor builds the container.
struct ContainerNetwork;
std::string create_container(const ContainerOptions& opts, std::vector<UniqueFd>* port_fds = nullptr,
                             ContainerNetwork* deferred_network = nullptr);

// Starts the container's supervisor. Returns the CLI end of the stream socket over which the
// supervisor reports Started/Failed, relays output and finally Exited (runtime/frames.h).
// port_fds: the published ports' sockets, bound by create_container (in the launch plan's
// order, possibly none); null: a later start, the plan's ports are bound here (a conflict throws).
// early: a supervisor started by spawn_supervisor_early, which gets the plan now.
// await_network (early only): the container's command waits for finish_container_network.
int start_container(const std::string& id, const std::vector<int>* port_fds = nullptr,
                    UniqueFd* early = nullptr, bool await_network = false);
// Configures a deferred network (create_container) while the container is being built, then lets
// its command run (a NetworkReady frame on sock). On failure the container does not run: its
// start is called off, sock is closed, the container removed, and the network error thrown.
void finish_container_network(int sock, const std::string& id, const ContainerNetwork& net);

// Starts a supervisor before the container exists, so that its exec and start-up overlap the
// CLI's create (`container run`). Returns the CLI end of its stream; the supervisor waits there
// for start_container to send the launch plan's path, and exits quietly when the stream closes
// first (a failed create leaves nothing running).
UniqueFd spawn_supervisor_early();
// Reads the supervisor's first report on that stream: returns on Started, throws on Failed (the
// error carries Docker's exit code: 125/126/127) or when the supervisor died without a report.
void read_start_report(int sock, const std::string& id);
// Thrown by start_container and read_start_report when the supervisor went away before it could
// start the container or report (so it did not apply --rm either).
struct SupervisorLost : Error {
  using Error::Error;
};

// Docker-shaped view of one container: config.json merged with the live state.
struct ContainerView {
  json record;          // inspect JSON (Id, Name, State, Config, HostConfig, ...)
  std::string id, name, image, command, status;  // status: created|running|exited|supervisor lost
  int64_t created_ns = 0;
};
// summary: without HostConfig, Mounts, LogPath and Berth's own section (for `ls`-style listings).
enum class ViewDetail { full, summary };
std::vector<ContainerView> list_containers(ViewDetail detail = ViewDetail::full);
// By full id, unique id prefix or name; throws "No such container" (exit 1 as Docker? 125 for run).
std::string resolve_container(const std::string& ref);
ContainerView view_container(const std::string& id, ViewDetail detail = ViewDetail::full);

// Removes a container: refuses a running one unless force (then kills it and its supervisor).
// Removes cgroups, run and state dirs. Returns false when there was nothing to remove.
// remove_volumes (`rm -v`): also removes the container's anonymous volumes that nothing else uses.
// links: a batch (networking.h) that deletes the host veths of many removals at once.
class LinkBatch;
void remove_container(const std::string& id, bool force, bool remove_volumes = false, LinkBatch* links = nullptr);
// `container rename`: the record's name and the DNS name on its user networks (exit 1 when the
// name is taken, as Docker).
void rename_container(const std::string& ref, const std::string& new_name);
// Removes what creates that were killed left (directories without a record); returns the ids.
std::vector<std::string> remove_incomplete_containers();
// Removes stopped containers and leftovers no record points to (cgroups, run dirs). Returns ids.
std::vector<std::string> prune_containers();

// ---- lifecycle, through the container's supervisor (control socket <run>/containers/<id>/ctl.sock) ----
// Sends one request and returns the response; nullopt when no supervisor answers.
std::optional<json> supervisor_request(const std::string& id, json request);
// `container attach`: a stream of the running container's output (Stdout/Stderr frames, then
// Exited) that also takes Stdin, Signal and Resize frames (runtime/frames.h).
UniqueFd attach_container(const std::string& id);
// Stop signal, then SIGKILL after timeout seconds (default: the container's own). Remembered, so
// unless-stopped and always do not restart it. A container whose supervisor was lost is killed
// through its cgroups. Returns false when the container was not running.
bool stop_container(const std::string& id, std::optional<int> timeout);
void kill_container(const std::string& id, int signal);   // throws when not running
int wait_container(const std::string& id);                // blocks until the container is down
void pause_container(const std::string& id, bool pause);  // freezer (v1) or cgroup.freeze (v2)
// Boot id check: when the recorded boot id differs (a reboot; /run may survive it here), start
// the containers whose restart policy says so. Called by every container command.
void restore_after_reboot();
std::vector<std::string> restore_containers();  // `berth system restore`: ids started

// Names of containers (any state) created from image_id ("sha256:<hex>").
std::vector<std::string> containers_using_image(const std::string& image_id);

}  // namespace berth::engine
