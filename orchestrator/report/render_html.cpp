// One self-contained HTML file: inline CSS, inline SVG charts drawn here, a few lines of
// inline script (a filter), no network access. Every string that reaches the page goes
// through html_escape; the console excerpts are text inside <pre>, never markup.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "report/escape.h"
#include "report/render.h"
#include "report/run_files.h"

namespace foliolab::report {

namespace {

std::string h(std::string_view text, std::size_t max = 4096) { return html_escape(text, false, max); }
std::string h_block(std::string_view text, std::size_t max = 65536) { return html_escape(text, true, max); }

constexpr const char* kStyle = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right;vertical-align:middle}
th{background:#f4f4f4}td.name,th.name{text-align:left;font-family:ui-monospace,monospace}
td.left{text-align:left}
.regression{background:#fde2e1;color:#900;font-weight:bold}.improvement{background:#e1f6e4;color:#065}
.changed{background:#e3ecfb;color:#124}.noisy,.unconfirmed,.incomplete,.too-few-runs,.few-samples{color:#888}.missing,.absent{color:#bbb}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.5em;overflow:auto;max-height:30em;font-size:12px}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dl.summary dt{font-weight:bold}
dl.summary dd{margin:0}.fail{color:#900;font-weight:bold}.pass{color:#065;font-weight:bold}
body.only-changes tr.quiet{display:none}
.series{display:inline-block;margin:0 8px 8px 0;vertical-align:top}
.legend span{margin-right:1.2em}
svg text{font:10px ui-monospace,monospace;fill:#333}
)";

// The filter hides rows without a change; the data-scripts mark shows that scripts ran (the
// HTML test checks it, so that "no injected script ran" means something).
constexpr const char* kScript = R"(
document.documentElement.dataset.scripts = 'on';
document.getElementById('only-changes').addEventListener('change', function (e) {
  document.body.classList.toggle('only-changes', e.target.checked);
});
)";

const char* kColours[] = {"#555", "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"};
const char* colour(std::size_t v) { return kColours[v % (sizeof(kColours) / sizeof(kColours[0]))]; }

std::string svg_number(double v) { return fmt::format("{:.1f}", v); }

// Per metric: a line per variant with its run values (dots), the mean (a bar) and the
// confidence interval (a line), on one shared axis.
std::string metric_chart(const Comparison& cmp, const MetricRow& row) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& c : row.cells) {
    if (c.summary.n == 0) continue;
    lo = std::min({lo, c.summary.min, std::isfinite(c.summary.ci_low) ? c.summary.ci_low : c.summary.min});
    hi = std::max({hi, c.summary.max, std::isfinite(c.summary.ci_high) ? c.summary.ci_high : c.summary.max});
  }
  if (!std::isfinite(lo) || !std::isfinite(hi)) return "";
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double width = 240, left = 4, right = 4, row_h = 14;
  const double height = row_h * static_cast<double>(row.cells.size()) + 14;
  auto x = [&](double v) { return left + (v - lo) / (hi - lo) * (width - left - right); };
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">)",
                                width, height);
  for (std::size_t v = 0; v < row.cells.size(); ++v) {
    const Cell& c = row.cells[v];
    if (c.summary.n == 0) continue;
    const double y = row_h * static_cast<double>(v) + 8;
    const double ci_lo = std::isfinite(c.summary.ci_low) ? c.summary.ci_low : lo;
    const double ci_hi = std::isfinite(c.summary.ci_high) ? c.summary.ci_high : hi;
    svg += fmt::format(R"(<g><title>{}: mean {} (95% CI {} .. {}), n={}</title>)", h(cmp.variants[v]),
                       format_number(c.summary.mean), format_number(c.summary.ci_low), format_number(c.summary.ci_high),
                       c.summary.n);
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="2"/>)", svg_number(x(ci_lo)),
                       svg_number(x(ci_hi)), svg_number(y), svg_number(y), colour(v));
    for (double value : c.values)
      svg += fmt::format(R"(<circle cx="{}" cy="{}" r="2" fill="none" stroke="{}"/>)", svg_number(x(value)),
                         svg_number(y), colour(v));
    svg += fmt::format(R"(<rect x="{}" y="{}" width="2" height="10" fill="{}"/></g>)", svg_number(x(c.summary.mean) - 1),
                       svg_number(y - 5), colour(v));
  }
  svg += fmt::format(R"(<text x="{}" y="{}">{}</text>)", left, height - 2, h(format_number(lo)));
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", width - right, height - 2, h(format_number(hi)));
  svg += "</svg>";
  return svg;
}

// One counter over a run: a small line chart of the sampled values.
std::string series_chart(const CounterSeries& s) {
  const double width = 220, height = 70, pad = 4;
  const auto [tmin, tmax] = std::minmax_element(s.t.begin(), s.t.end());
  const auto [vmin, vmax] = std::minmax_element(s.values.begin(), s.values.end());
  const double t0 = *tmin, t1 = *tmax > *tmin ? *tmax : *tmin + 1;
  const double v0 = *vmin, v1 = *vmax > *vmin ? *vmax : *vmin + 1;
  std::string points;
  for (std::size_t i = 0; i < s.t.size(); ++i) {
    const double px = pad + (s.t[i] - t0) / (t1 - t0) * (width - 2 * pad);
    const double py = height - 16 - (s.values[i] - v0) / (v1 - v0) * (height - 30);
    points += fmt::format("{},{} ", svg_number(px), svg_number(py));
  }
  return fmt::format(
      R"(<svg class="series" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img"><title>{}</title>)"
      R"(<text x="{}" y="10">{}</text><polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{}"/>)"
      R"(<text x="{}" y="{}">+{} in {:.1f} s</text></svg>)",
      width, height, h(s.name), pad, h(s.name, 40), points, pad, height - 3, h(format_number(s.values.back() - s.values.front())),
      t1 - t0);
}

std::string cell_class(const Cell& c) {
  switch (c.verdict) {
    case Verdict::kRegression: return "regression";
    case Verdict::kImprovement: return "improvement";
    case Verdict::kChanged: return "changed";
    case Verdict::kNoisy: return "noisy";
    case Verdict::kUnconfirmed: return "unconfirmed";
    case Verdict::kIncomplete: return "incomplete";
    case Verdict::kTooFewRuns: return "too-few-runs";
    case Verdict::kFewSamples: return "few-samples";
    case Verdict::kMissing: return "missing";
    case Verdict::kAbsent: return "absent";
    default: return "";
  }
}

std::string cell_title(const Cell& c, double threshold) {
  std::string t = fmt::format("{}; {}", to_string(c.verdict), sample_count_text(c));
  if (c.welch) t += fmt::format("; Welch p={:.3g}, df={:.1f}", c.welch->p, c.welch->df);
  if (c.p_adjusted) t += fmt::format("; adjusted p={:.3g}", *c.p_adjusted);
  t += c.ci_overlap ? "; intervals overlap" : "; intervals do not overlap";
  if (c.detectable_pct) t += fmt::format("; smallest detectable change {:.1f}% (threshold {:.1f}%)", *c.detectable_pct, threshold);
  return t;
}

}  // namespace

void render_html(const Comparison& cmp, const RenderOptions& options, std::ostream& out) {
  const FailureSummary f = summarize_failures(cmp, options.fail_on);
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      << "<title>" << h(fmt::format("foliolab compare: baseline {}", cmp.baseline), 200) << "</title>\n"
      << "<style>" << kStyle << "</style></head>\n<body>\n";
  out << "<h1>foliolab compare</h1>\n<dl class=\"summary\">\n";
  out << "<dt>baseline</dt><dd>" << h(cmp.baseline) << "</dd>\n<dt>variants</dt><dd>";
  for (std::size_t v = 0; v < cmp.variants.size(); ++v)
    out << fmt::format("<span style=\"color:{}\">&#9632;</span> {} ", colour(v), h(cmp.variants[v]));
  out << "</dd>\n";
  for (const auto& s : cmp.sources)
    out << "<dt>results</dt><dd>" << h(s.dir.string()) << fmt::format(" ({} runs)", s.runs) << "</dd>\n";
  if (!cmp.hosts.empty()) out << "<dt>hosts</dt><dd>" << h(fmt::format("{}", fmt::join(cmp.hosts, ", "))) << "</dd>\n";
  if (!cmp.common_settings.empty()) {
    out << "<dt>settings</dt><dd>";
    for (const auto& [k, v] : cmp.common_settings) out << h(k) << "=" << h(v) << " ";
    out << "</dd>\n";
  }
  out << "<dt>rule</dt><dd>" << h(rule_text(cmp), 1024) << "</dd>\n";
  out << fmt::format("<dt>verdicts</dt><dd>{} regressions, {} improvements, {} changed, {} noisy, {} unconfirmed, {} incomplete, {} with too few runs, {} gauges sampled too few times</dd>\n",
                     f.regressions, f.improvements, f.changed, f.noisy, f.unconfirmed, f.incomplete, f.too_few_runs, f.few_samples);
  out << fmt::format("<dt>runs</dt><dd>{} in all; {} failed, {} crashed, {} integrity errors, {} skipped, {} infra errors</dd>\n",
                     cmp.total_runs, f.failed_runs, f.crashes, f.integrity, f.skipped, f.infra);
  if (!options.fail_on.empty()) {
    std::vector<std::string> kinds;
    for (auto k : f.triggered) kinds.push_back(to_string(k));
    out << "<dt>fail-on</dt><dd>"
        << (kinds.empty() ? std::string("<span class=\"pass\">passed</span>")
                          : fmt::format("<span class=\"fail\">FAILED ({})</span>", h(fmt::format("{}", fmt::join(kinds, ", ")))))
        << "</dd>\n";
  }
  for (const auto& w : cmp.warnings) out << "<dt>warning</dt><dd>" << h(w) << "</dd>\n";
  // Metrics one kernel lacks: named once here, not as rows of empty cells.
  for (const auto& list : only_in_lists(cmp)) {
    out << "<dt>only in " << h(fmt::format("{}", fmt::join(list.variants, ", "))) << "</dt><dd class=\"only-in\">"
        << h(fmt::format("{}", fmt::join(list.metrics, ", ")), 65536)
        << fmt::format(" ({} metric{}, not compared: no finished run of the other variants has them)</dd>\n",
                       list.metrics.size(), list.metrics.size() == 1 ? "" : "s");
  }
  out << "</dl>\n<p><label><input type=\"checkbox\" id=\"only-changes\"> only rows with a change</label></p>\n";
  out << "<p class=\"legend\"><span class=\"regression\">regression</span><span class=\"improvement\">improvement</span>"
         "<span class=\"changed\">changed (no better direction)</span><span class=\"noisy\">noisy: spread hides a "
         "threshold-sized change</span><span class=\"unconfirmed\">unconfirmed: significant alone, not after adjusting "
         "for the comparison's tests</span><span class=\"too-few-runs\">fewer than 3 runs</span>"
         "<span class=\"few-samples\">gauge sampled too few times per step</span>"
         "<span class=\"incomplete\">incomplete: runs lost trace events, counts are lower bounds</span></p>\n";

  out << "<ul>\n";
  for (std::size_t gi = 0; gi < cmp.groups.size(); ++gi) {
    std::string label = cmp.groups[gi].label();
    for (const auto& [k, v] : cmp.groups[gi].settings)
      if (!cmp.common_settings.contains(k)) label += fmt::format(" {}={}", k, v);
    out << fmt::format("<li><a href=\"#g{}\">{}</a></li>\n", gi, h(label));
  }
  out << "</ul>\n";

  std::size_t series_budget = options.max_timeseries_runs;
  std::size_t series_omitted = 0;
  for (std::size_t gi = 0; gi < cmp.groups.size(); ++gi) {
    const Group& g = cmp.groups[gi];
    out << fmt::format("<section id=\"g{}\"><h2>{} &middot; {} ({}", gi, h(g.arch), h(g.workload_name), h(g.workload));
    for (const auto& [k, v] : g.params) out << " " << h(k) << "=" << h(v);
    out << ")</h2>\n<p>";
    for (const auto& [k, v] : g.settings)
      if (!cmp.common_settings.contains(k)) out << h(k) << "=" << h(v) << " ";
    out << fmt::format("settings id {}</p>\n", h(g.settings_id));

    out << "<table class=\"outcomes\"><tr><th class=\"name\">variant</th><th>runs</th><th>fail:runs</th>"
           "<th class=\"name\">outcomes</th><th class=\"name\">crash reports</th></tr>\n";
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      const auto& o = g.outcomes[v];
      std::string outcomes, titles;
      for (const auto& [k, n] : o.by_outcome) outcomes += fmt::format("{} {}<br>", n, h(k));
      for (const auto& [t, n] : o.crash_titles) titles += fmt::format("{}&times; {}<br>", n, h(t, 512));
      out << fmt::format("<tr><td class=\"name\">{}</td><td>{}</td><td{}>{}:{}</td><td class=\"left\">{}</td>"
                         "<td class=\"left\">{}</td></tr>\n",
                         h(cmp.variants[v]), o.total(), o.failed() ? " class=\"regression\"" : "", o.failed(), o.total(),
                         outcomes, titles);
    }
    out << "</table>\n";

    out << "<table class=\"metrics\"><tr><th class=\"name\">metric</th>";
    for (std::size_t v = 0; v < cmp.variants.size(); ++v)
      out << "<th>" << h(cmp.variants[v]) << "<br>mean ±stddev%</th>" << (v ? "<th>%change</th>" : "");
    out << "<th>values and 95% intervals</th></tr>\n";
    std::size_t hidden = 0;
    std::vector<std::string> preferred, preferred_quiet;  // counters with a change first
    for (const auto& row : g.rows) {
      if (!row_shown(row, options)) {
        hidden += !row.only_in_some();
        continue;
      }
      if (row.info.kind == metrics::Kind::kCounter && !row.name.starts_with("trace.")) {
        (row.has_change() ? preferred : preferred_quiet).push_back(row.name);
      }
      const double threshold = effective_threshold(row.info, cmp.rules);
      out << fmt::format("<tr class=\"{}\"><td class=\"name\" title=\"{}\">{}</td>", row.has_change() ? "change" : "quiet",
                         h(fmt::format("{} {}, {} is better, threshold {:.1f}%{}", metrics::to_string(row.info.kind),
                                       row.info.unit, metrics::to_string(row.info.direction), threshold,
                                       row.info.summary.empty() ? "" : ": " + row.info.summary)),
                         h(row.name, 200));
      for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
        const Cell& c = row.cells[v];
        const std::string lost = lost_events_text(c);
        const std::string stat = c.summary.n ? fmt::format("{} ±{:.1f}%{}", format_number(c.summary.mean), c.summary.cov * 100,
                                                           lost.empty() ? "" : " <span class=\"incomplete\">(" + lost + ")</span>")
                                             : std::string("&ndash;");
        out << "<td>" << stat << "</td>";
        if (v > 0)
          out << fmt::format("<td class=\"{}\" title=\"{}\">{}</td>", cell_class(c), h(cell_title(c, threshold)),
                             h(format_change(c)));
      }
      out << "<td>" << metric_chart(cmp, row) << "</td></tr>\n";
    }
    out << "</table>\n";
    preferred.insert(preferred.end(), preferred_quiet.begin(), preferred_quiet.end());
    if (hidden > 0 || !g.all_zero.empty() || !g.only_in.empty())
      out << fmt::format("<p>{} more metrics without a change (the JSON report has them); {} always 0{}.</p>\n", hidden,
                         g.all_zero.size(),
                         g.only_in.empty() ? "" : fmt::format("; {} not in every variant (listed above)", g.only_in.size()));

    // Runs: the first repetition of each variant and every failed run, while the budget lasts.
    out << "<h3>Runs</h3>\n";
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      const auto& o = g.outcomes[v];
      for (std::size_t ri = 0; ri < o.runs.size(); ++ri) {
        const RunRef& run = o.runs[ri];
        const bool failed = run.outcome != "ok" && run.outcome != "skipped";
        if (ri > 0 && !failed) continue;
        if (series_budget == 0) {
          ++series_omitted;
          continue;
        }
        --series_budget;
        out << fmt::format("<details{}><summary>{} repetition {}: {}{}</summary>\n", failed ? " open" : "",
                           h(cmp.variants[v]), run.repetition, h(run.outcome),
                           run.crash_title.empty() ? "" : " &mdash; " + h(run.crash_title, 512));
        out << "<p>job " << h(run.job_key) << "; " << h(run.dir.string()) << "</p>\n";
        if (!run.reason.empty()) out << "<p>" << h(run.reason, 2048) << "</p>\n";
        for (const auto& s : read_counter_series(run.dir / "records.jsonl", preferred, 6)) out << series_chart(s);
        if (failed) {
          const std::string excerpt = crash_excerpt(run.dir / "manifest.json");
          if (!excerpt.empty()) out << "<p>crash report</p><pre>" << h_block(excerpt) << "</pre>\n";
        }
        out << "<p>console (last lines)</p><pre>" << h_block(console_tail(run.dir / "console.log", 40), 16384)
            << "</pre>\n</details>\n";
      }
    }
    out << "</section>\n";
  }
  if (series_omitted > 0)
    out << fmt::format("<p>{} more runs are not drawn here (limit {}); their folders hold the records.</p>\n",
                       series_omitted, options.max_timeseries_runs);
  out << "<script>" << kScript << "</script>\n</body></html>\n";
}

}  // namespace foliolab::report
