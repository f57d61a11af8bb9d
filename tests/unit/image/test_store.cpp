#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>

#include "berth/image/digest.h"
#include "berth/image/store.h"
#include "berth/util/error.h"
#include "berth/util/fs.h"
#include "tar_fixture.h"

using namespace berth::image;
using namespace berth::image::test;
using berth::json;
namespace fs = berth::fs;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/berth-image-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_tree(path); }
};

std::string write_temp(const TempDir& dir, const std::string& name, const std::string& bytes) {
  std::string p = dir.path + "/" + name;
  fs::write_file(p, bytes, 0644);
  return p;
}

std::vector<std::string> no_users(const std::string&) { return {}; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const berth::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("import a plain, gzip and zstd rootfs: files, links, digests, whiteouts") {
  const std::string tar = make_tar(sample_rootfs());
  for (std::string filter : {"none", "gzip", "zstd"}) {
    CAPTURE(filter);
    TempDir tmp;
    std::string bytes = filter == "none" ? tar : compress(tar, filter.c_str());
    if (std::string(filter) != "none") CHECK(bytes != tar);
    std::string file = write_temp(tmp, "rootfs.tar", bytes);
    Store store(tmp.path + "/images");
    Image img =
        store.import_rootfs(file, "test/rootfs:" + std::string(filter), {"CMD [\"/bin/sh\"]"});

    CHECK(img.id.rfind("sha256:", 0) == 0);
    CHECK(img.repo_tags == std::vector<std::string>{"test/rootfs:" + std::string(filter)});
    CHECK(img.config.cmd == std::vector<std::string>{"/bin/sh"});
    REQUIRE(img.layer_dirs.size() == 1);
    const std::string diff_id = sha256_digest(tar);
    CHECK(img.layer_dirs[0] == store.root() + "/layers/" + diff_id.substr(7) + "/diff");
    // Size counts regular file bytes once (the hardlink shares busybox's data).
    CHECK(img.size == std::string("#!fake busybox\n").size() + 6 + 15 + 5);

    // The blob is kept exactly as given; the config lists the DiffID of the uncompressed tar.
    const std::string blob = store.root() + "/blobs/sha256/" + sha256_hex(bytes);
    CHECK(fs::read_file(blob) == bytes);
    json config = json::parse(fs::read_file(store.root() + "/blobs/sha256/" + img.id.substr(7)));
    CHECK(sha256_digest(fs::read_file(store.root() + "/blobs/sha256/" + img.id.substr(7))) ==
          img.id);
    CHECK(config["rootfs"]["diff_ids"] == json::array({diff_id}));
    CHECK(config["os"] == "linux");
    json refs = json::parse(fs::read_file(store.root() + "/refs.json"));
    std::string manifest_digest = refs["images"][img.id]["manifest"];
    json manifest =
        json::parse(fs::read_file(store.root() + "/blobs/sha256/" + manifest_digest.substr(7)));
    CHECK(manifest["config"]["digest"] == img.id);
    CHECK(manifest["layers"][0]["digest"] == sha256_digest(bytes));
    CHECK(manifest["layers"][0]["size"] == bytes.size());
    std::string expected_type = std::string("application/vnd.oci.image.layer.v1.tar") +
                                (std::string(filter) == "none" ? "" : std::string("+") + filter);
    CHECK(manifest["layers"][0]["mediaType"] == expected_type);

    const std::string& d = img.layer_dirs[0];
    CHECK(fs::read_file(d + "/etc/hostname") == "berth\n");
    struct stat st {
    }, st2{};
    REQUIRE(::lstat((d + "/bin/sh").c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    char target[64] = {};
    CHECK(::readlink((d + "/bin/sh").c_str(), target, sizeof target - 1) == 7);
    CHECK(std::string(target) == "busybox");
    REQUIRE(::stat((d + "/bin/busybox").c_str(), &st) == 0);
    REQUIRE(::stat((d + "/bin/ls").c_str(), &st2) == 0);
    CHECK(st.st_ino == st2.st_ino);
    CHECK((st.st_mode & 07777) == 0755);
    REQUIRE(::stat((d + "/tmp").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 01777);
    REQUIRE(::stat((d + "/etc/hostname").c_str(), &st) == 0);
    CHECK(st.st_mtime == 1700000000);
    if (::geteuid() == 0) {  // ownership is kept numerically only with privilege
      REQUIRE(::stat((d + "/etc/shadow").c_str(), &st) == 0);
      CHECK(st.st_gid == 42u);
      REQUIRE(::stat((d + "/data").c_str(), &st) == 0);
      CHECK(st.st_uid == 1000u);
      CHECK((st.st_mode & 07777) == 0750);
    }

    // Whiteout files are never written as such; they become overlay markers (or are recorded).
    CHECK_FALSE(fs::exists(d + "/etc/.wh.old.conf"));
    CHECK_FALSE(fs::exists(d + "/data/.wh..wh..opq"));
    CHECK(fs::exists(d + "/data/keep"));  // an opaque dir keeps this layer's own entries
    json meta = json::parse(fs::read_file(fs::dirname(d) + "/meta.json"));
    CHECK(meta["whiteouts"] == json::array({"etc/old.conf"}));
    CHECK(meta["opaque_dirs"] == json::array({"data"}));
    CHECK(meta["diff_id"] == diff_id);
    if (::geteuid() == 0) {
      REQUIRE(::lstat((d + "/etc/old.conf").c_str(), &st) == 0);
      CHECK(S_ISCHR(st.st_mode));
      CHECK(st.st_rdev == makedev(0, 0));
      char value[4] = {};
      CHECK(::lgetxattr((d + "/data").c_str(), "trusted.overlay.opaque", value, sizeof value) == 1);
      CHECK(value[0] == 'y');
    } else {  // unprivileged: trusted.* xattrs are refused (whiteout nodes are allowed since 5.8)
      CHECK(meta["not_converted"].dump().find("\"data\"") != std::string::npos);
    }

    // Directories are private; nothing is left in the work area.
    REQUIRE(::stat(store.root().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(fs::list_dir(store.root() + "/tmp").empty());
  }
}

TEST_CASE("import from stdin, and lookups by name, id and prefix") {
  TempDir tmp;
  std::string file = write_temp(tmp, "rootfs.tar.gz", compress(make_tar(sample_rootfs()), "gzip"));
  Store store(tmp.path + "/images");
  int saved = ::dup(0);
  int in = ::open(file.c_str(), O_RDONLY);
  ::dup2(in, 0);
  Image img = store.import_rootfs("-", "busybox", {});
  ::dup2(saved, 0);
  ::close(in);
  ::close(saved);

  CHECK(img.repo_tags == std::vector<std::string>{"busybox:latest"});
  std::string hex = img.id.substr(7);
  for (std::string ref : {std::string("busybox"), std::string("busybox:latest"),
                          std::string("docker.io/library/busybox"), img.id, hex, hex.substr(0, 4),
                          "sha256:" + hex.substr(0, 12)}) {
    CAPTURE(ref);
    auto found = store.find(ref);
    REQUIRE(found);
    CHECK(found->id == img.id);
  }
  CHECK_FALSE(store.find("busybox:other"));
  CHECK_FALSE(store.find("nothing"));
  CHECK_FALSE(store.find("abc"));     // too short for a prefix
  CHECK_FALSE(store.find("BadRef"));  // invalid names are simply not found

  // An ambiguous prefix is an error rather than a guess.
  json refs = json::parse(fs::read_file(store.root() + "/refs.json"));
  refs["images"]["sha256:ffff" + std::string(60, '1')] = json::object();
  refs["images"]["sha256:ffff" + std::string(60, '2')] = json::object();
  fs::write_file(store.root() + "/refs.json", refs.dump());
  CHECK(error_of([&] { store.find("ffff"); }).find("ambiguous") != std::string::npos);
}

TEST_CASE("import refuses bad input and leaves nothing half-done") {
  TempDir tmp;
  Store store(tmp.path + "/images");
  auto check_clean = [&] {
    CHECK(fs::list_dir(store.root() + "/layers").empty());
    CHECK(fs::list_dir(store.root() + "/tmp").empty());
    CHECK(store.list().empty());
  };
  std::string not_tar = write_temp(tmp, "junk", std::string(2000, 'x'));
  CHECK(error_of([&] { store.import_rootfs(not_tar, "x", {}); }).find("not a tar archive") !=
        std::string::npos);
  check_clean();

  std::string gz = compress(make_tar(sample_rootfs()), "gzip");
  std::string truncated = write_temp(tmp, "trunc.tar.gz", gz.substr(0, gz.size() / 2));
  CHECK(error_of([&] { store.import_rootfs(truncated, "x", {}); }) != "no error");
  check_clean();

  std::string dotdot =
      write_temp(tmp, "dotdot.tar", make_tar({{TarEntry::File, "a/../../escape", "x"}}));
  CHECK(error_of([&] { store.import_rootfs(dotdot, "x", {}); }).find("..") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp.path + "/escape"));
  check_clean();

  std::string absolute = write_temp(tmp, "abs.tar", make_tar({{TarEntry::File, "/etc/evil", "x"}}));
  CHECK(error_of([&] { store.import_rootfs(absolute, "x", {}); }).find("absolute") !=
        std::string::npos);
  check_clean();

  // A symlink in the layer must not be followed to write outside it.
  fs::mkdir_p(tmp.path + "/outside");
  std::string through = write_temp(tmp, "through.tar",
                                   make_tar({{TarEntry::Symlink, "link", tmp.path + "/outside"},
                                             {TarEntry::File, "link/pwned", "x"}}));
  CHECK(error_of([&] { store.import_rootfs(through, "x", {}); }) != "no error");
  CHECK_FALSE(fs::exists(tmp.path + "/outside/pwned"));
  check_clean();

  std::string hardlink_out =
      write_temp(tmp, "hl.tar", make_tar({{TarEntry::Hardlink, "h", "../../etc/passwd"}}));
  CHECK(error_of([&] { store.import_rootfs(hardlink_out, "x", {}); }).find("..") !=
        std::string::npos);
  check_clean();

  std::string good = write_temp(tmp, "good.tar", make_tar(sample_rootfs()));
  CHECK(error_of([&] { store.import_rootfs(good, "Bad:Ref", {}); }).find("lowercase") !=
        std::string::npos);
  CHECK(error_of([&] { store.import_rootfs(good, "x", {"FROM scratch"}); }).find("FROM") !=
        std::string::npos);
  CHECK(error_of([&] {
          store.import_rootfs(tmp.path + "/missing.tar", "x", {});
        }).find("missing.tar") != std::string::npos);
  check_clean();
}

TEST_CASE("tag, list, inspect") {
  TempDir tmp;
  std::string file = write_temp(tmp, "rootfs.tar", make_tar(sample_rootfs()));
  Store store(tmp.path + "/images");
  Image a = store.import_rootfs(file, "app:1",
                                {"ENV A=1", "EXPOSE 80", "HEALTHCHECK --interval=2s CMD true"});
  Image b = store.import_rootfs(file, "", {});  // untagged, shares the layer
  CHECK(a.id != b.id);
  CHECK(a.layer_dirs == b.layer_dirs);
  CHECK(fs::list_dir(store.root() + "/layers").size() == 1);

  store.tag("app:1", "registry.local:5000/team/app:prod");
  store.tag(a.id.substr(7, 8), "app");
  CHECK(store.find("app:latest")->id == a.id);
  CHECK(error_of([&] { store.tag("nope", "x"); }).find("No such image: nope") != std::string::npos);
  CHECK(error_of([&] { store.tag("app:1", "UPPER"); }).find("lowercase") != std::string::npos);

  auto images = store.list();
  REQUIRE(images.size() == 2);
  CHECK(images[0].id == b.id);  // newest first
  CHECK(images[0].repo_tags.empty());
  CHECK(images[1].repo_tags ==
        std::vector<std::string>{"app:1", "app:latest", "registry.local:5000/team/app:prod"});

  json inspect = json::parse(store.inspect_json(*store.find("app:1")));
  CHECK(inspect["Id"] == a.id);
  CHECK(inspect["RepoTags"].size() == 3);
  CHECK(inspect["Config"]["Env"] == json::array({"A=1"}));
  CHECK(inspect["Config"]["ExposedPorts"].contains("80/tcp"));
  CHECK(inspect["Config"]["Healthcheck"]["Interval"] == 2000000000LL);
  CHECK(inspect["Config"]["Cmd"].is_null());
  CHECK(inspect["RootFS"]["Type"] == "layers");
  CHECK(inspect["RootFS"]["Layers"] == json::array({sha256_digest(fs::read_file(file))}));
  CHECK(inspect["Os"] == "linux");
  CHECK(inspect["Size"] == a.size);
  CHECK(inspect["Created"].get<std::string>().size() == 30);
}

TEST_CASE("remove: untag, in-use refusal, force, shared content kept") {
  TempDir tmp;
  std::string file = write_temp(tmp, "rootfs.tar", make_tar(sample_rootfs()));
  Store store(tmp.path + "/images");
  Image a = store.import_rootfs(file, "app:1", {});
  store.tag("app:1", "app:2");
  Image b = store.import_rootfs(file, "other", {});
  const std::string layer_dir = fs::dirname(a.layer_dirs[0]);

  // One of two tags: only untagged, no in-use check needed.
  auto lines = store.remove(
      "app:2", false, [](const std::string&) -> std::vector<std::string> { return {"web-1"}; });
  CHECK(lines == std::vector<std::string>{"Untagged: app:2"});
  CHECK(store.find("app:1"));

  // The last tag of an image a container uses: refused (exit 125), names the container.
  auto users = [&](const std::string& id) {
    return id == a.id ? std::vector<std::string>{"web-1"} : std::vector<std::string>{};
  };
  try {
    store.remove("app:1", false, users);
    FAIL("removed an image in use");
  } catch (const berth::Error& e) {
    CHECK(std::string(e.what()) ==
          "unable to remove image app:1: image is being used by container web-1");
    CHECK(e.hint() == "remove the container first or use -f");
    CHECK(e.exit_code() == 125);
  }
  CHECK(store.find("app:1"));

  // By id with several tags: must be forced.
  store.tag("other", "other:2");
  CHECK(error_of([&] {
          store.remove(b.id.substr(7, 12), false, no_users);
        }).find("must be forced") != std::string::npos);

  // Forced on an image in use: untagged only; it stays (dangling) so its layer stays.
  lines = store.remove("app:1", true, users);
  CHECK(lines == std::vector<std::string>{"Untagged: app:1"});
  REQUIRE(store.find(a.id));
  CHECK(store.find(a.id)->repo_tags.empty());
  CHECK(error_of([&] { store.remove(a.id, true, users); }).find("being used by container web-1") !=
        std::string::npos);

  // Another image sharing the layer goes; the layer stays for the dangling one.
  lines = store.remove(b.id, true, no_users);
  CHECK(lines == std::vector<std::string>{"Untagged: other:2", "Untagged: other:latest",
                                          "Deleted: " + b.id});
  CHECK_FALSE(fs::exists(store.root() + "/blobs/sha256/" + b.id.substr(7)));
  CHECK(fs::exists(layer_dir + "/diff/etc/hostname"));

  // The last image using the layer, no longer in use: layer and layer blob go too.
  lines = store.remove(a.id.substr(7, 6), false, no_users);
  CHECK(lines == std::vector<std::string>{"Deleted: " + a.id,
                                          "Deleted: " + sha256_digest(fs::read_file(file))});
  CHECK_FALSE(fs::exists(layer_dir));
  CHECK(store.list().empty());
  CHECK(fs::list_dir(store.root() + "/blobs/sha256").empty());
  CHECK(fs::list_dir(store.root() + "/tmp").empty());

  CHECK(error_of([&] { store.remove("gone", false, no_users); }) == "No such image: gone");
}
