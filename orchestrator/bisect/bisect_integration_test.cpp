// foliolab bisect --series end to end on x86_64: a five-patch series on Debian's 6.12
// (testdata/series-612) where patch 2 makes khugepaged collapse only every other range and
// patch 4 WARNs in collapse_huge_page(); the other three change comments only. Every candidate
// is a real kernel built incrementally in the 6.12 tree and real guests run khugepaged-collapse.
//   - crash mode finds patch 4 in ceil(log2 5) = 3 steps, and --resume reuses every stored run;
//   - metric mode (wl.collapsed_fraction, higher is better) finds patch 2;
//   - a good end that is not good (patches 0..4 with the WARN) exits 1 with its evidence.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/fs.h"
#include "common/process.h"
#include "common/test_binary.h"

namespace foliolab::bisect {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

class BisectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    suite_ = tmp_.path() / "bisect-it.yaml";
    const fs::path series = fs::path(FOLIOLAB_SOURCE_DIR) / "orchestrator/bisect/testdata/series-612";
    std::ofstream(suite_) << "name: bisect-it\n"
                             "kernels:\n"
                             "  base: {source: {debian: linux-source-6.12}}\n"
                             "  series: {base: base, patches: [" << series.string() << "]}\n"
                             "arches: [x86_64]\n"
                             "guest:\n  memory: 1G\n  cpus: 2\n  thp: {enabled: madvise, defrag: madvise}\n"
                             "  khugepaged: {scan_sleep_millisecs: 10, max_ptes_none: 511}\n"
                             "workloads:\n  - {name: collapse, workload: khugepaged-collapse, params: {size: 8M, fill: 1.0}}\n"
                             "repetitions: 1\nbaseline: base\n";
  }

  common::ProcessResult bisect(const std::string& results, std::vector<std::string> extra) {
    std::vector<std::string> argv = {common::foliolab_test_binary(), "bisect", suite_.string(), "--series",
                                     "--kernel", "series", "--workload", "collapse", "--json",
                                     "--results", (tmp_.path() / results).string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    common::ProcessOptions options;
    options.timeout = 2400s;
    options.stdout_file = tmp_.path() / (results + ".json");
    return common::run_process(argv, options);
  }

  json answer(const std::string& results) {
    return json::parse(common::read_file(tmp_.path() / (results + ".json")));
  }

  std::size_t stored_runs(const std::string& results) {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tmp_.path() / results / "runs", ec))
      n += !e.path().filename().string().starts_with(".");
    return n;
  }

  common::TemporaryDirectory tmp_{fs::temp_directory_path(), "foliolab-bisect-it"};
  fs::path suite_;
};

TEST_F(BisectTest, CrashModeFindsTheWarnPatchAndResumeReusesEveryRun) {
  auto run = bisect("crash", {"--crash"});
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json doc = answer("crash");
  EXPECT_EQ(doc["result"], "first-bad") << doc.dump(2);
  EXPECT_EQ(doc["answer"]["first_bad_index"], 4) << doc.dump(2);
  EXPECT_NE(doc["answer"]["first_bad"].get<std::string>().find("0004-mm-khugepaged-warn-in-collapse"),
            std::string::npos)
      << doc.dump(2);
  // collapse_huge_page() is inlined: the WARN's title names its caller and mm/khugepaged.c.
  EXPECT_NE(doc["header"].get<std::string>().find("khugepaged.c"), std::string::npos) << doc.dump(2);
  ASSERT_EQ(doc["steps"].size(), 5u) << "two ends and ceil(log2 5) = 3 steps: " << doc.dump(2);
  EXPECT_EQ(doc["expected_steps"], 3);
  const std::size_t runs = stored_runs("crash");
  EXPECT_EQ(runs, 5u) << "one run per candidate judged";

  // Again with --resume: the same answer from the stored runs, no guest started.
  auto again = bisect("crash", {"--crash", "--resume"});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(answer("crash")["answer"], doc["answer"]);
  EXPECT_EQ(stored_runs("crash"), runs);
  // Without --resume the folder is refused.
  auto refused = bisect("crash", {"--crash"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
}

TEST_F(BisectTest, MetricModeFindsTheCollapseRegression) {
  auto run = bisect("metric", {"--metric", "wl.collapsed_fraction", "--repetitions", "3"});
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json doc = answer("metric");
  EXPECT_EQ(doc["result"], "first-bad") << doc.dump(2);
  EXPECT_EQ(doc["answer"]["first_bad_index"], 2) << doc.dump(2);
  EXPECT_NE(doc["answer"]["first_bad"].get<std::string>().find("0002-mm-khugepaged-canary"), std::string::npos)
      << doc.dump(2);
  EXPECT_NE(doc["header"].get<std::string>().find("smallest change"), std::string::npos) << doc.dump(2);
}

TEST_F(BisectTest, GoodEndThatIsNotGoodExits1WithItsEvidence) {
  auto run = bisect("not-good", {"--crash", "--good", "4", "--bad", "5"});
  ASSERT_FALSE(run.timed_out) << run.output;
  EXPECT_EQ(run.exit_code, 1) << run.output;
  json doc = answer("not-good");
  EXPECT_EQ(doc["result"], "ends-not-reproduced") << doc.dump(2);
  EXPECT_NE(doc["evidence"].get<std::string>().find("good is not good"), std::string::npos) << doc.dump(2);
  EXPECT_NE(doc["evidence"].get<std::string>().find("khugepaged.c"), std::string::npos) << doc.dump(2);
}

}  // namespace
}  // namespace foliolab::bisect
