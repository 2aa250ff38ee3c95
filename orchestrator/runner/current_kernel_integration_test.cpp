// Linux 7.3 beside 6.12, end to end on x86_64: one suite with a 6.12 base and a 7.3 base runs
// mthp-collapse with every mTHP size below PMD enabled and max_ptes_none swept over 0, 255 and
// 511, and checks 7.3's khugepaged mTHP collapse against what its mm/khugepaged.c promises
// (collapse_max_ptes_none()):
//   - 0: each populated aligned block collapses to exactly its order (mthp.<N>kB.collapse_alloc
//     > 0 for every populated order, no range above its populated order); the blocks are whole,
//     so collapse_exceed_none_pte stays 0 (7.3 does not count the higher orders it passes over);
//   - 511: every range collapses to the highest enabled order (PMD);
//   - 255: the kernel's "defaulting to 0" line is attached to the run as a kernel notice (the run
//     is neither a crash nor silent) and the ranges end as at 0;
//   - a hole of one page at the end of every block, at 0: no block reaches its order, each
//     collapses one order lower (the smallest order's not at all), and 7.3 counts none of this
//     as collapse_exceed_none_pte (see the test);
//   - 6.12 has no mTHP collapse: its runs are skipped with that reason, nothing else is.
// Needs both kernels in the cache (ci/test builds them before ctest); builds them otherwise.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/process.h"
#include "common/test_binary.h"

namespace foliolab::runner {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

const char* kSuite = R"(name: current-it
kernels:
  lts: {source: {debian: linux-source-6.12}}
  current: {source: {debian: linux-source-7.3}}
arches: [x86_64]
guest:
  memory: 1G
  cpus: 2
  thp: {enabled: madvise, defrag: madvise,
        sizes: {64K: inherit, 128K: inherit, 256K: inherit, 512K: inherit, 1M: inherit}}
  khugepaged: {scan_sleep_millisecs: 10, max_ptes_none: [0, 255, 511]}
workloads:
  - {name: mthp-collapse, workload: mthp-collapse, params: {ranges_per_order: 2, scans: 3}}
  - {name: mthp-collapse-hole, workload: mthp-collapse, params: {ranges_per_order: 2, scans: 3, hole: 1},
     guest: {khugepaged: {max_ptes_none: 0}}}
repetitions: 1
baseline: lts
)";

const std::vector<int> kMthpKb = {64, 128, 256, 512, 1024};

double metric(const json& manifest, const std::string& name) {
  const auto& m = manifest["metrics"];
  return m.contains(name) && m[name].is_number() ? m[name].get<double>() : -1;
}

// Stored manifests of one workload entry by (variant, max_ptes_none).
std::map<std::pair<std::string, std::string>, json> runs_of(const fs::path& results, const std::string& workload) {
  std::map<std::pair<std::string, std::string>, json> out;
  for (const auto& e : fs::directory_iterator(results / "runs")) {
    if (e.path().filename().string().starts_with(".")) continue;
    json m = json::parse(common::read_file(e.path() / "manifest.json"));
    if (m["workload"]["name"] != workload) continue;
    out[{m["kernel"]["variant"], m["settings"]["khugepaged.max_ptes_none"]}] = m;
  }
  return out;
}

void expect_exact_orders(const json& run, const std::string& label) {
  EXPECT_GT(metric(run, "wl.ranges"), 0) << label;  // metric() is -1 when the run lacks it
  EXPECT_EQ(metric(run, "wl.ranges_above_populated_order"), 0) << label;
  EXPECT_EQ(metric(run, "wl.ranges_collapsed"), metric(run, "wl.ranges")) << label;
  for (int kb : kMthpKb) {
    const std::string size = "mthp." + std::to_string(kb) + "kB.";
    EXPECT_GT(metric(run, size + "collapse_alloc"), 0) << label << " " << size;
    // Every populated block is whole: no order that collapses here met a hole.
    EXPECT_EQ(metric(run, size + "collapse_exceed_none_pte"), 0) << label << " " << size;
  }
}

// `foliolab run` of `suite_text` into tmp/results, which it returns; fails the test unless the
// run exits 0 within the deadline.
fs::path run_suite(const common::TemporaryDirectory& tmp, const std::string& suite_text) {
  const fs::path suite = tmp.path() / "suite.yaml";
  std::ofstream(suite) << suite_text;
  const fs::path results = tmp.path() / "results";
  common::ProcessOptions options;
  options.timeout = 3000s;
  auto run = common::run_process({common::foliolab_test_binary(), "run", suite.string(), "--results", results.string()},
                                 options);
  EXPECT_FALSE(run.timed_out) << run.output;
  EXPECT_EQ(run.exit_code, 0) << run.output;
  return results;
}

TEST(CurrentKernel, MthpCollapseOracleOn73BesideA612Base) {
  common::TemporaryDirectory tmp(fs::temp_directory_path(), "foliolab-current-it");
  const fs::path results = run_suite(tmp, kSuite);
  ASSERT_TRUE(fs::exists(results / "runs"));

  auto runs = runs_of(results, "mthp-collapse");
  ASSERT_EQ(runs.size(), 6u);
  for (const char* none : {"0", "255", "511"}) {
    const json& lts = runs.at({"lts", none});
    EXPECT_EQ(lts["outcome"], "skipped") << lts.dump(2);
    EXPECT_NE(lts["outcome_reason"].get<std::string>().find("mTHP collapse"), std::string::npos) << lts.dump(2);
    EXPECT_EQ(runs.at({"current", none})["outcome"], "ok") << runs.at({"current", none}).dump(2);
  }
  const json& zero = runs.at({"current", "0"});
  const json& warned = runs.at({"current", "255"});
  const json& full = runs.at({"current", "511"});
  expect_exact_orders(zero, "max_ptes_none 0");
  expect_exact_orders(warned, "max_ptes_none 255");
  EXPECT_EQ(metric(warned, "wl.mean_final_order"), metric(zero, "wl.mean_final_order"));
  EXPECT_TRUE(zero["kernel_notices"].empty()) << zero.dump(2);
  ASSERT_EQ(warned["kernel_notices"].size(), 1u) << warned.dump(2);
  EXPECT_NE(warned["kernel_notices"][0].get<std::string>().find("defaulting to 0"), std::string::npos);

  EXPECT_GT(metric(full, "wl.ranges"), 0) << full.dump(2);
  EXPECT_EQ(metric(full, "wl.ranges_pmd"), metric(full, "wl.ranges")) << full.dump(2);
  EXPECT_EQ(metric(full, "wl.ranges_above_populated_order"), metric(full, "wl.ranges"));
  EXPECT_GT(metric(full, "mthp.2048kB.collapse_alloc"), 0) << full.dump(2);

  // A hole of one page at the end of every block, at max_ptes_none 0: no block reaches its own
  // order and none goes above it; each collapses to the order below (its first half is whole),
  // except the blocks of the smallest enabled order (64K), which stay small. 7.3 counts no
  // collapse_exceed_none_pte for this: with mTHP orders enabled, collapse_scan_pmd() scans with
  // the limit at 511 and mthp_collapse() skips an order whose bitmap lacks PTEs without counting
  // it; the stat moves only when isolation finds a PTE emptied since the scan.
  auto holes = runs_of(results, "mthp-collapse-hole");
  ASSERT_EQ(holes.size(), 2u);
  EXPECT_EQ(holes.at({"lts", "0"})["outcome"], "skipped");
  const json& hole = holes.at({"current", "0"});
  ASSERT_EQ(hole["outcome"], "ok") << hole.dump(2);
  EXPECT_GT(metric(hole, "wl.ranges"), 0) << hole.dump(2);
  EXPECT_EQ(metric(hole, "wl.ranges_at_populated_order"), 0) << hole.dump(2);
  EXPECT_EQ(metric(hole, "wl.ranges_above_populated_order"), 0) << hole.dump(2);
  EXPECT_EQ(metric(hole, "wl.ranges_collapsed"), metric(hole, "wl.ranges") - 2) << "all but the two 64K ranges";
  EXPECT_EQ(metric(zero, "wl.ranges_at_populated_order"), metric(zero, "wl.ranges")) << "whole blocks do";
  for (int kb : kMthpKb)
    EXPECT_EQ(metric(hole, "mthp." + std::to_string(kb) + "kB.collapse_exceed_none_pte"), 0) << kb << "kB";
  EXPECT_GT(metric(hole, "mthp.64kB.collapse_alloc"), 0) << "the whole first halves collapse to 64K and up";

  // The two bases compare without error.
  auto compare = common::run_process({common::foliolab_test_binary(), "compare", results.string()}, {});
  EXPECT_EQ(compare.exit_code, 0) << compare.output;
}

// The 7.3 canary (guest-kernel-patches/canary-mthp-collapse-none-zero: khugepaged's mTHP
// collapse always behaves as max_ptes_none 0) is flagged by the comparison as a regression in
// the mTHP collapse metrics at max_ptes_none 511: the ranges no longer reach PMD size, so
// vmstat.thp_collapse_alloc falls from one per range to none.
TEST(CurrentKernel, CanaryThatClampsMthpCollapseIsFlagged) {
  common::TemporaryDirectory tmp(fs::temp_directory_path(), "foliolab-current-canary-it");
  const fs::path results = run_suite(tmp, "name: canary-it\n"
                          "kernels:\n"
                          "  current: {source: {debian: linux-source-7.3}}\n"
                          "  canary: {base: current, patches: [guest-kernel-patches/canary-mthp-collapse-none-zero]}\n"
                          "arches: [x86_64]\n"
                          "guest:\n  memory: 1G\n  cpus: 2\n"
                          "  thp: {enabled: madvise, defrag: madvise,\n"
                          "        sizes: {64K: inherit, 128K: inherit, 256K: inherit, 512K: inherit, 1M: inherit}}\n"
                          "  khugepaged: {scan_sleep_millisecs: 10, max_ptes_none: 511}\n"
                          "workloads:\n"
                          "  - {name: mthp-collapse, workload: mthp-collapse, params: {ranges_per_order: 2, scans: 3}}\n"
                          "repetitions: 3\nbaseline: current\n");
  common::ProcessOptions json_out;
  json_out.stdout_file = tmp.path() / "report.json";  // the log (stderr) stays apart
  auto compare = common::run_process(
      {common::foliolab_test_binary(), "compare", results.string(), "--format", "json", "--fail-on", "regression"},
      json_out);
  EXPECT_EQ(compare.exit_code, 1) << compare.output;
  json report = json::parse(common::read_file(tmp.path() / "report.json"));
  const json* cell = nullptr;
  for (const auto& g : report["groups"])
    for (const auto& m : g["metrics"])
      if (m["name"] == "vmstat.thp_collapse_alloc") cell = &m["cells"]["canary"];
  ASSERT_NE(cell, nullptr) << report.dump(1);
  EXPECT_EQ((*cell)["verdict"], "regression") << cell->dump(2);
}

}  // namespace
}  // namespace foliolab::runner
