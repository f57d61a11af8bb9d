#pragma once
// Shared helpers for the compose unit tests: load YAML text in memory with a fixed environment.
#include <doctest/doctest.h>

#include <string>

#include "berth/compose/loader.h"

namespace berth::compose::test {
using berth::json;

inline LoadOptions options_for(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  LoadOptions o;
  o.contents = {{"compose.yaml", yaml}};
  o.working_dir = "/work/proj";
  env.emplace("HOME", "/home/u");
  o.environment = env;
  return o;
}

// Loads with normalization and cross-checks off unless asked: the model as written.
inline json load_raw(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  auto o = options_for(yaml, std::move(env));
  o.normalize = false;
  o.consistency = false;
  return load_project(o).model;
}

inline json service_of(const std::string& yaml, const std::string& svc = "web") {
  return load_raw(yaml)["services"][svc];
}

// Every error message of a failing load, joined by newlines ("" when it loads).
inline std::string load_errors(const std::string& yaml, bool consistency = true) {
  auto o = options_for(yaml);
  o.consistency = consistency;
  try {
    load_project(o);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

}  // namespace berth::compose::test
