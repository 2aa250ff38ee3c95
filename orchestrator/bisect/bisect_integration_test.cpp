// foliolab bisect --series end to end on x86_64: a five-patch series on Debian's 6.12
// (testdata/series-612) where patch 2 makes khugepaged collapse only every other range and
// patch 4 WARNs in collapse_huge_page(); the other three change comments only. Every candidate
// is a real kernel built incrementally in the 6.12 tree and real guests run khugepaged-collapse.
//   - crash mode finds patch 4 in ceil(log2 5) = 3 steps, and --resume reuses every stored run;
//   - metric mode (wl.collapsed_fraction, higher is better) finds patch 2;
//   - a good end that is not good (patches 0..4 with the WARN) exits 1 with its evidence.
// Then the same over commits of a git history (testdata/make-history): bisect --good/--bad finds
// the WARN commit and the collapse regression, and foliolab check serves git bisect run.
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
// same on every run: testdata/make-history makes it once in the cache (fixtures/, with a marker
// written last) and each test process reuses it.
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
    const fs::path script = fs::path(FOLIOLAB_SOURCE_DIR) / "orchestrator/bisect/testdata/make-history";
    auto r = common::run_process({"bash", script.string(), work.string()}, {.timeout = std::chrono::minutes(20)});
    ASSERT_TRUE(r.ok()) << r.describe() << "\n" << r.output;
    commits_ = split_lines(common::read_file(ready));
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


// foliolab check under git bisect run: git moves HEAD of a worktree of the history, check
// builds each commit as the good commit plus the commits since (the same kernels the commit
// bisect above builds, so they come from the cache when it ran first) and answers with git
// bisect run's exit codes; git names the WARN commit. A check it cannot run exits 255, which
// stops git bisect run instead of counting the commit bad.
class CheckTest : public CommitBisectTest {
 protected:
  void SetUp() override {
    CommitBisectTest::SetUp();
    worktree_ = tmp_.path() / "checkout";
    auto r = git({"-C", repo_.string(), "worktree", "add", "--detach", "-f", worktree_.string(), commits_[8]});
    ASSERT_TRUE(r.ok()) << r.output;
    std::ofstream(suite_) << "name: check-commits\n"
                             "kernels:\n"
                             "  history: {source: {git: " << worktree_.string() << ", ref: " << commits_[0]
                          << "}}\n"
                             "arches: [x86_64]\n"
                             "guest:\n  memory: 1G\n  cpus: 2\n  thp: {enabled: madvise, defrag: madvise}\n"
                             "  khugepaged: {scan_sleep_millisecs: 10, max_ptes_none: 511}\n"
                             "workloads:\n  - {name: collapse, workload: khugepaged-collapse, params: {size: 8M, fill: 1.0}}\n"
                             "repetitions: 1\nbaseline: history\n";
  }
  void TearDown() override { git({"-C", repo_.string(), "worktree", "remove", "--force", worktree_.string()}); }

  static common::ProcessResult git(std::vector<std::string> args) {
    args.insert(args.begin(), "git");
    return common::run_process(args, {.timeout = std::chrono::minutes(5)});
  }
  std::vector<std::string> check_argv(const std::string& results, std::vector<std::string> extra) const {
    std::vector<std::string> argv = {common::foliolab_test_binary(), "check", suite_.string(), "--workload", "collapse",
                                     "--results", (tmp_.path() / results).string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  common::ProcessResult check_at(const std::string& commit, const std::string& results, std::vector<std::string> extra) {
    auto co = git({"-C", worktree_.string(), "checkout", "-q", "--detach", commit});
    EXPECT_TRUE(co.ok()) << co.output;
    common::ProcessOptions options;
    options.timeout = 1200s;
    return common::run_process(check_argv(results, extra), options);
  }

  fs::path worktree_;
};

TEST_F(CheckTest, GitBisectRunWithFoliolabCheckNamesTheWarnCommit) {
  ASSERT_TRUE(git({"-C", worktree_.string(), "bisect", "start", commits_[8], commits_[0]}).ok());
  std::vector<std::string> run = {"git", "-C", worktree_.string(), "bisect", "run"};
  for (const auto& a : check_argv("git-bisect", {"--crash"})) run.push_back(a);
  common::ProcessOptions options;
  options.timeout = 2400s;
  auto r = common::run_process(run, options);
  ASSERT_FALSE(r.timed_out) << r.output;
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find(commits_[3] + " is the first bad commit"), std::string::npos) << r.output;
  git({"-C", worktree_.string(), "bisect", "reset"});

  // The good commit itself: exit 0 (its runs stored once, then reused); the WARN commit: 1.
  auto good = check_at(commits_[0], "git-bisect", {"--crash", "--json"});
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_NE(good.output.find("\"verdict\": \"good\""), std::string::npos) << good.output;
  auto bad = check_at(commits_[3], "git-bisect", {"--crash", "khugepaged"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  // A crash the pattern does not match is a skip, not a verdict.
  auto other = check_at(commits_[3], "git-bisect", {"--crash", "no such crash title"});
  EXPECT_EQ(other.exit_code, 125) << other.output;
  EXPECT_NE(other.output.find("a different crash"), std::string::npos) << other.output;
  // What cannot be judged stops git bisect run: 255, never 1 or 2.
  auto unknown = check_at(commits_[0], "git-bisect", {"--crash", "--kernel", "nonesuch"});
  EXPECT_EQ(unknown.exit_code, 255) << unknown.output;
  auto usage = check_at(commits_[0], "git-bisect", {"--no-such-option"});
  EXPECT_EQ(usage.exit_code, 255) << usage.output;
}

// Metric mode: the ends' runs (the good commit and the last one, three each) are stored by
// check itself into a folder of their own; the commit that halves collapses is bad against
// them, one before it good.
TEST_F(CheckTest, MetricModeJudgesACommitAgainstStoredEnds) {
  for (int end : {0, 8}) {
    auto r = check_at(commits_[static_cast<std::size_t>(end)], "ends", {"--crash", "--repetitions", "3"});
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  }
  const std::string good = "history+" + commits_[0].substr(0, 12), bad = "history+" + commits_[8].substr(0, 12);
  const std::vector<std::string> metric = {"--metric", "wl.collapsed_fraction", "--against",
                                           (tmp_.path() / "ends").string(), "--good-variant", good,
                                           "--bad-variant", bad, "--json"};
  auto halves = check_at(commits_[6], "steps", metric);
  EXPECT_EQ(halves.exit_code, 1) << halves.output;
  EXPECT_NE(halves.output.find("\"verdict\": \"bad\""), std::string::npos) << halves.output;
  auto before = check_at(commits_[5], "steps", metric);
  EXPECT_EQ(before.exit_code, 0) << before.output;
  auto unnamed = check_at(commits_[5], "steps", {"--metric", "wl.collapsed_fraction", "--against",
                                                 (tmp_.path() / "steps").string()});
  EXPECT_EQ(unnamed.exit_code, 255) << "steps/ holds two commits, neither a baseline of ends: " << unnamed.output;
}

}  // namespace
}  // namespace foliolab::bisect
