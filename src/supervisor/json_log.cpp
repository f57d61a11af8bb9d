#include "json_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "berth/util/time.h"

namespace berth {

JsonLog::~JsonLog() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonLog::open(const std::string& path) { open(path, 0, 1); }

void JsonLog::open(const std::string& path, uint64_t max_size, int max_files) {
  if (fd_ >= 0) ::close(fd_);
  path_ = path;
  max_size_ = max_size;
  max_files_ = max_files < 1 ? 1 : max_files;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st {};
  size_ = (fd_ >= 0 && ::fstat(fd_, &st) == 0) ? static_cast<uint64_t>(st.st_size) : 0;
}

// Readers following the log notice the new inode (or, with max_files 1, the truncation).
void JsonLog::rotate() {
  if (max_files_ > 1) {
    ::close(fd_);
    fd_ = -1;
    for (int i = max_files_ - 1; i >= 1; --i) {
      std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
      ::rename(from.c_str(), (path_ + "." + std::to_string(i)).c_str());  // a missing one is fine
    }
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  } else {
    (void)!::ftruncate(fd_, 0);
  }
  size_ = 0;
}

static void append_escaped(std::string& out, const std::string& s) {
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void JsonLog::emit(const char* stream, const std::string& line) {
  if (fd_ < 0) return;
  std::string rec = "{\"log\":\"";
  append_escaped(rec, line);
  rec += "\",\"stream\":\"";
  rec += stream;
  rec += "\",\"time\":\"" + timeutil::rfc3339_nano(timeutil::now_ns()) + "\"}\n";
  // Rotate before a record would push the file past max_size (a single oversized record still
  // lands whole in a fresh file).
  if (max_size_ > 0 && size_ > 0 && size_ + rec.size() > max_size_) rotate();
  if (fd_ < 0) return;
  ssize_t n = ::write(fd_, rec.data(), rec.size());
  if (n > 0) size_ += static_cast<uint64_t>(n);
}

void JsonLog::write(const char* stream, const std::string& data) {
  std::string& pend = pending_[std::strcmp(stream, "stderr") == 0 ? 1 : 0];
  pend += data;
  size_t start = 0;
  for (size_t nl; (nl = pend.find('\n', start)) != std::string::npos; start = nl + 1)
    emit(stream, pend.substr(start, nl + 1 - start));
  pend.erase(0, start);
  if (pend.size() >= 16384) {  // Docker splits very long lines too
    emit(stream, pend);
    pend.clear();
  }
}

void JsonLog::flush() {
  if (!pending_[0].empty()) emit("stdout", pending_[0]);
  if (!pending_[1].empty()) emit("stderr", pending_[1]);
  pending_[0].clear();
  pending_[1].clear();
}

}  // namespace berth
