#pragma once
// Each subcommand registers itself on the CLI11 app and returns the exit code of the contract
// through the callback it installs. cli/ holds only argument parsing and wiring.
#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

#include "doctor/doctor.h"

namespace foliolab::cli {

// Set by a subcommand's callback; main() returns it.
using Runner = std::function<int()>;

struct GlobalOptions {
  bool verbose = false;
  bool quiet = false;
};

void add_build_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_doctor_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_compare_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_reindex_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_workloads_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_boot_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_run_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_bisect_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
void add_check_command(CLI::App& app, Runner& runner, const GlobalOptions& global);
// Checks that later stages contribute to `doctor` (the vm stage's KVM probe guest).
void register_doctor_probes(std::vector<doctor::ExtraCheck>& checks);

}  // namespace foliolab::cli
