// foliolab check SUITE --workload NAME [--kernel VARIANT] [--arch A] [--base REF]
//                (--crash [REGEX] | --metric METRIC --against DIR [--good-variant V] [--bad-variant V])
//                [--repetitions N] [--max-repetitions M] [--results DIR] [--json]
// One verdict on the commit the variant's repository has checked out, for `git bisect run`.
// Exit codes are git bisect run's (bisect/check.h): 0 good, 1 bad, 125 skip, 128+N stopped, and
// 255 for anything that cannot be judged (a usage or infrastructure error, a bad argument
// included), so that git bisect run stops instead of counting the commit bad.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "bisect/check.h"
#include "cli/bisect_args.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/process.h"

namespace foliolab::cli {
namespace {

struct CheckArgs {
  bisect::CheckOptions options;
  CandidateArgs common;
  std::string against, base;
};

int run(CheckArgs& args) {
  auto& o = args.options;
  fill_candidate_options(args.common, o.run);
  if (!args.against.empty()) o.against = args.against;
  if (!args.base.empty()) o.base = args.base;
  return bisect::run_check(o, std::cout);
}

// Whatever cannot be judged stops git bisect run (exit 255) instead of counting as bad.
int run_for_git_bisect(CheckArgs& args) {
  try {
    return run(args);
  } catch (const common::Interrupted& e) {
    spdlog::error("{}: stopped", e.what());
    return 128 + e.signal();
  } catch (const std::exception& e) {
    spdlog::error("{} (cannot judge this commit: exit {})", e.what(), bisect::kCannotJudge);
    return bisect::kCannotJudge;
  }
}

}  // namespace

void add_check_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<CheckArgs>();
  auto& o = args->options;
  auto* cmd = app.add_subcommand("check", "judge the commit checked out in the variant's repository: git bisect run's "
                                          "exit codes (0 good, 1 bad, 125 skip)");
  cmd->add_option("suite", args->common.suite, "suite YAML file")->required();
  cmd->add_option("--workload", o.run.workload, "which of the suite's workloads[].name to run")->required();
  cmd->add_option("--kernel", o.run.kernel, "the kernel variant, with a {git: REPO} source (default: the baseline)");
  cmd->add_option("--arch", args->common.arch, "x86_64, arm64 or riscv64 (default: the suite's first)");
  cmd->add_option("--base", args->base, "build HEAD as this commit plus the commits since (default: the variant's ref)");
  auto* crash = cmd->add_option("--crash", args->common.crash, "crash mode; optional REGEX over crash titles (default: any)")
                    ->expected(0, 1);
  cmd->add_option("--metric", o.run.metric, "metric mode: a metric name (wl.collapsed_fraction, vmstat.*, ...)");
  cmd->add_option("--against", args->against, "metric mode: a results folder holding runs of the good and bad end");
  cmd->add_option("--good-variant", o.good_variant, "metric mode: the good end's variant in --against (default: its baseline)");
  cmd->add_option("--bad-variant", o.bad_variant, "metric mode: the bad end's variant in --against (default: the other one)");
  cmd->add_option("--repetitions", o.run.repetitions, "runs (default 1 for crash, 3 for metric)")->check(CLI::Range(1, 1000));
  cmd->add_option("--max-repetitions", o.run.max_repetitions, "metric mode: runs it may get (default 3 x N)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--results", args->common.results, "results folder (default results/<suite>-check-<workload>)");
  cmd->add_option("--cache", args->common.cache, "artifact cache (default ~/.cache/foliolab or the suite's cache:)");
  cmd->add_flag("--json", o.run.json, "print the verdict as JSON on stdout");
  cmd->add_option("--build-jobs", o.run.build_jobs, "make -j for kernel builds (default: cores)")->check(CLI::Range(0, 1024));
  cmd->callback([args, &runner, crash] {
    args->common.crash_given = crash->count() > 0;
    runner = [args] { return run_for_git_bisect(*args); };
  });
}

}  // namespace foliolab::cli
