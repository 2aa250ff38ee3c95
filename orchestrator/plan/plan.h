#pragma once
// The run matrix: kernel variant x arch x guest settings x workload x repetition, each a job
// with a deterministic key (same inputs, same key: caching and resume rely on it). A guest knob
// given as a list expands like a Cartesian product (LKP's split-job). Jobs are ordered so that
// variants interleave (A B A B ...) and slow drift of a shared machine favours none of them.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "config/suite.h"
#include "image/job.h"

namespace foliolab::plan {

// One point of the settings matrix: every knob has exactly one value.
struct SettingsPoint {
  config::GuestSettings guest;
  std::string id;     // 12 hex digits, stable for the same values
  std::string label;  // the swept knobs only, "khugepaged.max_ptes_none=0"; "" when nothing is swept
};

std::vector<SettingsPoint> expand_settings(const config::GuestSettings& guest);

// The suite's guest settings as one workload runs them: its own knobs (workloads[].guest)
// replace the suite's value or sweep of the same knob.
config::GuestSettings with_overrides(const config::GuestSettings& guest, const config::KnobOverrides& overrides);

// Canonical "name=value" lines of a point (sorted), the input of its id and of job keys.
std::vector<std::string> canonical_settings(const config::GuestSettings& guest);

struct Job {
  std::string key;                        // 32 hex digits
  const config::KernelVariant* kernel = nullptr;
  std::string artifact_key;
  config::Arch arch = config::Arch::kX86_64;
  std::string machine;                    // machine profile id of the backend
  SettingsPoint settings;
  const config::WorkloadEntry* workload = nullptr;
  catalog::ResolvedWorkload resolved;     // canonical params and argv
  image::JobStep step;                    // what the guest runs, resolved once here (argv, deadline, memcg)
  int repetition = 0;                     // 0-based
  std::string describe() const;           // "base x86_64 collapse-full #2 [max_ptes_none=0]"
};

struct Inputs {
  // Kernel artifact key of (variant, arch); computing it must not build anything.
  std::function<std::string(const config::KernelVariant&, config::Arch)> artifact_key;
  // Machine profile id the backend will use for an arch (part of the job key).
  std::function<std::string(config::Arch)> machine;
};

// The job key of `j` under a key recipe. kJobKeyRecipe is today's; recipe 1 (foliolab before
// 2026-12-05) did not name the variant, so variants that built the same kernel shared keys and
// overwrote each other's runs. Resume uses recipe 1 only to recognise such results folders.
inline constexpr int kJobKeyRecipe = 2;
std::string job_key(const Job& j, int recipe);

// Throws UsageError (naming the suite location) for an unknown workload or bad parameters.
std::vector<Job> make_plan(const config::Suite& suite, const catalog::Catalog& catalog, const Inputs& inputs);

}  // namespace foliolab::plan
