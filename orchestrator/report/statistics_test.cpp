#include "report/statistics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "report/comparison.h"

namespace foliolab::report {
namespace {

TEST(Statistics, SummaryOfKnownValues) {
  const std::vector<double> v = {10, 12, 11, 13, 9};
  const Summary s = summarize(v, false);
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 11);
  EXPECT_NEAR(s.stddev, std::sqrt(2.5), 1e-12);
  EXPECT_NEAR(s.cov, std::sqrt(2.5) / 11, 1e-12);
  EXPECT_DOUBLE_EQ(s.min, 9);
  EXPECT_DOUBLE_EQ(s.max, 13);
  // t(0.975, 4) = 2.7764451
  EXPECT_NEAR(student_t_critical(4), 2.7764451, 1e-6);
  const double half = 2.7764451 * std::sqrt(2.5 / 5);
  EXPECT_NEAR(s.ci_low, 11 - half, 1e-6);
  EXPECT_NEAR(s.ci_high, 11 + half, 1e-6);
}

TEST(Statistics, HarmonicMeanForRates) {
  const std::vector<double> v = {1, 2, 4};
  const Summary s = summarize(v, true);
  EXPECT_TRUE(s.harmonic);
  EXPECT_NEAR(s.mean, 3.0 / (1 + 0.5 + 0.25), 1e-12);
  EXPECT_LT(s.ci_low, s.mean);
  EXPECT_GT(s.ci_high, s.mean);
  // A zero value makes a harmonic mean meaningless: arithmetic instead.
  const std::vector<double> z = {0, 2, 4};
  EXPECT_FALSE(summarize(z, true).harmonic);
  EXPECT_DOUBLE_EQ(summarize(z, true).mean, 2);
}

TEST(Statistics, WelchAgainstAHandComputedCase) {
  // a: mean 20, var 2.5 (n 5); b: mean 22, var 26/3 (n 4).
  const std::vector<double> a = {18, 19, 20, 21, 22};
  const std::vector<double> b = {19, 20, 24, 25};
  const Summary sa = summarize(a, false), sb = summarize(b, false);
  EXPECT_NEAR(sb.test_variance, 26.0 / 3, 1e-9);
  const auto w = welch_t_test(sa, sb);
  ASSERT_TRUE(w);
  const double va = 2.5 / 5, vb = 26.0 / 3 / 4;
  const double se2 = va + vb;
  EXPECT_NEAR(w->t, -2 / std::sqrt(se2), 1e-9);
  EXPECT_NEAR(w->df, se2 * se2 / (va * va / 4 + vb * vb / 3), 1e-9);
  EXPECT_GT(w->p, 0.05);
  EXPECT_LT(w->p, 0.5);
  // Constant samples: certain.
  const std::vector<double> c1 = {5, 5, 5}, c2 = {6, 6, 6};
  EXPECT_DOUBLE_EQ(welch_t_test(summarize(c1, false), summarize(c2, false))->p, 0);
  EXPECT_DOUBLE_EQ(welch_t_test(summarize(c1, false), summarize(c1, false))->p, 1);
  const std::vector<double> one = {5};
  EXPECT_FALSE(welch_t_test(summarize(one, false), summarize(c1, false)));
}

// Draws n values around `mean` with a coefficient of variation `cov` (deterministic per seed).
std::vector<double> draw(std::mt19937_64& rng, std::size_t n, double mean, double cov) {
  std::normal_distribution<double> normal(mean, mean * cov);
  std::vector<double> out(n);
  for (auto& x : out) x = normal(rng);
  return out;
}

Verdict verdict_of(const std::vector<double>& base, const std::vector<double>& variant, metrics::Direction direction,
                   double threshold = 5.0) {
  metrics::MetricInfo info;
  info.direction = direction;
  info.threshold_pct = threshold;
  Cell b, v;
  b.summary = summarize(base, false);
  v.summary = summarize(variant, false);
  compare_cell(b, v, info, VerdictRules{});
  return v.verdict;
}

TEST(Statistics, TenPercentShiftWithFiveRunsAtTwoPercentNoiseIsFlaggedTheRightWay) {
  for (unsigned seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    const auto base = draw(rng, 5, 1000, 0.02);
    const auto up = draw(rng, 5, 1100, 0.02);
    const auto down = draw(rng, 5, 900, 0.02);
    EXPECT_EQ(verdict_of(base, up, metrics::Direction::kHigher), Verdict::kImprovement) << seed;
    EXPECT_EQ(verdict_of(base, up, metrics::Direction::kLower), Verdict::kRegression) << seed;
    EXPECT_EQ(verdict_of(base, down, metrics::Direction::kHigher), Verdict::kRegression) << seed;
    EXPECT_EQ(verdict_of(base, down, metrics::Direction::kLower), Verdict::kImprovement) << seed;
    EXPECT_EQ(verdict_of(base, up, metrics::Direction::kNeutral), Verdict::kChanged) << seed;
  }
}

TEST(Statistics, IdenticalDistributionsAreRarelyFlagged) {
  // 200 seeds per noise level; the threshold is the default 5%. At 10% and 20% noise the
  // threshold alone would let through far more than 5% (the t-test is what holds them back).
  for (double cov : {0.02, 0.05, 0.10, 0.20}) {
    int flagged = 0, would_pass_threshold = 0;
    for (unsigned seed = 0; seed < 200; ++seed) {
      std::mt19937_64 rng(seed * 7919u + static_cast<unsigned>(cov * 1000));
      const auto a = draw(rng, 5, 1000, cov);
      const auto b = draw(rng, 5, 1000, cov);
      const Verdict v = verdict_of(a, b, metrics::Direction::kHigher);
      flagged += v == Verdict::kImprovement || v == Verdict::kRegression;
      const double change = (summarize(b, false).mean - summarize(a, false).mean) / summarize(a, false).mean;
      would_pass_threshold += std::fabs(change) >= 0.05;
    }
    EXPECT_LE(flagged, 10) << "cov " << cov;  // at most 5% of 200
    if (cov >= 0.10) {
      EXPECT_GT(would_pass_threshold, 40) << "cov " << cov;
    }
  }
}

TEST(Statistics, FewRunsAndNoiseSaySoAndNameTheDetectableChange) {
  std::mt19937_64 rng(42);
  const auto two_a = draw(rng, 2, 1000, 0.02), two_b = draw(rng, 2, 1100, 0.02);
  metrics::MetricInfo info;
  info.direction = metrics::Direction::kHigher;
  Cell b, v;
  b.summary = summarize(two_a, false);
  v.summary = summarize(two_b, false);
  compare_cell(b, v, info, VerdictRules{});
  EXPECT_EQ(v.verdict, Verdict::kTooFewRuns);
  EXPECT_TRUE(v.detectable_pct);

  const auto noisy_a = draw(rng, 5, 1000, 0.30), noisy_b = draw(rng, 5, 1000, 0.30);
  b.summary = summarize(noisy_a, false);
  v.summary = summarize(noisy_b, false);
  compare_cell(b, v, info, VerdictRules{});
  EXPECT_EQ(v.verdict, Verdict::kNoisy);
  ASSERT_TRUE(v.detectable_pct);
  EXPECT_GT(*v.detectable_pct, 5.0);

  const auto quiet_a = draw(rng, 5, 1000, 0.005), quiet_b = draw(rng, 5, 1000, 0.005);
  b.summary = summarize(quiet_a, false);
  v.summary = summarize(quiet_b, false);
  compare_cell(b, v, info, VerdictRules{});
  EXPECT_EQ(v.verdict, Verdict::kNoChange);
  EXPECT_LT(*v.detectable_pct, 5.0);
}

TEST(Statistics, ThresholdDecidesBetweenSignificantAndReported) {
  // A certain 3% change: a regression at a 1% threshold, "no change" (but significant) at 5%.
  const std::vector<double> a = {100, 100, 100}, b = {97, 97, 97};
  EXPECT_EQ(verdict_of(a, b, metrics::Direction::kHigher, 1.0), Verdict::kRegression);
  EXPECT_EQ(verdict_of(a, b, metrics::Direction::kHigher, 5.0), Verdict::kNoChange);
  // From a baseline of 0, any certain change passes every threshold.
  const std::vector<double> zero = {0, 0, 0}, some = {3, 3, 3};
  EXPECT_EQ(verdict_of(zero, some, metrics::Direction::kLower, 5.0), Verdict::kRegression);
}

TEST(Statistics, BenjaminiHochbergAgainstHandComputedValues) {
  // Sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4); m p / rank = 0.02, 0.02, 0.04, 0.04,
  // already monotone. Results come back in input order.
  const std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  const std::vector<double> q = benjamini_hochberg(p);
  ASSERT_EQ(q.size(), 4u);
  EXPECT_NEAR(q[0], 0.02, 1e-12);
  EXPECT_NEAR(q[1], 0.04, 1e-12);
  EXPECT_NEAR(q[2], 0.04, 1e-12);
  EXPECT_NEAR(q[3], 0.02, 1e-12);
  // Step-up: 0.6 alone would be 1.2 (capped 1), but the larger p at rank 2 gives 0.7 to both.
  const std::vector<double> r = {0.6, 0.7};
  EXPECT_EQ(benjamini_hochberg(r), (std::vector<double>{0.7, 0.7}));
  // Ties, 1s, a NaN (no evidence: 1) and nothing at all.
  const std::vector<double> t = {1, 1, std::nan(""), 0};
  EXPECT_EQ(benjamini_hochberg(t), (std::vector<double>{1, 1, 1, 0}));
  EXPECT_TRUE(benjamini_hochberg(std::vector<double>{}).empty());
  // One test: q is p.
  EXPECT_EQ(benjamini_hochberg(std::vector<double>{0.03}), std::vector<double>{0.03});
}

Cell judged(const std::vector<double>& base, const std::vector<double>& variant,
            metrics::Direction direction = metrics::Direction::kLower) {
  metrics::MetricInfo info;
  info.direction = direction;
  Cell b, v;
  b.summary = summarize(base, false);
  v.summary = summarize(variant, false);
  compare_cell(b, v, info, VerdictRules{});
  return v;
}

// The case: from a baseline of all zeros, [0, 0, 300] has no percentage change and no
// detectable change in percent. It used to skip the noisy step and claim "no-change", while the
// same data swapped was "noisy". One large value in three runs is not evidence either way.
TEST(Statistics, ZeroBaselineAgainstOneLargeValueIsNoisyEitherWay) {
  const std::vector<double> zeros = {0, 0, 0}, one_large = {0, 0, 300};
  const Cell from_zero = judged(zeros, one_large);
  EXPECT_EQ(from_zero.verdict, Verdict::kNoisy) << to_string(from_zero.verdict);
  EXPECT_FALSE(from_zero.significant);
  EXPECT_FALSE(from_zero.change_pct);
  EXPECT_FALSE(from_zero.detectable_pct);  // no percentage of 0...
  ASSERT_TRUE(from_zero.detectable_difference);
  EXPECT_GT(*from_zero.detectable_difference, 100);  // ...but a difference of means it could see
  const Cell to_zero = judged(one_large, zeros);
  EXPECT_EQ(to_zero.verdict, Verdict::kNoisy) << to_string(to_zero.verdict);
  EXPECT_FALSE(to_zero.significant);
  // A certain change from 0 is still a change, and nothing from 0 to 0 is none.
  EXPECT_EQ(judged(zeros, {300, 300, 300}).verdict, Verdict::kRegression);
  EXPECT_EQ(judged(zeros, {290, 300, 310}).verdict, Verdict::kRegression);
  EXPECT_EQ(judged(zeros, zeros).verdict, Verdict::kNoChange);
}

// Constant samples have no spread: equal constants are certainly the same, different ones
// certainly differ (p = 0), but only with enough runs to call anything.
TEST(Statistics, AllEqualSamples) {
  const Cell same = judged({7, 7, 7}, {7, 7, 7});
  EXPECT_EQ(same.verdict, Verdict::kNoChange);
  EXPECT_EQ(same.welch->p, 1);
  EXPECT_EQ(*same.detectable_pct, 0);
  const Cell up = judged({7, 7, 7}, {9, 9, 9});
  EXPECT_EQ(up.verdict, Verdict::kRegression);
  EXPECT_EQ(up.welch->p, 0);
  EXPECT_TRUE(up.significant);
  const Cell two = judged({7, 7}, {9, 9});
  EXPECT_EQ(two.verdict, Verdict::kTooFewRuns);
  EXPECT_FALSE(two.significant);
}

// The case: a too-few-runs cell carried significant: true (its own p and intervals).
TEST(Statistics, TooFewRunsIsNeverSignificant) {
  const Cell c = judged({1000, 1001}, {2000, 2001});
  ASSERT_TRUE(c.welch);
  EXPECT_LT(c.welch->p, 0.05);  // the test alone would call it
  EXPECT_FALSE(c.ci_overlap);
  EXPECT_EQ(c.verdict, Verdict::kTooFewRuns);
  EXPECT_FALSE(c.significant);
  EXPECT_FALSE(c.p_adjusted);  // not one of the tests
  EXPECT_TRUE(c.detectable_pct);  // still said: what 2 runs a side could see
}

}  // namespace
}  // namespace foliolab::report
