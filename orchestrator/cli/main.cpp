// foliolab: entry point. Parses arguments, sets up logging, maps errors to exit codes:
// 0 ok, 1 failures asked for (--fail-on), 2 usage/configuration, 3 infrastructure.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/process.h"

int main(int argc, char** argv) {
  using foliolab::common::ExitCode;
  CLI::App app{"foliolab: THP collapse and swap testbed for Linux mm patch series"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "foliolab 0.1.0");
  foliolab::cli::GlobalOptions global;
  app.add_flag("-v,--verbose", global.verbose, "debug logging");
  app.add_flag("-q,--quiet", global.quiet, "warnings and errors only");
  foliolab::cli::Runner runner;
  foliolab::cli::add_build_command(app, runner, global);
  foliolab::cli::add_doctor_command(app, runner, global);
  foliolab::cli::add_compare_command(app, runner, global);
  foliolab::cli::add_reindex_command(app, runner, global);
  foliolab::cli::add_workloads_command(app, runner, global);
  foliolab::cli::add_boot_command(app, runner, global);
  foliolab::cli::add_run_command(app, runner, global);
  foliolab::cli::add_bisect_command(app, runner, global);
  foliolab::cli::add_check_command(app, runner, global);

  // Logs go to stderr so that --json output on stdout stays machine-readable.
  auto logger = spdlog::stderr_color_mt("foliolab");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^[%H:%M:%S.%e %l]%$ %v");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    // git bisect run would count exit 2 as "bad": a check it cannot run stops the bisect.
    if (rc != 0 && app.got_subcommand("check")) return 255;
    return rc == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  }
  spdlog::set_level(global.verbose ? spdlog::level::debug
                                   : global.quiet ? spdlog::level::warn : spdlog::level::info);
  // Ctrl-C or SIGTERM stops the children (make, tar, ...) and unwinds through Interrupted;
  // boot and run replace this with their own handling, which stops guests cleanly.
  foliolab::common::interrupt_children_on_signals();
  try {
    return runner ? runner() : 0;
  } catch (const foliolab::common::Interrupted& e) {
    spdlog::error("{}: stopped; what was finished is kept (a rerun continues from there)", e.what());
    return 128 + e.signal();
  } catch (const foliolab::common::UsageError& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(ExitCode::kUsage);
  } catch (const foliolab::common::InfraError& e) {
    spdlog::error("{}", e.what());
    return static_cast<int>(ExitCode::kInfra);
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return static_cast<int>(ExitCode::kInfra);
  }
}
