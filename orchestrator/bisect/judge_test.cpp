#include "bisect/judge.h"

#include <gtest/gtest.h>

namespace foliolab::bisect {
namespace {

RunSample run(const std::string& outcome, std::optional<std::string> crash = std::nullopt,
              std::optional<double> value = std::nullopt) {
  return {outcome, std::move(crash), value};
}

const std::string kWarn = "WARNING in collapse_huge_page";

TEST(BisectJudge, CrashWithTheBadEndsTitleIsBad) {
  CrashTarget target;
  target.title = kWarn;
  auto j = judge_crash({run("ok"), run("kernel-warning", kWarn)}, target);
  EXPECT_EQ(j.verdict, Verdict::kBad);
  EXPECT_NE(j.why.find("1 of 2"), std::string::npos) << j.why;
}

TEST(BisectJudge, TheSameCrashAtAnotherLineIsTheSameCrash) {
  CrashTarget target;
  target.title = "WARNING at ../src/mm/khugepaged.c:1110 hpage_collapse_scan_pmd";
  EXPECT_EQ(judge_crash({run("kernel-warning", std::string("WARNING at ../src/mm/khugepaged.c:1118 hpage_collapse_scan_pmd"))},
                        target)
                .verdict,
            Verdict::kBad);
  EXPECT_EQ(judge_crash({run("kernel-warning", std::string("WARNING at ../src/mm/memory.c:1110 hpage_collapse_scan_pmd"))},
                        target)
                .verdict,
            Verdict::kSkip);
  EXPECT_EQ(crash_signature("BUG at include/linux/swapops.h:496 x"), "BUG at include/linux/swapops.h x");
}

TEST(BisectJudge, ADifferentCrashIsASkipNamingIt) {
  CrashTarget target;
  target.title = kWarn;
  auto j = judge_crash({run("ok"), run("kernel-crash", std::string("BUG: unable to handle page fault in zap_pte_range"))},
                       target);
  EXPECT_EQ(j.verdict, Verdict::kSkip);
  EXPECT_NE(j.why.find("zap_pte_range"), std::string::npos) << j.why;
}

TEST(BisectJudge, CleanRunsAreGoodAndAnUnfinishedRunIsASkip) {
  CrashTarget target;
  target.title = kWarn;
  EXPECT_EQ(judge_crash({run("ok"), run("ok")}, target).verdict, Verdict::kGood);
  EXPECT_EQ(judge_crash({run("ok"), run("timeout")}, target).verdict, Verdict::kSkip);
  EXPECT_EQ(judge_crash({}, target).verdict, Verdict::kSkip);
}

TEST(BisectJudge, PatternMatchesTitlesAndFindsTheBadEndsTitle) {
  CrashTarget target;
  target.pattern = std::regex("collapse_huge_page");
  auto title = find_target_title({run("ok"), run("kernel-crash", std::string("BUG in other")),
                                  run("kernel-warning", kWarn)},
                                 target);
  ASSERT_TRUE(title.has_value());
  EXPECT_EQ(*title, kWarn);
  EXPECT_EQ(judge_crash({run("kernel-warning", std::string("WARNING in collapse_huge_page+0x10"))}, target).verdict,
            Verdict::kBad);
  EXPECT_FALSE(find_target_title({run("ok")}, target).has_value());
}

TEST(BisectJudge, EndsMustDifferSignificantlyInTheRegressingDirection) {
  const std::vector<double> good = {1.0, 0.98, 1.0}, bad = {0.5, 0.52, 0.49};
  auto ok = check_ends(good, bad, metrics::Direction::kHigher, 10);
  EXPECT_TRUE(ok.reproduced) << ok.why;
  EXPECT_NEAR(ok.change_pct, -49.7, 0.5);
  ASSERT_TRUE(ok.detectable_pct.has_value());
  EXPECT_LT(*ok.detectable_pct, 10);

  auto better = check_ends(bad, good, metrics::Direction::kHigher, 10);
  EXPECT_FALSE(better.reproduced);
  EXPECT_NE(better.why.find("better"), std::string::npos) << better.why;

  auto same = check_ends({1.0, 0.5, 0.9}, {0.8, 0.6, 1.0}, metrics::Direction::kHigher, 0);
  EXPECT_FALSE(same.reproduced);
  EXPECT_NE(same.why.find("do not differ"), std::string::npos) << same.why;

  auto small = check_ends(good, bad, metrics::Direction::kHigher, 60);
  EXPECT_FALSE(small.reproduced);
  EXPECT_NE(small.why.find("--min-change"), std::string::npos) << small.why;

  EXPECT_FALSE(check_ends({1.0}, bad, metrics::Direction::kHigher, 0).reproduced);
}

TEST(BisectJudge, StepNearerOneEndTakesItsVerdictElseAsksForMore) {
  const std::vector<double> good = {1.0, 0.98, 1.0}, bad = {0.5, 0.52, 0.49};
  EXPECT_EQ(judge_metric({0.51, 0.5, 0.5}, good, bad).verdict, Verdict::kBad);
  EXPECT_EQ(judge_metric({0.99, 1.0, 0.99}, good, bad).verdict, Verdict::kGood);
  EXPECT_EQ(judge_metric({0.75, 0.76, 0.74}, good, bad).verdict, Verdict::kUnknown) << "halfway: neither end";
  EXPECT_EQ(judge_metric({0.5}, good, bad).verdict, Verdict::kUnknown) << "one run cannot be judged";
}

TEST(BisectJudge, OnlyFinishedRunsCarryValues) {
  auto v = finished_values({run("ok", {}, 1.0), run("kernel-warning", kWarn, 2.0), run("timeout", {}, 3.0),
                            run("ok")});
  EXPECT_EQ(v, (std::vector<double>{1.0, 2.0}));
}

}  // namespace
}  // namespace foliolab::bisect
