#pragma once
// Summary statistics of one cell (a metric's values for one kernel variant) and the tests that
// compare two cells. Distributions come from Boost.Math; nothing here knows about metrics.
//
// Rates where higher is better are summarised by their harmonic mean (mmtests' rule): the
// interval and the t-test are then computed on 1/x, where the harmonic mean is an arithmetic
// mean, and mapped back. stddev and CoV always describe the raw values.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace foliolab::report {

inline constexpr double kConfidence = 0.95;

struct Summary {
  std::size_t n = 0;
  double mean = 0;    // harmonic when `harmonic`, else arithmetic
  double stddev = 0;  // sample standard deviation (n - 1) of the raw values; 0 when n < 2
  double cov = 0;     // stddev / |arithmetic mean|; 0 when that mean is 0
  double min = 0;
  double max = 0;
  // Confidence interval of `mean` (Student t); equal to mean when n < 2. For a harmonic
  // mean whose reciprocal interval reaches 0, ci_high is +infinity.
  double ci_low = 0;
  double ci_high = 0;
  bool harmonic = false;
  // Mean and variance (n - 1) of the scale the tests use: x, or 1/x when harmonic.
  double test_mean = 0;
  double test_variance = 0;
};

// `harmonic` is honoured only when every value is > 0 (else arithmetic).
Summary summarize(std::span<const double> values, bool harmonic, double confidence = kConfidence);

// The two-sided quantile t such that P(|T| <= t) = confidence for Student's t with df degrees.
double student_t_critical(double df, double confidence = kConfidence);

struct WelchResult {
  double t = 0;
  double df = 0;  // Welch–Satterthwaite
  double p = 1;   // two-sided
};

// Welch's unequal-variances t-test of a against b on their test scale. nullopt when either
// side has fewer than 2 values. Two constant samples: p = 1 if equal, else p = 0.
std::optional<WelchResult> welch_t_test(const Summary& a, const Summary& b);

// The smallest |difference of means| on the test scale (x, or 1/x when harmonic) that would be
// called significant with these sample sizes and spreads: by Welch's test at `confidence` and
// by non-overlapping intervals (the larger of the two). 0 when both samples are constant;
// nullopt when n < 2 on a side.
std::optional<double> detectable_difference(const Summary& baseline, const Summary& variant,
                                            double confidence = kConfidence);

// detectable_difference in percent of the baseline mean. nullopt also when the baseline mean is
// 0 (no percentage of 0 exists; detectable_difference still answers).
std::optional<double> detectable_change_pct(const Summary& baseline, const Summary& variant,
                                            double confidence = kConfidence);

// Benjamini–Hochberg adjusted p values (q values), in the order of `p`: q_(i) is the smallest
// m * p_(j) / j over the ranks j >= i of the sorted p values, capped at 1. Rejecting every
// hypothesis with q <= alpha keeps the expected share of false rejections among rejections at
// or below alpha for independent or positively dependent tests (Benjamini & Hochberg 1995;
// Benjamini & Yekutieli 2001).
std::vector<double> benjamini_hochberg(std::span<const double> p);

// The two confidence intervals share at least one point.
bool intervals_overlap(const Summary& a, const Summary& b);

}  // namespace foliolab::report
