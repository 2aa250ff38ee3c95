#include "kernel/source.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/process.h"

namespace foliolab::kernel {
namespace fs = std::filesystem;
using common::InfraError;
using common::UsageError;

fs::path debian_tarball(const std::string& package) {
  return fs::path("/usr/src") / (package + ".tar.xz");
}

namespace {

// Hashing a 150 MB tarball costs ~0.2 s; memoised by (path, size, mtime) so that a cache hit
// stays well under the 2 s target even on a cold page cache.
std::string tarball_identity(const fs::path& tarball, const fs::path& cache_dir, bool remember) {
  struct stat st {};
  if (::stat(tarball.c_str(), &st) != 0) throw InfraError("cannot stat " + tarball.string());
  std::string memo_key = fmt::format("{}|{}|{}", tarball.string(), st.st_size, st.st_mtim.tv_sec);
  fs::path memo = cache_dir / "sources" / "tarball-ids.json";
  nlohmann::json j = nlohmann::json::object();
  if (fs::exists(memo)) {
    j = nlohmann::json::parse(common::read_file(memo), nullptr, false);
    if (j.is_discarded() || !j.is_object()) j = nlohmann::json::object();
    if (j.contains(memo_key) && j[memo_key].is_string()) return j[memo_key].get<std::string>();
  }
  std::string id = "tar-" + common::hash_file(tarball);
  if (!remember) return id;
  j[memo_key] = id;
  fs::create_directories(memo.parent_path());
  common::write_file_atomic(memo, j.dump(2));
  return id;
}


// A directory tree's identity without reading 1 GB of sources: for a git checkout the tree id of
// HEAD plus the hash of `git diff HEAD` and untracked files; otherwise (path, size, mtime) of
// every file. The second is weaker (a same-size edit within the same second is missed) and
// documented as such in docs/kernel-build.md.
std::string directory_identity(const fs::path& dir) {
  if (fs::exists(dir / ".git")) {
    common::Hasher h;
    h.field("head-tree", git(dir, {"rev-parse", "HEAD^{tree}"}, "git rev-parse"));
    h.field("diff", git(dir, {"diff", "HEAD", "--binary"}, "git diff"));
    h.field("untracked", git(dir, {"ls-files", "--others", "--exclude-standard"}, "git ls-files"));
    return "dir-" + h.hex();
  }
  common::Hasher h;
  std::vector<std::string> entries;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    struct stat st {};
    ::stat(it->path().c_str(), &st);
    entries.push_back(fmt::format("{}|{}|{}.{}", it->path().lexically_relative(dir).string(), st.st_size,
                                  st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) h.field("f", e);
  return "dir-" + h.hex();
}

// Extracts a kernel tarball (one top folder holding the tree, as Debian's linux-source and
// kernel.org's linux-X.Y tarballs are) to `to`, through a temporary folder beside it.
void extract_tarball(const fs::path& tarball, const fs::path& sources, const fs::path& to) {
  spdlog::info("extracting {} (once; about a minute)", tarball.string());
  common::TemporaryDirectory tmp(sources, ".extract");
  auto r = common::run_process({"tar", "-C", tmp.path().string(), "-xf", tarball.string()});
  if (!r.ok()) throw InfraError(fmt::format("extracting {} failed ({}): {}", tarball.string(), r.describe(), r.output));
  fs::path top;
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    ++entries;
    if (e.is_directory()) top = e.path();
  }
  if (entries != 1 || top.empty() || !fs::exists(top / "Makefile") || !fs::exists(top / "mm"))
    throw UsageError(fmt::format("{} does not hold one kernel tree (a single top folder with a Makefile and mm/)",
                                 tarball.string()));
  fs::remove_all(to);
  fs::rename(top, to);
}

}  // namespace

std::string source_identity(const config::KernelSource& source, const fs::path& cache_dir, bool remember) {
  switch (source.kind) {
    case config::KernelSource::Kind::kDebian: {
      auto tarball = debian_tarball(source.debian_package);
      if (!fs::exists(tarball))
        throw InfraError(fmt::format("kernel source {} is missing: get the Debian package {} with "
                                     "`bash ci/get-debian-source {}` (from any Debian suite, without changing "
                                     "which version of any other package the host resolves)",
                                     tarball.string(), source.debian_package, source.debian_package));
      return tarball_identity(tarball, cache_dir, remember);
    }
    case config::KernelSource::Kind::kTarball:
      return tarball_identity(source.path, cache_dir, remember);
    case config::KernelSource::Kind::kPath:
      return directory_identity(source.path);
    case config::KernelSource::Kind::kGit:
      return "git-" + git(source.path, {"rev-parse", "--verify", "--quiet", source.git_ref + "^{tree}"},
                          fmt::format("ref '{}' is not a commit of this repository", source.git_ref));
  }
  throw InfraError("internal: unknown source kind");
}

PreparedSource prepare_source(const config::KernelSource& source, const fs::path& cache_dir) {
  PreparedSource out;
  out.id = source_identity(source, cache_dir);
  out.description = source.describe();
  const fs::path sources = cache_dir / "sources";
  fs::create_directories(sources);
  switch (source.kind) {
    case config::KernelSource::Kind::kPath:
      out.pristine = source.path;
      return out;
    case config::KernelSource::Kind::kDebian:
    case config::KernelSource::Kind::kTarball:
      out.pristine = sources / out.id;
      if (!fs::exists(out.pristine / "Makefile"))
        extract_tarball(source.kind == config::KernelSource::Kind::kDebian ? debian_tarball(source.debian_package)
                                                                          : source.path,
                        sources, out.pristine);
      return out;
    case config::KernelSource::Kind::kGit: {
      out.pristine = sources / out.id;
      if (fs::exists(out.pristine / "Makefile")) return out;
      // A detached worktree: the user's checkout and branches stay untouched.
      fs::remove_all(out.pristine);
      git(source.path, {"worktree", "prune"}, "git worktree prune");
      git(source.path, {"worktree", "add", "--detach", "--force", out.pristine.string(), source.git_ref},
          "git worktree add");
      return out;
    }
  }
  return out;
}

void link_tree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  bool warned = false;
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    const auto& p = it->path();
    if (it->is_directory() && p.filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    // lexically: fs::relative() would resolve symlinks and put them where they point.
    fs::path dst = to / p.lexically_relative(from);
    if (it->is_symlink()) {
      std::error_code ec;
      fs::copy_symlink(p, dst, ec);
    } else if (it->is_directory()) {
      fs::create_directories(dst);
    } else if (it->is_regular_file()) {
      std::error_code ec;
      fs::create_hard_link(p, dst, ec);
      if (ec) {
        if (!warned) spdlog::debug("hard links unavailable ({}), copying the tree", ec.message());
        warned = true;
        fs::copy_file(p, dst, fs::copy_options::overwrite_existing);
      }
    }
  }
}

std::string git(const fs::path& repo, const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv = {"git", "-C", repo.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = common::run_process(argv);
  if (!r.ok()) {
    auto out = r.output;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    throw UsageError(fmt::format("{}: {}: {}", repo.string(), what, out));
  }
  auto out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace foliolab::kernel
