#pragma once
// A comparison of kernel variants over one or more results folders: runs grouped by
// arch x workload x settings, and within a group one row per metric with a cell per variant
// (docs/report-json.md describes the same model as JSON). Built once, then rendered as text,
// markdown, JSON, JUnit or HTML.
//
// Only runs that finished (outcome ok or kernel-warning) contribute metric values; every run
// counts in the outcome table of its cell.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "report/statistics.h"

namespace foliolab::report {

enum class Verdict {
  kBaseline,     // the baseline's own cell
  kImprovement,  // significant, at least the threshold, better in the metric's direction
  kRegression,   // significant, at least the threshold, worse in the metric's direction
  kChanged,      // significant and at least the threshold, but the metric has no direction
  kNoChange,     // no significant change of at least the threshold, and one would have been seen
  kNoisy,        // no verdict: the spread hides changes of the threshold's size
  kTooFewRuns,   // no verdict: fewer than VerdictRules::min_runs values on a side
  kFewSamples,   // withheld: a gauge that changed, sampled fewer than VerdictRules::min_gauge_samples times in a step
  kMissing,      // no values on one side (e.g. none of its runs finished)
  // No comparison because the metric does not exist on one side: this variant, or the
  // baseline, finished runs in the group and none of them has the metric, while a run of
  // another variant has it (a stat that kernel lacks). Never a change.
  kAbsent,
};
const char* to_string(Verdict verdict);

struct VerdictRules {
  double confidence = kConfidence;  // Welch's test at 1 - confidence, and intervals at `confidence`
  std::size_t min_runs = 3;
  // A gauge's mean/min/max over fewer samples per step than this (a step shorter than a few
  // sampling periods) says when the sampler looked, not what the kernel did.
  int min_gauge_samples = 5;
  std::optional<double> threshold_pct;  // overrides every metric's registry threshold
};

struct Cell {
  Summary summary;           // n == 0: the variant has no value for this metric
  std::vector<double> values;  // per run, in run order
  // Against the baseline (absent for the baseline's own cell):
  std::optional<double> change_pct;  // (mean - baseline) / |baseline| * 100; none if baseline is 0
  double difference = 0;             // mean - baseline mean
  std::optional<WelchResult> welch;
  bool ci_overlap = true;
  // Welch p < 1 - confidence AND the two confidence intervals do not overlap: both the
  // t-test and mmtests' interval rule must agree before a change is called.
  bool significant = false;
  std::optional<double> detectable_pct;  // smallest change the test could have flagged
  Verdict verdict = Verdict::kMissing;
};

// The verdict of `variant` against `baseline` for a metric (fills every comparison field).
void compare_cell(const Cell& baseline, Cell& variant, const metrics::MetricInfo& info, const VerdictRules& rules);
double effective_threshold(const metrics::MetricInfo& info, const VerdictRules& rules);

struct MetricRow {
  std::string name;
  metrics::MetricInfo info;
  std::vector<Cell> cells;  // one per Comparison::variants entry
  bool has_change() const;  // any improvement, regression or changed verdict
  // Some cell is absent and no variant's cell was compared with the baseline: the renderings
  // name the metric once in their "only in" list instead of showing a row of empty cells.
  bool only_in_some() const;
};

struct RunRef {
  std::string job_key;
  std::filesystem::path dir;  // the run folder
  int repetition = 0;
  std::string outcome;
  std::string reason;
  std::string crash_title;
};

struct OutcomeCell {
  std::map<std::string, int> by_outcome;    // outcome -> runs
  std::map<std::string, int> crash_titles;  // title -> runs
  std::vector<RunRef> runs;                 // in repetition order
  int total() const;
  int finished() const;   // ok or kernel-warning: the runs whose metrics are samples
  int failed() const;     // not ok, not skipped, not infra-error
  int crashes() const;    // kernel-crash, kernel-warning, boot-failed
  int integrity() const;  // integrity-failed
};

struct Group {
  std::string arch;
  std::string workload_name;  // the suite's entry name
  std::string workload;       // descriptor name
  std::map<std::string, std::string> params;
  std::string settings_id;
  std::map<std::string, std::string> settings;
  std::vector<OutcomeCell> outcomes;  // one per variant
  std::vector<MetricRow> rows;        // metrics with a non-zero value somewhere, by name
  std::vector<std::string> all_zero;  // metrics that were 0 in every run of every variant
  // Metrics that some variants with finished runs lack in every run -> the variants that have
  // them (in Comparison::variants order). Includes metrics listed in all_zero.
  std::map<std::string, std::vector<std::string>> only_in;
  std::string label() const;          // "x86_64 collapse-full"
};

struct SourceInfo {
  std::filesystem::path dir;
  std::size_t runs = 0;
  std::size_t incomplete = 0;  // .tmp- folders of interrupted writers (not counted)
  std::size_t invalid = 0;
};

struct Comparison {
  std::string baseline;
  std::vector<std::string> variants;  // baseline first
  std::vector<SourceInfo> sources;
  std::vector<Group> groups;          // by arch, workload name, settings id
  std::map<std::string, std::string> common_settings;  // settings equal in every group
  VerdictRules rules;
  std::size_t total_runs = 0;
  std::vector<std::string> hosts;
  std::vector<std::string> warnings;  // for people: e.g. a variant built from two artifacts
};

struct CompareInput {
  std::vector<std::filesystem::path> dirs;  // results/<suite> folders, or folders holding them
  std::optional<std::string> baseline;
  std::optional<std::filesystem::path> registry_file;
  VerdictRules rules;
};

// Reads (and brings up to date) each folder's index and builds the comparison. Throws
// common::UsageError for folders without results or an unknown baseline.
Comparison build_comparison(const CompareInput& input);

// The result folders under `dir`: itself if it is one, else its sub-folders that are.
std::vector<std::filesystem::path> find_result_stores(const std::filesystem::path& dir);

}  // namespace foliolab::report
