#include "store/manifest.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace foliolab::store {
namespace {

RunManifest sample_manifest() {
  RunManifest m;
  m.suite = "quickstart";
  m.job_key = "abc123";
  m.baseline = "base";
  m.kernel.variant = "base";
  m.kernel.artifact_key = "k1";
  m.kernel.patches = {"0001-fix.patch"};
  m.kernel.metadata = {{"compiler", "gcc 12.2"}};
  m.arch = "arm64";
  m.machine = {"arm64-virt", "tcg", "QEMU emulator version 7.2.19", "2G", 2};
  m.settings = {{"thp.enabled", "always"}, {"swap.zram", "512M"}};
  m.workload = {"collapse-full", "khugepaged-collapse", {{"size", "64M"}}};
  m.repetition = 3;
  m.outcome = "kernel-warning";
  m.crash = CrashInfo{"WARNING: CPU: 0 PID: 1 at mm/huge_memory.c:1", "line1\nline2", "warning"};
  m.metrics = {{"vmstat.thp_fault_alloc", 32}, {"wl.collapsed_fraction", 0.98}};
  m.kernel_notices = {"mTHP collapse does not support max_ptes_none values other than 0 or 511, defaulting to 0."};
  metrics::MetricInfo info;
  info.kind = metrics::Kind::kValue;
  info.direction = metrics::Direction::kHigher;
  info.unit = "ratio";
  m.metric_info["wl.collapsed_fraction"] = info;
  return m;
}

TEST(Manifest, RoundTripsThroughJson) {
  const RunManifest m = sample_manifest();
  const auto json = to_json(m);
  EXPECT_EQ(json["settings_id"], settings_id(m.settings));
  const RunManifest back = manifest_from_json(nlohmann::json::parse(json.dump()), "m.json");
  EXPECT_EQ(back.job_key, "abc123");
  EXPECT_EQ(back.kernel.patches, m.kernel.patches);
  EXPECT_EQ(back.kernel.metadata["compiler"], "gcc 12.2");
  EXPECT_EQ(back.settings, m.settings);
  EXPECT_EQ(back.workload.params.at("size"), "64M");
  EXPECT_EQ(back.repetition, 3);
  ASSERT_TRUE(back.crash);
  EXPECT_EQ(back.crash->kind, "warning");
  EXPECT_EQ(back.metrics, m.metrics);
  EXPECT_EQ(back.kernel_notices, m.kernel_notices);
  EXPECT_EQ(back.metric_info.at("wl.collapsed_fraction").direction, metrics::Direction::kHigher);
  EXPECT_EQ(to_json(back).dump(), json.dump());
  EXPECT_EQ(back.samples_per_step, -1) << "not recorded in this manifest";
}

TEST(Manifest, RejectsUnknownSchemaAndOutcome) {
  auto json = to_json(sample_manifest());
  json["schema"] = 2;
  EXPECT_THROW(manifest_from_json(json, "m.json"), common::UsageError);
  json["schema"] = 1;
  json["outcome"] = "fine";
  EXPECT_THROW(manifest_from_json(json, "m.json"), common::UsageError);
  json["outcome"] = "ok";
  json.erase("workload");
  EXPECT_THROW(manifest_from_json(json, "m.json"), common::UsageError);
}

TEST(Manifest, SettingsIdIsStableAndDiscriminating) {
  EXPECT_EQ(settings_id({{"a", "1"}, {"b", "2"}}), settings_id({{"b", "2"}, {"a", "1"}}));
  EXPECT_NE(settings_id({{"a", "1"}}), settings_id({{"a", "2"}}));
  EXPECT_NE(settings_id({{"ab", "c"}}), settings_id({{"a", "bc"}}));
  EXPECT_EQ(settings_id({}).size(), 12u);
}

TEST(Manifest, RecordResultReducesAndBoundsGuestText) {
  RunManifest m = sample_manifest();
  collect::RunResult result;
  result.outcome = collect::Outcome::kKernelCrash;
  result.reason = "panic";
  result.crash = collect::CrashReport{"panic", "Kernel panic - not syncing: x", std::string(200000, 'e'), true};
  result.oom_kills = 1;
  for (int i = 0; i < 500; ++i) result.records.errors.push_back({"step", "s", "m"});
  collect::StepRecords step;
  step.samples.push_back({collect::SamplePhase::kBefore, 0, {{"vmstat.pswpout", 10}}});
  step.samples.push_back({collect::SamplePhase::kAfter, 9, {{"vmstat.pswpout", 16394}}});
  result.records.steps.push_back(step);
  collect::StepRecords longer = step;  // a second step with more samples: the fewest count
  longer.samples.insert(longer.samples.begin() + 1, 3, {collect::SamplePhase::kDuring, 4, {{"vmstat.pswpout", 5000}}});
  collect::TraceHistogram overflowed;
  overflowed.event = "kmem/mm_page_alloc";
  overflowed.field = "order";
  overflowed.counts = {{"0", 40}};
  overflowed.lost = 3051;
  longer.traces.push_back(overflowed);
  result.records.steps.push_back(longer);
  record_result(m, result, metrics::Registry::load_default());
  EXPECT_EQ(m.trace_lost, (std::map<std::string, std::int64_t>{{"kmem/mm_page_alloc", 3051}}));
  EXPECT_EQ(manifest_from_json(to_json(m), "m.json").trace_lost, m.trace_lost);
  EXPECT_DOUBLE_EQ(m.metrics.at("trace.mm_page_alloc.lost_events"), 3051);
  EXPECT_EQ(m.samples_per_step, 2);
  EXPECT_EQ(manifest_from_json(to_json(m), "m.json").samples_per_step, 2);
  EXPECT_EQ(m.outcome, "kernel-crash");
  EXPECT_EQ(m.crash->title, "Kernel panic - not syncing: x");
  EXPECT_LT(m.crash->excerpt.size(), 70000u);
  EXPECT_EQ(m.errors.size(), 100u);
  EXPECT_DOUBLE_EQ(m.metrics.at("vmstat.pswpout"), 16384);
  EXPECT_DOUBLE_EQ(m.metrics.at("console.oom_kills"), 1);
  EXPECT_EQ(outcome_name(collect::Outcome::kIntegrityFailed), std::string("integrity-failed"));
}

}  // namespace
}  // namespace foliolab::store
