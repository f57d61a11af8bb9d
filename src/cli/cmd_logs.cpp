// berth container logs [-f] [--tail N|all] [-t] [--since T] [--until T] CONTAINER
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "berth/engine/engine.h"
#include "berth/engine/log_reader.h"
#include "berth/util/error.h"
#include "berth/util/fd.h"
#include "berth/util/time.h"
#include "cli.h"

namespace berth::cli {

namespace {

// Output buffered per stream; switching streams flushes first, so stdout and stderr lines keep
// their order on a shared terminal.
class StreamWriter {
 public:
  ~StreamWriter() { flush(); }
  void add(int fd, std::string_view prefix, std::string_view text) {
    if (fd != fd_ || buf_.size() >= kFlushAt) flush();
    fd_ = fd;
    buf_.append(prefix);
    buf_.append(text);
  }
  void flush() {
    write_all(fd_, buf_);  // a closed pipe: nothing more to say
    buf_.clear();
  }

 private:
  static constexpr size_t kFlushAt = 1 << 16;
  std::string buf_;
  int fd_ = 1;
};

}  // namespace

uint64_t parse_log_tail(const std::string& v) {
  if (v == "all" || v.empty()) return UINT64_MAX;
  if (v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18)
    throw Error("invalid value for --tail: '" + v + "'", "use a number of lines or \"all\"");
  return std::stoull(v);
}

bool container_keeps_running(const std::string& id) {
  try {
    auto status = engine::view_container(id).status;
    return status == "running" || status == "restarting" || status == "paused";
  } catch (const std::exception&) {
    return false;  // removed
  }
}

void add_logs_command(CLI::App& container) {
  struct Args {
    bool follow = false, timestamps = false;
    std::string tail = "all", since, until, ref;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = container.add_subcommand("logs", "Fetch the logs of a container");
  cmd->add_flag("-f,--follow", a->follow, "Follow log output");
  cmd->add_option("-n,--tail", a->tail, "Number of lines to show from the end of the logs (default \"all\")");
  cmd->add_flag("-t,--timestamps", a->timestamps, "Show timestamps");
  cmd->add_option("--since", a->since,
                  "Show logs since timestamp (e.g. \"2026-11-27T10:00:00Z\") or relative (e.g. \"42m\")");
  cmd->add_option("--until", a->until,
                  "Show logs before a timestamp (e.g. \"2026-11-27T10:00:00Z\") or relative (e.g. \"42m\")");
  cmd->add_option("CONTAINER", a->ref, "Container name or id")->required();
  cmd->callback([a] {
    engine::LogReadOptions opts;
    uint64_t tail = parse_log_tail(a->tail);
    if (tail != UINT64_MAX) opts.tail = tail;
    int64_t now = timeutil::now_ns();
    if (!a->since.empty()) opts.since_ns = engine::parse_log_time_arg(a->since, now);
    if (!a->until.empty()) opts.until_ns = engine::parse_log_time_arg(a->until, now);
    std::string id = engine::resolve_container(a->ref);
    auto view = engine::view_container(id);
    std::string path = view.record.value("LogPath", "");
    if (path.empty())  // --log-driver none, as Docker says it
      throw Error("configured logging driver does not support reading", "the container runs with --log-driver none", 1);
    if (::access(path.c_str(), F_OK) == 0 && ::access(path.c_str(), R_OK) != 0)
      throw Error("cannot read the log of container " + a->ref + ": " + std::strerror(errno),
                  "container logs are readable by root only");
    opts.follow = a->follow;
    opts.keep_following = [id] { return container_keeps_running(id); };

    StreamWriter out;
    bool stamps = a->timestamps;
    std::string stamp;
    auto sink = [&](const engine::LogLine& l) {
      if (stamps) {
        // Docker prints RFC3339Nano with all nine digits; our writer already stores that form.
        if (l.time.size() == 30 && l.time.back() == 'Z')
          stamp.assign(l.time);
        else
          stamp = timeutil::rfc3339_nano(l.time_ns);
        stamp += ' ';
      }
      out.add(l.stream == engine::LogStream::err ? 2 : 1, stamp, l.text);
      return true;
    };
    if (!opts.follow) {
      engine::read_logs(path, opts, sink);
      return;
    }
    // Following: flush before every wait so lines appear as they come.
    opts.keep_following = [id, &out] {
      out.flush();
      return container_keeps_running(id);
    };
    engine::read_logs(path, opts, sink);
  });
}

}  // namespace berth::cli
