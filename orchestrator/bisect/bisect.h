#pragma once
// foliolab bisect: the first commit of a git range (--good/--bad refs of the variant's
// {git: ...} source), or the first patch of a variant's series (--series), at which a crash or
// a metric regression appears. Each candidate (the first k patches) is built incrementally in the
// variant's tree, its runs go through runner::run_job and are stored in the results folder like
// any run (so `foliolab compare` shows them, and --resume after kill -9 reuses every stored run),
// and the verdicts come from bisect/judge.h. Exit codes: 0 the first bad patch (or the range it
// narrowed to when candidates were skipped) was found; 1 the ends did not reproduce (good is not
// good or bad is not bad: the evidence is printed); 2 usage; 3 infrastructure; 128+N stopped by
// signal N.
//
// Commits are bisected as a series: the range good..bad, linear (no merges), becomes one patch
// per commit (git format-patch), and candidate k is the good commit plus the first k of them,
// then the variant's own patches. So the variant's one build tree at the good commit moves from
// candidate to candidate rebuilding only the files that differ, as in --series, and the user's
// repository is only read.
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "config/suite.h"

namespace foliolab::bisect {

struct BisectOptions {
  std::filesystem::path suite_file;
  std::string kernel;                 // the variant; empty: the suite's baseline
  std::optional<config::Arch> arch;   // empty: the suite's first arch
  std::string workload;               // a workloads[].name of the suite
  bool series = false;
  // Series mode: patch counts (defaults 0 and all). Commit mode: refs of the variant's git
  // repository (both required).
  std::optional<std::string> good, bad;
  bool crash = false;
  std::string crash_pattern;          // crash mode: a regex over crash titles; empty: the bad end's title
  std::string metric;                 // metric mode: "wl.collapsed_fraction", "vmstat.thp_collapse_alloc", ...
  double min_change_pct = 0;
  int repetitions = 0;                // per candidate; 0: 1 in crash mode, 3 in metric mode
  int max_repetitions = 0;            // metric mode; 0: 3 x repetitions
  std::optional<std::filesystem::path> results_dir;  // default: results/<suite>-bisect-<workload>
  std::optional<std::filesystem::path> cache_dir;
  bool resume = false;
  bool json = false;
  int build_jobs = 0;
};

int run_bisect(const BisectOptions& options, std::ostream& out);

}  // namespace foliolab::bisect
