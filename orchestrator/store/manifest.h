#pragma once
// manifest.json of one stored run (docs/protocol.md section 5): every input that determined the
// run, and what came out of it. Written by ResultStore::write_run, read back by the index and
// by compare. A reader rejects a schema it does not know.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collect/run_result.h"
#include "metrics/registry.h"

namespace foliolab::store {

inline constexpr int kManifestSchema = 1;

struct KernelInfo {
  std::string variant;       // the suite's name for this kernel
  std::string artifact_key;  // kernel artifact key (content hash)
  std::string release;       // uname -r
  std::string source;        // "debian:linux-source-6.12", "git:/r@v6.12", ...
  std::vector<std::string> patches;
  nlohmann::json metadata = nlohmann::json::object();  // the artifact's metadata.json
};

struct MachineInfo {
  std::string profile;  // "x86_64-q35"
  std::string accel;    // "tcg" | "kvm"
  std::string qemu;     // first line of qemu-system-* --version
  std::string memory;   // "2G"
  int cpus = 0;
};

struct WorkloadInfo {
  std::string name;      // the suite's entry name (unique within the suite)
  std::string workload;  // descriptor name
  std::map<std::string, std::string> params;
};

struct HostInfo {
  std::string hostname;
  std::string foliolab;  // version of the orchestrator that ran it
};

struct Timing {
  std::string started;   // ISO 8601 UTC
  std::string finished;
  double boot_seconds = 0;
  double total_seconds = 0;
};

struct CrashInfo {
  std::string title;
  std::string excerpt;
  std::string kind;
};

struct ErrorInfo {
  std::string where;
  std::string name;
  std::string message;
};

struct RunManifest {
  int schema = kManifestSchema;
  std::string suite;
  std::string job_key;
  std::string baseline;  // the suite's baseline variant (lets compare default to it)
  KernelInfo kernel;
  std::string arch;
  MachineInfo machine;
  std::map<std::string, std::string> settings;
  std::string settings_id;  // settings_id(settings) unless the planner set one
  WorkloadInfo workload;
  int repetition = 0;
  HostInfo host;
  Timing timing;
  std::string outcome = "infra-error";
  std::string outcome_reason;
  std::optional<CrashInfo> crash;
  int oom_kills = 0;
  std::vector<std::string> kernel_notices;  // kernel messages that change what was measured
  // Fewest counter samples (before, during, after) in one step of the run; -1 when not
  // recorded (manifests older than the field). Gauge means over fewer than a handful of
  // samples depend on when the sampler happened to look, and compare says so.
  int samples_per_step = -1;
  // Per traced event, the events its histograms may be short by (metrics::trace_lost); a
  // non-zero entry makes the run's trace.<event>.* counts lower bounds, and compare says so.
  std::map<std::string, std::int64_t> trace_lost;
  std::vector<ErrorInfo> errors;
  std::map<std::string, double> metrics;
  // Unit, kind and direction of the workload's own metrics (wl.*), from its descriptor, so that
  // a results tree compares the same way on a machine without that descriptor.
  std::map<std::string, metrics::MetricInfo> metric_info;
};

// The outcome names of the CLI contract ("ok", "workload-failed", ...). Kept here so that the
// store reads and writes them without linking the collect stage.
const char* outcome_name(collect::Outcome outcome);
bool is_known_outcome(const std::string& name);

// A short stable hash of the settings (12 hex digits): equal settings, equal id.
std::string settings_id(const std::map<std::string, std::string>& settings);

// Fills the result fields (outcome, reason, crash, oom_kills, errors, timing seconds, metrics:
// the reduction of the records) from a RunResult. The inputs (kernel, arch, ...) stay as set.
void record_result(RunManifest& manifest, const collect::RunResult& result, const metrics::Registry& registry);

nlohmann::json to_json(const RunManifest& manifest);
// Throws common::UsageError("<origin>: <problem>") for a manifest that is not schema 1.
RunManifest manifest_from_json(const nlohmann::json& json, const std::string& origin);

}  // namespace foliolab::store
