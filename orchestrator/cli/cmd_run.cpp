// foliolab run SUITE [-j N] [--resume] [--results DIR] [--dry-run] [--only GLOB]...
//                    [--fail-on LIST] [--cache DIR] [--build-jobs N]
// The main job: builds the suite's kernels, runs every job of the plan in guests, stores each
// run, prints the comparison. Exit codes in docs/run.md.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "common/errors.h"
#include "runner/suite_run.h"

namespace foliolab::cli {
namespace {

struct RunArgs {
  std::string suite;
  int jobs = 0;
  bool resume = false;
  std::string results;
  std::string cache;
  bool dry_run = false;
  std::vector<std::string> only;
  std::vector<std::string> fail_on;
  int build_jobs = 0;
};

int run(const RunArgs& args) {
  runner::RunOptions options;
  options.suite_file = args.suite;
  options.jobs = args.jobs;
  options.resume = args.resume;
  if (!args.results.empty()) options.results_dir = args.results;
  if (!args.cache.empty()) options.cache_dir = args.cache;
  options.dry_run = args.dry_run;
  options.only = args.only;
  options.build_jobs = args.build_jobs;
  for (const auto& item : args.fail_on) {
    std::stringstream parts(item);
    for (std::string part; std::getline(parts, part, ',');) {
      if (part.empty()) continue;
      auto kind = report::fail_on_from_string(part);
      if (!kind)
        throw common::UsageError(
            fmt::format("--fail-on {}: expected regression, crash, integrity, failure or infra", part));
      options.fail_on.insert(*kind);
    }
  }
  options.command_line = "foliolab run " + args.suite;
  return runner::run_suite(options, std::cout);
}

}  // namespace

void add_run_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "build kernels, run every job of a suite in guests, store and compare");
  cmd->add_option("suite", args->suite, "suite YAML file")->required();
  cmd->add_option("-j,--jobs", args->jobs, "guests at once (default: cores, bounded by host memory)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--resume", args->resume, "complete an interrupted run: skip jobs already stored");
  cmd->add_option("--results", args->results, "results folder (default: the suite's results:, else results/<suite>)");
  cmd->add_option("--cache", args->cache, "artifact cache (default ~/.cache/foliolab or the suite's cache:)");
  cmd->add_flag("--dry-run", args->dry_run, "list the jobs and kernels, build and run nothing");
  cmd->add_option("--only", args->only, "run only jobs whose description matches this glob (repeatable)");
  cmd->add_option("--fail-on", args->fail_on, "exit 1 if present: regression,crash,integrity,failure,infra")
      ->delimiter(',');
  cmd->add_option("--build-jobs", args->build_jobs, "make -j for kernel builds (default: cores)")
      ->check(CLI::Range(0, 1024));
  cmd->callback([args, &runner] { runner = [args] { return run(*args); }; });
}

}  // namespace foliolab::cli
