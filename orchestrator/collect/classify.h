#pragma once
// Decides the one outcome of a guest run (architecture.md "Outcome of a run") from the
// data-channel records, the console analysis and how the run ended. The precedence of the
// rules is documented in classify.cpp and in docs/outcomes.md; they must stay in step.
#include <string>

#include "collect/console.h"
#include "collect/records.h"
#include "collect/run_result.h"

namespace foliolab::collect {

// How the run ended, as the VM backend saw it.
struct RunEnd {
  bool hello_seen = false;         // a hello record arrived (also checked in the records)
  bool guest_exited = false;       // QEMU exited by itself (reboot after done, panic, ...)
  bool boot_deadline_hit = false;  // no hello before the boot deadline; the guest was killed
  bool step_deadline_hit = false;  // a step outlived its deadline plus the host's margin
  bool silence_hit = false;        // console and data channel silent for too long
  bool infra_error = false;        // our side failed (QEMU would not start, disk full, ...)
  std::string infra_reason;
  double boot_seconds = 0;   // QEMU start to hello
  double total_seconds = 0;  // QEMU start to exit
};

// Exactly one outcome with a one-line reason. `records` is moved into the result.
RunResult classify_run(RunRecords records, const ConsoleAnalyzer& console, const RunEnd& end);

}  // namespace foliolab::collect
