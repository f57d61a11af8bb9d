// Docker's cp path rules (engine/copy.h): where a copy lands, and how an argument splits.
#include <doctest/doctest.h>

#include "berth/engine/copy.h"
#include "berth/util/error.h"

using namespace berth::engine;

TEST_CASE("cp arguments: CONTAINER:PATH, local paths") {
  using P = std::pair<std::string, std::string>;
  CHECK(split_copy_argument("web:/etc/hosts") == P{"web", "/etc/hosts"});
  CHECK(split_copy_argument("web:relative") == P{"web", "relative"});
  CHECK(split_copy_argument("/abs/with:colon") == P{"", "/abs/with:colon"});
  CHECK(split_copy_argument("./local:colon") == P{"", "./local:colon"});
  CHECK(split_copy_argument("plain") == P{"", "plain"});
  CHECK(split_copy_argument("-") == P{"", "-"});
}

TEST_CASE("cp placement: Docker's rules") {
  CopySource file{false, false, "app.conf"};
  CopySource dir{true, false, "data"};
  CopySource contents{true, true, "data"};
  CopyDestination existing_dir{true, true, false};
  CopyDestination existing_file{true, false, false};
  CopyDestination missing{false, false, false};
  CopyDestination missing_with_slash{false, false, true};

  // Into an existing directory: under the source's name; "dir/." puts only the contents there.
  CHECK(place_copy(file, existing_dir, "/tmp/out/", "/etc/app.conf").extract_dir == "/tmp/out");
  CHECK(place_copy(file, existing_dir, "/tmp/out/", "/etc/app.conf").top == "app.conf");
  CHECK(place_copy(contents, existing_dir, "/tmp/out", "/data/.").top.empty());
  CHECK(place_copy(dir, existing_dir, "/tmp/out", "/data").top == "data");
  // Onto an existing file: replaces it; a directory cannot.
  CHECK(place_copy(file, existing_file, "/tmp/x.conf", "/etc/app.conf").top == "x.conf");
  CHECK_THROWS_AS(place_copy(dir, existing_file, "/tmp/x.conf", "/data"), berth::Error);
  // A new name in an existing parent; "missing/" for a file is refused, as Docker.
  CHECK(place_copy(file, missing, "/tmp/new.conf", "/etc/app.conf").extract_dir == "/tmp");
  CHECK(place_copy(file, missing, "/tmp/new.conf", "/etc/app.conf").top == "new.conf");
  CHECK(place_copy(dir, missing_with_slash, "/tmp/newdir/", "/data").top == "newdir");
  CHECK_THROWS_AS(place_copy(file, missing_with_slash, "/tmp/nodir/", "/etc/app.conf"), berth::Error);
}
