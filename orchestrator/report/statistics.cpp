#include "report/statistics.h"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>
#include <vector>

namespace foliolab::report {

namespace {

// Double precision throughout (Boost would otherwise promote to long double, several times
// slower, for digits no report prints).
using Policy = boost::math::policies::policy<boost::math::policies::promote_float<false>,
                                             boost::math::policies::promote_double<false>>;
using StudentsT = boost::math::students_t_distribution<double, Policy>;

double quantile_two_sided(double df, double confidence) {
  return boost::math::quantile(boost::math::complement(StudentsT(df), (1.0 - confidence) / 2.0));
}

struct Moments {
  double mean = 0;
  double variance = 0;  // n - 1
};

// Welford's update: stable for large values with small spread (kernel counters).
template <typename F>
Moments moments(std::span<const double> values, F transform) {
  Moments m;
  double m2 = 0;
  std::size_t k = 0;
  for (double raw : values) {
    const double x = transform(raw);
    ++k;
    const double delta = x - m.mean;
    m.mean += delta / static_cast<double>(k);
    m2 += delta * (x - m.mean);
  }
  m.variance = k > 1 ? std::max(0.0, m2 / static_cast<double>(k - 1)) : 0.0;
  return m;
}

}  // namespace

double student_t_critical(double df, double confidence) {
  if (!(df > 0)) return std::numeric_limits<double>::infinity();
  // Cells have integer n - 1 degrees of freedom, and a comparison asks for the same values
  // again and again: remember those on a grid of tenths (per thread, for the usual 95%).
  const double tenths = df * 10;
  if (confidence == kConfidence && tenths == std::floor(tenths) && df <= 1024) {
    thread_local std::vector<double> cache;
    const auto i = static_cast<std::size_t>(tenths);
    if (cache.size() <= i) cache.resize(i + 1, 0.0);
    if (cache[i] == 0.0) cache[i] = quantile_two_sided(df, confidence);
    return cache[i];
  }
  return quantile_two_sided(df, confidence);
}

Summary summarize(std::span<const double> values, bool harmonic, double confidence) {
  Summary s;
  s.n = values.size();
  if (s.n == 0) return s;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  const Moments raw = moments(values, [](double x) { return x; });
  s.stddev = std::sqrt(raw.variance);
  s.cov = raw.mean != 0 ? s.stddev / std::fabs(raw.mean) : 0.0;
  s.harmonic = harmonic && s.min > 0;
  const Moments test = s.harmonic ? moments(values, [](double x) { return 1.0 / x; }) : raw;
  s.test_mean = test.mean;
  s.test_variance = test.variance;
  s.mean = s.harmonic ? 1.0 / test.mean : test.mean;
  if (s.n < 2) {
    s.ci_low = s.ci_high = s.mean;
    return s;
  }
  const double half = student_t_critical(static_cast<double>(s.n - 1), confidence) *
                      std::sqrt(test.variance / static_cast<double>(s.n));
  if (s.harmonic) {
    const double lo = test.mean - half;  // reciprocal scale: the bounds swap
    const double hi = test.mean + half;
    s.ci_low = 1.0 / hi;
    s.ci_high = lo > 0 ? 1.0 / lo : std::numeric_limits<double>::infinity();
  } else {
    s.ci_low = test.mean - half;
    s.ci_high = test.mean + half;
  }
  return s;
}

std::optional<WelchResult> welch_t_test(const Summary& a, const Summary& b) {
  if (a.n < 2 || b.n < 2) return std::nullopt;
  const double na = static_cast<double>(a.n);
  const double nb = static_cast<double>(b.n);
  const double va = a.test_variance / na;
  const double vb = b.test_variance / nb;
  const double diff = a.test_mean - b.test_mean;
  WelchResult r;
  if (va + vb == 0) {
    // Both samples constant: a difference is certain, equality is certain.
    r.df = na + nb - 2;
    const bool equal = diff == 0;
    r.t = equal ? 0 : std::copysign(std::numeric_limits<double>::infinity(), diff);
    r.p = equal ? 1 : 0;
    return r;
  }
  const double se2 = va + vb;
  r.t = diff / std::sqrt(se2);
  r.df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1));
  r.p = std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(StudentsT(r.df), std::fabs(r.t))));
  return r;
}

std::optional<double> detectable_difference(const Summary& baseline, const Summary& variant, double confidence) {
  if (baseline.n < 2 || variant.n < 2) return std::nullopt;
  const double na = static_cast<double>(baseline.n);
  const double nb = static_cast<double>(variant.n);
  const double va = baseline.test_variance / na;
  const double vb = variant.test_variance / nb;
  const double se2 = va + vb;
  if (se2 == 0) return 0.0;
  const double df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1));
  // df rounded down to a tenth: a slightly larger, never smaller, critical value, and one that
  // the cache below can remember (a comparison asks for hundreds of thousands).
  const double welch = student_t_critical(std::max(1.0, std::floor(df * 10) / 10), confidence) * std::sqrt(se2);
  // Two intervals stop overlapping when the means are further apart than both half-widths.
  const double separation = student_t_critical(na - 1, confidence) * std::sqrt(va) +
                            student_t_critical(nb - 1, confidence) * std::sqrt(vb);
  return std::max(welch, separation);
}

std::optional<double> detectable_change_pct(const Summary& baseline, const Summary& variant, double confidence) {
  if (baseline.test_mean == 0) return std::nullopt;
  const auto difference = detectable_difference(baseline, variant, confidence);
  // Relative to the baseline on the test scale; for 1/x this is the relative change of the
  // harmonic mean to first order.
  if (!difference) return std::nullopt;
  return 100.0 * *difference / std::fabs(baseline.test_mean);
}

std::vector<double> benjamini_hochberg(std::span<const double> p) {
  const std::size_t m = p.size();
  // A p that is not a number counts as 1 (no evidence), which also keeps the sort well defined.
  const auto clean = [&](std::size_t i) { return std::isnan(p[i]) ? 1.0 : std::clamp(p[i], 0.0, 1.0); };
  std::vector<std::size_t> order(m);
  for (std::size_t i = 0; i < m; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return clean(a) < clean(b); });
  std::vector<double> q(m, 1.0);
  // Step up from the largest p: the running minimum keeps q monotone in p.
  double running = 1.0;
  for (std::size_t rank = m; rank > 0; --rank) {
    const std::size_t i = order[rank - 1];
    running = std::min(running, clean(i) * static_cast<double>(m) / static_cast<double>(rank));
    q[i] = running;
  }
  return q;
}

bool intervals_overlap(const Summary& a, const Summary& b) {
  return a.ci_low <= b.ci_high && b.ci_low <= a.ci_high;
}

}  // namespace foliolab::report
