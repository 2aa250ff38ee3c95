#pragma once
// Renderers of a Comparison. Text is fixed-width for email (LKP-style columns: mean ±stddev%,
// %change and a verdict flag per variant), markdown for issues and reviews, JSON for machines
// (docs/report-json.md), JUnit XML for CI, and one self-contained HTML file with charts.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "report/comparison.h"

namespace foliolab::report {

enum class Format { kText, kMarkdown, kJson, kJunit, kHtml };
std::optional<Format> format_from_string(std::string_view text);

// What --fail-on can name (docs/report-json.md, "Failures").
enum class FailOn {
  kRegression,  // a regression verdict in any cell (after false-discovery control: never unconfirmed)
  kCrash,       // a run ended kernel-crash, kernel-warning or boot-failed
  kIntegrity,   // a run ended integrity-failed
  kFailure,     // a run ended in any outcome but ok, skipped and infra-error
  kInfra,       // a run ended infra-error
};
std::optional<FailOn> fail_on_from_string(std::string_view text);
const char* to_string(FailOn kind);

struct FailureSummary {
  std::size_t regressions = 0, improvements = 0, changed = 0, noisy = 0, too_few_runs = 0, few_samples = 0;
  std::size_t unconfirmed = 0;
  std::size_t incomplete = 0;  // cells of tracepoint histograms whose runs lost events
  std::size_t crashes = 0, integrity = 0, failed_runs = 0, infra = 0, skipped = 0;
  std::set<FailOn> triggered;  // of the requested kinds, those present
};
FailureSummary summarize_failures(const Comparison& comparison, const std::set<FailOn>& fail_on);

struct RenderOptions {
  bool all_metrics = false;             // every metric, not only changes and registry-known ones
  std::size_t max_timeseries_runs = 48;  // HTML: runs whose counter time series are drawn
  std::set<FailOn> fail_on;
  std::string command_line;             // shown in the report's header
};

// Whether a row appears in text, markdown and HTML tables (JSON always has every row): with
// --all, a change, a registry-known metric, or runs that lost its trace events. Rows that
// only_in_some() never do, not even with --all: only_in_lists() names them once.
bool row_shown(const MetricRow& row, const RenderOptions& options);
// The marker of a cell whose runs lost trace events: "lost events in 2 of 5 runs", else "".
std::string lost_events_text(const Cell& cell);

// The metrics that exist in some variants only (Group::only_in), once per report: one entry
// per set of variants having them (in variant order), each metric named once per set however
// many groups it is in. Entries sorted by their variant lists, metrics by name.
struct OnlyInList {
  std::vector<std::string> variants;
  std::vector<std::string> metrics;
};
std::vector<OnlyInList> only_in_lists(const Comparison& comparison);

// Numbers as people read them: integers without decimals, else 4 significant digits.
std::string format_number(double value);
std::string format_change(const Cell& cell);  // "+10.2%", "-3.0%", "new", ""
// The rule in force, one sentence for text, markdown and HTML headers: the test, the
// false-discovery control over this comparison's tests, and the thresholds.
std::string rule_text(const Comparison& comparison);
// "n=3 of 5 runs" when fewer runs than finished carried the metric, else "n=3".
std::string sample_count_text(const Cell& cell);
char verdict_flag(const Cell& cell);         // 'R' 'I' 'C' '~' 'u' '?' 's' '*' ' '

void render_text(const Comparison& comparison, const RenderOptions& options, std::ostream& out);
void render_markdown(const Comparison& comparison, const RenderOptions& options, std::ostream& out);
void render_json(const Comparison& comparison, const RenderOptions& options, std::ostream& out);
void render_junit(const Comparison& comparison, const RenderOptions& options, std::ostream& out);
void render_html(const Comparison& comparison, const RenderOptions& options, std::ostream& out);

}  // namespace foliolab::report
