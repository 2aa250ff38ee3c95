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

// "Significant" below means after false-discovery control over the comparison's tests
// (Cell::p_adjusted); a cell judged alone (compare_cell) is a family of one.
enum class Verdict {
  kBaseline,     // the baseline's own cell
  kImprovement,  // significant, at least the threshold, better in the metric's direction
  kRegression,   // significant, at least the threshold, worse in the metric's direction
  kChanged,      // significant and at least the threshold, but the metric has no direction
  kNoChange,     // no significant change of at least the threshold, and one would have been seen
  kNoisy,        // no verdict: the spread hides changes of the threshold's size
  // No verdict: at least the threshold and significant by its own p, but not once p is
  // adjusted for the comparison's other tests; among that many tests, such a p is what chance
  // alone gives now and then. Never a change, never trips --fail-on.
  kUnconfirmed,
  // No verdict: a tracepoint histogram's row where some run of this cell or of the baseline lost
  // events of that tracepoint (the ring buffer overflowed, lines were unusable): its counts are
  // lower bounds, not samples. Never a change, never trips --fail-on.
  kIncomplete,
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
  // Finished runs of this variant in the group (0: not known, a cell built by hand). Fewer
  // values than runs means some runs lacked the metric: summary.n says how many carried it.
  std::size_t runs = 0;
  // The fewest counter samples per step over this cell's and the baseline's finished runs
  // (-1: not recorded). Gauges below VerdictRules::min_gauge_samples get no change verdict.
  int fewest_samples = -1;
  // Finished runs of this variant that lost events of the tracepoint this row counts
  // (trace.<event>.*: the run's trace.<event>.lost_events > 0). Non-zero here or in the
  // baseline's cell: verdict incomplete.
  std::uint32_t incomplete_runs = 0;
  // Against the baseline (absent for the baseline's own cell):
  std::optional<double> change_pct;  // (mean - baseline) / |baseline| * 100; none if baseline is 0
  double difference = 0;             // mean - baseline mean
  std::optional<WelchResult> welch;  // raw: this cell's test alone
  // Benjamini–Hochberg adjusted p of welch->p among the comparison's tests: set exactly when
  // the cell is one of them (is_tested), else none.
  std::optional<double> p_adjusted;
  bool ci_overlap = true;
  // p_adjusted <= 1 - confidence AND the two confidence intervals do not overlap: both the
  // t-test and mmtests' interval rule must agree before a change is called. Never true for a
  // cell outside the tests (too few runs, missing, absent).
  bool significant = false;
  // The smallest change the test could have flagged (at the raw level, this cell alone): in
  // percent of the baseline, and as a difference of means on the test scale, which is all
  // there is when the baseline mean is 0.
  std::optional<double> detectable_pct;
  std::optional<double> detectable_difference;
  Verdict verdict = Verdict::kMissing;
};

// Fills the comparison fields of `variant` against `baseline` (change, Welch's test, intervals,
// detectable change) and resets p_adjusted, significant and the verdict (missing).
void measure_cell(const Cell& baseline, Cell& variant, const VerdictRules& rules);
// A measured cell takes part in false-discovery control: both sides have at least
// VerdictRules::min_runs values and neither lost trace events. Cells that can never be flagged
// are left out of the family, where they would only make the adjustment stricter for the others.
bool is_tested(const Cell& baseline, const Cell& variant, const VerdictRules& rules);
// The verdict of a measured cell from its fields and p_adjusted (docs/report-json.md, "Verdict").
void judge_cell(const Cell& baseline, Cell& variant, const metrics::MetricInfo& info, const VerdictRules& rules);
// measure_cell and judge_cell for a cell judged alone: p_adjusted is its own p.
void compare_cell(const Cell& baseline, Cell& variant, const metrics::MetricInfo& info, const VerdictRules& rules);
// 1 - confidence, rounded to 12 decimals so that 0.95 gives the 0.05 people read and compare.
double significance_level(const VerdictRules& rules);
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

// How the comparison's p values were adjusted for their number (docs/report-json.md).
struct FalseDiscoveryControl {
  const char* method = "benjamini-hochberg";
  double alpha = 0.05;               // bound on the expected share of false flags among flags
  std::size_t tests = 0;             // cells in the family (is_tested)
  std::optional<double> p_cutoff;    // the largest raw p whose adjusted p <= alpha; none if none
};

struct Comparison {
  std::string baseline;
  std::vector<std::string> variants;  // baseline first
  std::vector<SourceInfo> sources;
  std::vector<Group> groups;          // by arch, workload name, settings id
  std::map<std::string, std::string> common_settings;  // settings equal in every group
  VerdictRules rules;
  FalseDiscoveryControl fdr;
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

// Adjusts the p values of every tested cell of every group and variant together
// (Benjamini–Hochberg), then gives every variant cell its verdict; fills `fdr`. The cells must
// have been measured (measure_cell), with runs and fewest_samples set.
void judge_comparison(Comparison& comparison);

// Reads (and brings up to date) each folder's index and builds the comparison. Throws
// common::UsageError for folders without results or an unknown baseline.
Comparison build_comparison(const CompareInput& input);

// The result folders under `dir`: itself if it is one, else its sub-folders that are.
std::vector<std::filesystem::path> find_result_stores(const std::filesystem::path& dir);

}  // namespace foliolab::report
