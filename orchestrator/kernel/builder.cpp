#include "kernel/builder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <thread>

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/process.h"
#include "common/units.h"
#include "config/data_dir.h"
#include "kernel/kconfig.h"
#include "kernel/patches.h"
#include "kernel/source.h"

namespace foliolab::kernel {
namespace fs = std::filesystem;
using common::InfraError;
using common::UsageError;
using config::Arch;

namespace {

// Bump when the build procedure changes in a way that changes artifacts.
// 2: fragment requests are written after the base config, in request order (choice picks win).
constexpr const char* kRecipeVersion = "2";

const Toolchain kToolchains[] = {
    {Arch::kX86_64, "x86_64", "x86_64-linux-gnu-", "bzImage", "arch/x86/boot/bzImage", "gcc-x86-64-linux-gnu"},
    {Arch::kArm64, "arm64", "aarch64-linux-gnu-", "Image", "arch/arm64/boot/Image", "gcc-aarch64-linux-gnu"},
    {Arch::kRiscv64, "riscv", "riscv64-linux-gnu-", "Image", "arch/riscv/boot/Image", "gcc-riscv64-linux-gnu"},
};

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string compiler_version(const Toolchain& tc) {
  std::string cc = tc.cross_compile + "gcc";
  if (!common::find_executable(cc))
    throw InfraError(fmt::format("cross compiler {} not found: install the Debian package {} (ci/install-deps does)",
                                 cc, tc.debian_package));
  auto r = common::run_process({cc, "--version"});
  if (!r.ok()) throw InfraError(fmt::format("{} --version failed: {}", cc, r.output));
  return first_line(r.output);
}

// An exclusive lock on a file for the lifetime of the object: two foliolab processes building
// in the same tree wait for each other instead of corrupting it.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw InfraError("cannot open lock " + path.string());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      spdlog::info("waiting for another foliolab build using {}", path.parent_path().string());
      ::flock(fd_, LOCK_EX);
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// Runs make with a heartbeat: every 20 s the elapsed time and the log's last line.
common::ProcessResult run_make(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                               const fs::path& log, const std::string& label) {
  std::atomic<bool> finished{false};
  std::mutex m;
  std::condition_variable cv;
  auto start = std::chrono::steady_clock::now();
  std::thread heartbeat([&] {
    std::unique_lock lock(m);
    while (!cv.wait_for(lock, std::chrono::seconds(20), [&] { return finished.load(); })) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string last = common::tail_lines(log, 1);
      while (!last.empty() && last.back() == '\n') last.pop_back();
      spdlog::info("[{}] building, {} elapsed: {}", label, common::format_seconds(s), last);
    }
  });
  common::ProcessResult r;
  try {
    r = common::run_process(argv, {.env = env, .output_file = log});
  } catch (...) {
    finished = true;
    cv.notify_all();
    heartbeat.join();
    throw;
  }
  {
    std::lock_guard lock(m);
    finished = true;
  }
  cv.notify_all();
  heartbeat.join();
  return r;
}

std::set<std::string> read_state(const fs::path& state) {
  std::set<std::string> out;
  if (!fs::exists(state)) return out;
  auto j = nlohmann::json::parse(common::read_file(state), nullptr, false);
  if (j.is_object() && j.contains("touched") && j["touched"].is_array())
    for (const auto& f : j["touched"])
      if (f.is_string()) out.insert(f.get<std::string>());
  return out;
}

void write_state(const fs::path& state, const std::set<std::string>& touched) {
  nlohmann::json j;
  j["touched"] = touched;
  common::write_file_atomic(state, j.dump(1));
}

}  // namespace

const Toolchain& toolchain(Arch arch) {
  for (const auto& t : kToolchains)
    if (t.arch == arch) return t;
  throw InfraError("internal: no toolchain for arch");
}

std::vector<std::pair<std::string, std::string>> required_build_tools() {
  return {{"make", "make"}, {"flex", "flex"}, {"bison", "bison"}, {"bc", "bc"}, {"patch", "patch"},
          {"tar", "tar"},   {"xz", "xz-utils"}, {"perl", "perl"}, {"git", "git"}};
}

BuildInputs resolve_inputs(const config::KernelVariant& variant, Arch arch, const BuildOptions& options) {
  BuildInputs in;
  in.compiler = compiler_version(toolchain(arch));
  in.source_id = source_identity(variant.source, options.cache_dir, options.write_cache);
  const fs::path kconfig = config::data_dir() / "images" / "kconfig";
  in.fragments = {kconfig / "common.config", kconfig / (std::string(config::to_string(arch)) + ".config")};
  for (const auto& f : in.fragments)
    if (!fs::exists(f)) throw InfraError(fmt::format("foliolab's kconfig fragment {} is missing", f.string()));
  in.fragments.insert(in.fragments.end(), variant.config.begin(), variant.config.end());
  return in;
}

std::string artifact_key(const config::KernelVariant& variant, Arch arch, const BuildInputs& inputs) {
  // The merged .config is a function of these inputs (base config + fragments, in order, against
  // this source), so hashing them identifies it without running kconfig on a cache hit.
  common::Hasher h;
  h.field("recipe", kRecipeVersion);
  h.field("source", inputs.source_id);
  h.field("arch", config::to_string(arch));
  h.field("compiler", inputs.compiler);
  h.field("base_config", variant.base_config);
  for (const auto& entry : variant.patches)
    for (const auto& p : load_series(entry)) {
      h.field("patch-strip", p.strip);
      h.field("patch", p.text);
    }
  for (const auto& f : inputs.fragments) h.file("fragment", f);
  return h.hex();
}

namespace {

using MakeStep = std::function<void(std::vector<std::string> targets, const std::string& what)>;

// The config step: base config (tinyconfig or defconfig) + fragments merged, olddefconfig, then
// the survival check against the symbols this tree's Kconfig defines (one set of fragments
// serves 6.12 and 7.3: a symbol a version lacks is a warning naming it and the version).
// Returns the warnings and the tree's version; throws UsageError when a required symbol did not
// survive.
struct ConfiguredTree {
  std::vector<std::string> warnings;
  std::string version;  // "7.3.4", from the tree's Makefile
};
ConfiguredTree configure_tree(const MakeStep& make_step, const fs::path& tree, const fs::path& obj,
                                        const std::string& base_config, const std::vector<fs::path>& fragment_paths,
                                        const std::string& label) {
  spdlog::info("[{}] config: {} + {} fragment(s)", label, base_config, fragment_paths.size());
  make_step({base_config}, base_config);
  std::vector<Fragment> fragments;
  for (const auto& f : fragment_paths) fragments.push_back(parse_fragment(f));
  std::vector<std::string> overrides;
  std::string merged = merge_fragments(parse_dot_config(common::read_file(obj / ".config")), fragments, &overrides);
  for (const auto& o : overrides) spdlog::debug("[{}] override {}", label, o);
  common::write_file_atomic(obj / ".config", merged);
  make_step({"olddefconfig"}, "olddefconfig");
  const KconfigTree kconfig = scan_kconfig_tree(tree);
  ConfigCheck check = check_config(parse_dot_config(common::read_file(obj / ".config")), fragments, &kconfig);
  ConfiguredTree out{{}, kconfig.version};
  for (const auto& d : check.undefined) out.warnings.push_back("kconfig: " + d);
  for (const auto& d : check.dropped) out.warnings.push_back("kconfig: " + d);
  for (const auto& w : out.warnings) spdlog::warn("[{}] {}", label, w);
  if (!check.dropped_required.empty()) {
    std::string list;
    for (const auto& d : check.dropped_required) list += "\n  " + d;
    throw UsageError(fmt::format("[{}] required kconfig symbols did not survive olddefconfig "
                                 "(a kernel without them would measure nothing):{}",
                                 label, list));
  }
  return out;
}

// The artifact paths of a.dir (the layout of builder.h).
void fill_artifact_paths(KernelArtifact& a) {
  a.image = a.dir / "image";
  a.config = a.dir / "config";
  a.system_map = a.dir / "System.map";
  a.vmlinux = a.dir / "vmlinux";
  a.build_log = a.dir / "build.log";
  a.metadata = a.dir / "metadata.json";
}

// Fills release and warnings from a complete artifact in the cache; false when there is none.
bool load_cached_artifact(KernelArtifact& a) {
  if (!fs::exists(a.metadata) || !fs::exists(a.image)) return false;
  auto meta = nlohmann::json::parse(common::read_file(a.metadata), nullptr, false);
  if (meta.is_discarded()) return false;
  a.release = meta.value("release", "");
  for (const auto& w : meta.value("warnings", nlohmann::json::array()))
    if (w.is_string()) a.warnings.push_back(w.get<std::string>());
  a.cached = true;
  return true;
}

// Makes tree_root/src equal to `pristine` plus `series`, remembering in tree_root/state.json
// which files the applied series touched (so the next series can put them back). The state is
// written before applying as the union of the old and new touched sets: a crash mid-apply is
// repaired by the next build.
ApplyResult patch_tree(const std::vector<Patch>& series, const fs::path& pristine, const fs::path& tree_root,
                       const fs::path& scratch) {
  const fs::path state = tree_root / "state.json";
  std::set<std::string> previous = read_state(state);
  std::set<std::string> union_touched = previous;
  for (const auto& p : series) {
    auto t = touched_files(p);
    union_touched.insert(t.begin(), t.end());
  }
  write_state(state, union_touched);
  ApplyResult applied = apply_series(series, pristine, tree_root / "src", previous, scratch);
  write_state(state, applied.touched);
  return applied;
}

// metadata.json of a fresh artifact: what it was built from and how. `build` holds the facts of
// this build (ccache, jobs, seconds, files changed by the patches), copied in as they are.
nlohmann::json artifact_metadata(const KernelArtifact& a, const config::KernelVariant& variant,
                                 const PreparedSource& src, const std::vector<Patch>& series,
                                 const BuildInputs& inputs, const nlohmann::json& build) {
  nlohmann::json meta = build;
  meta["key"] = a.key;
  meta["kernel"] = variant.name;
  meta["arch"] = config::to_string(a.arch);
  meta["release"] = a.release;
  meta["source"] = {{"description", src.description}, {"id", src.id}};
  meta["base_config"] = variant.base_config;
  meta["patches"] = nlohmann::json::array();
  for (const auto& p : series)
    meta["patches"].push_back({{"name", p.name}, {"origin", p.origin.string()}, {"hash", common::hash_string(p.text)}});
  meta["fragments"] = nlohmann::json::array();
  for (const auto& f : inputs.fragments) meta["fragments"].push_back({{"path", f.string()}, {"hash", common::hash_file(f)}});
  meta["compiler"] = inputs.compiler;
  meta["warnings"] = a.warnings;
  meta["built_at"] = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr)));
  return meta;
}

}  // namespace

KernelArtifact build_kernel(const config::KernelVariant& variant, Arch arch, const BuildOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const Toolchain& tc = toolchain(arch);
  const std::string label = fmt::format("{} {}", variant.name, config::to_string(arch));
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };

  BuildInputs inputs = resolve_inputs(variant, arch, options);
  KernelArtifact a;
  a.kernel = variant.name;
  a.arch = arch;
  a.key = artifact_key(variant, arch, inputs);
  a.dir = options.cache_dir / "kernels" / a.key;
  fill_artifact_paths(a);
  auto load_cached = [&] {
    a.seconds = elapsed();
    return load_cached_artifact(a);
  };
  if (load_cached()) {
    spdlog::info("[{}] cached {} ({})", label, a.key.substr(0, 12), a.image.string());
    return a;
  }
  for (const auto& [tool, package] : required_build_tools())
    if (!common::find_executable(tool))
      throw InfraError(fmt::format("{} not found: install the Debian package {} (ci/install-deps does)", tool, package));

  // One build tree per (source, arch); the lock serialises foliolab processes sharing it.
  PreparedSource src = prepare_source(variant.source, options.cache_dir);
  const fs::path tree_root = options.cache_dir / "trees" / fmt::format("{}-{}", src.id, config::to_string(arch));
  FileLock lock(tree_root / "lock");
  if (load_cached()) return a;  // built by another process while we waited
  const fs::path tree = tree_root / "src";
  const fs::path obj = tree_root / "obj";
  if (!fs::exists(tree_root / "src.ready")) {
    spdlog::info("[{}] creating build tree {}", label, tree.string());
    fs::remove_all(tree);
    link_tree(src.pristine, tree);
    common::write_file_atomic(tree_root / "src.ready", src.id);
  }
  fs::create_directories(obj);

  // Patches: the tree becomes pristine + this series, touching only files that differ.
  std::vector<Patch> series;
  for (const auto& entry : variant.patches) {
    auto p = load_series(entry);
    series.insert(series.end(), p.begin(), p.end());
  }
  spdlog::info("[{}] applying {} patch(es)", label, series.size());
  ApplyResult applied = patch_tree(series, src.pristine, tree_root, options.cache_dir / "tmp");
  for (const auto& note : applied.fuzz_notes) {
    spdlog::warn("[{}] {}", label, note);
    a.warnings.push_back(note);
  }

  // Staging artifact dir, renamed into place when complete.
  fs::create_directories(options.cache_dir / "kernels");
  common::TemporaryDirectory staging(options.cache_dir / "kernels", ".build-" + a.key.substr(0, 12));
  const fs::path log = staging.path() / "build.log";
  const int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> make = {"make", "-C", tree.string(), "O=" + obj.string(), "ARCH=" + tc.kernel_arch,
                                   "CROSS_COMPILE=" + tc.cross_compile};
  std::map<std::string, std::string> env = {
      {"KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 2026"},
      {"KBUILD_BUILD_USER", "foliolab"},
      {"KBUILD_BUILD_HOST", "foliolab"},
      {"CCACHE_BASEDIR", tree_root.string()},
      // Never ccache's depend mode, even if a ccache.conf asks for it. It would halve ccache's
      // cold overhead here, but it trusts the compiler's -MMD list, which omits files pulled in
      // with .incbin. x86's arch/x86/boot/compressed/piggy.S .incbin's the compressed vmlinux,
      // so a patched kernel's piggy.o was a cache hit holding the previous build's kernel
      // (bzImage said #2, the guest booted #1). Preprocessor mode sees .incbin, never caches it.
      {"CCACHE_NODEPEND", "1"},
      {"LC_ALL", "C"}};
  auto make_step = [&](std::vector<std::string> extra, const std::string& what) {
    std::vector<std::string> argv = make;
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_make(argv, env, log, label);
    if (!r.ok())
      throw InfraError(fmt::format("[{}] {} failed ({}); last lines of {}:\n{}", label, what, r.describe(),
                                   log.string(), common::tail_lines(log, 25)));
  };

  ConfiguredTree configured = configure_tree(make_step, tree, obj, variant.base_config, inputs.fragments, label);
  a.warnings.insert(a.warnings.end(), configured.warnings.begin(), configured.warnings.end());
  if (options.config_only) {
    for (fs::path* p : {&a.image, &a.system_map, &a.vmlinux, &a.build_log, &a.metadata}) p->clear();
    a.config = options.cache_dir / "configs" / (a.key + ".config");
    fs::create_directories(a.config.parent_path());
    common::write_file_atomic(a.config, common::read_file(obj / ".config"));
    a.release = configured.version;
    a.seconds = elapsed();
    return a;
  }

  // Build.
  std::string cc = tc.cross_compile + "gcc";
  bool ccache = options.use_ccache && common::find_executable("ccache").has_value();
  std::vector<std::string> build = {fmt::format("-j{}", jobs), tc.image_target};
  if (ccache) build.push_back("CC=ccache " + cc);
  spdlog::info("[{}] building {} with -j{}{} (log: {})", label, tc.image_target, jobs, ccache ? " and ccache" : "",
               log.string());
  const auto build_start = std::chrono::steady_clock::now();
  make_step(build, "kernel build");
  const double build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();

  // Artifacts.
  auto copy = [&](const fs::path& from, const std::string& name) {
    if (!fs::exists(from)) throw InfraError(fmt::format("[{}] build produced no {}", label, from.string()));
    fs::copy_file(from, staging.path() / name, fs::copy_options::overwrite_existing);
  };
  copy(obj / tc.image_path, "image");
  copy(obj / ".config", "config");
  copy(obj / "System.map", "System.map");
  copy(obj / "vmlinux", "vmlinux");
  a.release = first_line(common::read_file(obj / "include" / "config" / "kernel.release"));

  const nlohmann::json build_facts = {{"ccache", ccache},
                                      {"jobs", jobs},
                                      {"build_seconds", build_seconds},
                                      {"total_seconds", elapsed()},
                                      // The series' own files, whatever the tree held before;
                                      // and what moving the tree to this series rewrote (it
                                      // also restores files an earlier series had patched).
                                      {"files_changed_by_patches", applied.touched.size()},
                                      {"files_rewritten", applied.files_written}};
  const nlohmann::json meta = artifact_metadata(a, variant, src, series, inputs, build_facts);
  common::write_file_atomic(staging.path() / "metadata.json", meta.dump(2));

  std::error_code ec;
  fs::rename(staging.path(), a.dir, ec);
  if (ec) {
    if (!fs::exists(a.metadata)) throw InfraError(fmt::format("cannot store artifact {}: {}", a.dir.string(), ec.message()));
  } else {
    staging.release();
  }
  a.cached = false;
  a.seconds = elapsed();
  spdlog::info("[{}] built {} in {} ({})", label, a.release, common::format_seconds(a.seconds), a.image.string());
  return a;
}

}  // namespace foliolab::kernel
