#pragma once
// `foliolab run` without the argument parsing: suite -> plan -> kernels -> guests -> store ->
// comparison. Every job of the plan (or of --only) ends stored exactly once under its key;
// an interrupted run is completed by running again with resume (jobs already stored are
// skipped, nothing is run twice). Exit codes (docs/run.md): 0; 1 when fail_on matched; 2
// usage, configuration, or existing results without resume; 3 infrastructure (also when a
// job still ended infra-error after its retry); 128+N when stopped by signal N.
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "report/render.h"
#include "vm/guest.h"

namespace foliolab::runner {

// Makes one backend per worker thread; empty: the QEMU backend.
using BackendFactory = std::function<std::unique_ptr<vm::GuestBackend>()>;

struct RunOptions {
  std::filesystem::path suite_file;
  int jobs = 0;  // guests at once; 0: cores, bounded by host memory
  bool resume = false;
  std::optional<std::filesystem::path> results_dir;
  std::optional<std::filesystem::path> cache_dir;
  bool dry_run = false;
  std::vector<std::string> only;  // globs over Job::describe()
  std::set<report::FailOn> fail_on;
  int build_jobs = 0;             // make -j for kernel builds; 0: cores
  std::string command_line;       // shown in the report header
  BackendFactory backend;         // tests pass a fake; empty: QEMU
};

int run_suite(const RunOptions& options, std::ostream& out);

}  // namespace foliolab::runner
