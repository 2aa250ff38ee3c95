#pragma once
// The job manifest a guest runs (/job.json, docs/protocol.md section 1), built from typed
// inputs. This is the one place that knows which kernel file each guest setting is written to
// (thp.enabled -> /sys/kernel/mm/transparent_hugepage/enabled, sysctl.vm.swappiness ->
// /proc/sys/vm/swappiness, ...): nothing else in the host names sysfs or procfs paths.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "config/suite.h"

namespace foliolab::image {

// One knob write, in the order the agent applies them.
struct KnobSetting {
  std::string name;   // "thp.enabled", "thp.hugepages-64kB.enabled", "sysctl.vm.swappiness"
  std::string path;   // "/sys/kernel/mm/transparent_hugepage/enabled"
  std::string value;  // as the kernel takes it
  bool absent_ok = false;  // a missing file is fine (the value means "off")
  bool rounds_up = false;  // a number the kernel rounds up (buffer_size_kb): reading back more is fine
};

// Translates settings with exactly one value per knob (the run matrix has already picked one;
// a knob with several values is an internal error) into the ordered list the agent applies:
// zswap first (off before any swap exists), then THP globals, per-size THP, khugepaged, sysctl,
// the tracing buffer size.
// Throws common::UsageError naming the knob (and the suite location) for a knob it does not
// know or a name that could escape its directory.
std::vector<KnobSetting> knob_settings(const config::GuestSettings& guest);

// Sets one guest setting given as "name=value" on a command line, by the names job.json uses:
// thp.<knob>, thp.hugepages-<N>kB.enabled (or thp.sizes.<size>), khugepaged.<knob>,
// sysctl.<name>, zswap (on|off), swap.zram / swap.disk (sizes), swap.zram_algorithm,
// trace (an event, may repeat), sample_ms. Replaces earlier values of the same knob.
// Throws UsageError for an unknown name or a malformed value.
void apply_setting(config::GuestSettings& guest, const std::string& name, const std::string& value);

// "64kB", "64K", "2M", "2048kB" -> "64kB" / "2048kB" (the hugepages-<N>kB directory name).
std::string thp_size_dir_name(const std::string& size);

// A tracepoint to count during steps, by the value of one field of its formatted line.
struct TraceEvent {
  std::string event;  // "huge_memory/mm_khugepaged_scan_pmd"
  std::string field;  // "status"
  bool operator==(const TraceEvent&) const = default;
};

// "subsystem/event" or "subsystem/event:field". Without a field, the field the kernel's
// format prints the outcome in is used (status= for the khugepaged scans, ret= for swap-in,
// result= for file collapse), else "status". Throws UsageError for a malformed name.
TraceEvent parse_trace_event(const std::string& text);

struct JobStep {
  std::string name;      // unique in the job; also the memcg name
  std::string workload;  // descriptor name
  std::vector<std::string> argv;  // argv[0] absolute in the image
  std::int64_t deadline_s = 0;
  std::map<std::string, std::string> memcg;  // cgroup v2 file -> value; empty: no memcg
  std::optional<std::string> cpus;           // affinity list "0-1"
  std::optional<int> mem_node;               // MPOL_BIND node
  std::vector<std::string> trace;            // the workload's own tracepoints
};

struct Job {
  std::string job_key;
  config::GuestSettings guest;  // one value per knob
  std::vector<JobStep> steps;
};

// The step a suite's workload entry runs: argv from catalog::resolve (parameters validated and
// canonical), the entry's deadline or else the descriptor's (whole seconds, rounded up), memcg
// files, the descriptor's tracepoints. Throws UsageError (unknown workload, bad parameter)
// starting with the entry's location.
JobStep job_step(const catalog::Catalog& catalog, const config::WorkloadEntry& entry);
// The same from a workload already resolved against the catalog (the plan resolves each once).
JobStep job_step(const catalog::ResolvedWorkload& resolved, const config::WorkloadEntry& entry);

// memcg files for a step: memory.max from the suite's memcg.max, swap unlimited.
std::map<std::string, std::string> memcg_files(const config::WorkloadEntry& entry);

// The job.json document (version 1). Trace events are the union of the guest's and every
// step's, in first-seen order.
nlohmann::json job_json(const Job& job);

}  // namespace foliolab::image
