#pragma once
// Per-run reduction of a step's records into named metrics (docs/protocol.md section 6):
// counters after - before (first and last sample holding the name, in arrival order), gauges
// mean (and <name>.min / <name>.max) over every sample, workload values as reported, trace
// histograms as trace.<event without subsystem>.<value> plus trace.<event>.total (present
// whenever the event was traced, 0 if it never fired) and trace.<event>.lost_events (the
// events the histogram may be short by: ring-buffer overflow, unusable lines; a value named
// total or lost_events is not counted). Kinds come from the registry.
//
// Names and values come from the guest: a name that is not a plain metric name (letters,
// digits and _ . : / + -, at most kMaxMetricName characters) and a value that is not finite
// are dropped, never passed on.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "collect/records.h"
#include "collect/run_result.h"
#include "metrics/registry.h"

namespace foliolab::metrics {

inline constexpr std::size_t kMaxMetricName = 160;
bool is_valid_metric_name(std::string_view name);

std::map<std::string, double> reduce_step(const collect::StepRecords& step, const Registry& registry);

// The metrics of a whole run: every step reduced in order (a job normally runs one step; a
// later step's value replaces an earlier one of the same name), plus console.oom_kills.
// Per traced event ("huge_memory/mm_khugepaged_scan_pmd"), the events its histograms may be
// short by, over every step of the run (0: complete). For the manifest and `foliolab boot`.
std::map<std::string, std::int64_t> trace_lost(const collect::RunResult& result);

std::map<std::string, double> reduce_run(const collect::RunResult& result, const Registry& registry);

}  // namespace foliolab::metrics
