#pragma once
// Typed view of the data-channel records of one guest run (docs/protocol.md section 2).
// Built by collect::RecordParser from untrusted bytes; consumed by metrics (reduction),
// store (manifest) and the CLI. Plain data: no behaviour here.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace foliolab::collect {

struct Hello {
  std::string job_key;
  std::string release;
  std::string version;
  std::string machine;
  std::string arch;
  std::int64_t page_size = 0;
  std::int64_t pmd_kb = 0;
  std::vector<std::int64_t> thp_sizes_kb;
  std::int64_t mem_total_kb = 0;
  std::int64_t cpus = 0;
  std::map<std::string, bool> features;
  double t = 0;  // seconds since the agent started
};

struct SettingRecord {
  std::string name, path, requested, actual;
};

struct SwapRecord {
  std::string kind, device;
  std::int64_t size_bytes = 0;
  std::int64_t priority = 0;
};

// An error reported by the agent, or found by the host in the channel (where = "channel").
struct RunError {
  std::string where;
  std::string name;
  std::string message;
};

enum class SamplePhase { kBefore, kDuring, kAfter };

struct Sample {
  SamplePhase phase = SamplePhase::kDuring;
  std::int64_t t_ms = 0;
  std::map<std::string, std::int64_t> values;
};

struct WorkloadMetric {
  std::string name;  // "wl.<name>"
  double value = 0;
  std::string unit;
};

struct TraceHistogram {
  std::string event;  // "huge_memory/mm_khugepaged_scan_pmd"
  std::string field;  // "status"
  std::map<std::string, std::int64_t> counts;
  std::int64_t lost = 0;
};

enum class StepStatus { kOk, kFailed, kIntegrityFailed, kSkipped, kTimeout, kUnfinished };

struct StepRecords {
  std::string name;
  std::string workload;
  std::vector<std::string> argv;
  std::int64_t deadline_s = 0;
  std::vector<Sample> samples;  // in arrival order
  std::vector<WorkloadMetric> metrics;
  std::vector<TraceHistogram> traces;
  StepStatus status = StepStatus::kUnfinished;  // kUnfinished until step-end arrives
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string reason;
  double seconds = 0;
};

struct RunRecords {
  std::optional<Hello> hello;
  std::vector<SettingRecord> settings;
  std::vector<SwapRecord> swaps;
  std::vector<RunError> errors;  // agent errors and channel errors (malformed, over-long lines)
  std::vector<StepRecords> steps;
  bool done = false;
  std::int64_t malformed_lines = 0;  // lines dropped: over-long, invalid, off-schema, over budget
  std::int64_t errors_omitted = 0;   // errors counted but not stored (errors is capped)
};

const char* to_string(StepStatus status);
const char* to_string(SamplePhase phase);
// The protocol's spelling ("integrity-failed", "during"); nullopt for anything else.
// "unfinished" is the host's own state, never a valid step-end status.
std::optional<StepStatus> step_status_from_string(std::string_view text);
std::optional<SamplePhase> sample_phase_from_string(std::string_view text);

}  // namespace foliolab::collect
