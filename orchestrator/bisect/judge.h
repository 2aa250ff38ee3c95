#pragma once
// Verdicts of one bisect candidate from its stored runs. Crash mode: a run that crashes or
// warns with the bad end's title (or a title matching the user's pattern) makes the candidate
// bad; any other crash makes it a skip, reported, never counted as either. Metric mode: the
// candidate's samples against both ends' samples with the comparison's statistics (Welch's t
// test at report::kConfidence); a candidate not clearly nearer one end asks for more runs, and
// is skipped when it cannot get them.
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "bisect/search.h"
#include "metrics/registry.h"
#include "store/manifest.h"

namespace foliolab::bisect {

// What a bisect needs of one stored run.
struct RunSample {
  std::string outcome;                  // "ok", "kernel-warning", ...
  std::optional<std::string> crash;     // the classifier's (normalised) title
  std::optional<double> value;          // the metric, when metric mode and the run carried it
};
RunSample sample_of(const store::RunManifest& manifest, const std::string& metric);

struct Judgement {
  Verdict verdict = Verdict::kUnknown;  // kUnknown: more runs could decide (metric mode)
  std::string why;                      // one line for people
};

// A crash title without source line numbers ("WARNING at mm/khugepaged.c:1110 f" -> "WARNING at
// mm/khugepaged.c f"): a patch above the crash site moves its line, not the crash.
std::string crash_signature(const std::string& title);

// The crash a bisect looks for: a pattern from the user (std::regex_search over titles), or else
// the title the bad end crashed with, compared by crash_signature.
struct CrashTarget {
  std::optional<std::regex> pattern;
  std::string pattern_text;  // as given, for messages
  std::string title;         // the bad end's title, once known
  bool matches(const std::string& crash_title) const;
};

// Crash mode. Bad: a run crashed with the target. Skip: a run crashed with another title, or a
// run did not finish (boot-failed, timeout, infra-error, workload-failed, skipped). Good: every
// run finished without the target crash.
Judgement judge_crash(const std::vector<RunSample>& runs, const CrashTarget& target);

// The bad end's title for a target without one: the first crash title matching the pattern
// (any crash when there is no pattern); nullopt when no run crashed that way.
std::optional<std::string> find_target_title(const std::vector<RunSample>& runs, const CrashTarget& target);

// Both ends in metric mode: bad must differ from good significantly, by at least
// `min_change_pct`, and in the regressing direction of the metric (either way for a neutral one).
struct EndsCheck {
  bool reproduced = false;
  std::string why;
  double change_pct = 0;                 // (bad - good) / |good|, percent
  std::optional<double> detectable_pct;  // the smallest change these samples can detect
};
EndsCheck check_ends(const std::vector<double>& good, const std::vector<double>& bad, metrics::Direction direction,
                     double min_change_pct);

// Metric mode for a candidate between the ends. Bad: differs from good and not from bad;
// good: the reverse; otherwise kUnknown (more runs may decide).
Judgement judge_metric(const std::vector<double>& step, const std::vector<double>& good,
                       const std::vector<double>& bad);

// The values of the runs that finished (ok or kernel-warning: a WARN does not stop the
// measurement) and carried the metric.
std::vector<double> finished_values(const std::vector<RunSample>& runs);

}  // namespace foliolab::bisect
