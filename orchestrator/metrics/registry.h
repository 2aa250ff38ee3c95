#pragma once
// The one place that knows each metric's unit, kind and direction: a data file
// (orchestrator/metrics/registry.yaml, compiled into the binary) plus stated defaults for
// names it does not list. Lookup order: exact name, then the file's `metrics:` patterns in
// file order, then its `defaults:` rules in file order (protocol.md section 6 states them),
// then the built-in last resort (counter, neutral, 5%).
//
// Gauges are reduced to three metrics (<name>, <name>.min, <name>.max); looking up
// "<gauge>.min" or "<gauge>.max" answers with the gauge's own info.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace foliolab::metrics {

enum class Kind { kCounter, kGauge, kValue };
enum class Direction { kHigher, kLower, kNeutral };

const char* to_string(Kind kind);
const char* to_string(Direction direction);
std::optional<Kind> kind_from_string(std::string_view text);
std::optional<Direction> direction_from_string(std::string_view text);

// The default change a comparison must reach to be called a regression or improvement:
// 5% for workload results, 1% for vmstat-type counters (LKP's rule, reference.md section 5).
inline constexpr double kDefaultThresholdPct = 5.0;

struct MetricInfo {
  std::string unit;
  Kind kind = Kind::kCounter;
  Direction direction = Direction::kNeutral;
  double threshold_pct = kDefaultThresholdPct;
  // A rate where higher is better (ops/s, MB/s): comparisons use the harmonic mean.
  bool rate = false;
  std::string summary;  // one line for people; empty for defaulted names
  bool known = false;   // false: the default rule for its family was applied
};

class Registry {
 public:
  // Parses a registry file; throws common::UsageError naming file:line:column.
  static Registry load(const std::filesystem::path& file);
  static Registry parse(const std::string& yaml_text, const std::string& origin);
  static Registry load_default();  // the registry.yaml shipped with foliolab (embedded)

  MetricInfo lookup(const std::string& name) const;
  // Workload descriptors (and manifests that carry them) add their metrics: an exact entry.
  void set(const std::string& name, MetricInfo info);
  // Entries of `other` take precedence over this registry's (a user's --registry file).
  void overlay(const Registry& other);

 private:
  struct Rule {
    std::string pattern;  // fnmatch(3) glob, '*' also matches '.'
    MetricInfo info;
  };
  std::optional<MetricInfo> lookup_exact(const std::string& name) const;

  std::map<std::string, MetricInfo> exact_;
  std::vector<Rule> patterns_;  // `metrics:` keys holding '*', file order
  std::vector<Rule> defaults_;  // `defaults:` rules, file order
};

}  // namespace foliolab::metrics
