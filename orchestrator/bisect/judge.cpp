#include "bisect/judge.h"

#include <fmt/format.h>

#include <cmath>

#include "report/statistics.h"

namespace foliolab::bisect {
namespace {

constexpr double kAlpha = 1.0 - report::kConfidence;

bool finished(const std::string& outcome) { return outcome == "ok" || outcome == "kernel-warning"; }

std::string describe(const std::vector<double>& values) {
  auto s = report::summarize(values, false);
  return fmt::format("n {} mean {:.4g} sd {:.3g}", s.n, s.mean, s.stddev);
}

// Welch's p of a against b; 1 when either side has fewer than two values.
double p_value(const std::vector<double>& a, const std::vector<double>& b) {
  auto r = report::welch_t_test(report::summarize(a, false), report::summarize(b, false));
  return r ? r->p : 1.0;
}

}  // namespace

RunSample sample_of(const store::RunManifest& manifest, const std::string& metric) {
  RunSample s;
  s.outcome = manifest.outcome;
  if (manifest.crash) s.crash = manifest.crash->title;
  if (!metric.empty())
    if (auto it = manifest.metrics.find(metric); it != manifest.metrics.end() && std::isfinite(it->second))
      s.value = it->second;
  return s;
}

std::string crash_signature(const std::string& title) {
  static const std::regex line_number(R"((\.[chS]):[0-9]+)");
  return std::regex_replace(title, line_number, "$1");
}

bool CrashTarget::matches(const std::string& crash_title) const {
  if (pattern) return std::regex_search(crash_title, *pattern);
  return !title.empty() && crash_signature(crash_title) == crash_signature(title);
}

std::optional<std::string> find_target_title(const std::vector<RunSample>& runs, const CrashTarget& target) {
  for (const auto& r : runs)
    if (r.crash && (!target.pattern || std::regex_search(*r.crash, *target.pattern))) return r.crash;
  return std::nullopt;
}

Judgement judge_crash(const std::vector<RunSample>& runs, const CrashTarget& target) {
  std::size_t hits = 0;
  std::optional<std::string> other, unfinished;
  for (const auto& r : runs) {
    if (r.crash && target.matches(*r.crash)) ++hits;
    else if (r.crash) other = other.value_or(*r.crash);
    else if (!finished(r.outcome)) unfinished = unfinished.value_or(r.outcome);
  }
  if (runs.empty()) return {Verdict::kSkip, "no run"};
  if (hits > 0) return {Verdict::kBad, fmt::format("{} of {} runs: {}", hits, runs.size(), target.title)};
  if (other) return {Verdict::kSkip, fmt::format("a different crash: {}", *other)};
  if (unfinished) return {Verdict::kSkip, fmt::format("a run ended {}", *unfinished)};
  return {Verdict::kGood, fmt::format("{} runs, no such crash", runs.size())};
}

std::vector<double> finished_values(const std::vector<RunSample>& runs) {
  std::vector<double> out;
  for (const auto& r : runs)
    if (finished(r.outcome) && r.value) out.push_back(*r.value);
  return out;
}

EndsCheck check_ends(const std::vector<double>& good, const std::vector<double>& bad, metrics::Direction direction,
                     double min_change_pct) {
  EndsCheck out;
  if (good.size() < 2 || bad.size() < 2) {
    out.why = fmt::format("too few runs carried the metric (good: {}, bad: {}; 2 each are needed)", good.size(),
                          bad.size());
    return out;
  }
  const auto g = report::summarize(good, false), b = report::summarize(bad, false);
  out.detectable_pct = report::detectable_change_pct(g, b);
  out.change_pct = g.mean != 0 ? (b.mean - g.mean) / std::fabs(g.mean) * 100.0 : (b.mean == 0 ? 0 : INFINITY);
  const double p = p_value(good, bad);
  const std::string evidence = fmt::format("good {}; bad {}; change {:+.1f}%, p {:.3g}", describe(good),
                                           describe(bad), out.change_pct, p);
  const bool worse = direction == metrics::Direction::kHigher  ? b.mean < g.mean
                     : direction == metrics::Direction::kLower ? b.mean > g.mean
                                                               : b.mean != g.mean;
  if (p >= kAlpha) out.why = "the ends do not differ significantly: " + evidence;
  else if (!worse) out.why = "bad is better than good for this metric: " + evidence;
  else if (std::fabs(out.change_pct) < min_change_pct)
    out.why = fmt::format("the change is below --min-change {}%: {}", min_change_pct, evidence);
  else {
    out.reproduced = true;
    out.why = evidence;
  }
  return out;
}

Judgement judge_metric(const std::vector<double>& step, const std::vector<double>& good,
                       const std::vector<double>& bad) {
  if (step.size() < 2) return {Verdict::kUnknown, fmt::format("{} runs carried the metric; 2 are needed", step.size())};
  const double p_good = p_value(step, good), p_bad = p_value(step, bad);
  const std::string evidence = fmt::format("{}; p against good {:.3g}, against bad {:.3g}", describe(step), p_good, p_bad);
  if (p_good < kAlpha && p_bad >= kAlpha) return {Verdict::kBad, evidence};
  if (p_bad < kAlpha && p_good >= kAlpha) return {Verdict::kGood, evidence};
  return {Verdict::kUnknown, "not clearly nearer either end: " + evidence};
}

}  // namespace foliolab::bisect
