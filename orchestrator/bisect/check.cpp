#include "bisect/check.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <regex>
#include <set>

#include "bisect/judge.h"
#include "bisect/steps.h"
#include "common/errors.h"
#include "common/process.h"
#include "kernel/source.h"
#include "runner/signals.h"

namespace foliolab::bisect {
namespace {

namespace fs = std::filesystem;
using common::UsageError;

// The commit checked out in the variant's repository, as a candidate built on `base_ref`.
Candidate head_candidate(const config::KernelVariant& variant, const std::string& base_ref, const fs::path& dir) {
  if (variant.source.kind != config::KernelSource::Kind::kGit)
    throw UsageError(fmt::format("{}: kernel {} is built from {}: foliolab check judges the commit a {{git: REPO}} "
                                 "source has checked out", variant.where.str(), variant.name, variant.source.describe()));
  const fs::path& repo = variant.source.path;
  const std::string head = resolve_commit(repo, "HEAD");
  const std::string base = resolve_commit(repo, base_ref);
  const std::string subject = kernel::git(repo, {"log", "-1", "--format=%s", head}, "git log");
  Candidate c{fmt::format("commit {} {}", head.substr(0, 12), subject), variant, head};
  c.variant.name = commit_variant_name(variant.name, head);
  c.variant.source.git_ref = head;
  if (base == head) return c;
  if (!range_shape(repo, base, head).linear()) {
    spdlog::warn("base {} is not an ancestor of HEAD {} (or merges lie between): HEAD is built in a tree of its own "
                 "(a full build); pass --base with an older commit (the bisect's good one) to build incrementally",
                 base_ref, head.substr(0, 12));
    return c;
  }
  const fs::path folder = dir / head.substr(0, 12);
  if (commit_patches(repo, base, head, folder).empty()) {
    spdlog::info("HEAD {} changes nothing against {}: built as {}", head.substr(0, 12), base_ref, base.substr(0, 12));
    fs::remove_all(folder);
  } else {
    c.variant.patches.insert(c.variant.patches.begin(), folder);
  }
  c.variant.source.git_ref = base;
  return c;
}

// Metric mode: the ends' values, from the finished runs of `entry` on `arch` in `dir`.
struct Ends {
  std::string good, bad;
  std::vector<double> good_values, bad_values;
};

// Without --good-variant the folder's baseline is the good end, when its runs agree on one;
// without --bad-variant the one other variant, when there is exactly one.
Ends ends_from(const CheckOptions& o, const std::string& entry, config::Arch arch, metrics::Direction direction) {
  const fs::path dir = *o.against;
  if (!store::is_result_store(dir)) throw UsageError(fmt::format("--against {}: not a results folder", dir.string()));
  store::ResultStore against(dir);
  std::map<std::string, std::vector<RunSample>> by_variant;
  std::set<std::string> baselines;
  for (const auto& e : fs::directory_iterator(against.runs_dir())) {
    if (!e.is_directory() || e.path().filename().string().starts_with(".tmp-")) continue;
    auto m = against.read_manifest(e.path().filename().string());
    if (!m || m->workload.name != entry || m->arch != config::to_string(arch)) continue;
    by_variant[m->kernel.variant].push_back(sample_of(*m, o.run.metric));
    baselines.insert(m->baseline);
  }
  std::string known;
  for (const auto& [name, runs] : by_variant) known += (known.empty() ? "" : ", ") + name;
  Ends ends{o.good_variant, o.bad_variant, {}, {}};
  if (ends.good.empty() && baselines.size() == 1) ends.good = *baselines.begin();
  if (ends.bad.empty() && by_variant.size() == 2)
    for (const auto& [name, runs] : by_variant)
      if (name != ends.good) ends.bad = name;
  for (const auto& [name, values] : {std::pair{ends.good, &ends.good_values}, std::pair{ends.bad, &ends.bad_values}}) {
    auto it = by_variant.find(name);
    if (name.empty() || it == by_variant.end())
      throw UsageError(fmt::format("--against {}: name the ends with --good-variant and --bad-variant (variants with "
                                   "runs of {} on {} there: {})", dir.string(), entry, config::to_string(arch),
                                   known.empty() ? "none" : known));
    *values = finished_values(it->second);
  }
  const EndsCheck check = check_ends(ends.good_values, ends.bad_values, direction, 0);
  if (!check.reproduced)
    throw UsageError(fmt::format("--against {}: {} against {} is no regression of {}: {}", dir.string(), ends.good, ends.bad,
                                 o.run.metric, check.why));
  return ends;
}

// The verdict on the candidate, with as many runs as it needs (metric mode) and may have.
Judgement judge_head(Env& env, const CheckOptions& o, const Candidate& c, std::size_t& runs) {
  Judgement skip;
  if (o.run.crash) {
    CrashTarget target;
    target.pattern_text = o.run.crash_pattern.empty() ? "." : o.run.crash_pattern;
    target.pattern = std::regex(target.pattern_text);
    auto samples = runs_or_skip(env, c, env.repetitions, skip);
    if (!samples) return skip;
    runs = samples->size();
    if (auto title = find_target_title(*samples, target)) target.title = *title;
    return judge_crash(*samples, target);
  }
  const Ends ends = ends_from(o, env.entry.name, env.arch, metric_direction(env, o.run.metric));
  for (int repetitions = env.repetitions;; repetitions = std::min(env.max_repetitions, repetitions + env.repetitions)) {
    auto samples = runs_or_skip(env, c, repetitions, skip);
    if (!samples) return skip;
    runs = samples->size();
    Judgement j = judge_metric(finished_values(*samples), ends.good_values, ends.bad_values);
    if (j.verdict != Verdict::kUnknown) {
      j.why += fmt::format(" (good: {}, bad: {})", ends.good, ends.bad);
      return j;
    }
    if (repetitions >= env.max_repetitions)
      return {Verdict::kSkip, fmt::format("still undecided after {} runs: {}", runs, j.why)};
    spdlog::info("{}: {}; {} runs now", c.label, j.why, std::min(env.max_repetitions, repetitions + env.repetitions));
  }
}

int exit_code(Verdict v) { return v == Verdict::kGood ? 0 : v == Verdict::kBad ? 1 : kCheckSkip; }

}  // namespace

int run_check(const CheckOptions& o, std::ostream& out) {
  if (o.run.crash == !o.run.metric.empty()) throw UsageError("give exactly one of --crash [REGEX] and --metric METRIC");
  if (!o.run.metric.empty() && !o.against)
    throw UsageError("--metric needs --against DIR: a results folder holding runs of the good and the bad end");
  if (!o.run.crash_pattern.empty()) try {
      std::regex check(o.run.crash_pattern);
    } catch (const std::regex_error& e) {
      throw UsageError(fmt::format("--crash {}: not a regular expression ({})", o.run.crash_pattern, e.what()));
    }
  config::Suite suite = config::load_suite(o.run.suite_file);
  const std::string variant_name = o.run.kernel.empty() ? suite.baseline : o.run.kernel;
  const config::KernelVariant* variant = suite.find_kernel(variant_name);
  if (!variant)
    throw UsageError(fmt::format("--kernel {}: {} has no such kernel variant", variant_name, o.run.suite_file.string()));
  const config::Arch arch = o.run.arch.value_or(suite.arches.front());
  const fs::path results = o.run.results_dir ? *o.run.results_dir
                                             : fs::path("results") / fmt::format("{}-check-{}", suite.name, o.run.workload);
  const config::WorkloadEntry entry = find_entry(suite, o.run.workload);
  const Candidate c = head_candidate(*variant, o.base.value_or(variant->source.git_ref), results / "commits");

  store::ResultStore store(results);
  runner::SignalWatch signals;
  Env env{o.run, suite, entry, arch, catalog::Catalog::load(catalog::default_workloads_dir()),
          metrics::Registry::load_default(), build_options(o.run, suite), store, signals, c.variant.name, 1, 1};
  env.repetitions = o.run.repetitions > 0 ? o.run.repetitions : o.run.crash ? 1 : 3;
  env.max_repetitions = std::max(env.repetitions, o.run.max_repetitions > 0 ? o.run.max_repetitions : 3 * env.repetitions);
  spdlog::info("check {} with {} on {}, results in {}", c.label, entry.name, config::to_string(arch), results.string());
  std::size_t runs = 0;
  Judgement j;
  try {
    j = judge_head(env, o, c, runs);
  } catch (const Stopped&) {
    std::cerr << fmt::format("foliolab check: interrupted by {}; finished runs are stored\n",
                             common::signal_name(signals.signal()));
    return 128 + signals.signal();
  }
  const int code = exit_code(j.verdict);
  if (o.run.json)
    out << nlohmann::json{{"commit", c.commit}, {"label", c.label}, {"verdict", to_string(j.verdict)}, {"why", j.why},
                          {"runs", runs}, {"exit", code}}.dump(2) << "\n";
  else
    out << fmt::format("{}: {} ({}; {} run{})\n", c.label, to_string(j.verdict), j.why, runs, runs == 1 ? "" : "s");
  return code;
}

}  // namespace foliolab::bisect
