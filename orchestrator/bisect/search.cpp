#include "bisect/search.h"

#include <cstdlib>
#include <stdexcept>

namespace foliolab::bisect {

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kUnknown: return "untested";
    case Verdict::kGood: return "good";
    case Verdict::kBad: return "bad";
    case Verdict::kSkip: return "skip";
  }
  return "?";
}

Narrowed narrowed(const std::vector<Verdict>& verdicts) {
  Narrowed out;
  int first_bad = -1;
  for (int i = 0; i < static_cast<int>(verdicts.size()); ++i)
    if (verdicts[static_cast<std::size_t>(i)] == Verdict::kBad) {
      first_bad = i;
      break;
    }
  if (verdicts.empty() || verdicts.front() != Verdict::kGood || first_bad <= 0)
    throw std::logic_error("bisect: the first candidate must be good and a later one bad");
  out.first_bad = first_bad;
  for (int i = first_bad - 1; i >= 0; --i)
    if (verdicts[static_cast<std::size_t>(i)] == Verdict::kGood) {
      out.last_good = i;
      break;
    }
  for (int i = out.last_good + 1; i < first_bad; ++i)
    if (verdicts[static_cast<std::size_t>(i)] == Verdict::kSkip) out.skipped.push_back(i);
  return out;
}

std::optional<int> next_candidate(const std::vector<Verdict>& verdicts) {
  const Narrowed n = narrowed(verdicts);
  const int middle2 = n.last_good + n.first_bad;  // twice the middle, to stay in integers
  std::optional<int> best;
  for (int i = n.last_good + 1; i < n.first_bad; ++i) {
    if (verdicts[static_cast<std::size_t>(i)] != Verdict::kUnknown) continue;
    if (!best || std::abs(2 * i - middle2) < std::abs(2 * *best - middle2)) best = i;
  }
  return best;
}

int expected_steps(int candidates) {
  int steps = 0;
  for (int span = 1; span < candidates - 1; span *= 2) ++steps;
  return steps;
}

}  // namespace foliolab::bisect
