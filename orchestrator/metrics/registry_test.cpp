#include "metrics/registry.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace foliolab::metrics {
namespace {

TEST(Registry, ShippedRegistryKnowsDirections) {
  const Registry registry = Registry::load_default();
  const auto fallback = registry.lookup("vmstat.thp_fault_fallback");
  EXPECT_TRUE(fallback.known);
  EXPECT_EQ(fallback.direction, Direction::kLower);
  EXPECT_EQ(fallback.kind, Kind::kCounter);
  EXPECT_DOUBLE_EQ(fallback.threshold_pct, 1.0);
  EXPECT_EQ(registry.lookup("vmstat.thp_collapse_alloc").direction, Direction::kHigher);
  // Patterns of the `metrics:` map apply to every mTHP size.
  const auto mthp = registry.lookup("mthp.64kB.swpout_fallback");
  EXPECT_TRUE(mthp.known);
  EXPECT_EQ(mthp.direction, Direction::kLower);
}

TEST(Registry, StatedDefaultsForUnknownNames) {
  const Registry registry = Registry::load_default();
  // protocol.md section 6: vmstat.nr_*, meminfo.*, mthp.*.nr_* and zram sizes are gauges.
  for (const char* gauge : {"vmstat.nr_free_pages", "meminfo.Cached", "mthp.2048kB.nr_anon",
                            "zram.mem_used_total"}) {
    const auto info = registry.lookup(gauge);
    EXPECT_EQ(info.kind, Kind::kGauge) << gauge;
    EXPECT_FALSE(info.known) << gauge;
    EXPECT_EQ(info.direction, Direction::kNeutral) << gauge;
  }
  // Everything else from samples is a counter, neutral, with the vmstat-type 1% threshold.
  for (const char* counter : {"vmstat.pgsteal_kswapd", "mthp.64kB.split_deferred", "zram.notify_free",
                              "trace.mm_khugepaged_scan_pmd.exceed_swap_pte"}) {
    const auto info = registry.lookup(counter);
    EXPECT_EQ(info.kind, Kind::kCounter) << counter;
    EXPECT_EQ(info.direction, Direction::kNeutral) << counter;
    EXPECT_DOUBLE_EQ(info.threshold_pct, 1.0) << counter;
  }
  // Workload values not described anywhere: value, neutral, 5%.
  const auto wl = registry.lookup("wl.something_new");
  EXPECT_EQ(wl.kind, Kind::kValue);
  EXPECT_DOUBLE_EQ(wl.threshold_pct, 5.0);
  // A gauge's .min/.max share the gauge's info, a counter's do not become gauges.
  EXPECT_EQ(registry.lookup("meminfo.AnonHugePages.max").kind, Kind::kGauge);
  EXPECT_TRUE(registry.lookup("meminfo.AnonHugePages.min").known);
  EXPECT_EQ(registry.lookup("vmstat.pgfault.max").kind, Kind::kCounter);
}

TEST(Registry, SetAndOverlayTakePrecedence) {
  Registry registry = Registry::load_default();
  MetricInfo info;
  info.kind = Kind::kValue;
  info.direction = Direction::kHigher;
  info.unit = "MB/s";
  registry.set("wl.throughput", info);
  EXPECT_TRUE(registry.lookup("wl.throughput").rate);
  EXPECT_EQ(registry.lookup("wl.throughput").direction, Direction::kHigher);

  const Registry user = Registry::parse(R"(version: 1
metrics:
  vmstat.thp_fault_alloc: {kind: counter, direction: lower, threshold: 2%}
  "wl.*_ms": {kind: value, direction: lower, unit: ms}
)", "user.yaml");
  registry.overlay(user);
  EXPECT_EQ(registry.lookup("vmstat.thp_fault_alloc").direction, Direction::kLower);
  EXPECT_DOUBLE_EQ(registry.lookup("vmstat.thp_fault_alloc").threshold_pct, 2.0);
  EXPECT_EQ(registry.lookup("wl.time_to_collapse_ms").direction, Direction::kLower);
  EXPECT_EQ(registry.lookup("wl.time_to_collapse_ms").unit, "ms");
}

TEST(Registry, ErrorsNameFileLineAndColumn) {
  try {
    Registry::parse("version: 1\nmetrics:\n  x.y: {kind: counter, direction: sideways}\n", "r.yaml");
    FAIL() << "accepted a bad direction";
  } catch (const common::UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("r.yaml:3:", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("direction"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Registry::parse("version: 1\nmetrics:\n  a: {kind: counter, colour: red}\n", "r.yaml"),
               common::UsageError);
  EXPECT_THROW(Registry::parse("metrics: {}\n", "r.yaml"), common::UsageError);
  EXPECT_THROW(Registry::parse("version: 1\ndefaults:\n  - {kind: gauge}\n", "r.yaml"), common::UsageError);
}

}  // namespace
}  // namespace foliolab::metrics
