#include "store/manifest.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <utility>

#include "common/errors.h"
#include "common/hash.h"
#include "metrics/reduce.h"

namespace foliolab::store {

namespace {

using Outcome = collect::Outcome;
constexpr std::array<std::pair<Outcome, const char*>, 9> kOutcomeNames{{
    {Outcome::kOk, "ok"},
    {Outcome::kWorkloadFailed, "workload-failed"},
    {Outcome::kIntegrityFailed, "integrity-failed"},
    {Outcome::kKernelWarning, "kernel-warning"},
    {Outcome::kKernelCrash, "kernel-crash"},
    {Outcome::kBootFailed, "boot-failed"},
    {Outcome::kTimeout, "timeout"},
    {Outcome::kSkipped, "skipped"},
    {Outcome::kInfraError, "infra-error"},
}};

// Bounds on what a guest can make us store per run.
constexpr size_t kMaxErrors = 100;
constexpr size_t kMaxErrorText = 4096;
constexpr size_t kMaxExcerpt = 64 * 1024;

std::string bounded(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  return text.substr(0, limit) + " [...]";
}

[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw common::UsageError(fmt::format("{}: {}", origin, what));
}

// Typed getters that name the field on error.
const nlohmann::json& member(const nlohmann::json& obj, const char* key, const std::string& origin) {
  auto it = obj.find(key);
  if (it == obj.end()) bad(origin, fmt::format("missing '{}'", key));
  return *it;
}

std::string get_string(const nlohmann::json& obj, const char* key, const std::string& origin, bool required = true) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) bad(origin, fmt::format("missing '{}'", key));
    return {};
  }
  if (!it->is_string()) bad(origin, fmt::format("'{}' is not a string", key));
  return it->get<std::string>();
}

double get_number(const nlohmann::json& obj, const char* key, const std::string& origin, double fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_number()) bad(origin, fmt::format("'{}' is not a number", key));
  return it->get<double>();
}

int get_int(const nlohmann::json& obj, const char* key, const std::string& origin, int fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_number_integer()) bad(origin, fmt::format("'{}' is not an integer", key));
  return it->get<int>();
}

std::map<std::string, std::string> get_string_map(const nlohmann::json& obj, const char* key, const std::string& origin) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) bad(origin, fmt::format("'{}' is not an object", key));
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
    else out[k] = v.dump();
  }
  return out;
}

}  // namespace

const char* outcome_name(collect::Outcome outcome) {
  for (const auto& [value, name] : kOutcomeNames)
    if (value == outcome) return name;
  return "infra-error";
}

bool is_known_outcome(const std::string& name) {
  for (const auto& entry : kOutcomeNames)
    if (name == entry.second) return true;
  return false;
}

std::string settings_id(const std::map<std::string, std::string>& settings) {
  common::Hasher hasher;
  hasher.field("settings", static_cast<std::int64_t>(settings.size()));
  for (const auto& [name, value] : settings) hasher.field(name, value);
  return hasher.hex().substr(0, 12);
}

void record_result(RunManifest& manifest, const collect::RunResult& result, const metrics::Registry& registry) {
  manifest.outcome = outcome_name(result.outcome);
  manifest.outcome_reason = bounded(result.reason, kMaxErrorText);
  manifest.crash.reset();
  if (result.crash) {
    manifest.crash = CrashInfo{bounded(result.crash->title, 512), bounded(result.crash->excerpt, kMaxExcerpt),
                               result.crash->kind};
  }
  manifest.oom_kills = result.oom_kills;
  manifest.kernel_notices = result.kernel_notices;
  manifest.samples_per_step = -1;
  for (const auto& step : result.records.steps) {
    const int n = static_cast<int>(step.samples.size());
    manifest.samples_per_step = manifest.samples_per_step < 0 ? n : std::min(manifest.samples_per_step, n);
  }
  manifest.errors.clear();
  for (const auto& error : result.records.errors) {
    if (manifest.errors.size() == kMaxErrors) break;
    manifest.errors.push_back(
        ErrorInfo{bounded(error.where, 64), bounded(error.name, 512), bounded(error.message, kMaxErrorText)});
  }
  manifest.timing.boot_seconds = result.boot_seconds;
  manifest.timing.total_seconds = result.total_seconds;
  metrics::Registry with_workload = registry;
  for (const auto& [name, info] : manifest.metric_info) with_workload.set(name, info);
  manifest.metrics = metrics::reduce_run(result, with_workload);
  manifest.trace_lost = metrics::trace_lost(result);
  if (manifest.settings_id.empty()) manifest.settings_id = settings_id(manifest.settings);
}

nlohmann::json to_json(const RunManifest& m) {
  using nlohmann::json;
  json metrics_json = json::object();
  for (const auto& [name, value] : m.metrics)
    if (std::isfinite(value)) metrics_json[name] = value;
  json info_json = json::object();
  for (const auto& [name, info] : m.metric_info) {
    info_json[name] = {{"unit", info.unit},
                       {"kind", metrics::to_string(info.kind)},
                       {"direction", metrics::to_string(info.direction)},
                       {"threshold", info.threshold_pct},
                       {"rate", info.rate}};
  }
  json errors = json::array();
  for (const auto& e : m.errors) errors.push_back({{"where", e.where}, {"name", e.name}, {"message", e.message}});
  json crash = nullptr;
  if (m.crash) crash = {{"title", m.crash->title}, {"excerpt", m.crash->excerpt}, {"kind", m.crash->kind}};
  return json{
      {"schema", m.schema},
      {"suite", m.suite},
      {"job_key", m.job_key},
      {"baseline", m.baseline},
      {"kernel",
       {{"variant", m.kernel.variant},
        {"artifact_key", m.kernel.artifact_key},
        {"release", m.kernel.release},
        {"source", m.kernel.source},
        {"patches", m.kernel.patches},
        {"metadata", m.kernel.metadata}}},
      {"arch", m.arch},
      {"machine",
       {{"profile", m.machine.profile},
        {"accel", m.machine.accel},
        {"qemu", m.machine.qemu},
        {"memory", m.machine.memory},
        {"cpus", m.machine.cpus}}},
      {"settings", m.settings},
      {"settings_id", m.settings_id.empty() ? settings_id(m.settings) : m.settings_id},
      {"workload", {{"name", m.workload.name}, {"workload", m.workload.workload}, {"params", m.workload.params}}},
      {"repetition", m.repetition},
      {"host", {{"hostname", m.host.hostname}, {"foliolab", m.host.foliolab}}},
      {"timing",
       {{"started", m.timing.started},
        {"finished", m.timing.finished},
        {"boot_seconds", m.timing.boot_seconds},
        {"total_seconds", m.timing.total_seconds}}},
      {"outcome", m.outcome},
      {"outcome_reason", m.outcome_reason},
      {"crash", crash},
      {"oom_kills", m.oom_kills},
      {"kernel_notices", m.kernel_notices},
      {"samples_per_step", m.samples_per_step},
      {"trace_lost", m.trace_lost},
      {"errors", errors},
      {"metrics", metrics_json},
      {"metric_info", info_json},
  };
}

RunManifest manifest_from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) bad(origin, "not a JSON object");
  const int schema = get_int(j, "schema", origin, -1);
  if (schema != kManifestSchema) bad(origin, fmt::format("schema {} is not known (expected {})", schema, kManifestSchema));
  RunManifest m;
  m.suite = get_string(j, "suite", origin);
  m.job_key = get_string(j, "job_key", origin);
  m.baseline = get_string(j, "baseline", origin, false);
  const auto& kernel = member(j, "kernel", origin);
  if (!kernel.is_object()) bad(origin, "'kernel' is not an object");
  m.kernel.variant = get_string(kernel, "variant", origin);
  m.kernel.artifact_key = get_string(kernel, "artifact_key", origin, false);
  m.kernel.release = get_string(kernel, "release", origin, false);
  m.kernel.source = get_string(kernel, "source", origin, false);
  if (auto it = kernel.find("patches"); it != kernel.end() && it->is_array())
    for (const auto& p : *it)
      if (p.is_string()) m.kernel.patches.push_back(p.get<std::string>());
  if (auto it = kernel.find("metadata"); it != kernel.end() && it->is_object()) m.kernel.metadata = *it;
  m.arch = get_string(j, "arch", origin);
  if (auto it = j.find("machine"); it != j.end() && it->is_object()) {
    m.machine.profile = get_string(*it, "profile", origin, false);
    m.machine.accel = get_string(*it, "accel", origin, false);
    m.machine.qemu = get_string(*it, "qemu", origin, false);
    m.machine.memory = get_string(*it, "memory", origin, false);
    m.machine.cpus = get_int(*it, "cpus", origin, 0);
  }
  m.settings = get_string_map(j, "settings", origin);
  m.settings_id = get_string(j, "settings_id", origin, false);
  if (m.settings_id.empty()) m.settings_id = settings_id(m.settings);
  const auto& workload = member(j, "workload", origin);
  if (!workload.is_object()) bad(origin, "'workload' is not an object");
  m.workload.name = get_string(workload, "name", origin);
  m.workload.workload = get_string(workload, "workload", origin, false);
  m.workload.params = get_string_map(workload, "params", origin);
  m.repetition = get_int(j, "repetition", origin, 0);
  if (auto it = j.find("host"); it != j.end() && it->is_object()) {
    m.host.hostname = get_string(*it, "hostname", origin, false);
    m.host.foliolab = get_string(*it, "foliolab", origin, false);
  }
  if (auto it = j.find("timing"); it != j.end() && it->is_object()) {
    m.timing.started = get_string(*it, "started", origin, false);
    m.timing.finished = get_string(*it, "finished", origin, false);
    m.timing.boot_seconds = get_number(*it, "boot_seconds", origin, 0);
    m.timing.total_seconds = get_number(*it, "total_seconds", origin, 0);
  }
  m.outcome = get_string(j, "outcome", origin);
  if (!is_known_outcome(m.outcome)) bad(origin, fmt::format("unknown outcome '{}'", m.outcome));
  m.outcome_reason = get_string(j, "outcome_reason", origin, false);
  if (auto it = j.find("crash"); it != j.end() && it->is_object()) {
    m.crash = CrashInfo{get_string(*it, "title", origin, false), get_string(*it, "excerpt", origin, false),
                        get_string(*it, "kind", origin, false)};
  }
  m.oom_kills = get_int(j, "oom_kills", origin, 0);
  m.samples_per_step = get_int(j, "samples_per_step", origin, -1);
  if (auto it = j.find("trace_lost"); it != j.end() && it->is_object())
    for (const auto& [event, lost] : it->items())
      if (lost.is_number_integer()) m.trace_lost[event] = lost.get<std::int64_t>();
  if (auto it = j.find("kernel_notices"); it != j.end() && it->is_array())
    for (const auto& n : *it)
      if (n.is_string()) m.kernel_notices.push_back(n.get<std::string>());
  if (auto it = j.find("errors"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      m.errors.push_back(ErrorInfo{get_string(e, "where", origin, false), get_string(e, "name", origin, false),
                                   get_string(e, "message", origin, false)});
    }
  }
  if (auto it = j.find("metrics"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) bad(origin, "'metrics' is not an object");
    for (const auto& [name, value] : it->items()) {
      if (!value.is_number()) continue;  // null (non-finite when written) or garbage
      m.metrics[name] = value.get<double>();
    }
  }
  if (auto it = j.find("metric_info"); it != j.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      if (!value.is_object()) continue;
      metrics::MetricInfo info;
      info.unit = get_string(value, "unit", origin, false);
      if (auto kind = metrics::kind_from_string(get_string(value, "kind", origin, false))) info.kind = *kind;
      if (auto dir = metrics::direction_from_string(get_string(value, "direction", origin, false)))
        info.direction = *dir;
      info.threshold_pct = get_number(value, "threshold", origin, metrics::kDefaultThresholdPct);
      if (auto r = value.find("rate"); r != value.end() && r->is_boolean()) info.rate = r->get<bool>();
      info.known = true;
      m.metric_info[name] = info;
    }
  }
  return m;
}

}  // namespace foliolab::store
