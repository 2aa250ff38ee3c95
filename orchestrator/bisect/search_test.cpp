#include "bisect/search.h"

#include <gtest/gtest.h>

#include <functional>

namespace foliolab::bisect {
namespace {

using V = Verdict;

// Runs the search over n candidates whose first bad one is `first_bad`, with `skip` saying which
// cannot be judged; returns the candidates judged, in order.
std::vector<int> simulate(int n, int first_bad, const std::function<bool(int)>& skip, Narrowed* result) {
  std::vector<V> verdicts(static_cast<std::size_t>(n), V::kUnknown);
  verdicts.front() = V::kGood;
  verdicts.back() = V::kBad;
  std::vector<int> judged;
  while (auto next = next_candidate(verdicts)) {
    judged.push_back(*next);
    verdicts[static_cast<std::size_t>(*next)] = skip(*next) ? V::kSkip : *next >= first_bad ? V::kBad : V::kGood;
  }
  *result = narrowed(verdicts);
  return judged;
}

TEST(BisectSearch, FindsEveryFirstBadWithinLog2Steps) {
  for (int n : {2, 3, 6, 9, 17, 100}) {
    for (int first_bad = 1; first_bad < n; ++first_bad) {
      Narrowed r;
      auto judged = simulate(n, first_bad, [](int) { return false; }, &r);
      EXPECT_TRUE(r.exact());
      EXPECT_EQ(r.first_bad, first_bad) << n;
      EXPECT_EQ(r.last_good, first_bad - 1) << n;
      EXPECT_LE(static_cast<int>(judged.size()), expected_steps(n)) << "n " << n << " first bad " << first_bad;
    }
  }
}

TEST(BisectSearch, ExpectedStepsIsCeilLog2OfTheGaps) {
  EXPECT_EQ(expected_steps(2), 0);  // good and bad are neighbours: nothing to test
  EXPECT_EQ(expected_steps(3), 1);
  EXPECT_EQ(expected_steps(6), 3);  // a 5-patch series: prefixes 0..5
  EXPECT_EQ(expected_steps(9), 3);  // 8 commits after good
  EXPECT_EQ(expected_steps(10), 4);
}

TEST(BisectSearch, SkippedNeighbourLeavesARange) {
  // 0 good ... 6 bad; the first bad is 4 but 3 cannot be judged: the answer is "3 or 4".
  Narrowed r;
  auto judged = simulate(7, 4, [](int i) { return i == 3; }, &r);
  EXPECT_FALSE(r.exact());
  EXPECT_EQ(r.last_good, 2);
  EXPECT_EQ(r.first_bad, 4);
  EXPECT_EQ(r.skipped, std::vector<int>{3});
}

TEST(BisectSearch, SkipsAreRoutedAroundWhenPossible) {
  // The middle (5) is skipped; the search still finds 7 exactly.
  Narrowed r;
  simulate(11, 7, [](int i) { return i == 5; }, &r);
  EXPECT_TRUE(r.exact());
  EXPECT_EQ(r.first_bad, 7);
}

TEST(BisectSearch, PicksTheMiddleAndTheLowerOnATie) {
  std::vector<V> v = {V::kGood, V::kUnknown, V::kUnknown, V::kUnknown, V::kUnknown, V::kBad};
  EXPECT_EQ(next_candidate(v), 2);
  v[2] = V::kGood;
  EXPECT_EQ(next_candidate(v), 3);
  v[3] = V::kBad;
  EXPECT_EQ(next_candidate(v), std::nullopt);
  EXPECT_EQ(narrowed(v).first_bad, 3);
}

TEST(BisectSearch, RejectsVerdictsWithoutAGoodStartAndABadEnd) {
  EXPECT_THROW(narrowed({V::kBad, V::kBad}), std::logic_error);
  EXPECT_THROW(narrowed({V::kGood, V::kGood}), std::logic_error);
}

}  // namespace
}  // namespace foliolab::bisect
