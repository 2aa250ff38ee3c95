#include "metrics/reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace foliolab::metrics {
namespace {

collect::Sample sample(collect::SamplePhase phase, std::int64_t t_ms, std::map<std::string, std::int64_t> values) {
  collect::Sample s;
  s.phase = phase;
  s.t_ms = t_ms;
  s.values = std::move(values);
  return s;
}

TEST(Reduce, CountersGaugesWorkloadValuesAndTraces) {
  using collect::SamplePhase;
  collect::StepRecords step;
  step.samples.push_back(sample(SamplePhase::kBefore, 0,
                                {{"vmstat.thp_fault_alloc", 100}, {"vmstat.nr_free_pages", 1000},
                                 {"meminfo.AnonHugePages", 0}}));
  step.samples.push_back(sample(SamplePhase::kDuring, 250,
                                {{"vmstat.thp_fault_alloc", 120}, {"vmstat.nr_free_pages", 400},
                                 {"meminfo.AnonHugePages", 65536}}));
  step.samples.push_back(sample(SamplePhase::kAfter, 500,
                                {{"vmstat.thp_fault_alloc", 132}, {"vmstat.nr_free_pages", 700},
                                 {"meminfo.AnonHugePages", 2048}}));
  step.metrics.push_back({"wl.collapsed_fraction", 0.98, "ratio"});
  collect::TraceHistogram trace;
  trace.event = "huge_memory/mm_khugepaged_scan_pmd";
  trace.field = "status";
  trace.counts = {{"succeeded", 35}, {"exceed_swap_pte", 109}, {"lost_events", 3}};
  trace.lost = 12;
  step.traces.push_back(trace);

  const auto m = reduce_step(step, Registry::load_default());
  EXPECT_DOUBLE_EQ(m.at("vmstat.thp_fault_alloc"), 32);
  EXPECT_DOUBLE_EQ(m.at("vmstat.nr_free_pages"), 700);
  EXPECT_DOUBLE_EQ(m.at("vmstat.nr_free_pages.min"), 400);
  EXPECT_DOUBLE_EQ(m.at("vmstat.nr_free_pages.max"), 1000);
  EXPECT_DOUBLE_EQ(m.at("meminfo.AnonHugePages"), (0 + 65536 + 2048) / 3.0);
  EXPECT_DOUBLE_EQ(m.at("wl.collapsed_fraction"), 0.98);
  EXPECT_DOUBLE_EQ(m.at("trace.mm_khugepaged_scan_pmd.succeeded"), 35);
  EXPECT_DOUBLE_EQ(m.at("trace.mm_khugepaged_scan_pmd.exceed_swap_pte"), 109);
  EXPECT_DOUBLE_EQ(m.at("trace.mm_khugepaged_scan_pmd.total"), 35 + 109);
  // The agent's lost count, never a guest value that happens to carry the name.
  EXPECT_DOUBLE_EQ(m.at("trace.mm_khugepaged_scan_pmd.lost_events"), 12);
  EXPECT_EQ(m.count("vmstat.thp_fault_alloc.min"), 0u);
}

TEST(Reduce, TraceLostAddsUpStepsAndCountsAnEventOncePerStep) {
  collect::RunResult result;
  for (std::int64_t lost : {7, 0, 5}) {
    collect::StepRecords step;
    for (const char* field : {"status", "referenced"}) {  // one event counted by two fields
      collect::TraceHistogram trace;
      trace.event = "huge_memory/mm_khugepaged_scan_pmd";
      trace.field = field;
      trace.lost = lost;
      step.traces.push_back(trace);
    }
    collect::TraceHistogram clean;
    clean.event = "huge_memory/mm_collapse_huge_page";
    clean.field = "status";
    step.traces.push_back(clean);
    result.records.steps.push_back(step);
  }
  const auto lost = trace_lost(result);
  EXPECT_EQ(lost.at("huge_memory/mm_khugepaged_scan_pmd"), 12);
  EXPECT_EQ(lost.at("huge_memory/mm_collapse_huge_page"), 0) << "traced and complete";
  EXPECT_EQ(lost.size(), 2u);
}

TEST(Reduce, KindDecidesTheReduction) {
  // The same samples reduce differently when the registry calls the name a gauge.
  collect::StepRecords step;
  step.samples.push_back(sample(collect::SamplePhase::kBefore, 0, {{"x.level", 10}}));
  step.samples.push_back(sample(collect::SamplePhase::kAfter, 10, {{"x.level", 30}}));
  Registry registry = Registry::load_default();
  EXPECT_DOUBLE_EQ(reduce_step(step, registry).at("x.level"), 20);  // counter: last - first
  MetricInfo gauge;
  gauge.kind = Kind::kGauge;
  registry.set("x.level", gauge);
  const auto m = reduce_step(step, registry);
  EXPECT_DOUBLE_EQ(m.at("x.level"), 20);  // mean
  EXPECT_DOUBLE_EQ(m.at("x.level.max"), 30);
}

TEST(Reduce, UntrustedNamesAndValuesAreDropped) {
  collect::StepRecords step;
  step.samples.push_back(sample(collect::SamplePhase::kBefore, 0,
                                {{"vmstat.<script>", 1}, {"vmstat.ok", std::numeric_limits<std::int64_t>::min()}}));
  step.samples.push_back(sample(collect::SamplePhase::kAfter, 1,
                                {{"vmstat.<script>", 2}, {"vmstat.ok", std::numeric_limits<std::int64_t>::max()}}));
  step.metrics.push_back({"wl.nan", std::nan(""), ""});
  step.metrics.push_back({"wl.bad name", 1, ""});
  step.metrics.push_back({"plain", 3, ""});
  const auto m = reduce_step(step, Registry::load_default());
  EXPECT_EQ(m.count("vmstat.<script>"), 0u);
  EXPECT_EQ(m.count("wl.nan"), 0u);
  EXPECT_EQ(m.count("wl.bad name"), 0u);
  EXPECT_DOUBLE_EQ(m.at("wl.plain"), 3);
  EXPECT_GT(m.at("vmstat.ok"), 1.8e19);  // no signed overflow
}

TEST(Reduce, RunAddsOomKills) {
  collect::RunResult result;
  result.oom_kills = 2;
  result.records.steps.emplace_back();
  result.records.steps.back().metrics.push_back({"wl.a", 1, ""});
  const auto m = reduce_run(result, Registry::load_default());
  EXPECT_DOUBLE_EQ(m.at("console.oom_kills"), 2);
  EXPECT_DOUBLE_EQ(m.at("wl.a"), 1);
}

}  // namespace
}  // namespace foliolab::metrics
