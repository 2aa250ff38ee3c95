// foliolab bisect SUITE (--good REF --bad REF | --series [--good K] [--bad K]) --workload NAME
//                 [--kernel VARIANT] [--arch A] (--crash [REGEX] | --metric METRIC [--min-change PCT])
//                 [--repetitions N] [--max-repetitions M] [--results DIR] [--resume] [--json]
// The first commit of a range, or patch of a variant's series, at which a crash or a metric
// regression appears.
// Exit codes in bisect/bisect.h and docs/bisect.md.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "bisect/bisect.h"
#include "cli/bisect_args.h"
#include "cli/commands.h"
#include "common/errors.h"

namespace foliolab::cli {
namespace {

struct BisectArgs {
  bisect::BisectOptions options;
  CandidateArgs common;
  std::string good, bad;
};

int run(BisectArgs& args) {
  auto& o = args.options;
  fill_candidate_options(args.common, o);
  if (!args.good.empty()) o.good = args.good;
  if (!args.bad.empty()) o.bad = args.bad;
  return bisect::run_bisect(o, std::cout);
}

}  // namespace

void fill_candidate_options(const CandidateArgs& args, bisect::BisectOptions& o) {
  o.suite_file = args.suite;
  if (!args.arch.empty()) {
    o.arch = config::arch_from_string(args.arch);
    if (!o.arch) throw common::UsageError(fmt::format("--arch {}: unknown arch (known: x86_64, arm64, riscv64)", args.arch));
  }
  if (!args.results.empty()) o.results_dir = args.results;
  if (!args.cache.empty()) o.cache_dir = args.cache;
  o.crash = args.crash_given;
  o.crash_pattern = args.crash;
}

void add_bisect_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<BisectArgs>();
  auto& o = args->options;
  auto* cmd = app.add_subcommand("bisect", "find the commit or the patch of a series that causes a crash or a metric regression");
  cmd->add_option("suite", args->common.suite, "suite YAML file")->required();
  cmd->add_flag("--series", o.series, "bisect over the variant's patch series (the first k patches)");
  cmd->add_option("--workload", o.workload, "which of the suite's workloads[].name to run")->required();
  cmd->add_option("--kernel", o.kernel, "the kernel variant (default: the suite's baseline)");
  cmd->add_option("--arch", args->common.arch, "x86_64, arm64 or riscv64 (default: the suite's first)");
  auto* crash = cmd->add_option("--crash", args->common.crash, "crash mode; optional REGEX over crash titles")
                    ->expected(0, 1);
  cmd->add_option("--metric", o.metric, "metric mode: a metric name (wl.collapsed_fraction, vmstat.*, ...)");
  cmd->add_option("--min-change", o.min_change_pct, "metric mode: smallest change in percent that counts");
  cmd->add_option("--good", args->good, "a commit of the variant's git source; --series: patches in the good end (default 0)");
  cmd->add_option("--bad", args->bad, "a later commit; --series: patches in the bad end (default all)");
  cmd->add_option("--repetitions", o.repetitions, "runs per candidate (default 1 for crash, 3 for metric)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--max-repetitions", o.max_repetitions, "metric mode: runs a candidate may get (default 3 x N)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--results", args->common.results, "results folder (default results/<suite>-bisect-<workload>)");
  cmd->add_option("--cache", args->common.cache, "artifact cache (default ~/.cache/foliolab or the suite's cache:)");
  cmd->add_flag("--resume", o.resume, "continue a bisect: every stored run is reused");
  cmd->add_flag("--json", o.json, "print the steps and the answer as JSON on stdout");
  cmd->add_option("--build-jobs", o.build_jobs, "make -j for kernel builds (default: cores)")->check(CLI::Range(0, 1024));
  cmd->callback([args, &runner, crash] {
    args->common.crash_given = crash->count() > 0;
    runner = [args] { return run(*args); };
  });
}

}  // namespace foliolab::cli
