#pragma once
// The outcome of one guest run (architecture.md, "Outcome of a run"): exactly one outcome,
// plus what explains it. Produced by collect::classify_run from records + console analysis.
#include <optional>
#include <string>
#include <vector>

#include "collect/records.h"

namespace foliolab::collect {

enum class Outcome {
  kOk,
  kWorkloadFailed,   // nonzero exit / refused setting / malformed channel, no kernel report
  kIntegrityFailed,  // data read back differs from data written
  kKernelWarning,    // WARNING/BUG report but the run finished
  kKernelCrash,      // panic/oops killed the guest
  kBootFailed,       // no hello before the boot deadline
  kTimeout,          // silent console or step deadline
  kSkipped,          // feature absent in this kernel (reason says which)
  kInfraError,       // our side failed; the only outcome retried automatically
};

const char* to_string(Outcome outcome);
std::optional<Outcome> outcome_from_string(const std::string& text);

// A kernel failure report found on the console.
struct CrashReport {
  std::string kind;     // "panic", "oops", "bug", "warning", "kasan", "lockup", "stall", ...
  std::string title;    // one line, e.g. "kernel BUG at include/linux/swapops.h:511"
  std::string excerpt;  // the report's lines (bounded)
  bool fatal = false;   // killed the guest (panic, oops in a context that cannot continue)
};

struct RunResult {
  Outcome outcome = Outcome::kInfraError;
  std::string reason;                  // one line for people: why this outcome
  std::optional<CrashReport> crash;    // the first (most relevant) report
  std::vector<CrashReport> reports;    // every report found, in console order
  int oom_kills = 0;
  std::vector<std::string> kernel_notices;  // collect::ConsoleAnalyzer::notices()
  double boot_seconds = 0;             // QEMU start to hello
  double total_seconds = 0;
  RunRecords records;
};

}  // namespace foliolab::collect
