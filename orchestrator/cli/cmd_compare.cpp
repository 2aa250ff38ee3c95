// foliolab compare [DIR]... [--baseline VARIANT] [--format text|md|json|junit|html] [-o FILE]
//                  [--threshold PCT] [--fail-on regression,crash,integrity,failure,infra]
//                  [--registry FILE] [--all]
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "common/errors.h"
#include "report/compare_command.h"

namespace foliolab::cli {
namespace {

struct CompareArgs {
  std::vector<std::string> dirs;
  std::string baseline;
  std::string format = "text";
  std::string output;
  double threshold = -1;
  std::vector<std::string> fail_on;
  std::string registry;
  bool all = false;
  std::size_t max_runs = 48;
};

int run(const CompareArgs& args, const std::string& command_line) {
  using common::UsageError;
  report::CompareCommand command;
  for (const auto& d : args.dirs) command.input.dirs.emplace_back(d);
  if (command.input.dirs.empty()) command.input.dirs.emplace_back("results");
  if (!args.baseline.empty()) command.input.baseline = args.baseline;
  if (!args.registry.empty()) command.input.registry_file = args.registry;
  if (args.threshold >= 0) command.input.rules.threshold_pct = args.threshold;
  auto format = report::format_from_string(args.format);
  if (!format) throw UsageError(fmt::format("--format {}: expected text, md, json, junit or html", args.format));
  command.format = *format;
  if (!args.output.empty()) command.output = args.output;
  for (const auto& item : args.fail_on) {
    // Accept both "--fail-on a,b" and "--fail-on a --fail-on b".
    std::stringstream parts(item);
    for (std::string part; std::getline(parts, part, ',');) {
      if (part.empty()) continue;
      auto kind = report::fail_on_from_string(part);
      if (!kind)
        throw UsageError(fmt::format("--fail-on {}: expected regression, crash, integrity, failure or infra", part));
      command.render.fail_on.insert(*kind);
    }
  }
  command.render.all_metrics = args.all;
  command.render.max_timeseries_runs = args.max_runs;
  command.render.command_line = command_line;
  return report::run_compare(command, std::cout);
}

}  // namespace

void add_compare_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand("compare", "compare kernel variants over stored results (exit 1 on --fail-on)");
  cmd->add_option("dirs", args->dirs, "results/<suite> folders, or folders holding them (default: results)");
  cmd->add_option("--baseline", args->baseline, "variant to compare against (default: the suite's baseline)");
  cmd->add_option("--format", args->format, "text | md | json | junit | html")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "write here (atomically) instead of stdout");
  cmd->add_option("--threshold", args->threshold, "smallest change in percent to call (default: per metric, 5% / 1%)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--fail-on", args->fail_on, "exit 1 if present: regression,crash,integrity,failure,infra")
      ->delimiter(',');
  cmd->add_option("--registry", args->registry, "metric registry YAML overlaid on the built-in one");
  cmd->add_flag("--all", args->all, "list every metric, not only changes and registry-known ones");
  cmd->add_option("--max-run-charts", args->max_runs, "html: runs whose counter time series are drawn")
      ->capture_default_str();
  cmd->callback([args, &runner] { runner = [args] { return run(*args, "foliolab compare"); }; });
}

}  // namespace foliolab::cli
