// A private directory under /tmp for one unit test, removed with everything in it at the end.
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "berth/util/fs.h"

namespace berth::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/berth-unit.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() { fs::remove_tree(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes rel (parents made as needed) and returns its full path.
  std::string write(const std::string& rel, const std::string& content) const {
    std::string p = path + "/" + rel;
    fs::mkdir_p(fs::dirname(p));
    fs::write_file(p, content);
    return p;
  }
  // Makes the directory rel (and parents); layer() also returns its full path.
  void dir(const std::string& rel) const { fs::mkdir_p(path + "/" + rel); }
  std::string layer(const std::string& rel) const {
    dir(rel);
    return path + "/" + rel;
  }
  void link(const std::string& rel, const std::string& target) const {
    fs::mkdir_p(fs::dirname(path + "/" + rel));
    if (::symlink(target.c_str(), (path + "/" + rel).c_str()) != 0) throw std::runtime_error("symlink failed");
  }
};

}  // namespace berth::testing
