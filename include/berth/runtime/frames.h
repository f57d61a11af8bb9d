#pragma once
// Framing on the CLI <-> supervisor stream socket: a 1-byte type, a 4-byte length, the payload.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::runtime {

enum class Frame : char {
  // supervisor -> CLI
  Stdout = 'O',
  Stderr = 'E',
  Started = 'S',  // payload: JSON {"pid":N}
  Failed = 'F',   // payload: JSON {"message":..., "exit_code":N}
  Exited = 'X',   // payload: JSON {"exit_code":N, "oom_killed":bool}
  // CLI -> supervisor
  Stdin = 'I',
  StdinClose = 'C',
  Signal = 'K',   // payload: decimal signal number
  Resize = 'W',   // payload: "rows cols"
  Plan = 'P',     // early supervisor only, first frame: the launch plan's path; ports' sockets attached;
                  // a second line kAwaitNetwork: the command waits for NetworkReady
  NetworkReady = 'N',  // after such a Plan: the CLI configured the container's network
  // control socket (<run>/containers/<id>/ctl.sock), both directions
  Request = 'Q',  // JSON {"version":1,"op":"status|stop|kill|wait|attach", ...}
  Response = 'R', // JSON {"ok":bool, "error":..., ...}
};

// The Plan frame's second line when the container's command is to wait for NetworkReady (read
// by the starting container itself, just before its command; EOF instead: its start is off).
inline constexpr const char* kAwaitNetwork = "await-network";

// One sendmsg with `count` descriptors attached (SCM_RIGHTS; none when count is 0), EINTR
// retried; returns what sendmsg returned. Used by send_frame and by a starting container's
// reports to its supervisor (runtime/container_setup.h).
long send_with_fds(int fd, const void* data, size_t size, const int* fds, size_t count);
// One recvmsg; descriptors that came with it are appended to `fds` (close-on-exec, at most 253,
// the kernel's SCM_MAX_FD).
// *truncated: whether the kernel dropped some for lack of room. Returns what recvmsg returned.
long recv_with_fds(int fd, void* data, size_t size, std::vector<int>& fds, bool* truncated = nullptr);

// Blocking helpers (both sides use them on blocking sockets). send_frame returns false on EPIPE.
// `fds` travel with the frame: up to 253 on each of its first bytes (SCM_RIGHTS), so a frame of
// n bytes carries at most 253 * n.
bool send_frame(int fd, Frame type, const std::string& payload, const std::vector<int>& fds = {});
// Reads one whole frame; nullopt on EOF or error. With `fds`, descriptors sent with the frame are
// appended there (close-on-exec); without, they are discarded.
std::optional<std::pair<Frame, std::string>> read_frame(int fd, std::vector<int>* fds = nullptr);

}  // namespace berth::runtime
