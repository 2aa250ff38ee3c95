// Oracle tests for the guest workloads: each boots a real guest with `foliolab boot --json`
// (the binary in FOLIOLAB_BIN, the kernel in FOLIOLAB_TEST_KERNEL_<ARCH>) and asserts on what
// the guest reported: the workload's own metrics (wl.*), the agent's vmstat / mTHP counter
// deltas and the tracepoint histogram of the step. A missing kernel is a failure, not a skip:
// these tests are the evidence that the workloads measure what they claim.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/process.h"

namespace {

using nlohmann::json;

struct Boot {
  json doc;      // the whole --json document
  json metrics;  // metrics of the one step
  std::string outcome;
  std::string reason;
  std::string log;  // what to print when an assertion fails
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct Step {
  std::string workload;
  std::vector<std::string> params;  // k=v
};

// Boots `arch` with the steps in order; fails the test (returns false) when the run could not
// be made or its output is not the expected JSON. out.metrics holds the first step's metrics.
bool boot_steps(const std::string& arch, const std::vector<Step>& steps, const std::vector<std::string>& settings,
                Boot& out, const std::vector<std::string>& extra = {}) {
  const std::string& workload = steps.front().workload;
  std::string env_name = "FOLIOLAB_TEST_KERNEL_" + arch;
  for (auto& c : env_name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string kernel = env_or_empty(env_name.c_str());
  std::string bin = env_or_empty("FOLIOLAB_BIN");
  EXPECT_FALSE(kernel.empty()) << env_name << " is not set: point it at a 6.12 " << arch
                               << " kernel image (e.g. /work/kernels/" << arch << "/image)";
  EXPECT_FALSE(bin.empty()) << "FOLIOLAB_BIN is not set (ctest sets it to the foliolab binary)";
  if (kernel.empty() || bin.empty()) return false;
  EXPECT_TRUE(std::filesystem::is_regular_file(kernel)) << env_name << "=" << kernel << ": no such file";

  std::filesystem::path console =
      std::filesystem::temp_directory_path() / fmt::format("oracle-{}-{}-{}.console", arch, workload, ::getpid());
  std::vector<std::string> argv = {bin, "boot", "--arch", arch, "--kernel", kernel, "--json",
                                   "--console", console.string()};
  for (const auto& step : steps) {
    argv.insert(argv.end(), {"--workload", step.workload});
    for (const auto& p : step.params) argv.insert(argv.end(), {"--param", p});
  }
  for (const auto& s : settings) argv.insert(argv.end(), {"--setting", s});
  argv.insert(argv.end(), extra.begin(), extra.end());

  std::filesystem::path stdout_file = console.string() + ".json";
  foliolab::common::ProcessOptions options;
  options.stdout_file = stdout_file;
  options.timeout = std::chrono::minutes(12);
  auto result = foliolab::common::run_process(argv, options);
  std::string text;
  if (std::FILE* f = std::fopen(stdout_file.c_str(), "r")) {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  out.log = fmt::format("{}\n{}\nstderr:\n{}\nconsole: {}", foliolab::common::render_argv(argv), text,
                        result.output, console.string());
  if (result.timed_out || result.signal != 0) {
    ADD_FAILURE() << "foliolab boot " << result.describe() << "\n" << out.log;
    return false;
  }
  try {
    out.doc = json::parse(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "foliolab boot printed no JSON (" << e.what() << ")\n" << out.log;
    return false;
  }
  out.outcome = out.doc.value("outcome", "");
  out.reason = out.doc.value("reason", "");
  if (out.doc.contains("metrics") && out.doc["metrics"].contains(workload)) out.metrics = out.doc["metrics"][workload];
  return true;
}

bool boot(const std::string& arch, const std::string& workload, const std::vector<std::string>& params,
          const std::vector<std::string>& settings, Boot& out, const std::vector<std::string>& extra = {}) {
  return boot_steps(arch, {{workload, params}}, settings, out, extra);
}

double metric(const Boot& b, const std::string& name) {
  if (!b.metrics.is_object() || !b.metrics.contains(name) || !b.metrics[name].is_number()) {
    ADD_FAILURE() << "metric " << name << " missing\n" << b.log;
    return -1;
  }
  return b.metrics[name].get<double>();
}

// Settings every collapse oracle uses: khugepaged wakes every 100 ms, THP on madvise, the scan
// status histogram collected.
std::vector<std::string> collapse_settings(const std::string& max_ptes_none) {
  return {"thp.enabled=madvise", "khugepaged.scan_sleep_millisecs=100", "khugepaged.alloc_sleep_millisecs=100",
          "khugepaged.max_ptes_none=" + max_ptes_none, "trace=huge_memory/mm_khugepaged_scan_pmd"};
}

TEST(OracleX86_64, FullFillWithMaxPtesNone511Collapses) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "khugepaged-collapse", {"size=16777216", "fill=1.0"}, collapse_settings("511"), b));
  ASSERT_EQ(b.outcome, "ok") << b.reason << "\n" << b.log;
  EXPECT_GT(metric(b, "vmstat.thp_collapse_alloc"), 0) << b.log;
  EXPECT_GE(metric(b, "wl.collapsed_fraction"), 0.95) << b.log;
}

TEST(OracleX86_64, HalfFillWithMaxPtesNone0DoesNotCollapse) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "khugepaged-collapse", {"size=16777216", "fill=0.5", "pattern=strided"},
                   collapse_settings("0"), b));
  ASSERT_EQ(b.outcome, "ok") << b.reason << "\n" << b.log;
  EXPECT_EQ(metric(b, "wl.collapsed_fraction"), 0) << b.log;
  EXPECT_EQ(metric(b, "vmstat.thp_collapse_alloc"), 0) << b.log;
  EXPECT_GT(metric(b, "vmstat.thp_scan_exceed_none_pte"), 0) << b.log;
  EXPECT_GE(metric(b, "wl.full_scans"), 2) << b.log;
}

TEST(OracleX86_64, SwapRoundtripOfPmdThpsSwapsOutWholeAndComesBackIntact) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "swap-roundtrip", {"size=33554432", "folio=2097152"},
                   {"thp.enabled=madvise", "swap.zram=512M"}, b));
  ASSERT_EQ(b.outcome, "ok") << b.reason << "\n" << b.log;  // ok: every page verified
  EXPECT_GT(metric(b, "vmstat.thp_swpout"), 0) << b.log;
  EXPECT_GT(metric(b, "vmstat.pswpin"), 0) << b.log;
  EXPECT_GE(metric(b, "wl.swapped_fraction"), 0.9) << b.log;
  EXPECT_GT(metric(b, "wl.whole_folio_swpout_fraction"), 0.5) << b.log;
  // 6.12 has no PMD swap entries: a PMD THP comes back as small pages.
  EXPECT_LT(metric(b, "wl.folio_fraction_after"), 0.5) << b.log;
}

TEST(OracleX86_64, SwapRoundtripOf64kMthpCountsPerSizeSwpout) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "swap-roundtrip", {"size=16777216", "folio=65536"},
                   {"thp.enabled=madvise", "thp.sizes.64K=always", "swap.zram=512M"}, b));
  ASSERT_EQ(b.outcome, "ok") << b.reason << "\n" << b.log;
  EXPECT_GT(metric(b, "mthp.64kB.swpout"), 0) << b.log;
  EXPECT_GT(metric(b, "vmstat.pswpin"), 0) << b.log;
  EXPECT_GE(metric(b, "wl.folio_fraction_before"), 0.9) << b.log;
}

TEST(OracleX86_64, UffdWpMarkersShowInTheScanHistogram) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "collapse-nonpresent", {"marker=uffd-wp", "collapser=khugepaged"},
                   collapse_settings("511"), b));
  ASSERT_EQ(b.outcome, "ok") << b.reason << "\n" << b.log;
  EXPECT_GT(metric(b, "wl.markers_installed"), 0) << b.log;
  EXPECT_GT(metric(b, "trace.mm_khugepaged_scan_pmd.pte_uffd_wp"), 0) << b.log;
  EXPECT_EQ(metric(b, "wl.collapsed_fraction"), 0) << b.log;
}

TEST(OracleX86_64, GuardMarkersAreASkipWithAReasonOn612) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "collapse-nonpresent", {"marker=guard", "collapser=madvise"}, {}, b));
  EXPECT_EQ(b.outcome, "skipped") << b.log;
  EXPECT_NE(b.reason.find("MADV_GUARD_INSTALL"), std::string::npos) << b.reason << "\n" << b.log;
}

TEST(OracleX86_64, MemcgPressureSwaps) {
  Boot b;
  ASSERT_TRUE(boot("x86_64", "memcg-pressure", {"memory_max=67108864", "passes=2"},
                   {"thp.enabled=madvise", "swap.zram=512M"}, b));
  ASSERT_EQ(b.outcome, "ok") << b.reason << "\n" << b.log;
  EXPECT_GT(metric(b, "vmstat.pswpout"), 0) << b.log;
  EXPECT_GT(metric(b, "vmstat.pswpin"), 0) << b.log;
  EXPECT_GT(metric(b, "wl.major_faults"), 0) << b.log;
  EXPECT_GT(metric(b, "wl.memcg_max_events"), 0) << b.log;
}

// Every workload on one guest of each arch: each step ends ok, or skipped with a reason where
// the arch or 6.12 lacks the feature (uffd-wp on riscv64); nothing fails and no data differs.
class EveryWorkload : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryWorkload, RunsOkOrSkipsWithAReason) {
  const std::string arch = GetParam();
  const std::vector<Step> steps = {
      {"thp-fault", {"size=8388608"}},
      {"khugepaged-collapse", {"size=8388608", "fill=0.5", "pattern=random"}},
      {"madvise-collapse", {"size=8388608", "case=swap", "fraction=0.25"}},
      {"mthp-collapse", {}},
      {"swap-roundtrip", {"size=16777216", "folio=65536"}},
      {"collapse-nonpresent", {"marker=uffd-wp"}},
      {"collapse-nonpresent", {"marker=poison", "collapser=madvise"}},
      {"collapse-nonpresent", {"marker=migration", "collapser=madvise"}},
      {"swapin-race", {"size=8388608", "rounds=2"}},
      {"pmd-swap", {"thps=2"}},
      {"memcg-pressure", {"memory_max=67108864", "passes=1"}},
  };
  Boot b;
  ASSERT_TRUE(boot_steps(arch, steps,
                         {"thp.enabled=madvise", "thp.sizes.64K=always", "swap.zram=512M",
                          "khugepaged.scan_sleep_millisecs=100", "trace=huge_memory/mm_khugepaged_scan_pmd"},
                         b, {"--numa-nodes", "2"}));
  ASSERT_TRUE(b.doc.contains("steps") && b.doc["steps"].is_array()) << b.log;
  ASSERT_EQ(b.doc["steps"].size(), steps.size()) << b.log;
  for (const auto& step : b.doc["steps"]) {
    const std::string name = step.value("name", "");
    const std::string status = step.value("status", "");
    const std::string reason = step.value("reason", "");
    if (step.value("workload", "") == "mthp-collapse") {
      EXPECT_EQ(status, "skipped") << name << ": 6.12 has no mTHP collapse\n" << b.log;
      EXPECT_NE(reason.find("mTHP collapse"), std::string::npos) << name << ": " << reason;
    } else if (status == "skipped") {
      // Only uffd-wp may be missing, and only where the arch has no HAVE_ARCH_USERFAULTFD_WP
      // (riscv64 in 6.12).
      EXPECT_EQ(arch, "riscv64") << name << ": unexpected skip: " << reason << "\n" << b.log;
      EXPECT_EQ(name, "collapse-nonpresent") << "unexpected skip: " << reason << "\n" << b.log;
      EXPECT_NE(reason.find("uffd-wp"), std::string::npos) << name << ": " << reason;
    } else {
      EXPECT_EQ(status, "ok") << name << ": " << reason << "\n" << b.log;
    }
  }
  const json& metrics = b.doc["metrics"];
  ASSERT_TRUE(metrics.contains("pmd-swap")) << b.log;
  // THP_SWAP on every arch's 6.12 lean kernel: swapped out whole, and the result says so.
  EXPECT_GT(metrics["pmd-swap"].value("wl.whole_thp_swpout_fraction", -1.0), 0.5) << b.log;
  EXPECT_GT(metrics["swap-roundtrip"].value("wl.whole_folio_swpout_fraction", -1.0), 0.5) << b.log;
  EXPECT_GT(metrics["memcg-pressure"].value("vmstat.pswpout", 0.0), 0) << b.log;
}

std::string arch_name(const ::testing::TestParamInfo<std::string>& arch) { return arch.param; }

INSTANTIATE_TEST_SUITE_P(Arches, EveryWorkload, ::testing::Values("x86_64", "arm64", "riscv64"), arch_name);

}  // namespace
