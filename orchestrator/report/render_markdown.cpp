// Markdown (GitHub flavoured) for issues and reviews: a summary table per variant, then per
// group an outcome line and a metric table. Regressions are bold.
#include <fmt/format.h>

#include "report/escape.h"
#include "report/render.h"

namespace foliolab::report {

namespace {

std::string md(std::string_view text, std::size_t max = 512) { return markdown_escape(text, max); }

std::string stat(const Cell& c) {
  if (c.summary.n == 0) return "–";
  const std::string lost = lost_events_text(c);
  return fmt::format("{} ±{:.1f}%{}", format_number(c.summary.mean), c.summary.cov * 100.0,
                     lost.empty() ? "" : " (" + lost + ")");
}

std::string verdict_text(const Cell& c) {
  switch (c.verdict) {
    case Verdict::kRegression: return fmt::format("**{} regression**", format_change(c));
    case Verdict::kImprovement: return fmt::format("{} improvement", format_change(c));
    case Verdict::kChanged: return fmt::format("{} changed", format_change(c));
    case Verdict::kNoisy:
      return c.detectable_pct ? fmt::format("{} noisy (detects ≥{:.1f}%)", format_change(c), *c.detectable_pct)
                              : format_change(c) + " noisy";
    case Verdict::kTooFewRuns: return fmt::format("{} ({})", format_change(c), sample_count_text(c));
    case Verdict::kUnconfirmed:
      return fmt::format("{} unconfirmed (p={:.2g} alone, {:.2g} adjusted)", format_change(c), c.welch ? c.welch->p : 1.0,
                         c.p_adjusted.value_or(1.0));
    case Verdict::kFewSamples: return format_change(c) + " (few samples)";
    case Verdict::kIncomplete: return format_change(c) + " incomplete (lost trace events)";
    case Verdict::kNoChange: return format_change(c) + (c.significant ? " *" : "");
    default: return "";
  }
}

// Metrics that exist in some variants only, once per report instead of rows of empty cells.
void only_in_lines(const Comparison& cmp, std::ostream& out) {
  for (const auto& list : only_in_lists(cmp)) {
    std::vector<std::string> variants, metrics;
    for (const auto& v : list.variants) variants.push_back("**" + md(v) + "**");
    for (const auto& m : list.metrics) metrics.push_back(md(m, 200));
    out << fmt::format("Only in {} ({} metric{}, not compared: no finished run of the other variants has them): {}\n\n",
                       fmt::join(variants, ", "), list.metrics.size(), list.metrics.size() == 1 ? "" : "s",
                       fmt::join(metrics, ", "));
  }
}

}  // namespace

void render_markdown(const Comparison& cmp, const RenderOptions& options, std::ostream& out) {
  const FailureSummary f = summarize_failures(cmp, options.fail_on);
  out << "## foliolab compare\n\n";
  out << fmt::format("Baseline **{}**; {} runs", md(cmp.baseline), cmp.total_runs);
  for (const auto& s : cmp.sources) out << fmt::format("; {} ({} runs)", md(s.dir.string()), s.runs);
  out << ".\n\n";
  std::string rule = rule_text(cmp);
  rule[0] = 'A';
  out << rule << ".\n\n";
  if (!cmp.common_settings.empty()) {
    out << "Settings in every group:";
    for (const auto& [k, v] : cmp.common_settings) out << fmt::format(" {}={}", md(k), md(v));
    out << "\n\n";
  }
  for (const auto& w : cmp.warnings) out << "> warning: " << md(w) << "\n\n";
  only_in_lines(cmp, out);
  if (!options.fail_on.empty()) {
    std::vector<std::string> kinds;
    for (auto k : f.triggered) kinds.push_back(to_string(k));
    out << (kinds.empty() ? std::string("**fail-on: passed**\n\n")
                          : fmt::format("**fail-on: FAILED ({})**\n\n", fmt::join(kinds, ", ")));
  }

  for (const auto& g : cmp.groups) {
    out << fmt::format("### {} · {} ({}", md(g.arch), md(g.workload_name), md(g.workload));
    for (const auto& [k, v] : g.params) out << " " << md(k) << "=" << md(v);
    out << ")";
    for (const auto& [k, v] : g.settings)
      if (!cmp.common_settings.contains(k)) out << fmt::format(" {}={}", md(k), md(v));
    out << "\n\n| variant | runs | failed | crash reports |\n|---|---|---|---|\n";
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      const auto& o = g.outcomes[v];
      std::string titles;
      for (const auto& [t, n] : o.crash_titles) titles += fmt::format("{}{}× {}", titles.empty() ? "" : "<br>", n, md(t, 300));
      out << fmt::format("| {} | {} | {}:{} | {} |\n", md(cmp.variants[v]), o.total(), o.failed(), o.total(), titles);
    }
    std::size_t shown = 0, only_in = 0;
    for (const auto& row : g.rows) {
      shown += row_shown(row, options);
      only_in += row.only_in_some();
    }
    if (shown > 0) {
      out << "\n| metric | " << md(cmp.variants[0]);
      for (std::size_t v = 1; v < cmp.variants.size(); ++v) out << " | " << md(cmp.variants[v]) << " | %change";
      out << " |\n|---|---:";
      for (std::size_t v = 1; v < cmp.variants.size(); ++v) out << "|---:|---";
      out << "|\n";
      for (const auto& row : g.rows) {
        if (!row_shown(row, options)) continue;
        out << "| " << md(row.name, 200) << " | " << stat(row.cells[0]);
        for (std::size_t v = 1; v < cmp.variants.size(); ++v)
          out << " | " << stat(row.cells[v]) << " | " << verdict_text(row.cells[v]);
        out << " |\n";
      }
    }
    if (g.rows.size() > shown + only_in || !g.all_zero.empty() || !g.only_in.empty())
      out << fmt::format("\n{} more metrics without a change; {} always 0{}.\n", g.rows.size() - shown - only_in,
                         g.all_zero.size(),
                         g.only_in.empty() ? "" : fmt::format("; {} not in every variant (listed above)", g.only_in.size()));
    out << "\n";
  }
}

}  // namespace foliolab::report
