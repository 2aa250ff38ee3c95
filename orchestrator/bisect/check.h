#pragma once
// foliolab check: one verdict on the commit a git repository has checked out, for
// `git bisect run foliolab check ...`. The suite's variant must have a {git: REPO} source; its
// HEAD (what git bisect checked out; uncommitted changes are not built) is built as --base
// (default: the variant's ref) plus one patch per commit base..HEAD, so successive steps reuse
// the base's one build tree (an incremental build) and the same kernels `foliolab bisect`
// builds for those commits. When base is not an ancestor of HEAD, or merges lie between, HEAD is
// built on its own (a full build; said in the log). The runs are stored in the results folder
// like any run, under the variant name "<variant>+<12-digit hash>", and reused when asked again.
//
// Crash mode: bad if a run crashes or warns with a title matching REGEX (any title without
// one); another crash, or a run that did not finish, is a skip. Metric mode: the runs against
// the good and the bad variant's runs of the same workload and arch in --against DIR, with
// bisect's statistics; a commit not clearly nearer one end gets more runs up to
// --max-repetitions, then is a skip. A commit that does not build is a skip.
//
// Exit codes are git bisect run's: 0 good, 1 bad, 125 skip; 128+N stopped by signal N; and
// kCannotJudge (255) for a usage or infrastructure error, which makes git bisect run stop
// instead of counting the commit bad.
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "bisect/bisect.h"

namespace foliolab::bisect {

inline constexpr int kCheckSkip = 125;
inline constexpr int kCannotJudge = 255;

struct CheckOptions {
  // suite_file, kernel, arch, workload, crash, crash_pattern, metric, repetitions,
  // max_repetitions, results_dir (default results/<suite>-check-<workload>), cache_dir, json,
  // build_jobs; good, bad, series and resume are not used.
  BisectOptions run;
  std::optional<std::filesystem::path> against;  // metric mode: results folder holding both ends
  std::string good_variant, bad_variant;         // in `against`; defaults: its baseline and the other one
  std::optional<std::string> base;               // the commit HEAD is built on; default: the variant's ref
};

// Throws UsageError / InfraError for what cannot be judged (the caller maps them to
// kCannotJudge).
int run_check(const CheckOptions& options, std::ostream& out);

}  // namespace foliolab::bisect
