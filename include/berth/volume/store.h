#pragma once
// Named and anonymous volumes (Docker's "local" driver):
//   <root>/volumes/                 0700: host users cannot reach setuid files a container wrote
//   <root>/volumes/<name>/_data     the data, bind-mounted into containers
//   <root>/volumes/<name>/meta.json labels, options, created, anonymous, initialized, remove_with
//   <root>/locks/volumes.lock       held by every change (and by container create until its
//                                   record, which names the volumes it mounts, exists)
// A volume exists when its meta.json does. "In use" = named by the "Mounts" of any container
// record (<root>/containers/*/config.json), whatever the container's state.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "berth/util/file_lock.h"
#include "berth/util/json.h"
#include "berth/util/paths.h"

namespace berth::volume {

struct Volume {
  std::string name;
  std::string dir;         // <root>/volumes/<name>
  std::string mountpoint;  // dir + "/_data"
  std::map<std::string, std::string> labels, options;
  int64_t created_ns = 0;
  bool anonymous = false;
  bool initialized = false;  // copy-up done once: an emptied volume is never refilled
  std::string remove_with;   // anonymous volume of a --rm container: goes when that container does
};

// "[a-zA-Z0-9][a-zA-Z0-9_.-]+" (Docker's local volume names).
bool valid_name(const std::string& name);
void validate_name(const std::string& name);  // throws Docker's message

class Store {
 public:
  explicit Store(std::string state_root = paths::state_root());

  // Every call below that changes something expects this lock to be held by the caller.
  FileLock lock() const;

  // Docker's `volume create`: an existing volume of that name is returned unchanged.
  // options: type, device, o (local driver); only type=tmpfs and o=bind are supported.
  Volume create(const std::string& name, const std::map<std::string, std::string>& labels = {},
                const std::map<std::string, std::string>& options = {}, bool anonymous = false,
                const std::string& remove_with = "");
  Volume create_anonymous(const std::string& remove_with = "");  // random 64-hex name
  std::optional<Volume> find(const std::string& name) const;
  std::vector<Volume> list() const;  // sorted by name
  // Volume name -> names of the containers whose records mount it.
  std::map<std::string, std::vector<std::string>> users() const;
  // Refuses a volume in use, even with force (the error names the containers); force only makes
  // a missing volume no error. Error exit code 1, as Docker's daemon errors.
  void remove(const std::string& name, bool force);
  // Unused volumes: anonymous ones only unless all; filters "label=K[=V]", "label!=K[=V]".
  // Returns the removed names and adds the bytes freed to *reclaimed.
  std::vector<std::string> prune(bool all, const std::vector<std::string>& filters, uint64_t* reclaimed);
  void mark_initialized(const std::string& name);
  // Removes anonymous volumes whose --rm container is gone and that nothing uses.
  void sweep_autoremoved();
  // Docker's `volume inspect` object.
  json inspect(const Volume& v) const;
  uint64_t size_of(const Volume& v) const;  // bytes of data (st_blocks based), no symlink followed

  const std::string& volumes_dir() const { return volumes_dir_; }

 private:
  void save(const Volume& v) const;
  std::optional<Volume> load(const std::string& name) const;

  std::string root_, volumes_dir_;
};

}  // namespace berth::volume
