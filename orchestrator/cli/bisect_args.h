#pragma once
// What `foliolab bisect` and `foliolab check` read from their command lines alike.
#include <string>

#include "bisect/bisect.h"

namespace foliolab::cli {

struct CandidateArgs {
  std::string suite, arch, results, cache;
  std::string crash;  // "" after a bare --crash
  bool crash_given = false;
};

// Fills suite_file, arch, results_dir, cache_dir, crash and crash_pattern; UsageError for an
// unknown arch.
void fill_candidate_options(const CandidateArgs& args, bisect::BisectOptions& o);

}  // namespace foliolab::cli
