// Fixed-width text for email: one block per group, LKP-style columns. Lines stay plain ASCII
// but for the ± sign and text that came from guests (cleaned of control characters).
#include <fmt/format.h>

#include <algorithm>

#include "report/escape.h"
#include "report/render.h"

namespace foliolab::report {

namespace {

constexpr std::size_t kVariantsPerTable = 3;

std::string params_text(const Group& g) {
  std::string out = g.workload;
  for (const auto& [k, v] : g.params) out += fmt::format(" {}={}", k, v);
  return out;
}

std::string group_settings_text(const Comparison& cmp, const Group& g) {
  std::string out;
  for (const auto& [k, v] : g.settings) {
    if (cmp.common_settings.contains(k)) continue;
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, v);
  }
  return out;
}

std::string outcome_list(const OutcomeCell& cell) {
  std::string out;
  for (const auto& [outcome, count] : cell.by_outcome) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", count, outcome);
  return out.empty() ? "no runs" : out;
}

std::string stat_cell(const Cell& cell) {
  if (cell.summary.n == 0) return fmt::format("{:>11} {:>7}", "-", "");
  return fmt::format("{:>11} ±{:>5.1f}%", format_number(cell.summary.mean), cell.summary.cov * 100.0);
}

std::string note(const Comparison& cmp, const MetricRow& row, std::size_t v) {
  const Cell& c = row.cells[v];
  if (c.verdict == Verdict::kTooFewRuns) return fmt::format("{} n={}", clean_text(cmp.variants[v], false, 64), std::min(c.summary.n, row.cells[0].summary.n));
  if (c.verdict == Verdict::kFewSamples) return fmt::format("{} gauge sampled <{}x per step", clean_text(cmp.variants[v], false, 64), cmp.rules.min_gauge_samples);
  if (c.verdict == Verdict::kNoisy && c.detectable_pct)
    return fmt::format("{} detects >={:.1f}%", clean_text(cmp.variants[v], false, 64), *c.detectable_pct);
  if (c.verdict == Verdict::kNoisy && c.detectable_difference)  // from a baseline of 0
    return fmt::format("{} detects >={}", clean_text(cmp.variants[v], false, 64), format_number(*c.detectable_difference));
  if (c.verdict == Verdict::kUnconfirmed && c.welch && c.p_adjusted)
    return fmt::format("{} p={:.2g} alone, {:.2g} adjusted", clean_text(cmp.variants[v], false, 64), c.welch->p, *c.p_adjusted);
  return "";
}

// A metric that every variant has but some finished runs lack is judged over the runs that have
// it (docs/report-json.md, too-few-runs): say how many those were.
std::string runs_note(const Comparison& cmp, const Group& g, const MetricRow& row, std::size_t v) {
  const std::size_t n = row.cells[v].summary.n;
  const auto finished = static_cast<std::size_t>(g.outcomes[v].finished());
  if (n == 0 || n >= finished) return "";
  return fmt::format("{} in {} of {} runs", clean_text(cmp.variants[v], false, 64), n, finished);
}

void render_table(const Comparison& cmp, const Group& g, const std::vector<std::size_t>& cols,
                  const RenderOptions& options, std::ostream& out) {
  // Header: variant names over their columns.
  std::string names = fmt::format("   {:>19}", clean_text(cmp.variants[0], false, 19));
  std::string heads = fmt::format("   {:>19}", "mean ±stddev%");
  std::string rule = fmt::format("   {:>19}", std::string(19, '-'));
  for (std::size_t v : cols) {
    names += fmt::format("  {:>30}", clean_text(cmp.variants[v], false, 30));
    heads += fmt::format("  {:>9}  {:>19}", "%change", "mean ±stddev%");
    rule += fmt::format("  {}", std::string(30, '-'));
  }
  out << names << "\n" << heads << "   metric\n" << rule << "   " << std::string(30, '-') << "\n";
  for (const auto& row : g.rows) {
    if (!row_shown(row, options)) continue;
    std::string line = "   " + stat_cell(row.cells[0]);
    std::string notes = runs_note(cmp, g, row, 0);
    auto add_note = [&](const std::string& n) {
      if (!n.empty()) notes += (notes.empty() ? "" : "; ") + n;
    };
    if (const std::string lost = lost_events_text(row.cells[0]); !lost.empty())
      add_note(clean_text(cmp.variants[0], false, 64) + " " + lost);
    for (std::size_t v : cols) {
      const Cell& c = row.cells[v];
      line += fmt::format("  {:>9} {}{}", format_change(c), verdict_flag(c), stat_cell(c));
      add_note(note(cmp, row, v));
      add_note(runs_note(cmp, g, row, v));
      if (const std::string lost = lost_events_text(c); !lost.empty())
        add_note(clean_text(cmp.variants[v], false, 64) + " " + lost);
    }
    line += "   " + clean_text(row.name, false, 160);
    if (!notes.empty()) line += "  [" + notes + "]";
    out << line << "\n";
  }
}

// Metrics that exist in some variants only, once per report instead of rows of empty cells:
// "only in current: a, b, ... (N metrics)", wrapped for email.
void render_only_in(const Comparison& cmp, std::ostream& out) {
  const std::vector<OnlyInList> lists = only_in_lists(cmp);
  if (lists.empty()) return;
  out << "\nnot compared (no finished run of the other variants in the group has them)\n";
  constexpr std::size_t kWidth = 100;
  for (const auto& list : lists) {
    std::vector<std::string> variants;
    for (const auto& v : list.variants) variants.push_back(clean_text(v, false, 64));
    std::string line = fmt::format("  only in {}:", fmt::join(variants, ", "));
    for (std::size_t i = 0; i < list.metrics.size(); ++i) {
      const std::string item = clean_text(list.metrics[i], false, 160) + (i + 1 < list.metrics.size() ? "," : "");
      if (line.size() + 1 + item.size() > kWidth && line.size() > 4) {
        out << line << "\n";
        line = "   ";
      }
      line += " " + item;
    }
    line += fmt::format(" ({} metric{})", list.metrics.size(), list.metrics.size() == 1 ? "" : "s");
    // Variants that share a metric the baseline lacks can still be compared with each other.
    if (list.variants.size() > 1 && list.variants.front() != cmp.baseline)
      line += fmt::format("; --baseline {} compares them", variants.front());
    out << line << "\n";
  }
}

}  // namespace

void render_text(const Comparison& cmp, const RenderOptions& options, std::ostream& out) {
  const FailureSummary failures = summarize_failures(cmp, options.fail_on);
  out << "foliolab compare\n";
  out << fmt::format("  baseline  {}\n", clean_text(cmp.baseline, false, 200));
  std::vector<std::string> others;
  for (std::size_t v = 1; v < cmp.variants.size(); ++v) others.push_back(clean_text(cmp.variants[v], false, 200));
  out << fmt::format("  variants  {}\n", others.empty() ? "(none: nothing to compare against)" : fmt::format("{}", fmt::join(others, ", ")));
  for (const auto& s : cmp.sources) out << fmt::format("  results   {} ({} runs)\n", s.dir.string(), s.runs);
  if (!cmp.hosts.empty()) out << fmt::format("  hosts     {}\n", clean_text(fmt::format("{}", fmt::join(cmp.hosts, ", ")), false, 400));
  if (!cmp.common_settings.empty()) {
    std::string settings;
    for (const auto& [k, v] : cmp.common_settings) settings += fmt::format("{}{}={}", settings.empty() ? "" : " ", k, v);
    out << fmt::format("  settings  {}\n", clean_text(settings, false, 1000));
  }
  out << fmt::format("  rule      a change counts when Welch's t-test (adjusted p <= {:.2f}) and the {:.0f}% intervals\n"
                     "            agree that it is real, and it is at least the metric's threshold\n",
                     cmp.fdr.alpha, cmp.rules.confidence * 100);
  if (cmp.rules.threshold_pct) out << fmt::format("            (threshold {:.1f}% for every metric)\n", *cmp.rules.threshold_pct);
  else out << "            (threshold 5%; 1% for vmstat-type counters, as LKP)\n";
  out << fmt::format("  fdr       p adjusted for the {} tests of this comparison (Benjamini-Hochberg): at most\n"
                     "            {:.0f}% of the flags are expected to be chance; {}\n",
                     cmp.fdr.tests, cmp.fdr.alpha * 100,
                     cmp.fdr.p_cutoff ? fmt::format("a p of {:.2g} or less passes", *cmp.fdr.p_cutoff)
                                      : std::string("no p passes"));
  for (const auto& w : cmp.warnings) out << "  warning   " << clean_text(w, false, 400) << "\n";

  // Per variant: verdict counts and failures, the lines a reader looks at first.
  out << "\nsummary\n";
  for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
    std::size_t reg = 0, imp = 0, chg = 0, unc = 0, runs = 0, failed = 0;
    std::map<std::string, int> titles;
    for (const auto& g : cmp.groups) {
      for (const auto& row : g.rows) {
        reg += row.cells[v].verdict == Verdict::kRegression;
        imp += row.cells[v].verdict == Verdict::kImprovement;
        chg += row.cells[v].verdict == Verdict::kChanged;
        unc += row.cells[v].verdict == Verdict::kUnconfirmed;
      }
      runs += static_cast<std::size_t>(g.outcomes[v].total());
      failed += static_cast<std::size_t>(g.outcomes[v].failed());
      for (const auto& [t, n] : g.outcomes[v].crash_titles) titles[t] += n;
    }
    std::string line = fmt::format("  {:<16} {:>5} runs, {} failed", clean_text(cmp.variants[v], false, 16), runs, failed);
    if (v > 0) line += fmt::format("; {} regressions, {} improvements, {} changed, {} unconfirmed", reg, imp, chg, unc);
    else line += "; baseline";
    out << line << "\n";
    for (const auto& [t, n] : titles) out << fmt::format("  {:<16} {:>5} x {}\n", "", n, clean_text(t, false, 200));
  }
  render_only_in(cmp, out);

  for (const auto& g : cmp.groups) {
    out << fmt::format("\n== {} {} ({})", clean_text(g.arch, false, 32), clean_text(g.workload_name, false, 120),
                       clean_text(params_text(g), false, 400));
    const std::string s = group_settings_text(cmp, g);
    if (!s.empty()) out << " " << clean_text(s, false, 1000);
    out << "\n";
    std::string runs;
    for (std::size_t v = 0; v < cmp.variants.size(); ++v)
      runs += fmt::format("{}{}: {}", v ? " | " : "", clean_text(cmp.variants[v], false, 64), outcome_list(g.outcomes[v]));
    out << "   runs    " << runs << "\n";
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      const auto& o = g.outcomes[v];
      for (const auto& [title, n] : o.crash_titles)
        out << fmt::format("   fail    {} {}:{}  {}\n", clean_text(cmp.variants[v], false, 64), n, o.total(),
                           clean_text(title, false, 200));
    }
    std::size_t shown = 0, only_in = 0;
    for (const auto& row : g.rows) {
      shown += row_shown(row, options);
      only_in += row.only_in_some();
    }
    if (shown > 0) {
      out << "\n";
      if (cmp.variants.size() == 1) render_table(cmp, g, {}, options, out);
      for (std::size_t start = 1; start < cmp.variants.size(); start += kVariantsPerTable) {
        std::vector<std::size_t> cols;
        for (std::size_t v = start; v < std::min(start + kVariantsPerTable, cmp.variants.size()); ++v) cols.push_back(v);
        if (start > 1) out << "\n";
        render_table(cmp, g, cols, options, out);
      }
    }
    const std::size_t hidden = g.rows.size() - shown - only_in;
    if (hidden > 0 || !g.all_zero.empty() || !g.only_in.empty())
      out << fmt::format("   ({} more metrics without a change{}; {} always 0{})\n", hidden,
                         hidden > 0 ? ", --all shows them" : "", g.all_zero.size(),
                         g.only_in.empty() ? "" : fmt::format("; {} not in every variant, listed above", g.only_in.size()));
  }
  out << "\nR regression  I improvement  C changed (metric has no better direction)  * significant, below threshold\n"
         "~ too noisy: the smallest detectable change is above the threshold  ? fewer than 3 runs\n"
         "u unconfirmed: significant alone, not once p is adjusted for the comparison's other tests\n"
         "s gauge sampled too few times per step for a verdict (steps shorter than a few sample_ms)\n"
         "i incomplete: runs lost events of this tracepoint (ring buffer overflow), its counts are lower bounds\n";
  if (!options.fail_on.empty()) {
    std::vector<std::string> asked, kinds;
    for (auto k : options.fail_on) asked.push_back(to_string(k));
    for (auto k : failures.triggered) kinds.push_back(to_string(k));
    out << fmt::format("\nfail-on {}: {}\n", fmt::join(asked, ","),
                       kinds.empty() ? std::string("passed") : fmt::format("FAILED ({})", fmt::join(kinds, ", ")));
  }
}

}  // namespace foliolab::report
