// berth image import|ls|rm|tag|inspect: flags to options, then one call into image::Store.
#include <cstdio>
#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "berth/engine/engine.h"
#include "berth/image/store.h"
#include "berth/util/error.h"
#include "berth/util/json.h"
#include "berth/util/time.h"
#include "cli.h"
#include "table.h"

namespace berth::cli {

std::string decimal_size_text(uint64_t bytes, int significant_digits) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double size = static_cast<double>(bytes);
  size_t i = 0;
  while (size >= 1000.0 && i + 1 < sizeof units / sizeof *units) {
    size /= 1000.0;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g%s", significant_digits, size, units[i]);
  return buf;
}

namespace {

std::string created_since(int64_t created_ns) {
  if (created_ns <= 0) return "N/A";
  return timeutil::human_ago((timeutil::now_ns() - created_ns) / 1000000000LL) + " ago";
}

std::string created_at(int64_t created_ns) {
  time_t secs = static_cast<time_t>(created_ns / 1000000000LL);
  tm t{};
  ::gmtime_r(&secs, &t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S +0000 UTC", &t);
  return buf;
}

std::string short_image_id(const std::string& id) { return id.substr(7, 12); }

// Splits "repo:tag" at the tag colon (a registry port has a '/' after it).
std::pair<std::string, std::string> repo_and_tag(const std::string& ref) {
  auto colon = ref.rfind(':');
  auto slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash))
    return {ref, "<none>"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

void report(const Error& e) {
  std::fprintf(stderr, "berth: %s\n", e.what());
  if (!e.hint().empty()) std::fprintf(stderr, "  hint: %s\n", e.hint().c_str());
}

void add_import(CLI::App& image) {
  struct Options {
    std::string file, ref;
    std::vector<std::string> changes;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd =
      image.add_subcommand("import", "Import a rootfs tarball (plain, gzip or zstd) as an image");
  cmd->add_option("file", opts->file, "Tar file, or - to read stdin")->required();
  cmd->add_option("reference", opts->ref, "NAME[:TAG] for the new image");
  cmd->add_option(
         "-c,--change", opts->changes,
         "Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, "
         "STOPSIGNAL, USER, VOLUME, WORKDIR (repeatable)")
      ->expected(1)
      ->allow_extra_args(false)  // one instruction per --change, so positionals stay positionals
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->callback([opts] {
    image::Store store;
    image::Image img = store.import_rootfs(opts->file, opts->ref, opts->changes);
    std::printf("%s\n", img.id.c_str());
  });
}

void add_image_ls(CLI::App& image) {
  struct Options {
    bool quiet = false, no_trunc = false, all = false;
    std::string format, filter;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = image.add_subcommand("ls", "List images");
  cmd->alias("list");
  cmd->add_option("repository", opts->filter, "Only show images of REPOSITORY[:TAG]");
  cmd->add_flag("-q,--quiet", opts->quiet, "Only show image IDs");
  cmd->add_flag("--no-trunc", opts->no_trunc, "Don't truncate output");
  cmd->add_flag("-a,--all", opts->all, "Show all images (no intermediate images exist here)");
  cmd->add_option("--format", opts->format, "'table' (default) or 'json' (one object per line)");
  cmd->callback([opts] {
    if (!opts->format.empty() && opts->format != "json" && opts->format != "table")
      throw Error("unsupported --format '" + opts->format + "'",
                  "use --format json or --format table");
    std::string want_repo, want_tag;
    if (!opts->filter.empty()) {
      image::Reference r = image::parse_reference(opts->filter);
      want_repo = r.repository();
      // "busybox" lists every tag of busybox; "busybox:1" only that one (as Docker).
      if (opts->filter.find(
              ':', opts->filter.rfind('/') == std::string::npos ? 0 : opts->filter.rfind('/')) !=
          std::string::npos)
        want_tag = r.tag;
    }
    image::Store store;
    Table table({"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
    const bool as_table = !opts->quiet && opts->format != "json";
    for (const auto& img : store.list()) {
      std::vector<std::string> tags = img.repo_tags;
      if (tags.empty()) {
        if (!want_repo.empty()) continue;
        tags.push_back("<none>:<none>");
      }
      std::string id = opts->no_trunc ? img.id : short_image_id(img.id);
      for (const auto& t : tags) {
        auto [repo, tag] = t == "<none>:<none>"
                               ? std::pair<std::string, std::string>{"<none>", "<none>"}
                               : repo_and_tag(t);
        if (!want_repo.empty() && (repo != want_repo || (!want_tag.empty() && tag != want_tag)))
          continue;
        if (opts->quiet) {
          std::printf("%s\n", id.c_str());
        } else if (opts->format == "json") {
          ordered_json j = {{"Containers", "N/A"},
                            {"CreatedAt", created_at(img.created_ns)},
                            {"CreatedSince", created_since(img.created_ns)},
                            {"Digest", "<none>"},
                            {"ID", id},
                            {"Repository", repo},
                            {"SharedSize", "N/A"},
                            {"Size", decimal_size_text(img.size)},
                            {"Tag", tag},
                            {"UniqueSize", "N/A"},
                            {"VirtualSize", decimal_size_text(img.size)}};
          std::printf("%s\n", j.dump().c_str());
        } else {
          table.add({repo, tag, id, created_since(img.created_ns), decimal_size_text(img.size)});
        }
      }
    }
    if (as_table) table.print();
  });
}

void add_rm(CLI::App& image) {
  struct Options {
    std::vector<std::string> refs;
    bool force = false;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = image.add_subcommand("rm", "Remove one or more images");
  cmd->alias("remove");
  cmd->add_option("images", opts->refs, "Images to remove")->required();
  cmd->add_flag("-f,--force", opts->force,
                "Remove even if tagged in several repositories or used by containers");
  cmd->callback([opts] {
    image::Store store;
    for (const auto& ref : opts->refs) {
      try {
        for (const auto& line : store.remove(ref, opts->force, engine::containers_using_image))
          std::printf("%s\n", line.c_str());
      } catch (const Error& e) {  // as Docker: go on with the next image, fail at the end
        std::fflush(stdout);
        report(e);
        exit_code() = e.exit_code();
      }
    }
  });
}

void add_tag(CLI::App& image) {
  struct Options {
    std::string source, target;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = image.add_subcommand("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
  cmd->add_option("source", opts->source, "SOURCE_IMAGE[:TAG]")->required();
  cmd->add_option("target", opts->target, "TARGET_IMAGE[:TAG]")->required();
  cmd->callback([opts] { image::Store().tag(opts->source, opts->target); });
}

void add_inspect(CLI::App& image) {
  struct Options {
    std::vector<std::string> refs;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = image.add_subcommand("inspect", "Display detailed information on one or more images");
  cmd->add_option("images", opts->refs, "Images to inspect")->required();
  cmd->callback([opts] {
    image::Store store;
    std::vector<std::string> parts;
    std::vector<std::string> missing;
    for (const auto& ref : opts->refs) {
      try {
        if (auto img = store.find(ref))
          parts.push_back(store.inspect_json(*img));
        else
          missing.push_back(ref);
      } catch (const Error& e) {
        report(e);
        exit_code() = e.exit_code();
      }
    }
    // Docker prints the array of what it found, then an error per missing image.
    std::string out = "[";
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string indented;
      for (char ch : parts[i]) {
        indented += ch;
        if (ch == '\n') indented += "    ";
      }
      out += (i ? ",\n    " : "\n    ") + indented;
    }
    out += parts.empty() ? "]" : "\n]";
    std::printf("%s\n", out.c_str());
    std::fflush(stdout);
    for (const auto& ref : missing) {
      std::fprintf(stderr, "berth: No such image: %s\n", ref.c_str());
      exit_code() = 125;
    }
  });
}

}  // namespace

void add_image_commands(CLI::App& app) {
  auto* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);
  add_import(*image);
  add_image_ls(*image);
  add_rm(*image);
  add_tag(*image);
  add_inspect(*image);
}

}  // namespace berth::cli
