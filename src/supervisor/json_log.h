#pragma once
// Docker's json-file log: one JSON object per line, {"log":"...\n","stream":"stdout","time":"..."}.
#include <string>

namespace berth {

class JsonLog {
 public:
  JsonLog() = default;
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;
  ~JsonLog();
  void open(const std::string& path);
  // Appends stream data; lines are written whole, a partial line waits for its newline (or flush).
  void write(const char* stream, const std::string& data);
  void flush();

 private:
  void emit(const char* stream, const std::string& line);
  int fd_ = -1;
  std::string pending_[2];  // stdout, stderr
};

}  // namespace berth
