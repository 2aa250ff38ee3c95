#pragma once
// What `foliolab bisect` and `foliolab check` share: a candidate kernel, what its runs need, the
// one way its runs are got (from the results store, or built and run now through
// runner::run_job), and a git range turned into one patch per commit. Internal to the stage.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bisect/bisect.h"
#include "bisect/judge.h"
#include "catalog/catalog.h"
#include "config/suite.h"
#include "kernel/builder.h"
#include "metrics/registry.h"
#include "runner/signals.h"
#include "store/result_store.h"

namespace foliolab::bisect {

struct Stopped {};  // a stop request ended a guest or a build: nothing more may start

// One point of a search: the variant with the first k patches of its series, or at the k-th
// commit after the good one; or, for check, the commit the user's repository has checked out.
struct Candidate {
  std::string label;  // "patch 3/5: 0003-mm-page_io-comment.patch", "no patch", "commit 1a2b3c4d5e6f mm: ..."
  config::KernelVariant variant;
  std::string commit;  // commit mode: the full hash
};

// Everything the steps share.
struct Env {
  const BisectOptions& options;
  config::Suite suite;
  config::WorkloadEntry entry;
  config::Arch arch = config::Arch::kX86_64;
  catalog::Catalog catalog;
  metrics::Registry registry;
  kernel::BuildOptions build;
  store::ResultStore& store;
  const runner::SignalWatch& signals;
  std::string baseline;  // compare's baseline for the stored runs (bisect: the good end)
  int repetitions = 1;
  int max_repetitions = 1;
};

// The build options of a bisect or check: the cache from --cache, else the suite's, else the
// default; make -j from --build-jobs.
kernel::BuildOptions build_options(const BisectOptions& o, const config::Suite& suite);

// The candidate's first `repetitions` runs, from the store where they are already (resume) and
// otherwise built and run now, one guest at a time, each stored as soon as it ends. Throws
// Stopped after a stop request, UsageError for a patch that does not apply, InfraError for a
// kernel that does not build.
std::vector<RunSample> ensure_runs(Env& env, const Candidate& c, int repetitions);

// ensure_runs, with a kernel that does not build or a patch that does not apply (the builder's
// UsageError and InfraError) as a skip: nullopt, and `skip` says why.
std::optional<std::vector<RunSample>> runs_or_skip(Env& env, const Candidate& c, int repetitions, Judgement& skip);

// The direction of a metric: a wl.* metric from the workload's descriptor (UsageError when it
// has no such metric), any other from the registry.
metrics::Direction metric_direction(const Env& env, const std::string& metric);

// The suite's workload entry of that name; UsageError listing the known ones.
const config::WorkloadEntry& find_entry(const config::Suite& suite, const std::string& name);

// The full hash of a commit of `repo`; UsageError naming the ref when it is none.
std::string resolve_commit(const std::filesystem::path& repo, const std::string& ref);

// One commit of a range as a patch file.
struct CommitPatch {
  std::filesystem::path file;  // under the folder given to commit_patches
  std::string hash;            // the commit's full hash
  std::string subject;         // its subject, without "[PATCH n/m]"
};

// Whether from..to (hashes) can be built as a series of its commits: `from` an ancestor of
// `to` and no merge commit between them.
struct RangeShape {
  bool ancestor = false;
  std::string first_merge;  // the newest merge commit between them; empty: none
  bool linear() const { return ancestor && first_merge.empty(); }
};
RangeShape range_shape(const std::filesystem::path& repo, const std::string& from, const std::string& to);

// The commits from..to of a linear range (range_shape().linear(), checked by the caller) as
// one patch per commit that changes something, oldest first, written by git format-patch into
// `dir` (emptied first). The repository is only read.
std::vector<CommitPatch> commit_patches(const std::filesystem::path& repo, const std::string& from,
                                        const std::string& to, const std::filesystem::path& dir);

// A variant's name for the runs of one commit: "<variant>+<12 hex digits>".
std::string commit_variant_name(const std::string& variant, const std::string& hash);

std::string first_line(const std::string& text);

}  // namespace foliolab::bisect
