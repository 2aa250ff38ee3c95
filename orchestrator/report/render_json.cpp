// The complete comparison as JSON, schema 1 (docs/report-json.md). Every group, every metric
// row (rows that are 0 everywhere are listed by name in all_zero), every cell with its values.
// Non-finite numbers become null. Guest text is cleaned of invalid UTF-8 and control
// characters; JSON string escaping does the rest.
#include <cmath>

#include "common/errors.h"
#include "report/escape.h"
#include "report/render.h"

namespace foliolab::report {

namespace {

using nlohmann::json;

json number(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json optional_number(const std::optional<double>& value) { return value ? number(*value) : json(nullptr); }

json string_map(const std::map<std::string, std::string>& map) {
  json out = json::object();
  for (const auto& [k, v] : map) out[clean_text(k, false, 256)] = clean_text(v, false, 4096);
  return out;
}

json cell_json(const Cell& c, bool baseline) {
  const Summary& s = c.summary;
  json out = {{"n", s.n}, {"verdict", to_string(c.verdict)}};
  if (s.n > 0) {
    out["mean"] = number(s.mean);
    out["mean_kind"] = s.harmonic ? "harmonic" : "arithmetic";
    out["stddev"] = number(s.stddev);
    out["cov_pct"] = number(s.cov * 100.0);
    out["min"] = number(s.min);
    out["max"] = number(s.max);
    out["ci95"] = json::array({number(s.ci_low), number(s.ci_high)});
    json values = json::array();
    for (double v : c.values) values.push_back(number(v));
    out["values"] = std::move(values);
  }
  if (!baseline) {
    out["change_pct"] = optional_number(c.change_pct);
    out["difference"] = number(c.difference);
    if (c.welch) {
      out["welch"] = {{"t", number(c.welch->t)}, {"df", number(c.welch->df)}, {"p", number(c.welch->p)}};
    } else {
      out["welch"] = nullptr;
    }
    out["significant"] = c.significant;
    out["ci_overlap"] = c.ci_overlap;
    out["detectable_pct"] = optional_number(c.detectable_pct);
  }
  return out;
}

}  // namespace

json comparison_to_json(const Comparison& cmp, const RenderOptions& options) {
  const FailureSummary f = summarize_failures(cmp, options.fail_on);
  json variants = json::array();
  for (const auto& v : cmp.variants) variants.push_back(clean_text(v, false, 256));
  json sources = json::array();
  for (const auto& s : cmp.sources)
    sources.push_back({{"dir", s.dir.string()}, {"runs", s.runs}, {"incomplete", s.incomplete}, {"invalid", s.invalid}});
  json fail_on = json::array();
  for (auto k : options.fail_on) fail_on.push_back(to_string(k));
  json triggered = json::array();
  for (auto k : f.triggered) triggered.push_back(to_string(k));
  json warnings = json::array();
  for (const auto& w : cmp.warnings) warnings.push_back(clean_text(w, false, 1024));
  json hosts = json::array();
  for (const auto& h : cmp.hosts) hosts.push_back(clean_text(h, false, 256));

  json groups = json::array();
  for (const auto& g : cmp.groups) {
    json outcomes = json::object();
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      const auto& o = g.outcomes[v];
      json by_outcome = json::object();
      for (const auto& [k, n] : o.by_outcome) by_outcome[k] = n;
      json titles = json::object();
      for (const auto& [t, n] : o.crash_titles) titles[clean_text(t, false, 512)] = n;
      json runs = json::array();
      for (const auto& r : o.runs) {
        runs.push_back({{"job_key", r.job_key},
                        {"dir", r.dir.string()},
                        {"repetition", r.repetition},
                        {"outcome", r.outcome},
                        {"reason", clean_text(r.reason, false, 1024)},
                        {"crash_title", clean_text(r.crash_title, false, 512)}});
      }
      outcomes[variants[v].get<std::string>()] = {{"runs", o.total()},
                                                  {"failed", o.failed()},
                                                  {"crashes", o.crashes()},
                                                  {"integrity", o.integrity()},
                                                  {"by_outcome", by_outcome},
                                                  {"crash_titles", titles},
                                                  {"run_list", runs}};
    }
    json rows = json::array();
    for (const auto& row : g.rows) {
      json cells = json::object();
      for (std::size_t v = 0; v < cmp.variants.size(); ++v)
        cells[variants[v].get<std::string>()] = cell_json(row.cells[v], v == 0);
      rows.push_back({{"name", clean_text(row.name, false, 256)},
                      {"unit", clean_text(row.info.unit, false, 64)},
                      {"kind", metrics::to_string(row.info.kind)},
                      {"direction", metrics::to_string(row.info.direction)},
                      {"threshold_pct", effective_threshold(row.info, cmp.rules)},
                      {"known", row.info.known},
                      {"cells", std::move(cells)}});
    }
    json all_zero = json::array();
    for (const auto& n : g.all_zero) all_zero.push_back(clean_text(n, false, 256));
    json params = string_map(g.params);
    groups.push_back({{"arch", clean_text(g.arch, false, 64)},
                      {"workload", {{"name", clean_text(g.workload_name, false, 256)},
                                    {"workload", clean_text(g.workload, false, 256)},
                                    {"params", params}}},
                      {"settings_id", clean_text(g.settings_id, false, 64)},
                      {"settings", string_map(g.settings)},
                      {"outcomes", std::move(outcomes)},
                      {"metrics", std::move(rows)},
                      {"all_zero", std::move(all_zero)}});
  }
  return json{
      {"schema", 1},
      {"generator", "foliolab 0.1.0"},
      {"baseline", clean_text(cmp.baseline, false, 256)},
      {"variants", variants},
      {"sources", sources},
      {"hosts", hosts},
      {"total_runs", cmp.total_runs},
      {"rules",
       {{"test", "welch"},
        {"confidence", cmp.rules.confidence},
        {"min_runs", cmp.rules.min_runs},
        {"threshold_pct", optional_number(cmp.rules.threshold_pct)}}},
      {"common_settings", string_map(cmp.common_settings)},
      {"warnings", warnings},
      {"summary",
       {{"regressions", f.regressions},
        {"improvements", f.improvements},
        {"changed", f.changed},
        {"noisy", f.noisy},
        {"too_few_runs", f.too_few_runs},
        {"crashes", f.crashes},
        {"integrity_failures", f.integrity},
        {"failed_runs", f.failed_runs},
        {"infra_errors", f.infra},
        {"skipped_runs", f.skipped},
        {"fail_on", fail_on},
        {"failed_on", triggered},
        {"failed", !f.triggered.empty()}}},
      {"groups", std::move(groups)},
  };
}

void render_json(const Comparison& cmp, const RenderOptions& options, std::ostream& out) {
  out << comparison_to_json(cmp, options).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace foliolab::report
