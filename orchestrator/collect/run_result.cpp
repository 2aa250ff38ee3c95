#include "collect/run_result.h"

namespace foliolab::collect {

namespace {

struct OutcomeName {
  Outcome outcome;
  const char* name;
};

// The spellings of architecture.md ("Outcome of a run"); stored in manifest.json.
constexpr OutcomeName kOutcomeNames[] = {
    {Outcome::kOk, "ok"},
    {Outcome::kWorkloadFailed, "workload-failed"},
    {Outcome::kIntegrityFailed, "integrity-failed"},
    {Outcome::kKernelWarning, "kernel-warning"},
    {Outcome::kKernelCrash, "kernel-crash"},
    {Outcome::kBootFailed, "boot-failed"},
    {Outcome::kTimeout, "timeout"},
    {Outcome::kSkipped, "skipped"},
    {Outcome::kInfraError, "infra-error"},
};

}  // namespace

const char* to_string(Outcome outcome) {
  for (const auto& entry : kOutcomeNames) {
    if (entry.outcome == outcome) return entry.name;
  }
  return "infra-error";
}

std::optional<Outcome> outcome_from_string(const std::string& text) {
  for (const auto& entry : kOutcomeNames) {
    if (text == entry.name) return entry.outcome;
  }
  return std::nullopt;
}

}  // namespace foliolab::collect
