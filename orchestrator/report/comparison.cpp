#include "report/comparison.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <unordered_map>

#include "common/errors.h"
#include "store/result_store.h"

namespace foliolab::report {

namespace {

// Outcomes whose metrics are trusted: the workload ran to its end.
bool contributes_metrics(const std::string& outcome) { return outcome == "ok" || outcome == "kernel-warning"; }

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kBaseline: return "baseline";
    case Verdict::kImprovement: return "improvement";
    case Verdict::kRegression: return "regression";
    case Verdict::kChanged: return "changed";
    case Verdict::kNoChange: return "no-change";
    case Verdict::kNoisy: return "noisy";
    case Verdict::kUnconfirmed: return "unconfirmed";
    case Verdict::kIncomplete: return "incomplete";
    case Verdict::kTooFewRuns: return "too-few-runs";
    case Verdict::kFewSamples: return "few-samples";
    case Verdict::kMissing: return "missing";
    case Verdict::kAbsent: return "absent";
  }
  return "missing";
}

double significance_level(const VerdictRules& rules) {
  return std::round((1.0 - rules.confidence) * 1e12) / 1e12;
}

double effective_threshold(const metrics::MetricInfo& info, const VerdictRules& rules) {
  return rules.threshold_pct ? *rules.threshold_pct : info.threshold_pct;
}

void measure_cell(const Cell& baseline, Cell& variant, const VerdictRules& rules) {
  const Summary& b = baseline.summary;
  const Summary& v = variant.summary;
  variant.change_pct.reset();
  variant.welch.reset();
  variant.p_adjusted.reset();
  variant.detectable_pct.reset();
  variant.detectable_difference.reset();
  variant.significant = false;
  variant.ci_overlap = true;
  variant.difference = 0;
  variant.verdict = Verdict::kMissing;
  if (b.n == 0 || v.n == 0) return;
  variant.difference = v.mean - b.mean;
  if (b.mean != 0) variant.change_pct = 100.0 * variant.difference / std::fabs(b.mean);
  variant.ci_overlap = intervals_overlap(b, v);
  variant.welch = welch_t_test(v, b);
  variant.detectable_pct = detectable_change_pct(b, v, rules.confidence);
  variant.detectable_difference = detectable_difference(b, v, rules.confidence);
}

bool is_tested(const Cell& baseline, const Cell& variant, const VerdictRules& rules) {
  return variant.welch && baseline.summary.n >= rules.min_runs && variant.summary.n >= rules.min_runs &&
         baseline.incomplete_runs == 0 && variant.incomplete_runs == 0;
}

namespace {

Verdict change_verdict(const metrics::MetricInfo& info, bool up) {
  switch (info.direction) {
    case metrics::Direction::kHigher: return up ? Verdict::kImprovement : Verdict::kRegression;
    case metrics::Direction::kLower: return up ? Verdict::kRegression : Verdict::kImprovement;
    case metrics::Direction::kNeutral: return Verdict::kChanged;
  }
  return Verdict::kChanged;
}

}  // namespace

void judge_cell(const Cell& baseline, Cell& variant, const metrics::MetricInfo& info, const VerdictRules& rules) {
  const Summary& b = baseline.summary;
  const Summary& v = variant.summary;
  variant.significant = false;
  if (b.n == 0 || v.n == 0) {
    variant.verdict = Verdict::kMissing;
    return;
  }
  // Counts that are lower bounds claim nothing either way.
  if (baseline.incomplete_runs > 0 || variant.incomplete_runs > 0) {
    variant.verdict = Verdict::kIncomplete;
    return;
  }
  // Too few values claim nothing, not even significance: no p_adjusted, no flag.
  if (!is_tested(baseline, variant, rules) || !variant.p_adjusted) {
    variant.verdict = Verdict::kTooFewRuns;
    return;
  }
  const double alpha = significance_level(rules);
  variant.significant = *variant.p_adjusted <= alpha && !variant.ci_overlap;
  const bool significant_alone = variant.welch->p <= alpha && !variant.ci_overlap;
  const double threshold = effective_threshold(info, rules);
  // From a baseline of 0 any change is larger than every threshold.
  const bool large = variant.change_pct ? std::fabs(*variant.change_pct) >= threshold : variant.difference != 0;
  if (variant.significant && large) {
    // A gauge's mean over few samples per step says when the sampler looked: only a change is
    // withheld ("no change" or "noisy" over few samples claims nothing).
    const int sampled = variant.fewest_samples;
    const bool undersampled = info.kind == metrics::Kind::kGauge && sampled >= 0 && sampled < rules.min_gauge_samples;
    variant.verdict = undersampled ? Verdict::kFewSamples : change_verdict(info, variant.difference > 0);
    return;
  }
  if (significant_alone && large) {
    variant.verdict = Verdict::kUnconfirmed;
    return;
  }
  // The spread hides a threshold-sized change. From a baseline of 0 there is no percentage:
  // every non-zero change is threshold-sized, so any spread that could hide one does.
  const bool hides = variant.detectable_pct ? *variant.detectable_pct > threshold
                                            : variant.detectable_difference.value_or(0) > 0;
  variant.verdict = hides ? Verdict::kNoisy : Verdict::kNoChange;
}

void compare_cell(const Cell& baseline, Cell& variant, const metrics::MetricInfo& info, const VerdictRules& rules) {
  measure_cell(baseline, variant, rules);
  if (is_tested(baseline, variant, rules)) variant.p_adjusted = variant.welch->p;
  judge_cell(baseline, variant, info, rules);
}

bool MetricRow::has_change() const {
  return std::any_of(cells.begin(), cells.end(), [](const Cell& c) {
    return c.verdict == Verdict::kImprovement || c.verdict == Verdict::kRegression || c.verdict == Verdict::kChanged;
  });
}

bool MetricRow::only_in_some() const {
  if (cells.size() < 2) return false;
  const auto absent = [](const Cell& c) { return c.verdict == Verdict::kAbsent; };
  const auto compared = [](const Cell& c) { return c.verdict != Verdict::kAbsent && c.verdict != Verdict::kMissing; };
  return std::any_of(cells.begin(), cells.end(), absent) && std::none_of(cells.begin() + 1, cells.end(), compared);
}

int OutcomeCell::total() const {
  int n = 0;
  for (const auto& [outcome, count] : by_outcome) n += count;
  return n;
}

int OutcomeCell::finished() const {
  int n = 0;
  for (const auto& [outcome, count] : by_outcome)
    if (contributes_metrics(outcome)) n += count;
  return n;
}

int OutcomeCell::failed() const {
  int n = 0;
  for (const auto& [outcome, count] : by_outcome)
    if (outcome != "ok" && outcome != "skipped" && outcome != "infra-error") n += count;
  return n;
}

int OutcomeCell::crashes() const {
  int n = 0;
  for (const auto& [outcome, count] : by_outcome)
    if (outcome == "kernel-crash" || outcome == "kernel-warning" || outcome == "boot-failed") n += count;
  return n;
}

int OutcomeCell::integrity() const {
  auto it = by_outcome.find("integrity-failed");
  return it == by_outcome.end() ? 0 : it->second;
}

std::string Group::label() const { return fmt::format("{} {}", arch, workload_name); }

std::vector<std::filesystem::path> find_result_stores(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw common::UsageError(fmt::format("{}: no such folder", dir.string()));
  if (store::is_result_store(dir)) return {dir};
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && store::is_result_store(entry.path())) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::string group_key(const store::IndexedRun& r) {
  // \x1f cannot appear in a JSON-dumped map or a job-derived name: an unambiguous separator.
  std::string params;
  for (const auto& [k, v] : r.params) params += k + "=" + v + "\x1e";
  return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}", r.arch, r.workload_name, r.workload, params, r.settings_id);
}

struct LoadedStore {
  std::unique_ptr<store::ResultStore> store;
  std::vector<store::IndexedRun> runs;
  std::vector<std::string> metric_names;  // by local metric id
};

// Packed sort key of one metric value: group, metric, variant, run order.
constexpr int kOrderBits = 20, kVariantBits = 8, kMetricBits = 20, kGroupBits = 16;
struct Entry {
  std::uint64_t key;
  double value;
};

// The variants that have a metric (values[v]: its values in variant v) when some variant that
// finished runs in the group has none, else nothing: the metric exists in one kernel only.
std::vector<std::string> variants_having(const Group& g, const std::vector<std::vector<double>>& values,
                                         const std::vector<std::string>& variants) {
  std::vector<std::string> having;
  bool lacking = false;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    if (!values[v].empty()) having.push_back(variants[v]);
    else lacking = lacking || g.outcomes[v].finished() > 0;
  }
  return lacking ? having : std::vector<std::string>{};
}

// Marks the cells of a row whose metric some variants lack as absent: those of the variants
// that finished runs without it and, when the baseline is one of them, those with values
// (nothing to compare them with). A variant without finished runs stays missing: nothing says
// its kernel lacks the metric. measure_cell left these cells without comparison fields.
void mark_absent(const Group& g, MetricRow& row) {
  const bool baseline_absent = row.cells[0].summary.n == 0 && g.outcomes[0].finished() > 0;
  for (std::size_t v = 0; v < row.cells.size(); ++v) {
    Cell& c = row.cells[v];
    const bool lacks = c.summary.n == 0 && g.outcomes[v].finished() > 0;
    if (lacks || (v > 0 && baseline_absent && c.summary.n > 0)) c.verdict = Verdict::kAbsent;
  }
}

}  // namespace

namespace {

constexpr std::uint32_t kNoMetric = ~std::uint32_t{0};

// The metrics of tracepoint histograms among a comparison's metric names (sorted, unique), as
// metrics::reduce_step names them: trace.<event>.<value>, .total and .lost_events.
struct TraceMetricIds {
  // A run that traced an event (it has trace.<event>.total) but never saw one of its values
  // counts that value as 0, so that a bucket that appears or vanishes between kernels
  // (pte_uffd_wp -> pte_non_present) is compared instead of dropped.
  std::map<std::uint32_t, std::vector<std::uint32_t>> buckets_of_total;  // .total id -> bucket ids
  std::vector<std::uint32_t> lost_of;  // metric id -> the id of its tracepoint's .lost_events, or kNoMetric
  std::vector<bool> is_lost;           // metric id -> it is a .lost_events
};

TraceMetricIds trace_metric_ids(const std::vector<std::string>& names) {
  TraceMetricIds out;
  out.lost_of.assign(names.size(), kNoMetric);
  out.is_lost.assign(names.size(), false);
  auto id_of = [&](const std::string& name) {
    auto it = std::lower_bound(names.begin(), names.end(), name);
    return it != names.end() && *it == name ? static_cast<std::uint32_t>(it - names.begin()) : kNoMetric;
  };
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    const auto dot = n.starts_with("trace.") ? n.find('.', 6) : std::string::npos;
    if (dot == std::string::npos) continue;
    const std::string_view value = std::string_view(n).substr(dot + 1);
    out.is_lost[i] = value == "lost_events";
    if (!out.is_lost[i]) out.lost_of[i] = id_of(n.substr(0, dot) + ".lost_events");
    if (out.is_lost[i] || value == "total") continue;
    if (const std::uint32_t total = id_of(n.substr(0, dot) + ".total"); total != kNoMetric)
      out.buckets_of_total[total].push_back(static_cast<std::uint32_t>(i));
  }
  return out;
}

}  // namespace

void judge_comparison(Comparison& cmp) {
  // One family for the whole report: every group, metric and variant against the baseline.
  // A report is read as one list of flags, so it is their share of false ones that is kept.
  std::vector<Cell*> tested;
  std::vector<double> p;
  for (auto& g : cmp.groups)
    for (auto& row : g.rows)
      for (std::size_t v = 1; v < row.cells.size(); ++v)
        if (is_tested(row.cells[0], row.cells[v], cmp.rules)) {
          tested.push_back(&row.cells[v]);
          p.push_back(row.cells[v].welch->p);
        }
  const std::vector<double> q = benjamini_hochberg(p);
  cmp.fdr = FalseDiscoveryControl{};
  cmp.fdr.alpha = significance_level(cmp.rules);
  cmp.fdr.tests = tested.size();
  for (std::size_t i = 0; i < tested.size(); ++i) {
    tested[i]->p_adjusted = q[i];
    if (q[i] <= cmp.fdr.alpha) cmp.fdr.p_cutoff = std::max(cmp.fdr.p_cutoff.value_or(0.0), p[i]);
  }
  for (auto& g : cmp.groups) {
    for (auto& row : g.rows) {
      for (std::size_t v = 1; v < row.cells.size(); ++v) judge_cell(row.cells[0], row.cells[v], row.info, cmp.rules);
      if (g.only_in.contains(row.name)) mark_absent(g, row);
    }
  }
}

namespace {

// The results folders named on the command line, each once however it was named (twice,
// through a parent, a link). Throws UsageError for a folder without results.
std::vector<std::filesystem::path> result_dirs(const std::vector<std::filesystem::path>& named) {
  std::vector<std::filesystem::path> dirs;
  std::set<std::filesystem::path> seen;
  for (const auto& dir : named) {
    auto found = find_result_stores(dir);
    if (found.empty()) throw common::UsageError(fmt::format("{}: no results (no runs/ folder or index.sqlite)", dir.string()));
    for (const auto& f : found)
      if (seen.insert(std::filesystem::weakly_canonical(f)).second) dirs.push_back(f);
  }
  return dirs;
}

// Step 1 of a comparison: every index brought up to date and its runs read, a run found in two
// folders (the same job key) counted once; what each workload's descriptor says about its
// metrics (per workload: one name may mean different things in two workloads) into
// `workload_info`; sources and warnings into `cmp`.
std::vector<LoadedStore> load_stores(const std::vector<std::filesystem::path>& dirs, Comparison& cmp,
                                     std::map<std::string, std::map<std::string, metrics::MetricInfo>>& workload_info) {
  std::vector<LoadedStore> stores;
  std::set<std::string> seen_keys;
  std::size_t duplicates = 0;
  for (const auto& dir : dirs) {
    store::StoreOptions options;
    LoadedStore loaded{std::make_unique<store::ResultStore>(dir, options), {}, {}};
    const auto report = loaded.store->sync_index();
    loaded.runs = loaded.store->index().runs();
    std::erase_if(loaded.runs, [&](const store::IndexedRun& r) {
      bool again = !seen_keys.insert(r.job_key).second;
      duplicates += again;
      return again;
    });
    loaded.metric_names = loaded.store->index().metric_names();
    for (auto& [workload, infos] : loaded.store->index().metric_info())
      for (auto& [name, info] : infos) workload_info[workload][name] = info;
    cmp.sources.push_back(SourceInfo{dir, loaded.runs.size(), report.incomplete, report.invalid});
    if (report.incomplete > 0)
      cmp.warnings.push_back(fmt::format("{}: {} interrupted run folder(s) not counted", dir.string(), report.incomplete));
    if (report.invalid > 0)
      cmp.warnings.push_back(fmt::format("{}: {} invalid run folder(s) ignored", dir.string(), report.invalid));
    stores.push_back(std::move(loaded));
  }
  if (duplicates > 0)
    cmp.warnings.push_back(fmt::format("{} run(s) found in more than one results folder (the same job key) counted once",
                                       duplicates));
  return stores;
}

}  // namespace

Comparison build_comparison(const CompareInput& input) {
  Comparison cmp;
  cmp.rules = input.rules;
  // 1. Bring every index up to date and read its runs.
  metrics::Registry registry = metrics::Registry::load_default();
  std::map<std::string, std::map<std::string, metrics::MetricInfo>> workload_info;
  std::vector<LoadedStore> stores = load_stores(result_dirs(input.dirs), cmp, workload_info);
  std::optional<metrics::Registry> user_registry;
  if (input.registry_file) user_registry = metrics::Registry::load(*input.registry_file);

  // 2. Variants, baseline, groups, run order.
  std::set<std::string> variant_set;
  std::map<std::string, int> recorded_baselines;
  std::map<std::string, const store::IndexedRun*> group_first;
  std::vector<const store::IndexedRun*> all_runs;
  std::set<std::string> hosts;
  for (const auto& s : stores) {
    for (const auto& r : s.runs) {
      variant_set.insert(r.variant);
      if (!r.baseline.empty()) ++recorded_baselines[r.baseline];
      group_first.emplace(group_key(r), &r);
      all_runs.push_back(&r);
      if (!r.host.empty()) hosts.insert(r.host);
    }
  }
  cmp.total_runs = all_runs.size();
  cmp.hosts.assign(hosts.begin(), hosts.end());
  if (variant_set.empty()) throw common::UsageError("no runs to compare");
  if (input.baseline) {
    if (!variant_set.contains(*input.baseline)) {
      throw common::UsageError(fmt::format("baseline '{}' has no runs; variants: {}", *input.baseline,
                                           fmt::join(variant_set, ", ")));
    }
    cmp.baseline = *input.baseline;
  } else {
    // The suite's own baseline as the manifests record it (the most common one), else a
    // variant called base or baseline, else the first by name.
    std::string best;
    int best_count = 0;
    for (const auto& [name, count] : recorded_baselines)
      if (count > best_count && variant_set.contains(name)) best = name, best_count = count;
    if (best.empty()) best = variant_set.contains("base") ? "base" : variant_set.contains("baseline") ? "baseline" : "";
    cmp.baseline = best.empty() ? *variant_set.begin() : best;
  }
  cmp.variants.push_back(cmp.baseline);
  for (const auto& v : variant_set)
    if (v != cmp.baseline) cmp.variants.push_back(v);
  std::unordered_map<std::string, std::uint32_t> variant_index;
  for (std::uint32_t i = 0; i < cmp.variants.size(); ++i) variant_index[cmp.variants[i]] = i;

  // Groups sorted by arch, workload name, settings id.
  std::vector<std::pair<std::string, const store::IndexedRun*>> group_list(group_first.begin(), group_first.end());
  std::sort(group_list.begin(), group_list.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second->arch, a.second->workload_name, a.second->settings_id, a.first) <
           std::tie(b.second->arch, b.second->workload_name, b.second->settings_id, b.first);
  });
  std::unordered_map<std::string, std::uint32_t> group_index;
  for (const auto& [key, run] : group_list) {
    Group g;
    g.arch = run->arch;
    g.workload_name = run->workload_name;
    g.workload = run->workload;
    g.params = run->params;
    g.settings_id = run->settings_id;
    g.settings = run->settings;
    g.outcomes.resize(cmp.variants.size());
    group_index[key] = static_cast<std::uint32_t>(cmp.groups.size());
    cmp.groups.push_back(std::move(g));
  }
  if (cmp.groups.size() >= (1u << kGroupBits) || cmp.variants.size() >= (1u << kVariantBits) ||
      all_runs.size() >= (1u << kOrderBits))
    throw common::UsageError("too many groups, variants or runs for one comparison: compare fewer folders");

  // Settings equal in every group are said once, in the header.
  cmp.common_settings = cmp.groups.front().settings;
  for (const auto& g : cmp.groups) {
    for (auto it = cmp.common_settings.begin(); it != cmp.common_settings.end();) {
      auto found = g.settings.find(it->first);
      it = (found == g.settings.end() || found->second != it->second) ? cmp.common_settings.erase(it) : std::next(it);
    }
  }

  // Runs in (repetition, job key) order: the order of values inside a cell.
  std::sort(all_runs.begin(), all_runs.end(), [](const auto* a, const auto* b) {
    return std::tie(a->repetition, a->job_key) < std::tie(b->repetition, b->job_key);
  });
  std::unordered_map<const store::IndexedRun*, std::uint32_t> run_order;
  for (std::uint32_t i = 0; i < all_runs.size(); ++i) run_order[all_runs[i]] = i;

  // Outcome tables, and a warning when a variant mixes kernel builds on one arch.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> artifacts;
  for (std::size_t si = 0; si < stores.size(); ++si) {
    for (const auto& r : stores[si].runs) {
      auto& cell = cmp.groups[group_index.at(group_key(r))].outcomes[variant_index.at(r.variant)];
      ++cell.by_outcome[r.outcome];
      if (!r.crash_title.empty()) ++cell.crash_titles[r.crash_title];
      cell.runs.push_back(RunRef{r.job_key, stores[si].store->run_dir(r.job_key), r.repetition, r.outcome,
                                 r.outcome_reason, r.crash_title});
      if (!r.artifact_key.empty()) artifacts[{r.variant, r.arch}].insert(r.artifact_key);
    }
  }
  for (auto& g : cmp.groups)
    for (auto& cell : g.outcomes)
      std::sort(cell.runs.begin(), cell.runs.end(), [](const RunRef& a, const RunRef& b) {
        return std::tie(a.repetition, a.job_key) < std::tie(b.repetition, b.job_key);
      });
  for (const auto& [key, keys] : artifacts)
    if (keys.size() > 1)
      cmp.warnings.push_back(fmt::format("variant {} on {} has runs of {} different kernel builds", key.first,
                                         key.second, keys.size()));

  // 3. Metric names: global ids in name order, so rows come out sorted.
  std::vector<std::string> names;
  for (const auto& s : stores)
    for (const auto& n : s.metric_names)
      if (!n.empty()) names.push_back(n);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() >= (1u << kMetricBits)) throw common::UsageError("too many distinct metric names");
  // Per workload: the shipped registry, then that workload's descriptors, then the user's
  // --registry file (which wins).
  std::map<std::string, std::vector<metrics::MetricInfo>> infos;
  auto infos_for = [&](const std::string& workload) -> const std::vector<metrics::MetricInfo>& {
    auto it = infos.find(workload);
    if (it != infos.end()) return it->second;
    metrics::Registry merged = registry;
    if (auto w = workload_info.find(workload); w != workload_info.end())
      for (const auto& [name, info] : w->second) merged.set(name, info);
    if (user_registry) merged.overlay(*user_registry);
    std::vector<metrics::MetricInfo> out;
    out.reserve(names.size());
    for (const auto& n : names) out.push_back(merged.lookup(n));
    return infos.emplace(workload, std::move(out)).first->second;
  };

  // Per (group, variant): the fewest samples per step over the runs that give metrics (-1 when
  // no run recorded it, e.g. manifests older than the field).
  std::map<std::pair<std::size_t, std::size_t>, int> fewest_samples;
  for (const auto& s : stores) {
    for (const auto& r : s.runs) {
      if (!contributes_metrics(r.outcome) || r.samples_per_step < 0) continue;
      auto [it, fresh] = fewest_samples.try_emplace({group_index.at(group_key(r)), variant_index.at(r.variant)},
                                                   r.samples_per_step);
      if (!fresh) it->second = std::min(it->second, r.samples_per_step);
    }
  }
  for (std::size_t gi = 0; gi < cmp.groups.size(); ++gi)
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) fewest_samples.try_emplace({gi, v}, -1);

  const TraceMetricIds trace = trace_metric_ids(names);
  // (group and variant bits of a key, .lost_events id) -> runs that lost events of that tracepoint
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::uint32_t> incomplete;

  // 4. Every value as a packed (group, metric, variant, run order) key, sorted.
  std::vector<Entry> entries;
  for (const auto& s : stores) {
    std::vector<std::uint32_t> global(s.metric_names.size(), 0);
    for (std::size_t i = 0; i < s.metric_names.size(); ++i) {
      if (s.metric_names[i].empty()) continue;
      global[i] = static_cast<std::uint32_t>(std::lower_bound(names.begin(), names.end(), s.metric_names[i]) - names.begin());
    }
    // Run id -> prefix of the key (group, variant, order), or 0 for runs without trusted metrics.
    std::int64_t max_id = 0;
    for (const auto& r : s.runs) max_id = std::max(max_id, r.id);
    std::vector<std::uint64_t> prefix(static_cast<std::size_t>(max_id) + 1, ~std::uint64_t{0});
    std::size_t contributing = 0;
    for (const auto& r : s.runs) {
      if (!contributes_metrics(r.outcome)) continue;
      const std::uint64_t g = group_index.at(group_key(r));
      const std::uint64_t v = variant_index.at(r.variant);
      const std::uint64_t o = run_order.at(&r);
      prefix[static_cast<std::size_t>(r.id)] =
          (g << (kMetricBits + kVariantBits + kOrderBits)) | (v << kOrderBits) | o;
      ++contributing;
    }
    entries.reserve(entries.size() + contributing * s.metric_names.size());
    std::uint64_t run_prefix = ~std::uint64_t{0};
    std::vector<std::uint32_t> run_metrics;  // global ids the current run has
    auto fill_missing_buckets = [&] {
      if (run_prefix == ~std::uint64_t{0} || trace.buckets_of_total.empty()) return;
      std::sort(run_metrics.begin(), run_metrics.end());
      for (const auto& [total, buckets] : trace.buckets_of_total) {
        if (!std::binary_search(run_metrics.begin(), run_metrics.end(), total)) continue;
        for (std::uint32_t b : buckets)
          if (!std::binary_search(run_metrics.begin(), run_metrics.end(), b))
            entries.push_back(Entry{run_prefix | (std::uint64_t{b} << (kVariantBits + kOrderBits)), 0.0});
      }
    };
    std::int64_t current_run = -1;
    s.store->index().for_each_metric([&](std::int64_t run_id, std::int64_t metric_id, double value) {
      if (run_id < 0 || run_id > max_id || metric_id < 0 || static_cast<std::size_t>(metric_id) >= global.size()) return;
      if (run_id != current_run) {  // values come ordered by run id
        fill_missing_buckets();
        current_run = run_id;
        run_prefix = prefix[static_cast<std::size_t>(run_id)];
        run_metrics.clear();
      }
      if (run_prefix == ~std::uint64_t{0}) return;
      const std::uint32_t id = global[static_cast<std::size_t>(metric_id)];
      if (trace.is_lost[id]) {  // not a row of its own: it marks its tracepoint's rows
        if (value > 0) ++incomplete[{run_prefix >> kOrderBits, id}];
        return;
      }
      run_metrics.push_back(id);
      entries.push_back(Entry{run_prefix | (std::uint64_t{id} << (kVariantBits + kOrderBits)), value});
    });
    fill_missing_buckets();
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });

  // 5. One sweep: a row per (group, metric), a cell per variant.
  const std::uint64_t variant_mask = (std::uint64_t{1} << kVariantBits) - 1;
  const int row_shift = kVariantBits + kOrderBits;
  std::size_t i = 0;
  std::vector<std::vector<double>> per_variant(cmp.variants.size());
  while (i < entries.size()) {
    const std::uint64_t row_key = entries[i].key >> row_shift;
    const auto group = static_cast<std::size_t>(row_key >> kMetricBits);
    const auto metric = static_cast<std::size_t>(row_key & ((std::uint64_t{1} << kMetricBits) - 1));
    for (auto& values : per_variant) values.clear();
    bool any_nonzero = false;
    bool all_positive = true;
    for (; i < entries.size() && (entries[i].key >> row_shift) == row_key; ++i) {
      const auto v = static_cast<std::size_t>((entries[i].key >> kOrderBits) & variant_mask);
      per_variant[v].push_back(entries[i].value);
      any_nonzero = any_nonzero || entries[i].value != 0;
      all_positive = all_positive && entries[i].value > 0;
    }
    Group& g = cmp.groups[group];
    std::vector<std::string> having = variants_having(g, per_variant, cmp.variants);
    if (!having.empty()) g.only_in.emplace(names[metric], std::move(having));
    if (!any_nonzero) {
      g.all_zero.push_back(names[metric]);
      continue;
    }
    const metrics::MetricInfo& info = infos_for(g.workload)[metric];
    // Harmonic means only where every variant's values allow them, so that all cells of a
    // row are on the same scale.
    const bool harmonic = info.rate && info.direction == metrics::Direction::kHigher && all_positive;
    MetricRow row;
    row.name = names[metric];
    row.info = info;
    row.cells.resize(cmp.variants.size());
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      row.cells[v].values = per_variant[v];
      row.cells[v].summary = summarize(per_variant[v], harmonic, cmp.rules.confidence);
    }
    for (std::size_t v = 0; v < cmp.variants.size(); ++v) {
      row.cells[v].runs = static_cast<std::size_t>(g.outcomes[v].finished());
      if (trace.lost_of[metric] == kNoMetric) continue;
      const std::uint64_t group_variant = (std::uint64_t{group} << (kMetricBits + kVariantBits)) | v;
      if (auto it = incomplete.find({group_variant, trace.lost_of[metric]}); it != incomplete.end())
        row.cells[v].incomplete_runs = it->second;
    }
    row.cells[0].verdict = row.cells[0].summary.n > 0 ? Verdict::kBaseline : Verdict::kMissing;
    for (std::size_t v = 1; v < cmp.variants.size(); ++v) {
      measure_cell(row.cells[0], row.cells[v], cmp.rules);
      const int a = fewest_samples[{group, 0}], b = fewest_samples[{group, v}];
      row.cells[v].fewest_samples = a < 0 ? b : b < 0 ? a : std::min(a, b);
    }
    g.rows.push_back(std::move(row));
  }
  // 6. Verdicts, once every p value of the comparison is known.
  judge_comparison(cmp);
  return cmp;
}

}  // namespace foliolab::report
