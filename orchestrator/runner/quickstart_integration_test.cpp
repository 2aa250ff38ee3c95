// The README's main job, checked for what it claims: `foliolab run examples/quickstart.yaml`
// (restricted to x86_64 with --only, to keep CI short; arm64 is the same suite on the same
// code) builds the two patched kernels from the cached base tree, runs every guest, and its
// comparison
//   - shows khugepaged-nonswap-abort in collapse-nonpresent's scan histogram: the base
//     kernel's scans end in pte_uffd_wp, the patched kernel's in pte_non_present;
//   - flags the canary (canary-khugepaged-skip-alternate) as a regression in the metric its
//     README names, wl.collapsed_fraction of the full-fill khugepaged-collapse workload;
//   - finds no regression or improvement for nonswap-abort in any metric of the workloads
//     without special PTEs (its README: "Workloads without special PTEs must show no
//     significant change"), latencies and throughputs included now that compare controls
//     false discoveries.
// Needs the base x86_64 kernel of examples/multiarch.yaml in the cache (ci/test builds it).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
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

std::string foliolab_bin() { return common::foliolab_test_binary(); }

common::ProcessResult foliolab(std::vector<std::string> args, std::chrono::seconds deadline) {
  args.insert(args.begin(), foliolab_bin());
  common::ProcessOptions options;
  options.timeout = deadline;
  return common::run_process(args, options);
}

const json* group_of(const json& report, const std::string& workload_name) {
  for (const auto& g : report["groups"])
    if (g["arch"] == "x86_64" && g["workload"]["name"] == workload_name) return &g;
  return nullptr;
}

const json* metric_of(const json& group, const std::string& name) {
  for (const auto& m : group["metrics"])
    if (m["name"] == name) return &m;
  return nullptr;
}

double mean_of(const json& metric, const std::string& variant) {
  const json& cell = metric["cells"][variant];
  return cell["mean"].is_number() ? cell["mean"].get<double>() : -1;
}

TEST(Quickstart, ComparisonShowsTheFixAndFlagsTheCanary) {
  common::TemporaryDirectory tmp(fs::temp_directory_path(), "foliolab-quickstart-it");
  const fs::path results = tmp.path() / "results";
  const std::string suite = std::string(FOLIOLAB_SOURCE_DIR) + "/examples/quickstart.yaml";

  auto run = foliolab({"run", suite, "--results", results.string(), "--only", "* x86_64 *"}, 2400s);
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;

  auto compare = foliolab({"compare", results.string(), "--format", "json"}, 300s);
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  const json report = json::parse(compare.output);
  const std::string text = run.output;  // the comparison the run printed, for failure messages

  ASSERT_EQ(report["variants"], json({"base", "canary", "nonswap-abort"})) << text;
  EXPECT_EQ(report["total_runs"], 3 * 3 * 5) << text;
  const json& summary = report["summary"];
  EXPECT_EQ(summary["failed_runs"], 0) << text;
  EXPECT_EQ(summary["crashes"], 0) << text;
  EXPECT_EQ(summary["integrity_failures"], 0) << text;

  // The fix: the scan stops on the uffd-wp marker as a non-present entry. Every run moves, but
  // 5 runs of a histogram whose base counts vary (8 to 20) give Welch a p near 0.01, and among
  // the report's ~1000 cells Benjamini-Hochberg keeps that below its cut: the cell is
  // "changed" when the control confirms it, else "unconfirmed", never "no-change" or "noisy".
  auto expect_shift = [](const json& metric) {
    const json& cell = metric.at("cells")["nonswap-abort"];
    const std::string verdict = cell.value("verdict", "");
    EXPECT_TRUE(verdict == "changed" || verdict == "unconfirmed") << metric.dump(1);
    EXPECT_LT(cell["welch"]["p"].get<double>(), 0.05) << metric.dump(1);
    EXPECT_FALSE(cell["ci_overlap"].get<bool>()) << metric.dump(1);
  };
  const json* nonpresent = group_of(report, "nonpresent-uffd-wp");
  ASSERT_NE(nonpresent, nullptr) << text;
  const json* uffd_wp = metric_of(*nonpresent, "trace.mm_khugepaged_scan_pmd.pte_uffd_wp");
  const json* non_present = metric_of(*nonpresent, "trace.mm_khugepaged_scan_pmd.pte_non_present");
  ASSERT_NE(uffd_wp, nullptr) << text;
  ASSERT_NE(non_present, nullptr) << text;
  EXPECT_GT(mean_of(*uffd_wp, "base"), 0) << uffd_wp->dump(1);
  EXPECT_EQ(mean_of(*uffd_wp, "nonswap-abort"), 0) << uffd_wp->dump(1);
  expect_shift(*uffd_wp);
  EXPECT_EQ(mean_of(*non_present, "base"), 0) << non_present->dump(1);
  EXPECT_GT(mean_of(*non_present, "nonswap-abort"), 0) << non_present->dump(1);
  expect_shift(*non_present);
  // The canary does not touch special PTEs: its histogram stays the base kernel's.
  EXPECT_GT(mean_of(*uffd_wp, "canary"), 0) << uffd_wp->dump(1);

  // The canary: every other collapse skipped.
  const json* full = group_of(report, "collapse-full");
  ASSERT_NE(full, nullptr) << text;
  const json* collapsed = metric_of(*full, "wl.collapsed_fraction");
  ASSERT_NE(collapsed, nullptr) << text;
  EXPECT_EQ(collapsed->at("direction"), "higher");
  EXPECT_EQ(collapsed->at("cells")["canary"]["verdict"], "regression") << collapsed->dump(1);
  EXPECT_GT(mean_of(*collapsed, "base"), 0.9) << collapsed->dump(1);
  EXPECT_LT(mean_of(*collapsed, "canary"), 0.95) << collapsed->dump(1);

  // Nothing else moves for the fix where there are no special PTEs: no regression or
  // improvement in any metric of these groups, latencies and throughputs included. Before
  // compare controlled false discoveries, 5 runs of a fault latency under TCG separated by
  // chance now and then (the quickstart once flagged the canary's swap-in p50, which the canary
  // does not touch, as -8.5% "improved"), and timings were left out of this assertion; with
  // Benjamini-Hochberg over the report's cells such a chance p no longer makes a flag.
  for (const std::string name : {"collapse-full", "swap-thp"}) {
    const json* g = group_of(report, name);
    ASSERT_NE(g, nullptr) << name << "\n" << text;
    for (const auto& m : (*g)["metrics"]) {
      const std::string verdict = m["cells"]["nonswap-abort"].value("verdict", "");
      if (verdict == "regression" || verdict == "improvement")
        ADD_FAILURE() << name << " " << m["name"].get<std::string>() << ": nonswap-abort " << verdict << "\n"
                      << m.dump(1);
    }
  }
}

}  // namespace
}  // namespace foliolab::runner
