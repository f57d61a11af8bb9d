// Runs berth-heavy (see berth/image/heavy.h). No libarchive or libseccomp here.
#include "berth/image/heavy.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/paths.h"

namespace berth::image {
namespace {

std::atomic<uint64_t> runs{0};

// The request as a file on stdin: a memfd holds any size without a writer thread.
UniqueFd request_fd(const std::string& request) {
  UniqueFd fd(::memfd_create("berth-heavy-request", MFD_CLOEXEC));
  if (!fd) throw_errno("memfd_create");
  if (!write_all(fd.get(), request)) throw_errno("write berth-heavy request");
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) throw_errno("lseek");
  return fd;
}

}  // namespace

std::string heavy_helper_path() { return paths::libexec_dir() + "/berth-heavy"; }

json run_heavy(const std::vector<std::string>& args, int input_fd, const std::string& request) {
  const std::string path = heavy_helper_path();
  const std::string what = "berth-heavy " + (args.empty() ? std::string() : args[0]);
  UniqueFd request_file;
  if (input_fd < 0) {
    request_file = request_fd(request);
    input_fd = request_file.get();
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd out_read(out[0]), out_write(out[1]);

  std::vector<const char*> argv{path.c_str(), kHeavyProtocol};
  for (const auto& a : args) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input_fd, 0);  // same fd: glibc clears FD_CLOEXEC
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, const_cast<char**>(argv.data()),
                         const_cast<char**>(envp));
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Error("cannot run " + path + ": " + std::strerror(rc), "reinstall Berth");
  ++runs;
  out_write.reset();

  std::string answer;
  read_all(out_read.get(), answer);  // a read error leaves the answer short: reported below
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    throw Error(what + " was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                    ::strsignal(WTERMSIG(status)) + ")",
                "run the command again; if it fails the same way, reinstall Berth");
  auto result = parse_json_if_valid(answer);
  if (!result || !result->is_object())
    throw Error(what + " gave no answer (exit status " + std::to_string(WEXITSTATUS(status)) + ")",
                "reinstall Berth: " + path + " is not the helper this berth was built with");
  if (result->contains("error")) {
    const json& e = (*result)["error"];
    throw Error(e.value("message", what + " failed"), e.value("hint", ""), e.value("exit_code", 125));
  }
  if (WEXITSTATUS(status) != 0)
    throw Error(what + " failed (exit status " + std::to_string(WEXITSTATUS(status)) + ")", "reinstall Berth");
  return *result;
}

uint64_t heavy_runs() { return runs.load(); }

}  // namespace berth::image
