#pragma once
// The one place that knows each metric's unit, kind and direction: a data file
// (orchestrator/metrics/registry.yaml) plus stated defaults for names it does not list.
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace foliolab::metrics {

enum class Kind { kCounter, kGauge, kValue };
enum class Direction { kHigher, kLower, kNeutral };

struct MetricInfo {
  std::string unit;
  Kind kind = Kind::kCounter;
  Direction direction = Direction::kNeutral;
  bool known = false;  // false: the default rule for its family was applied
};

class Registry {
 public:
  static Registry load(const std::filesystem::path& file);  // throws UsageError with file:line
  static Registry load_default();  // the registry.yaml shipped with foliolab
  MetricInfo lookup(const std::string& name) const;
  void set(const std::string& name, MetricInfo info);  // workload descriptors add their metrics

 private:
  std::map<std::string, MetricInfo> exact_;
};

}  // namespace foliolab::metrics
