#pragma once
// One guest from kernel image to classified result: the run's initrd (cached base image + this
// job's job.json), the backend run, the data channel parsed and the console analysed, the
// outcome classified. Shared by `foliolab boot` (one guest, shown live) and `foliolab run`
// (many guests, stored): the logic from kernel image to RunResult stands here once.
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "collect/run_result.h"
#include "config/suite.h"
#include "image/job.h"
#include "metrics/registry.h"
#include "vm/guest.h"

namespace foliolab::runner {

struct GuestJob {
  config::Arch arch = config::Arch::kX86_64;
  std::filesystem::path kernel;  // bzImage / Image
  image::Job job;                // key, one value per guest knob, steps
  std::vector<std::string> cmdline_extra;
  vm::GuestTimeouts timeouts;
  std::filesystem::path cache_dir;  // holds the cached base initramfs
  // Holds the run's initrd and, unless console_log is set, console.log. Must exist.
  std::filesystem::path work_dir;
  std::filesystem::path console_log;  // empty: <work_dir>/console.log
};

struct GuestOutcome {
  // The guest was stopped by SIGINT/SIGTERM: `result` is meaningless and must not be stored.
  bool stopped = false;
  vm::GuestRun run;              // what the backend saw (machine profile, accel, QEMU version)
  collect::RunResult result;     // outcome, crash, records
  std::filesystem::path console_log;
  std::string records_jsonl;     // the data channel verbatim, one line each (bounded)
  bool records_truncated = false;
};

// Called with raw console bytes as they arrive (untrusted: escape before showing them).
using ConsoleSink = std::function<void(std::string_view bytes)>;

inline constexpr std::size_t kMaxRecordsBytes = 64ull << 20;  // records.jsonl bound per run

// Runs the guest. Host-side failures (QEMU missing, socket errors, initrd not writable) become
// outcome infra-error rather than exceptions, so that a caller can retry or store them; a
// GuestSpec that cannot be booted (no such kernel file) still throws common::UsageError.
// A stop request (`stop`) ends the guest and gives `stopped`.
GuestOutcome run_guest(const GuestJob& job, vm::GuestBackend& backend, const vm::StopSignal& stop,
                       const ConsoleSink& console = {});

// Unit, kind and direction of each step's workload metrics ("wl.<name>"), from the catalog.
std::map<std::string, metrics::MetricInfo> workload_metric_info(const catalog::Catalog& catalog,
                                                                const std::vector<image::JobStep>& steps);

// The guest timeouts of a suite (boot and silence from the suite, the rest defaults).
vm::GuestTimeouts suite_timeouts(const config::Timeouts& timeouts);

}  // namespace foliolab::runner
