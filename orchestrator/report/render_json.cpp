// The complete comparison as JSON, schema 1 (docs/report-json.md). Every group, every metric
// row (rows that are 0 everywhere are listed by name in all_zero), every cell with its values,
// and per group the metrics only some variants have (only_in).
// Non-finite numbers become null. Guest text is cleaned of invalid UTF-8 and control
// characters; JSON string escaping does the rest.
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "common/errors.h"
#include "report/escape.h"
#include "report/render.h"

namespace foliolab::report {

namespace {

using nlohmann::json;

// The document is streamed: a comparison of 10,000 runs holds millions of values, and a
// json tree of them would cost gigabytes. Strings go through nlohmann (escaping), numbers
// through fmt (shortest round-trip form), non-finite numbers become null.
std::string str(std::string_view text, std::size_t max = 4096) {
  return json(clean_text(text, false, max)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string num(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }
std::string num(const std::optional<double>& value) { return value ? num(*value) : "null"; }

std::string string_map(const std::map<std::string, std::string>& map) {
  std::string out = "{";
  for (const auto& [k, v] : map) out += fmt::format("{}{}:{}", out.size() > 1 ? "," : "", str(k, 256), str(v));
  return out + "}";
}

void write_cell(std::ostream& out, const Cell& c, bool baseline) {
  const Summary& s = c.summary;
  out << fmt::format("{{\"n\":{},\"verdict\":\"{}\"", s.n, to_string(c.verdict));
  // How many of the variant's finished runs carried the metric (n counts the values).
  if (c.runs > 0) out << fmt::format(",\"runs\":{},\"runs_with_metric\":{}", c.runs, s.n);
  if (c.incomplete_runs > 0) out << fmt::format(",\"runs_with_lost_events\":{}", c.incomplete_runs);
  if (s.n > 0) {
    out << fmt::format(",\"mean\":{},\"mean_kind\":\"{}\",\"stddev\":{},\"cov_pct\":{},\"min\":{},\"max\":{},"
                       "\"ci95\":[{},{}],\"values\":[",
                       num(s.mean), s.harmonic ? "harmonic" : "arithmetic", num(s.stddev), num(s.cov * 100.0),
                       num(s.min), num(s.max), num(s.ci_low), num(s.ci_high));
    for (std::size_t i = 0; i < c.values.size(); ++i) out << (i ? "," : "") << num(c.values[i]);
    out << "]";
  }
  if (!baseline) {
    out << ",\"change_pct\":" << num(c.change_pct) << ",\"difference\":" << num(c.difference) << ",\"welch\":";
    if (c.welch) out << fmt::format("{{\"t\":{},\"df\":{},\"p\":{}}}", num(c.welch->t), num(c.welch->df), num(c.welch->p));
    else out << "null";
    out << fmt::format(",\"p_adjusted\":{},\"significant\":{},\"ci_overlap\":{},\"detectable_pct\":{},"
                       "\"detectable_difference\":{}",
                       num(c.p_adjusted), c.significant, c.ci_overlap, num(c.detectable_pct), num(c.detectable_difference));
  }
  out << "}";
}

}  // namespace

void render_json(const Comparison& cmp, const RenderOptions& options, std::ostream& out) {
  const FailureSummary f = summarize_failures(cmp, options.fail_on);
  std::vector<std::string> variants;
  for (const auto& v : cmp.variants) variants.push_back(str(v, 256));
  auto list = [](const auto& items, auto&& fn) {
    std::string o = "[";
    bool first = true;
    for (const auto& item : items) {
      if (!first) o += ",";
      first = false;
      o += fn(item);
    }
    return o + "]";
  };
  out << "{\"schema\":1,\"generator\":\"foliolab 0.1.0\",\"baseline\":" << str(cmp.baseline, 256);
  out << ",\"variants\":" << list(variants, [](const std::string& v) { return v; });
  out << ",\"sources\":" << list(cmp.sources, [](const SourceInfo& s) {
    return fmt::format("{{\"dir\":{},\"runs\":{},\"incomplete\":{},\"invalid\":{}}}", str(s.dir.string()), s.runs,
                       s.incomplete, s.invalid);
  });
  out << ",\"hosts\":" << list(cmp.hosts, [](const std::string& h) { return str(h, 256); });
  out << ",\"total_runs\":" << cmp.total_runs;
  out << fmt::format(",\"rules\":{{\"test\":\"welch+ci\",\"confidence\":{},\"min_runs\":{},\"min_gauge_samples\":{},\"threshold_pct\":{}}}",
                     num(cmp.rules.confidence), cmp.rules.min_runs, cmp.rules.min_gauge_samples,
                     num(cmp.rules.threshold_pct));
  out << fmt::format(",\"fdr\":{{\"method\":\"{}\",\"alpha\":{},\"tests\":{},\"p_cutoff\":{}}}", cmp.fdr.method,
                     num(cmp.fdr.alpha), cmp.fdr.tests, num(cmp.fdr.p_cutoff));
  out << ",\"common_settings\":" << string_map(cmp.common_settings);
  out << ",\"warnings\":" << list(cmp.warnings, [](const std::string& w) { return str(w, 1024); });
  auto kinds = [&](const std::set<FailOn>& set) {
    return list(set, [](FailOn k) { return fmt::format("\"{}\"", to_string(k)); });
  };
  out << fmt::format(",\"summary\":{{\"regressions\":{},\"improvements\":{},\"changed\":{},\"noisy\":{},"
                     "\"unconfirmed\":{},\"incomplete\":{},\"too_few_runs\":{},\"few_samples\":{},\"crashes\":{},\"integrity_failures\":{},"
                     "\"failed_runs\":{},\"infra_errors\":{},\"skipped_runs\":{},\"fail_on\":{},\"failed_on\":{},\"failed\":{}}}",
                     f.regressions, f.improvements, f.changed, f.noisy, f.unconfirmed, f.incomplete, f.too_few_runs,
                     f.few_samples, f.crashes, f.integrity, f.failed_runs, f.infra, f.skipped, kinds(options.fail_on), kinds(f.triggered),
                     !f.triggered.empty());
  out << ",\"groups\":[";
  for (std::size_t gi = 0; gi < cmp.groups.size(); ++gi) {
    const Group& g = cmp.groups[gi];
    out << (gi ? ",\n" : "\n");
    out << fmt::format("{{\"arch\":{},\"workload\":{{\"name\":{},\"workload\":{},\"params\":{}}},\"settings_id\":{},"
                       "\"settings\":{},\"outcomes\":{{",
                       str(g.arch, 64), str(g.workload_name, 256), str(g.workload, 256), string_map(g.params),
                       str(g.settings_id, 64), string_map(g.settings));
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      const auto& o = g.outcomes[v];
      std::string by_outcome = "{", titles = "{";
      for (const auto& [k, n] : o.by_outcome) by_outcome += fmt::format("{}{}:{}", by_outcome.size() > 1 ? "," : "", str(k, 64), n);
      for (const auto& [t, n] : o.crash_titles) titles += fmt::format("{}{}:{}", titles.size() > 1 ? "," : "", str(t, 512), n);
      by_outcome += "}";
      titles += "}";
      out << (v ? "," : "") << variants[v]
          << fmt::format(":{{\"runs\":{},\"failed\":{},\"crashes\":{},\"integrity\":{},\"by_outcome\":{},"
                         "\"crash_titles\":{},\"run_list\":",
                         o.total(), o.failed(), o.crashes(), o.integrity(), by_outcome, titles);
      out << list(o.runs, [](const RunRef& r) {
        return fmt::format("{{\"job_key\":{},\"dir\":{},\"repetition\":{},\"outcome\":{},\"reason\":{},\"crash_title\":{}}}",
                           str(r.job_key, 256), str(r.dir.string()), r.repetition, str(r.outcome, 64),
                           str(r.reason, 1024), str(r.crash_title, 512));
      });
      out << "}";
    }
    out << "},\"metrics\":[";
    for (std::size_t ri = 0; ri < g.rows.size(); ++ri) {
      const MetricRow& row = g.rows[ri];
      out << (ri ? ",\n" : "\n");
      out << fmt::format("{{\"name\":{},\"unit\":{},\"kind\":\"{}\",\"direction\":\"{}\",\"threshold_pct\":{},"
                         "\"known\":{},\"cells\":{{",
                         str(row.name, 256), str(row.info.unit, 64), metrics::to_string(row.info.kind),
                         metrics::to_string(row.info.direction), num(effective_threshold(row.info, cmp.rules)),
                         row.info.known);
      for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
        out << (v ? "," : "") << variants[v] << ":";
        write_cell(out, row.cells[v], v == 0);
      }
      out << "}}";
    }
    out << "],\"all_zero\":" << list(g.all_zero, [](const std::string& n) { return str(n, 256); });
    out << ",\"only_in\":{";
    bool first = true;
    for (const auto& [metric, having] : g.only_in) {
      out << (first ? "" : ",") << str(metric, 256) << ":" << list(having, [](const std::string& v) { return str(v, 256); });
      first = false;
    }
    out << "}}";
  }
  out << "]}\n";
}

}  // namespace foliolab::report
