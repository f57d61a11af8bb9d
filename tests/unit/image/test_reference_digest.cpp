#include <doctest/doctest.h>

#include "berth/image/digest.h"
#include "berth/image/reference.h"
#include "berth/util/error.h"

using namespace berth::image;

TEST_CASE("sha256 of known bytes") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_digest("abc") ==
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;  // incremental == one shot
  h.update("a");
  h.update("bc");
  CHECK(h.hex() == sha256_hex("abc"));
}

TEST_CASE("digests and chain ids") {
  std::string a = sha256_digest("a"), b = sha256_digest("b");
  CHECK(is_digest(a));
  CHECK_FALSE(is_digest("sha256:abc"));
  CHECK_FALSE(is_digest("sha256:" + std::string(64, 'A')));
  CHECK(digest_hex(a) == a.substr(7));
  CHECK_THROWS_AS(digest_hex("md5:00"), berth::Error);
  auto chains = chain_ids({a, b});
  REQUIRE(chains.size() == 2);
  CHECK(chains[0] == a);
  CHECK(chains[1] == sha256_digest(a + " " + b));
}

TEST_CASE("references normalize as Docker's") {
  CHECK(normalize_ref("busybox") == "busybox:latest");
  CHECK(normalize_ref("busybox:1.35") == "busybox:1.35");
  CHECK(normalize_ref("docker.io/library/busybox") == "busybox:latest");
  CHECK(normalize_ref("index.docker.io/library/nginx:1") == "nginx:1");
  CHECK(normalize_ref("docker.io/user/app:v2") == "user/app:v2");
  CHECK(normalize_ref("berth-test/busybox") == "berth-test/busybox:latest");
  CHECK(normalize_ref("localhost:5000/a/b:T_1.x-y") == "localhost:5000/a/b:T_1.x-y");
  CHECK(normalize_ref("127.0.0.1:5000/busybox") == "127.0.0.1:5000/busybox:latest");
  CHECK(normalize_ref("Registry.Example.com/x") == "Registry.Example.com/x:latest");
  CHECK(normalize_ref("x/a__b.c-d---e") == "x/a__b.c-d---e:latest");
  auto r = parse_reference("busybox@sha256:" + std::string(64, 'a'));
  CHECK(r.tag.empty());
  CHECK(r.digest == "sha256:" + std::string(64, 'a'));
}

TEST_CASE("invalid references are refused with a reason") {
  auto message = [](const std::string& ref) {
    try {
      parse_reference(ref);
    } catch (const berth::Error& e) {
      CHECK(e.exit_code() == 125);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(message("BusyBox").find("must be lowercase") != std::string::npos);
  CHECK(message("").find("empty") != std::string::npos);
  CHECK(message("busybox:").find("tag") != std::string::npos);
  CHECK(message("busybox:.x").find("tag") != std::string::npos);
  CHECK(message("busybox:" + std::string(129, 'a')).find("tag") != std::string::npos);
  CHECK(message("bad_-name").find("component") != std::string::npos);
  CHECK(message("a//b").find("component") != std::string::npos);
  CHECK(message("-lead").find("component") != std::string::npos);
  CHECK(message("x@sha256:12").find("digest") != std::string::npos);
  CHECK(message(std::string(64, 'a')).find("hexadecimal") != std::string::npos);
  CHECK(message("a b").find("component") != std::string::npos);
}

TEST_CASE("id prefixes") {
  CHECK(looks_like_id_prefix("abcd"));
  CHECK(looks_like_id_prefix("sha256:abcd"));
  CHECK_FALSE(looks_like_id_prefix("abc"));
  CHECK_FALSE(looks_like_id_prefix("abcg"));
  CHECK_FALSE(looks_like_id_prefix("ABCD"));
}
