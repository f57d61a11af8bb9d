#pragma once
// Docker's json-file log: one JSON object per line, {"log":"...\n","stream":"stdout","time":"..."}.
// With a max size the file rotates as Docker's json-file driver does: path -> path.1 -> path.2 …,
// keeping at most max_files files in total (the current one counts).
#include <cstdint>
#include <string>

namespace berth {

class JsonLog {
 public:
  JsonLog() = default;
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;
  ~JsonLog();
  void open(const std::string& path);  // unlimited size, no rotation
  // max_size 0 = unlimited; max_files >= 1 (1: the file is truncated instead of rotated).
  void open(const std::string& path, uint64_t max_size, int max_files);
  // Appends stream data; lines are written whole, a partial line waits for its newline (or flush).
  void write(const char* stream, const std::string& data);
  void flush();

 private:
  void emit(const char* stream, const std::string& line);
  void rotate();
  int fd_ = -1;
  std::string path_;
  uint64_t max_size_ = 0;
  int max_files_ = 1;
  uint64_t size_ = 0;       // bytes in the current file
  std::string pending_[2];  // stdout, stderr
};

}  // namespace berth
