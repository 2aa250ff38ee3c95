// JUnit XML: one <testsuite> per arch x workload, one <testcase> per variant in it (settings
// groups of the same arch and workload are folded into the case and named in its messages).
// A case fails on regressions (non-baseline variants), crashes and integrity errors; it is
// skipped when every run of it was skipped. Guest text is escaped.
#include <fmt/format.h>

#include <map>

#include "report/escape.h"
#include "report/render.h"

namespace foliolab::report {

namespace {

std::string x(std::string_view text, std::size_t max = 2048) { return xml_escape(text, false, max); }
std::string x_block(std::string_view text, std::size_t max = 65536) { return xml_escape(text, true, max); }

std::string settings_text(const Comparison& cmp, const Group& g) {
  std::string out;
  for (const auto& [k, v] : g.settings)
    if (!cmp.common_settings.contains(k)) out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, v);
  return out.empty() ? "default settings" : out;
}

struct Case {
  std::vector<std::string> regressions;
  std::vector<std::string> crashes;
  std::vector<std::string> integrity;
  std::vector<std::string> lines;  // system-out
  int runs = 0, skipped = 0;
  double seconds = 0;
};

}  // namespace

void render_junit(const Comparison& cmp, const RenderOptions& /*options*/, std::ostream& out) {
  // (arch, workload name) -> variant -> case
  std::map<std::pair<std::string, std::string>, std::vector<Case>> suites;
  for (const auto& g : cmp.groups) {
    auto& cases = suites[{g.arch, g.workload_name}];
    cases.resize(cmp.variants.size());
    const std::string where = settings_text(cmp, g);
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      Case& c = cases[v];
      const auto& o = g.outcomes[v];
      c.runs += o.total();
      if (auto it = o.by_outcome.find("skipped"); it != o.by_outcome.end()) c.skipped += it->second;
      for (const auto& run : o.runs) {
        if (run.outcome == "kernel-crash" || run.outcome == "kernel-warning" || run.outcome == "boot-failed")
          c.crashes.push_back(fmt::format("[{}] {} run {} ({}): {}", where, run.outcome, run.repetition, run.job_key,
                                          run.crash_title.empty() ? run.reason : run.crash_title));
        if (run.outcome == "integrity-failed")
          c.integrity.push_back(fmt::format("[{}] run {} ({}): {}", where, run.repetition, run.job_key, run.reason));
      }
      std::string outcomes;
      for (const auto& [k, n] : o.by_outcome) outcomes += fmt::format(" {}={}", k, n);
      c.lines.push_back(fmt::format("[{}] runs:{}", where, outcomes));
      for (const auto& row : g.rows) {
        const Cell& cell = row.cells[v];
        if (cell.verdict == Verdict::kRegression) {
          c.regressions.push_back(fmt::format("[{}] {} {} ({} -> {}, p={:.3g}, adjusted p={:.3g}, n={}/{})", where,
                                              row.name, format_change(cell), format_number(row.cells[0].summary.mean),
                                              format_number(cell.summary.mean), cell.welch ? cell.welch->p : 1.0,
                                              cell.p_adjusted.value_or(1.0), row.cells[0].summary.n, cell.summary.n));
        } else if (cell.verdict == Verdict::kImprovement || cell.verdict == Verdict::kChanged) {
          c.lines.push_back(fmt::format("[{}] {} {} {}", where, to_string(cell.verdict), row.name, format_change(cell)));
        }
      }
    }
  }
  std::size_t tests = 0, failures = 0, skipped = 0;
  for (const auto& [key, cases] : suites) {
    for (const auto& c : cases) {
      ++tests;
      const bool failed = !c.regressions.empty() || !c.crashes.empty() || !c.integrity.empty();
      failures += failed;
      skipped += !failed && c.runs > 0 && c.skipped == c.runs;
    }
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << fmt::format("<testsuites name=\"foliolab compare\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n", tests,
                     failures, skipped);
  for (const auto& [key, cases] : suites) {
    std::size_t suite_failures = 0, suite_skipped = 0;
    for (const auto& c : cases) {
      const bool failed = !c.regressions.empty() || !c.crashes.empty() || !c.integrity.empty();
      suite_failures += failed;
      suite_skipped += !failed && c.runs > 0 && c.skipped == c.runs;
    }
    const std::string suite_name = fmt::format("{}/{}", key.first, key.second);
    out << fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n", x(suite_name),
                       cases.size(), suite_failures, suite_skipped);
    for (std::size_t v = 0; v < cases.size(); ++v) {
      const Case& c = cases[v];
      out << fmt::format("    <testcase classname=\"foliolab.{}.{}\" name=\"{}\">\n", x(key.first), x(key.second),
                         x(cmp.variants[v]));
      const bool failed = !c.regressions.empty() || !c.crashes.empty() || !c.integrity.empty();
      if (failed) {
        std::vector<std::string> parts;
        if (!c.regressions.empty()) parts.push_back(fmt::format("{} regressions", c.regressions.size()));
        if (!c.crashes.empty()) parts.push_back(fmt::format("{} crashed runs", c.crashes.size()));
        if (!c.integrity.empty()) parts.push_back(fmt::format("{} integrity errors", c.integrity.size()));
        const char* type = !c.crashes.empty() ? "crash" : !c.integrity.empty() ? "integrity" : "regression";
        std::string body;
        for (const auto* list : {&c.crashes, &c.integrity, &c.regressions})
          for (const auto& line : *list) body += line + "\n";
        out << fmt::format("      <failure type=\"{}\" message=\"{}\">{}</failure>\n", type,
                           x(fmt::format("{}", fmt::join(parts, ", "))), x_block(body));
      } else if (c.runs > 0 && c.skipped == c.runs) {
        out << "      <skipped message=\"every run was skipped\"/>\n";
      }
      std::string so;
      for (const auto& line : c.lines) so += line + "\n";
      out << "      <system-out>" << x_block(so) << "</system-out>\n";
      out << "    </testcase>\n";
    }
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace foliolab::report
