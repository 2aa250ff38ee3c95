#pragma once
// The search of a bisect, as a function of the verdicts so far: candidates are ordered (patch
// prefixes 0..n of a series, or commits oldest to newest), the first is known good and the last
// known bad, and a regression is assumed to stay once it appears (git bisect's assumption). A
// candidate that cannot be judged (it does not build, its patch does not apply, it crashes
// differently, its samples stay between the ends) is skipped, as git bisect's exit 125.
#include <optional>
#include <string>
#include <vector>

namespace foliolab::bisect {

enum class Verdict { kUnknown, kGood, kBad, kSkip };
const char* to_string(Verdict verdict);

// Where the search stands: the last good candidate before the first bad one, and the skipped
// ones in between. `exact()` when they are neighbours: `first_bad` is the answer.
struct Narrowed {
  int last_good = 0;
  int first_bad = 0;
  std::vector<int> skipped;  // strictly between, in order
  bool exact() const { return skipped.empty(); }
};

// Requires verdicts.front() == kGood and a kBad after it.
Narrowed narrowed(const std::vector<Verdict>& verdicts);

// The next candidate to judge: the untested one strictly between last_good and first_bad that
// is nearest the middle (the lower on a tie); nullopt when none is left.
std::optional<int> next_candidate(const std::vector<Verdict>& verdicts);

// Steps a bisect of `candidates` (ends included) needs without skips: ceil(log2(candidates - 1)).
int expected_steps(int candidates);

}  // namespace foliolab::bisect
