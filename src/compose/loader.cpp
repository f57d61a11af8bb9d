// The loader pipeline: discover → parse → interpolate → canonical → include → extends → merge →
// resolve env/paths → normalize → profiles → consistency → bind → typed Project.
#include "berth/compose/loader.h"

#include <unistd.h>

#include <cctype>
#include <iterator>
#include <set>

#include "berth/util/fs.h"
#include "berth/util/memory.h"
#include "berth/util/std_streams.h"
#include "berth/util/strings.h"
#include "passes.h"

extern char** environ;

namespace berth::compose {
namespace {

const char* kComposeFiles[] = {"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"};
const char* kOverrideFiles[] = {"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                                "docker-compose.override.yaml"};

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

std::string current_dir() {
  char buf[4096];
  return getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

struct Context {
  const LoadOptions& options;
  Diagnostics& diag;
  std::string home;
  std::vector<std::string> include_chain;  // absolute paths being included (cycle detection)
};

// One file through parse → interpolate → canonical (no include/extends). `docs` when already parsed.
NodePtr parse_file(const std::string& text, const std::string& file, const Environment& env, Context& ctx,
                   std::vector<NodePtr>* parsed = nullptr) {
  auto docs = parsed ? std::move(*parsed) : parse_yaml(text, file, ctx.diag);
  NodePtr root;
  for (auto& doc : docs) {
    if (doc->is_null()) continue;
    if (!doc->is_map()) {
      ctx.diag.error(doc->pos, "", "top-level object must be a mapping", "start the file with `services:`");
      continue;
    }
    if (!root) {
      root = doc;
    } else {
      merge_into(*root, *doc);
    }
  }
  if (!root) {
    if (!ctx.diag.has_errors()) ctx.diag.error(Pos{file, 0, 0}, "", "empty compose file", "add `services:`");
    return Node::mapping(Pos{file, 1, 1});
  }
  if (ctx.options.interpolate) interpolate_tree(*root, env, ctx.diag);
  canonicalize(*root, ctx.diag);
  return root;
}

NodePtr read_and_parse(const std::string& path, const Environment& env, Context& ctx, const Pos& from) {
  auto text = fs::read_file_if_exists(path);
  if (!text) {
    ctx.diag.error(from, "", "file " + path + " not found", "check the path");
    return nullptr;
  }
  return parse_file(*text, path, env, ctx);
}

void apply_includes(Node& root, const std::string& dir, const Environment& env, Context& ctx);
void apply_extends(Node& root, const std::string& file, const std::string& dir, const Environment& env,
                   Context& ctx);

// Service `name` of `root` with its own extends chain applied.
NodePtr resolve_extends(Node& root, const std::string& name, const std::string& file, const std::string& dir,
                        const Environment& env, Context& ctx, std::set<std::string>& visiting) {
  auto services = root.find("services");
  auto svc = services ? services->find(name) : nullptr;
  if (!svc || !svc->is_map()) return svc;
  auto ext = svc->find("extends");
  if (!ext || !ext->is_map()) return svc;
  std::string key = file + "#" + name;
  if (!visiting.insert(key).second) {
    ctx.diag.error(ext->pos, "services." + name + ".extends", "extends cycle detected at service \"" + name + "\"",
                   "remove the loop");
    return svc;
  }
  auto base_name_node = ext->find("service");
  std::string base_name = base_name_node ? base_name_node->value : "";
  NodePtr base;
  if (auto f = ext->find("file"); f && f->is_scalar()) {
    std::string other = absolute_path(f->value, dir, ctx.home);
    auto other_root = read_and_parse(other, env, ctx, f->pos);
    if (other_root) {
      strip_merge_tags(*other_root);
      std::string other_dir = fs::dirname(other);
      base = resolve_extends(*other_root, base_name, other, other_dir, env, ctx, visiting);
      // Relative paths in the extended file are relative to that file.
      if (base && base->is_map() && other_dir != dir) resolve_service_paths(*base, other_dir, ctx.home);
    }
  } else {
    base = resolve_extends(root, base_name, file, dir, env, ctx, visiting);
  }
  visiting.erase(key);
  if (!base || !base->is_map()) {
    ctx.diag.error(ext->pos, "services." + name + ".extends",
                   "cannot extend service \"" + name + "\": service \"" + base_name + "\" not found",
                   "check `extends.service` and `extends.file`");
    svc->erase("extends");
    return svc;
  }
  auto local = svc->deep_copy();
  local->erase("extends");
  auto merged = merge_service(*base, *local);
  merged->erase("extends");
  merged->pos = svc->pos;
  services->set(name, merged);
  return merged;
}

void apply_extends(Node& root, const std::string& file, const std::string& dir, const Environment& env,
                   Context& ctx) {
  auto services = root.find("services");
  if (!services || !services->is_map()) return;
  // Only services with an `extends` mapping change; the others would be looked up for nothing
  // (a linear search each, quadratic in the number of services).
  std::vector<std::string> names;
  for (auto& [name, svc] : services->map)
    if (auto ext = svc->is_map() ? svc->find("extends") : nullptr; ext && ext->is_map()) names.push_back(name);
  for (const auto& name : names) {
    std::set<std::string> visiting;
    resolve_extends(root, name, file, dir, env, ctx, visiting);
  }
}

// Full per-file pipeline, used for -f files and included files.
NodePtr load_one(const std::string& text, const std::string& file, const std::string& dir, const Environment& env,
                 Context& ctx, std::vector<NodePtr>* parsed = nullptr) {
  auto root = parse_file(text, file, env, ctx, parsed);
  apply_includes(*root, dir, env, ctx);
  apply_extends(*root, file, dir, env, ctx);
  return root;
}

// include: each entry is a project of its own (own directory and .env); its resources are
// imported, and local definitions are merged over imported ones (compose-go behaviour).
void apply_includes(Node& root, const std::string& dir, const Environment& env, Context& ctx) {
  auto inc = root.find("include");
  if (!inc) return;
  root.erase("include");
  if (!inc->is_seq()) {
    ctx.diag.error(inc->pos, "include", "must be a list", "");
    return;
  }
  for (size_t i = 0; i < inc->items.size(); ++i) {
    const auto& item = inc->items[i];
    std::vector<std::string> paths, env_files;
    std::string project_dir;
    if (item->is_scalar()) {
      paths.push_back(item->value);
    } else if (item->is_map()) {
      if (auto p = item->find("path")) {
        if (p->is_scalar()) paths.push_back(p->value);
        else for (auto& x : p->items) paths.push_back(x->value);
      }
      if (auto pd = item->find("project_directory")) project_dir = absolute_path(pd->value, dir, ctx.home);
      if (auto ef = item->find("env_file")) {
        if (ef->is_scalar()) env_files.push_back(ef->value);
        else for (auto& x : ef->items) env_files.push_back(x->value);
      }
    }
    if (paths.empty()) {
      ctx.diag.error(item->pos, path_index("include", i), "include needs a path", "");
      continue;
    }
    for (auto& p : paths) p = absolute_path(p, dir, ctx.home);
    if (project_dir.empty()) project_dir = fs::dirname(paths[0]);
    // The included project's .env, under the parent's environment (the parent wins).
    Environment child_env = env;
    if (env_files.empty() && fs::exists(project_dir + "/.env")) env_files.push_back(project_dir + "/.env");
    for (auto& ef : env_files) {
      std::string abs = absolute_path(ef, dir, ctx.home);
      if (auto text = fs::read_file_if_exists(abs))
        for (auto& [k, v] : parse_dotenv(*text, abs, env, ctx.diag)) child_env.emplace(k, v);
    }
    NodePtr included;
    for (const auto& p : paths) {
      if (std::find(ctx.include_chain.begin(), ctx.include_chain.end(), p) != ctx.include_chain.end()) {
        ctx.diag.error(item->pos, path_index("include", i), "include cycle detected: " + p, "remove the loop");
        continue;
      }
      auto text = fs::read_file_if_exists(p);
      if (!text) {
        ctx.diag.error(item->pos, path_index("include", i), "included file " + p + " not found", "check the path");
        continue;
      }
      ctx.include_chain.push_back(p);
      auto tree = load_one(*text, p, project_dir, child_env, ctx);
      ctx.include_chain.pop_back();
      if (!included) {
        strip_merge_tags(*tree);
        included = tree;
      } else {
        merge_into(*included, *tree);
      }
    }
    if (!included) continue;
    resolve_paths(*included, project_dir, ctx.home);
    for (const char* kind : {"services", "networks", "volumes", "secrets", "configs"}) {
      auto theirs = included->find(kind);
      if (!theirs || !theirs->is_map()) continue;
      auto ours = root.find(kind);
      if (!ours) ours = Node::mapping(root.pos), root.set(kind, ours);
      for (auto& [name, def] : theirs->map) {
        auto local = ours->find(name);
        if (!local) ours->set(name, def);
        else if (std::string(kind) == "services") ours->set(name, merge_service(*def, *local));
        else {
          auto merged = def->deep_copy();
          merge_into(*merged, *local);
          ours->set(name, merged);
        }
      }
    }
  }
}

std::vector<std::string> discover(const std::string& start) {
  std::string dir = start;
  while (true) {
    for (const char* name : kComposeFiles) {
      std::string candidate = fs::join(dir, name);
      if (fs::exists(candidate)) {
        std::vector<std::string> files{candidate};
        for (const char* o : kOverrideFiles)
          if (fs::exists(fs::join(dir, o))) {
            files.push_back(fs::join(dir, o));
            break;
          }
        return files;
      }
    }
    if (dir == "/" || dir.empty()) return {};
    dir = fs::dirname(dir);
  }
}

void add_env_file(Environment& env, const std::string& path, const Environment& os_env, Diagnostics& diag,
                  bool required) {
  auto text = fs::read_file_if_exists(path);
  if (!text) {
    if (required) throw berth::Error("couldn't find env file: " + path, "check --env-file", kExitFileNotFound);
    return;
  }
  for (auto& [k, v] : parse_dotenv(*text, path, os_env, diag)) env.emplace(k, v);  // OS env wins
}

}  // namespace

std::string normalize_project_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-') out += l;
  }
  size_t start = out.find_first_not_of("_-");
  return start == std::string::npos ? std::string() : out.substr(start);
}

bool is_valid_project_name(const std::string& name) {
  return !name.empty() && name == normalize_project_name(name) && std::isalnum(static_cast<unsigned char>(name[0]));
}

LoadResult load_project(const LoadOptions& options) {
  Diagnostics diag;
  Environment os_env = options.environment ? *options.environment : process_environment();
  std::string cwd = options.working_dir.empty() ? current_dir() : options.working_dir;
  Context ctx{options, diag, os_env.count("HOME") ? os_env["HOME"] : std::string("/root"), {}};

  // Files and their contents.
  std::vector<std::pair<std::string, std::string>> files = options.contents;
  if (files.empty()) {
    std::vector<std::string> names = options.files;
    if (names.empty() && os_env.count("COMPOSE_FILE")) {
      std::string sep = os_env.count("COMPOSE_PATH_SEPARATOR") ? os_env["COMPOSE_PATH_SEPARATOR"] : ":";
      for (auto& f : str::split(os_env["COMPOSE_FILE"], sep.empty() ? ':' : sep[0]))
        if (!f.empty()) names.push_back(f);
    }
    if (names.empty()) names = discover(options.project_directory.empty() ? cwd : options.project_directory);
    if (names.empty())
      throw berth::Error("no configuration file provided: not found",
                         "run in a directory with compose.yaml, or pass -f FILE", kExitFileNotFound);
    for (const auto& n : names) {
      if (n == "-") {
        std_streams();
        files.emplace_back(cwd + "/-", std::string(std::istreambuf_iterator<char>(std::cin), {}));
        continue;
      }
      std::string abs = absolute_path(n, cwd, ctx.home);
      auto text = fs::read_file_if_exists(abs);
      if (!text)
        throw berth::Error("open " + abs + ": no such file or directory", "check the -f path", kExitFileNotFound);
      files.emplace_back(abs, std::move(*text));
    }
  } else {
    for (auto& [name, text] : files) name = absolute_path(name, cwd, ctx.home);
  }
  // The tree, the merged model and its JSON take about 40 bytes of heap per byte of YAML.
  std::size_t yaml_bytes = 0;
  for (const auto& file : files) yaml_bytes += file.second.size();
  memory::use_huge_pages_for_heap(48 * yaml_bytes);

  std::string project_dir = !options.project_directory.empty()
                                ? absolute_path(options.project_directory, cwd, ctx.home)
                                : (files[0].first != cwd + "/-" ? fs::dirname(files[0].first)
                                                                                            : cwd);

  // Environment: OS wins over .env / --env-file.
  Environment env = os_env;
  std::vector<std::string> env_files = options.env_files;
  if (env_files.empty() && os_env.count("COMPOSE_ENV_FILES"))
    for (auto& f : str::split(os_env["COMPOSE_ENV_FILES"], ','))
      if (!f.empty()) env_files.push_back(f);
  if (!env_files.empty()) {
    for (auto& f : env_files) add_env_file(env, absolute_path(f, cwd, ctx.home), os_env, diag, true);
  } else if (!(os_env.count("COMPOSE_DISABLE_ENV_FILE") && os_env["COMPOSE_DISABLE_ENV_FILE"] == "true")) {
    add_env_file(env, project_dir + "/.env", os_env, diag, false);
  }

  // Project name: -p > COMPOSE_PROJECT_NAME > name: > directory. Needs a first look at `name:`.
  std::string name = options.project_name;
  std::string name_source = "-p";
  if (name.empty() && env.count("COMPOSE_PROJECT_NAME") && !env["COMPOSE_PROJECT_NAME"].empty())
    name = env["COMPOSE_PROJECT_NAME"], name_source = "COMPOSE_PROJECT_NAME";
  if (!name.empty() && !is_valid_project_name(name))
    throw berth::Error("invalid project name \"" + name + "\" (from " + name_source +
                           "): must consist only of lowercase alphanumeric characters, hyphens, and "
                           "underscores as well as start with a letter or number",
                       "use \"" + normalize_project_name(name) + "\"", kExitParseFailure);
  std::vector<std::vector<NodePtr>> parsed;
  for (const auto& [file, text] : files) parsed.push_back(parse_yaml(text, file, diag));
  if (name.empty())
    for (const auto& docs : parsed)
      for (const auto& doc : docs)
        if (doc->is_map())
          if (auto n = doc->find("name"); n && n->is_scalar()) {
            auto r = options.interpolate ? interpolate_string(n->value, env) : InterpolateResult{n->value};
            if (r.ok && !r.value.empty()) name = normalize_project_name(r.value);
          }
  if (name.empty()) name = normalize_project_name(fs::basename(project_dir));
  if (name.empty())
    throw berth::Error("project name must not be empty", "pass -p NAME or set `name:`", kExitParseFailure);
  env["COMPOSE_PROJECT_NAME"] = name;

  // Per file, then merged in order.
  NodePtr model;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [file, text] = files[i];
    auto tree = load_one(text, file, fs::dirname(file), env, ctx, &parsed[i]);
    if (!model) {
      strip_merge_tags(*tree);  // !reset / !override only mean something in a later file
      model = tree;
    } else {
      merge_into(*model, *tree);
    }
  }
  if (auto v = model->find("version")) {
    diag.warn(v->pos, "version",
              "the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion");
    model->erase("version");
  }
  model->set("name", Node::scalar(name, model->pos));

  if (options.resolve_paths) resolve_paths(*model, project_dir, ctx.home);
  if (options.resolve_env) resolve_environment(*model, env, diag);
  if (options.normalize) normalize(*model, name);
  std::vector<std::string> active = options.profiles;
  if (active.empty() && env.count("COMPOSE_PROFILES"))
    for (auto& p : str::split(env["COMPOSE_PROFILES"], ','))
      if (!str::trim(p).empty()) active.push_back(str::trim(p));
  auto disabled = apply_profiles(*model, active, options.services, diag);
  json bound = to_json(*model, diag);  // schema errors first: cross-checks assume sane shapes
  if (!diag.has_errors() && options.consistency) validate_consistency(*model, diag);
  diag.throw_if_errors();
  // The tree is done: freeing it now lets the typed project below reuse its memory (fewer page faults).
  model.reset();

  LoadResult result;
  result.model = std::move(bound);
  result.warnings = diag.warnings();
  if (!options.typed_project) {
    result.environment = std::move(env);
    return result;
  }
  result.project = project_from_json(result.model);
  result.project.working_dir = project_dir;
  for (auto& [file, text] : files) result.project.config_files.push_back(file);
  result.project.disabled_services = disabled;
  for (auto& [key, secret] : result.project.secrets)
    if (!secret.environment.empty() && env.count(secret.environment)) secret.content = env[secret.environment];
  for (auto& [key, config] : result.project.configs)
    if (!config.environment.empty() && env.count(config.environment)) config.content = env[config.environment];
  result.environment = std::move(env);
  return result;
}

}  // namespace berth::compose
