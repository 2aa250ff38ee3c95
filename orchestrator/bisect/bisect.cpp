#include "bisect/bisect.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <regex>

#include "bisect/judge.h"
#include "bisect/search.h"
#include "bisect/steps.h"
#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/units.h"
#include "kernel/patches.h"
#include "runner/signals.h"

namespace foliolab::bisect {
namespace {

namespace fs = std::filesystem;
using common::UsageError;
using Clock = std::chrono::steady_clock;

// One row of the step table.
struct StepRecord {
  int candidate = 0;
  std::string label;
  std::string role;  // "good end", "bad end", "step"
  Verdict verdict = Verdict::kUnknown;
  std::string why;
  std::size_t runs = 0;
  double seconds = 0;
};

std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '-';
  if (!out.ends_with(".patch") && !out.ends_with(".diff")) out += ".patch";
  return out;
}

// Candidates 0..n of the variant's series (inherited patches first, as the builder applies
// them): candidate k is a folder of the first k patches under `dir`, so that the builder moves
// its one tree from prefix to prefix touching only the files that differ.
std::vector<Candidate> series_candidates(const config::KernelVariant& variant, const fs::path& dir) {
  std::vector<kernel::Patch> series;
  for (const auto& entry : variant.patches) {
    auto patches = kernel::load_series(entry);
    series.insert(series.end(), patches.begin(), patches.end());
  }
  if (series.empty())
    throw UsageError(fmt::format("{}: kernel {} has no patches: --series bisects a variant's patch series",
                                 variant.where.str(), variant.name));
  std::vector<Candidate> out;
  for (std::size_t k = 0; k <= series.size(); ++k) {
    Candidate c{k == 0 ? "no patch" : fmt::format("patch {}/{}: {}", k, series.size(), series[k - 1].name), variant};
    c.variant.name = fmt::format("{}+{}", variant.name, k);
    c.variant.patches.clear();
    if (k > 0) {
      const fs::path folder = dir / fmt::format("{:03}", k);
      fs::create_directories(folder);
      for (std::size_t i = 0; i < k; ++i)
        common::write_file_atomic(folder / fmt::format("{:04}-{}", i + 1, file_safe(series[i].name)), series[i].text);
      c.variant.patches = {folder};
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Commit mode: candidates 0..n for the commits of good..bad in the variant's git repository.
// Candidate 0 is the good commit; candidate k adds the patches of the first k commits (a
// `series` file under `dir`/<k> naming them in `dir`/all), then the variant's own patches.
std::vector<Candidate> commit_candidates(const config::KernelVariant& variant, const std::string& good,
                                         const std::string& bad, const fs::path& dir) {
  if (variant.source.kind != config::KernelSource::Kind::kGit)
    throw UsageError(fmt::format("{}: kernel {} is built from {}: --good/--bad commits need a {{git: REPO}} source "
                                 "(or --series for its patches)", variant.where.str(), variant.name,
                                 variant.source.describe()));
  const fs::path& repo = variant.source.path;
  const std::string good_hash = resolve_commit(repo, good), bad_hash = resolve_commit(repo, bad);
  const RangeShape shape = range_shape(repo, good_hash, bad_hash);
  if (!shape.ancestor)
    throw UsageError(fmt::format("--good {} is not an ancestor of --bad {} in {}", good, bad, repo.string()));
  if (!shape.first_merge.empty())
    throw UsageError(fmt::format("{}..{} holds merge commits (first: {}): bisect over commits needs a linear range; "
                                 "bisect each side of the merge, or use git bisect run with foliolab check",
                                 good, bad, shape.first_merge));
  const std::vector<CommitPatch> patches = commit_patches(repo, good_hash, bad_hash, dir / "all");
  if (patches.empty())
    throw UsageError(fmt::format("{}..{}: no commit changes anything, nothing to bisect", good, bad));

  std::vector<Candidate> out;
  config::KernelVariant at_good = variant;
  at_good.source.git_ref = good_hash;
  out.push_back(Candidate{fmt::format("commit {} (good)", good_hash.substr(0, 12)), at_good, good_hash});
  out.back().variant.name = commit_variant_name(variant.name, good_hash);
  std::string series;
  for (std::size_t k = 1; k <= patches.size(); ++k) {
    const CommitPatch& p = patches[k - 1];
    series += "../all/" + p.file.filename().string() + "\n";
    const fs::path folder = dir / fmt::format("{:04}", k);
    fs::create_directories(folder);
    common::write_file_atomic(folder / "series", series);
    Candidate c{fmt::format("commit {} {}", p.hash.substr(0, 12), p.subject), at_good, p.hash};
    c.variant.name = commit_variant_name(variant.name, p.hash);
    c.variant.patches.insert(c.variant.patches.begin(), folder);
    out.push_back(std::move(c));
  }
  return out;
}

// The judging of candidates, crash or metric, with what it learnt from the ends.
class Judge {
 public:
  explicit Judge(Env& env) : env_(env) {}

  // Runs and judges both ends; returns the evidence when they do not reproduce (exit 1).
  // `good_index` and `bad_index` number the ends in the table.
  std::optional<std::string> check_ends(const Candidate& good, int good_index, const Candidate& bad, int bad_index,
                                        std::vector<StepRecord>& rows);
  // A candidate between the ends; build failures and patches that do not apply are skips.
  StepRecord judge_step(int index, const Candidate& c);
  // Printed before the first step.
  std::string header() const { return header_; }

 private:
  StepRecord row(int index, const Candidate& c, const char* role, Judgement j, std::size_t runs, Clock::time_point t0) {
    return {index, c.label, role, j.verdict, std::move(j.why), runs,
            std::chrono::duration<double>(Clock::now() - t0).count()};
  }
  Judgement judge(const std::vector<RunSample>& runs) const {
    return env_.options.crash ? judge_crash(runs, target_) : judge_metric(finished_values(runs), good_, bad_);
  }

  Env& env_;
  CrashTarget target_;
  std::vector<double> good_, bad_;  // metric mode: the ends' values
  std::string header_;
};

std::optional<std::string> Judge::check_ends(const Candidate& good, int good_index, const Candidate& bad,
                                             int bad_index, std::vector<StepRecord>& rows) {
  auto t0 = Clock::now();
  auto good_runs = ensure_runs(env_, good, env_.repetitions);
  auto t1 = Clock::now();
  auto bad_runs = ensure_runs(env_, bad, env_.repetitions);
  if (env_.options.crash) {
    if (!env_.options.crash_pattern.empty()) {
      target_.pattern_text = env_.options.crash_pattern;
      target_.pattern = std::regex(env_.options.crash_pattern);
    }
    auto title = find_target_title(bad_runs, target_);
    std::string outcomes;
    for (const auto& r : bad_runs) outcomes += (outcomes.empty() ? "" : ", ") + r.outcome;
    if (!title)
      return fmt::format("bad is not bad: {} did not crash{} in {} run{} (outcomes: {})", bad.label,
                         target_.pattern ? " with a title matching '" + target_.pattern_text + "'" : "",
                         bad_runs.size(), bad_runs.size() == 1 ? "" : "s", outcomes);
    target_.title = *title;
    Judgement g = judge_crash(good_runs, target_);
    if (g.verdict != Verdict::kGood) return fmt::format("good is not good: {}: {}", good.label, g.why);
    rows.push_back(row(good_index, good, "good end", g, good_runs.size(), t0));
    rows.push_back(row(bad_index, bad, "bad end", judge_crash(bad_runs, target_), bad_runs.size(), t1));
    header_ = fmt::format("crash: {}", target_.title);
    return std::nullopt;
  }
  const auto direction = metric_direction(env_, env_.options.metric);
  EndsCheck ends = bisect::check_ends(finished_values(good_runs), finished_values(bad_runs), direction,
                                      env_.options.min_change_pct);
  if (!ends.reproduced && env_.max_repetitions > env_.repetitions) {  // more runs may separate them
    good_runs = ensure_runs(env_, good, env_.max_repetitions);
    bad_runs = ensure_runs(env_, bad, env_.max_repetitions);
    ends = bisect::check_ends(finished_values(good_runs), finished_values(bad_runs), direction,
                              env_.options.min_change_pct);
  }
  if (!ends.reproduced) return fmt::format("the ends do not reproduce a regression of {}: {}", env_.options.metric, ends.why);
  good_ = finished_values(good_runs);
  bad_ = finished_values(bad_runs);
  if (env_.options.min_change_pct > 0 && ends.detectable_pct && env_.options.min_change_pct < *ends.detectable_pct)
    throw UsageError(fmt::format("--min-change {}%: {} runs per candidate can detect changes of {:.1f}% or more here "
                                 "(good n {}, bad n {}); ask for at least that, or more --repetitions",
                                 env_.options.min_change_pct, env_.repetitions, *ends.detectable_pct, good_.size(),
                                 bad_.size()));
  rows.push_back(row(good_index, good, "good end", {Verdict::kGood, ends.why}, good_runs.size(), t0));
  rows.push_back(row(bad_index, bad, "bad end", {Verdict::kBad, fmt::format("{:+.1f}%", ends.change_pct)}, bad_runs.size(), t1));
  header_ = fmt::format("metric {}: {:+.1f}% from good to bad; the smallest change {} runs can detect here: {}",
                        env_.options.metric, ends.change_pct, good_.size(),
                        ends.detectable_pct ? fmt::format("{:.1f}%", *ends.detectable_pct) : std::string("unknown"));
  return std::nullopt;
}

StepRecord Judge::judge_step(int index, const Candidate& c) {
  const auto t0 = Clock::now();
  for (int repetitions = env_.repetitions;; repetitions = std::min(env_.max_repetitions, repetitions + env_.repetitions)) {
    Judgement skip;
    auto runs = runs_or_skip(env_, c, repetitions, skip);
    if (!runs) return row(index, c, "step", skip, 0, t0);
    Judgement j = judge(*runs);
    if (j.verdict != Verdict::kUnknown) return row(index, c, "step", j, runs->size(), t0);
    if (repetitions >= env_.max_repetitions) {
      j.verdict = Verdict::kSkip;
      j.why = fmt::format("still undecided after {} runs: {}", runs->size(), j.why);
      return row(index, c, "step", j, runs->size(), t0);
    }
    spdlog::info("{}: {}; {} runs now", c.label, j.why, std::min(env_.max_repetitions, repetitions + env_.repetitions));
  }
}

nlohmann::json rows_json(const std::vector<StepRecord>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows)
    out.push_back({{"candidate", r.candidate}, {"label", r.label}, {"role", r.role}, {"verdict", to_string(r.verdict)},
                   {"why", r.why}, {"runs", r.runs}, {"seconds", r.seconds}});
  return out;
}

void print_rows(std::ostream& out, const std::vector<StepRecord>& rows) {
  out << fmt::format("{:>3}  {:<48} {:<8} {:<7} {:>4} {:>7}  {}\n", "#", "candidate", "role", "verdict", "runs",
                     "seconds", "evidence");
  for (const auto& r : rows)
    out << fmt::format("{:>3}  {:<48} {:<8} {:<7} {:>4} {:>7.0f}  {}\n", r.candidate, r.label.substr(0, 48), r.role,
                       to_string(r.verdict), r.runs, r.seconds, r.why);
}

}  // namespace


namespace {

// Options checked and the suite's parts found; UsageError names the problem.
void check_options(const BisectOptions& o) {
  if (!o.series && (!o.good || !o.bad))
    throw UsageError("give --good REF and --bad REF (commits of the variant's git source), or --series to bisect "
                     "the variant's patch series");
  if (o.crash == !o.metric.empty()) throw UsageError("give exactly one of --crash [REGEX] and --metric METRIC");
  if (o.workload.empty()) throw UsageError("--workload NAME: which of the suite's workloads[].name to run");
  if (o.repetitions < 0 || o.max_repetitions < 0) throw UsageError("--repetitions and --max-repetitions must be >= 1");
  if (!o.crash_pattern.empty()) try {
      std::regex check(o.crash_pattern);
    } catch (const std::regex_error& e) {
      throw UsageError(fmt::format("--crash {}: not a regular expression ({})", o.crash_pattern, e.what()));
    }
}

// Series mode: the candidates between --good and --bad (patch counts, defaults 0 and all);
// `good` is set to the first one's patch count.
std::vector<Candidate> series_range(const config::KernelVariant& variant, const BisectOptions& o, const fs::path& dir,
                                    int& good) {
  std::vector<Candidate> cands = series_candidates(variant, dir);
  const int n = static_cast<int>(cands.size()) - 1;
  auto count = [&](const std::optional<std::string>& text, int fallback, const char* what) {
    if (!text) return fallback;
    if (auto k = common::parse_integer(*text); k && *k >= 0 && *k <= n) return static_cast<int>(*k);
    throw UsageError(fmt::format("{} {}: with --series, a number of patches (0..{})", what, *text, n));
  };
  good = count(o.good, 0, "--good");
  const int bad = count(o.bad, n, "--bad");
  if (good < 0 || bad > n || good >= bad)
    throw UsageError(fmt::format("--good {} --bad {}: need 0 <= good < bad <= {} (patches in the series)", good, bad, n));
  return std::vector<Candidate>(cands.begin() + good, cands.begin() + bad + 1);
}

nlohmann::json result_json(const std::vector<Candidate>& cands, int first_k, const Narrowed& n) {
  nlohmann::json r = {{"first_bad", nullptr}, {"last_good", cands[static_cast<std::size_t>(n.last_good)].label}};
  if (n.exact()) r["first_bad"] = cands[static_cast<std::size_t>(n.first_bad)].label;
  if (n.exact() && !cands[static_cast<std::size_t>(n.first_bad)].commit.empty())
    r["first_bad_commit"] = cands[static_cast<std::size_t>(n.first_bad)].commit;
  nlohmann::json range = nlohmann::json::array();
  for (int i : n.skipped) range.push_back(cands[static_cast<std::size_t>(i)].label);
  range.push_back(cands[static_cast<std::size_t>(n.first_bad)].label);
  r["range"] = range;
  r["first_bad_index"] = first_k + n.first_bad;
  return r;
}

int search(Env& env, const std::vector<Candidate>& cands, int first_k, std::ostream& out) {
  Judge judge(env);
  std::vector<StepRecord> rows;
  const int last = static_cast<int>(cands.size()) - 1;
  const fs::path state = env.store.dir() / "bisect.json";
  auto save = [&](const nlohmann::json& extra) {
    nlohmann::json doc = {{"steps", rows_json(rows)}, {"expected_steps", expected_steps(last + 1)}};
    doc.update(extra);
    common::write_file_atomic(state, doc.dump(2) + "\n");
    return doc;
  };
  if (auto evidence = judge.check_ends(cands.front(), first_k, cands.back(), first_k + last, rows)) {
    save({{"result", "ends-not-reproduced"}, {"evidence", *evidence}});
    if (env.options.json) out << save({{"result", "ends-not-reproduced"}, {"evidence", *evidence}}).dump(2) << "\n";
    else print_rows(out, rows);
    std::cerr << "foliolab bisect: " << *evidence << "\n";
    return static_cast<int>(common::ExitCode::kFailures);
  }
  spdlog::info("{}; {} candidates between the ends, at most {} steps without skips", judge.header(), last - 1,
               expected_steps(last + 1));
  std::vector<Verdict> verdicts(cands.size(), Verdict::kUnknown);
  verdicts.at(0) = Verdict::kGood;  // at(): GCC cannot see that there are two candidates at least
  verdicts.at(static_cast<std::size_t>(last)) = Verdict::kBad;
  while (auto next = next_candidate(verdicts)) {
    const auto& c = cands[static_cast<std::size_t>(*next)];
    spdlog::info("step {}: {}", rows.size() - 1, c.label);
    rows.push_back(judge.judge_step(first_k + *next, c));
    verdicts[static_cast<std::size_t>(*next)] = rows.back().verdict;
    spdlog::info("step {}: {} {} ({})", rows.size() - 2, c.label, to_string(rows.back().verdict), rows.back().why);
    save({{"result", "running"}});
  }
  const Narrowed n = narrowed(verdicts);
  nlohmann::json doc = save({{"result", n.exact() ? "first-bad" : "range"}, {"header", judge.header()},
                             {"answer", result_json(cands, first_k, n)}});
  if (env.options.json) {
    out << doc.dump(2) << "\n";
    return 0;
  }
  out << judge.header() << "\n";
  print_rows(out, rows);
  const int steps = static_cast<int>(rows.size()) - 2;
  out << fmt::format("steps: {} (ceil(log2({})) = {})\n", steps, last, expected_steps(last + 1));
  if (n.exact()) {
    out << "first bad: " << cands[static_cast<std::size_t>(n.first_bad)].label << "\n";
  } else {
    out << fmt::format("first bad: one of these (skipped candidates hide which):\n");
    for (int i : n.skipped) out << "  " << cands[static_cast<std::size_t>(i)].label << " (skipped)\n";
    out << "  " << cands[static_cast<std::size_t>(n.first_bad)].label << "\n";
  }
  return 0;
}

}  // namespace

int run_bisect(const BisectOptions& o, std::ostream& out) {
  check_options(o);
  config::Suite suite = config::load_suite(o.suite_file);
  const std::string variant_name = o.kernel.empty() ? suite.baseline : o.kernel;
  const config::KernelVariant* variant = suite.find_kernel(variant_name);
  if (!variant) throw UsageError(fmt::format("--kernel {}: {} has no such kernel variant", variant_name, o.suite_file.string()));
  const config::Arch arch = o.arch.value_or(suite.arches.front());
  const fs::path results = o.results_dir ? *o.results_dir
                                         : fs::path("results") / fmt::format("{}-bisect-{}", suite.name, o.workload);
  store::ResultStore store(results);
  std::error_code ec;
  if (!o.resume && fs::exists(store.runs_dir(), ec) && !fs::is_empty(store.runs_dir(), ec))
    throw UsageError(fmt::format("{} already holds runs; pass --resume to continue that bisect, or --results DIR",
                                 results.string()));
  const config::WorkloadEntry entry = find_entry(suite, o.workload);
  int good = 0;
  std::vector<Candidate> cands = o.series ? series_range(*variant, o, results / "series", good)
                                          : commit_candidates(*variant, *o.good, *o.bad, results / "commits");
  const int n = static_cast<int>(cands.size()) - 1;

  runner::SignalWatch signals;
  Env env{o, suite, entry, arch, catalog::Catalog::load(catalog::default_workloads_dir()),
          metrics::Registry::load_default(), build_options(o, suite), store, signals, cands.front().variant.name, 1, 1};
  env.repetitions = o.repetitions > 0 ? o.repetitions : o.crash ? 1 : 3;
  env.max_repetitions = std::max(env.repetitions, o.max_repetitions > 0 ? o.max_repetitions : 3 * env.repetitions);
  spdlog::info("bisect {} ({} {}) with {} on {}, results in {}", variant->name, n, o.series ? "patches" : "commits",
               entry.name, config::to_string(arch), results.string());
  try {
    return search(env, cands, good, out);
  } catch (const Stopped&) {
    std::cerr << fmt::format("foliolab bisect: interrupted by {}; every finished run is stored: rerun with --resume\n",
                             common::signal_name(signals.signal()));
    return 128 + signals.signal();
  }
}

}  // namespace foliolab::bisect
