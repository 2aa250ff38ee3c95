#pragma once
// Kernel sources and their identity. A prepared source is a pristine tree foliolab never
// writes to (the user's directory, a git worktree of the user's repository, or the extracted
// Debian tarball), plus an identity hash that changes whenever its content does.
#include <filesystem>
#include <string>
#include <vector>

#include "config/suite.h"

namespace foliolab::kernel {

struct PreparedSource {
  std::string id;                  // content identity (tarball hash, git tree id, or tree scan)
  std::filesystem::path pristine;  // the tree to build from; never modified
  std::string description;         // for logs and metadata
};

// The Debian tarball for `package` (/usr/src/<package>.tar.xz).
std::filesystem::path debian_tarball(const std::string& package);

// Cheap identity for a cache-key computation; no extraction. Throws UsageError for a missing
// source or bad git ref, InfraError for a missing Debian package (naming it).
// `remember`: a tarball's hash is memoised in <cache>/sources/tarball-ids.json; false (a dry
// run, which writes nothing) reads the memo but never writes it.
std::string source_identity(const config::KernelSource& source, const std::filesystem::path& cache_dir,
                            bool remember = true);

// `git -C repo args...`: its output without the trailing newline. Throws UsageError
// "<repo>: <what>: <git's message>" when git fails.
std::string git(const std::filesystem::path& repo, const std::vector<std::string>& args, const std::string& what);

// Identity + a pristine tree (extracting or creating a worktree when needed, once).
PreparedSource prepare_source(const config::KernelSource& source, const std::filesystem::path& cache_dir);

// A hard-link farm of `from` at `to` (files linked, directories created, .git skipped); falls
// back to copies across file systems. Used for per-arch build trees.
void link_tree(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace foliolab::kernel
