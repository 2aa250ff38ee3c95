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
#include <map>
#include <sstream>
#include <string>
#include <vector>

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
    std::vector<std::string> argv = {common::foliolab_test_binary(), "bisect", suite_.string(), "--workload",
                                     "collapse", "--json", "--results", (tmp_.path() / results).string()};
    if (kernel_ == "series") argv.insert(argv.end(), {"--series"});
    argv.insert(argv.end(), {"--kernel", kernel_});
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
  std::string kernel_ = "series";  // the variant bisected; "series" bisects its patches
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


// Commits: a git history made from Debian's 6.12 tarball, the release plus eight commits, each
// one of the series-612 patches or a small edit of its own. Commit 3 adds the WARN in
// collapse_huge_page() (crash mode must find it), commit 6 makes khugepaged collapse only every
// other range (metric mode must find it, although every run from commit 3 on also warns);
// commit 5 only touches Documentation/, commit 7 adds a file. Author and committer dates are
// fixed, so the hashes, the good commit's build tree and every candidate's artifact are the
// same on every run: the history is made once in the cache (fixtures/, with a marker written
// last) and each test process reuses it.
class CommitBisectTest : public BisectTest {
 protected:
  static void SetUpTestSuite() {
    const fs::path work = common::default_cache_dir() / "fixtures" / "bisect-history-612";
    repo_ = work / "linux-source-6.12";
    const fs::path ready = work / "ready";
    if (fs::exists(ready)) {
      commits_ = split_lines(common::read_file(ready));
      if (commits_.size() == 9) return;
    }
    commits_.clear();
    fs::remove_all(work);
    fs::create_directories(work);
    auto sh = [&](std::vector<std::string> argv) {
      const std::map<std::string, std::string> who = {
          {"GIT_AUTHOR_NAME", "foliolab"},   {"GIT_AUTHOR_EMAIL", "ci@foliolab"},
          {"GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"}, {"GIT_COMMITTER_NAME", "foliolab"},
          {"GIT_COMMITTER_EMAIL", "ci@foliolab"}, {"GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"}};
      auto r = common::run_process(argv, {.cwd = work, .env = who, .timeout = std::chrono::minutes(10)});
      EXPECT_TRUE(r.ok()) << r.describe() << "\n" << r.output;
      return r.output;
    };
    sh({"tar", "-xf", "/usr/src/linux-source-6.12.tar.xz"});
    const fs::path& repo = repo_;
    const std::string git_dir = repo.string();
    sh({"git", "-C", git_dir, "init", "-q", "-b", "mm-work"});
    sh({"git", "-C", git_dir, "add", "-f", "."});  // Debian's .gitignore ignores the top level
    sh({"git", "-C", git_dir, "commit", "-q", "-m", "Linux 6.12"});
    const fs::path series = fs::path(FOLIOLAB_SOURCE_DIR) / "orchestrator/bisect/testdata/series-612";
    auto commit_patch = [&](const std::string& patch, const std::string& subject) {
      sh({"git", "-C", git_dir, "apply", (series / patch).string()});
      sh({"git", "-C", git_dir, "commit", "-q", "-a", "-m", subject});
    };
    auto commit_file = [&](const std::string& file, const std::string& line, const std::string& subject) {
      const fs::path path = repo / file;
      const std::string before = fs::exists(path) ? common::read_file(path) : "";
      common::write_file_atomic(path, before + line + "\n");
      sh({"git", "-C", git_dir, "add", "-f", file});
      sh({"git", "-C", git_dir, "commit", "-q", "-m", subject});
    };
    commit_patch("0001-mm-swap_state-comment.patch", "mm/swap_state: comment");
    commit_patch("0003-mm-page_io-comment.patch", "mm/page_io: comment");
    commit_patch("0004-mm-khugepaged-warn-in-collapse.patch", "mm/khugepaged: WARN in collapse_huge_page");
    commit_patch("0005-mm-vmscan-comment.patch", "mm/vmscan: comment");
    commit_file("Documentation/admin-guide/mm/transhuge.rst", "", "docs: transhuge: trailing line");
    commit_patch("0002-mm-khugepaged-canary-skip-alternate.patch", "mm/khugepaged: collapse every other range");
    commit_file("Documentation/mm/foliolab-bisect.rst", "A file the history adds.", "docs: add foliolab-bisect.rst");
    commit_file("mm/page_io.c", "/* foliolab bisect history: the last commit */", "mm/page_io: trailing comment");
    const std::string log = sh({"git", "-C", git_dir, "rev-list", "--reverse", "HEAD"});
    commits_ = split_lines(log);
    if (!::testing::Test::HasFailure()) common::write_file_atomic(ready, log);
  }

  static std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(line);
    return out;
  }

  void SetUp() override {
    ASSERT_EQ(commits_.size(), 9u) << "the release and eight commits";
    kernel_ = "history";
    suite_ = tmp_.path() / "bisect-commits.yaml";
    std::ofstream(suite_) << "name: bisect-commits\n"
                             "kernels:\n"
                             "  history: {source: {git: " << repo_.string()
                          << ", ref: mm-work}}\n"
                             "arches: [x86_64]\n"
                             "guest:\n  memory: 1G\n  cpus: 2\n  thp: {enabled: madvise, defrag: madvise}\n"
                             "  khugepaged: {scan_sleep_millisecs: 10, max_ptes_none: 511}\n"
                             "workloads:\n  - {name: collapse, workload: khugepaged-collapse, params: {size: 8M, fill: 1.0}}\n"
                             "repetitions: 1\nbaseline: history\n";
  }

  static std::vector<std::string> ends(int good, int bad) {
    return {"--good", commits_.at(static_cast<std::size_t>(good)), "--bad", commits_.at(static_cast<std::size_t>(bad))};
  }

  static inline fs::path repo_;
  static inline std::vector<std::string> commits_;
};

TEST_F(CommitBisectTest, CrashModeFindsTheCommitThatAddsTheWarn) {
  std::vector<std::string> extra = ends(0, 8);
  extra.push_back("--crash");
  auto run = bisect("crash", extra);
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json doc = answer("crash");
  EXPECT_EQ(doc["result"], "first-bad") << doc.dump(2);
  EXPECT_EQ(doc["answer"]["first_bad_commit"], commits_[3]) << doc.dump(2);
  EXPECT_NE(doc["answer"]["first_bad"].get<std::string>().find("mm/khugepaged: WARN in collapse_huge_page"),
            std::string::npos) << doc.dump(2);
  EXPECT_EQ(doc["expected_steps"], 3) << "ceil(log2 8)";
  EXPECT_LE(doc["steps"].size(), 2u + 3u) << "two ends and at most 3 steps: " << doc.dump(2);
}

TEST_F(CommitBisectTest, MetricModeFindsTheCommitThatHalvesCollapses) {
  std::vector<std::string> extra = ends(0, 8);
  extra.insert(extra.end(), {"--metric", "wl.collapsed_fraction", "--repetitions", "3"});
  auto run = bisect("metric", extra);
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_EQ(run.exit_code, 0) << run.output;
  json doc = answer("metric");
  EXPECT_EQ(doc["result"], "first-bad") << doc.dump(2);
  EXPECT_EQ(doc["answer"]["first_bad_commit"], commits_[6]) << doc.dump(2);
}

TEST_F(CommitBisectTest, GoodCommitThatIsNotGoodExits1AndNonCommitsAreUsageErrors) {
  std::vector<std::string> extra = ends(3, 8);
  extra.push_back("--crash");
  auto run = bisect("not-good", extra);
  ASSERT_FALSE(run.timed_out) << run.output;
  EXPECT_EQ(run.exit_code, 1) << run.output;
  json doc = answer("not-good");
  EXPECT_EQ(doc["result"], "ends-not-reproduced") << doc.dump(2);
  EXPECT_NE(doc["evidence"].get<std::string>().find("good is not good"), std::string::npos) << doc.dump(2);
  auto reversed = bisect("reversed", {"--good", commits_[8], "--bad", commits_[0], "--crash"});
  EXPECT_EQ(reversed.exit_code, 2) << reversed.output;
  EXPECT_NE(reversed.output.find("is not an ancestor of --bad"), std::string::npos) << reversed.output;
  auto unknown = bisect("unknown", {"--good", "no-such-ref", "--bad", commits_[8], "--crash"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("'no-such-ref' is not a commit"), std::string::npos) << unknown.output;
}

}  // namespace
}  // namespace foliolab::bisect
