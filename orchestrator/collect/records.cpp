#include "collect/records.h"

namespace foliolab::collect {

namespace {

struct StatusName {
  StepStatus status;
  const char* name;
};

// The protocol's spellings (docs/protocol.md section 2, step-end.status).
constexpr StatusName kStatusNames[] = {
    {StepStatus::kOk, "ok"},
    {StepStatus::kFailed, "failed"},
    {StepStatus::kIntegrityFailed, "integrity-failed"},
    {StepStatus::kSkipped, "skipped"},
    {StepStatus::kTimeout, "timeout"},
};

struct PhaseName {
  SamplePhase phase;
  const char* name;
};

constexpr PhaseName kPhaseNames[] = {
    {SamplePhase::kBefore, "before"},
    {SamplePhase::kDuring, "during"},
    {SamplePhase::kAfter, "after"},
};

}  // namespace

const char* to_string(StepStatus status) {
  for (const auto& entry : kStatusNames) {
    if (entry.status == status) return entry.name;
  }
  return "unfinished";
}

const char* to_string(SamplePhase phase) {
  for (const auto& entry : kPhaseNames) {
    if (entry.phase == phase) return entry.name;
  }
  return "during";
}

std::optional<StepStatus> step_status_from_string(std::string_view text) {
  for (const auto& entry : kStatusNames) {
    if (text == entry.name) return entry.status;
  }
  return std::nullopt;
}

std::optional<SamplePhase> sample_phase_from_string(std::string_view text) {
  for (const auto& entry : kPhaseNames) {
    if (text == entry.name) return entry.phase;
  }
  return std::nullopt;
}

}  // namespace foliolab::collect
