#pragma once
// Per-run reduction of a step's records into named metrics (docs/protocol.md section 6):
// counters after - before, gauges mean (and <name>.min / <name>.max), workload values as
// reported, trace histograms as trace.<event>.<value>. Kinds come from the registry.
#include <map>
#include <string>

#include "collect/records.h"
#include "metrics/registry.h"

namespace foliolab::metrics {

std::map<std::string, double> reduce_step(const collect::StepRecords& step, const Registry& registry);

}  // namespace foliolab::metrics
