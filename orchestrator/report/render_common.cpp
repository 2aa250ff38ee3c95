#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "report/render.h"

namespace foliolab::report {

std::optional<Format> format_from_string(std::string_view text) {
  if (text == "text") return Format::kText;
  if (text == "md" || text == "markdown") return Format::kMarkdown;
  if (text == "json") return Format::kJson;
  if (text == "junit") return Format::kJunit;
  if (text == "html") return Format::kHtml;
  return std::nullopt;
}

std::optional<FailOn> fail_on_from_string(std::string_view text) {
  if (text == "regression") return FailOn::kRegression;
  if (text == "crash") return FailOn::kCrash;
  if (text == "integrity") return FailOn::kIntegrity;
  if (text == "failure") return FailOn::kFailure;
  if (text == "infra") return FailOn::kInfra;
  return std::nullopt;
}

const char* to_string(FailOn kind) {
  switch (kind) {
    case FailOn::kRegression: return "regression";
    case FailOn::kCrash: return "crash";
    case FailOn::kIntegrity: return "integrity";
    case FailOn::kFailure: return "failure";
    case FailOn::kInfra: return "infra";
  }
  return "failure";
}

FailureSummary summarize_failures(const Comparison& comparison, const std::set<FailOn>& fail_on) {
  FailureSummary s;
  for (const auto& g : comparison.groups) {
    for (const auto& row : g.rows) {
      for (const auto& cell : row.cells) {
        switch (cell.verdict) {
          case Verdict::kRegression: ++s.regressions; break;
          case Verdict::kImprovement: ++s.improvements; break;
          case Verdict::kChanged: ++s.changed; break;
          case Verdict::kNoisy: ++s.noisy; break;
          case Verdict::kUnconfirmed: ++s.unconfirmed; break;
          case Verdict::kIncomplete: ++s.incomplete; break;
          case Verdict::kTooFewRuns: ++s.too_few_runs; break;
          case Verdict::kFewSamples: ++s.few_samples; break;
          default: break;
        }
      }
    }
    for (const auto& o : g.outcomes) {
      s.crashes += static_cast<std::size_t>(o.crashes());
      s.integrity += static_cast<std::size_t>(o.integrity());
      s.failed_runs += static_cast<std::size_t>(o.failed());
      if (auto it = o.by_outcome.find("infra-error"); it != o.by_outcome.end()) s.infra += static_cast<std::size_t>(it->second);
      if (auto it = o.by_outcome.find("skipped"); it != o.by_outcome.end()) s.skipped += static_cast<std::size_t>(it->second);
    }
  }
  auto trigger = [&](FailOn kind, std::size_t count) {
    if (count > 0 && fail_on.contains(kind)) s.triggered.insert(kind);
  };
  trigger(FailOn::kRegression, s.regressions);
  trigger(FailOn::kCrash, s.crashes);
  trigger(FailOn::kIntegrity, s.integrity);
  trigger(FailOn::kFailure, s.failed_runs);
  trigger(FailOn::kInfra, s.infra);
  return s;
}

bool row_shown(const MetricRow& row, const RenderOptions& options) {
  if (row.only_in_some()) return false;
  const bool lost = std::any_of(row.cells.begin(), row.cells.end(), [](const Cell& c) { return c.incomplete_runs > 0; });
  return options.all_metrics || row.has_change() || row.info.known || lost;
}

std::string lost_events_text(const Cell& cell) {
  if (cell.incomplete_runs == 0) return "";
  if (cell.runs == 0) return fmt::format("lost events in {} runs", cell.incomplete_runs);
  return fmt::format("lost events in {} of {} runs", cell.incomplete_runs, cell.runs);
}

std::vector<OnlyInList> only_in_lists(const Comparison& comparison) {
  std::map<std::vector<std::string>, std::set<std::string>> by_variants;
  for (const auto& g : comparison.groups)
    for (const auto& [metric, variants] : g.only_in) by_variants[variants].insert(metric);
  std::vector<OnlyInList> out;
  for (auto& [variants, metrics] : by_variants) out.push_back(OnlyInList{variants, {metrics.begin(), metrics.end()}});
  return out;
}

std::string format_number(double value) {
  if (!std::isfinite(value)) return value > 0 ? "inf" : value < 0 ? "-inf" : "nan";
  const double a = std::fabs(value);
  if (a >= 1e9) return fmt::format("{:.3e}", value);
  if (value == std::round(value)) return fmt::format("{:.0f}", value);
  if (a >= 1000) return fmt::format("{:.1f}", value);
  return fmt::format("{:.4g}", value);
}

std::string format_change(const Cell& cell) {
  // Absent cells have no change, not +100% or -100%: one kernel lacks the metric.
  if (cell.verdict == Verdict::kBaseline || cell.verdict == Verdict::kMissing || cell.verdict == Verdict::kAbsent) return "";
  if (!cell.change_pct) return cell.difference == 0 ? "0.0%" : "new";
  const double pct = *cell.change_pct;
  if (std::fabs(pct) >= 1e5) return pct > 0 ? "+++" : "---";
  return fmt::format("{:+.1f}%", pct);
}

std::string rule_text(const Comparison& cmp) {
  const FalseDiscoveryControl& fdr = cmp.fdr;
  return fmt::format(
      "a change counts when Welch's t-test, its p adjusted for the {} test{} of this comparison "
      "(Benjamini-Hochberg: at most {:.0f}% of flags expected to be chance), and the {:.0f}% intervals agree that it "
      "is real, and it is at least the metric's threshold ({})",
      fdr.tests, fdr.tests == 1 ? "" : "s", fdr.alpha * 100, cmp.rules.confidence * 100,
      cmp.rules.threshold_pct ? fmt::format("{:.1f}% for every metric", *cmp.rules.threshold_pct)
                              : std::string("5%; 1% for vmstat-type counters, as LKP"));
}

std::string sample_count_text(const Cell& cell) {
  if (cell.runs > cell.summary.n) return fmt::format("n={} of {} runs", cell.summary.n, cell.runs);
  return fmt::format("n={}", cell.summary.n);
}

char verdict_flag(const Cell& cell) {
  switch (cell.verdict) {
    case Verdict::kRegression: return 'R';
    case Verdict::kImprovement: return 'I';
    case Verdict::kChanged: return 'C';
    case Verdict::kNoisy: return '~';
    case Verdict::kUnconfirmed: return 'u';
    case Verdict::kIncomplete: return 'i';
    case Verdict::kTooFewRuns: return '?';
    case Verdict::kFewSamples: return 's';
    case Verdict::kNoChange: return cell.significant ? '*' : ' ';
    default: return ' ';
  }
}

}  // namespace foliolab::report
