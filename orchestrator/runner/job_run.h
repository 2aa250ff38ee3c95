#pragma once
// One job of a plan, run to the end: its guest (retried once when it ends infra-error), the
// run classified, and the manifest that stores it. This is the only way a job runs: `foliolab
// run` calls it from its worker pool, bisect for each step's repetitions; the Slurm executor and
// other backends are to call it too. Nothing is stored here: the caller decides where.
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "config/suite.h"
#include "kernel/builder.h"
#include "metrics/registry.h"
#include "plan/plan.h"
#include "runner/guest.h"
#include "store/manifest.h"
#include "vm/guest.h"

namespace foliolab::runner {

// What every job of one run shares. The kernels of the jobs to run must be in `kernels` (built
// or loaded from the cache), each with its metadata.json as read.
struct JobContext {
  const config::Suite& suite;
  const catalog::Catalog& catalog;
  const metrics::Registry& registry;
  std::filesystem::path cache_dir;  // base images, kernels
  struct Kernel {
    kernel::KernelArtifact artifact;
    nlohmann::json metadata = nlohmann::json::object();
  };
  std::map<std::pair<std::string, config::Arch>, Kernel> kernels;  // (variant name, arch)
};

// The plan's inputs under a build configuration: each (variant, arch)'s artifact key, computed
// without building anything, and the machine profile the QEMU backend uses.
plan::Inputs plan_inputs(const kernel::BuildOptions& build);

// The kernel of (variant, arch), built or taken from the cache, with its metadata.json as read.
// Throws what kernel::build_kernel throws.
JobContext::Kernel prepare_kernel(const config::KernelVariant& variant, config::Arch arch,
                                  const kernel::BuildOptions& build);

// Progress of one job, for people (all optional). `final`: this attempt is the job's result
// (false for an attempt that is retried and for a stopped guest).
struct JobEvents {
  std::function<void(int attempt)> started;
  std::function<void(const std::string& outcome, const std::string& reason, double seconds, bool final)> finished;
};

struct JobRun {
  // Stopped by the stop signal: nothing else here is meaningful and nothing may be stored.
  bool stopped = false;
  int attempts = 0;
  collect::Outcome outcome = collect::Outcome::kInfraError;
  store::RunManifest manifest;
  std::string console;        // console.log as the guest wrote it (bounded by the backend)
  std::string records_jsonl;  // the data channel, one line each (bounded)
};

// Runs `job` on `backend`. Guest misbehaviour is a normal JobRun (outcome crash, timeout, ...);
// an ending of infra-error is retried kRunDefaults.infra_retries times. Throws only for what is
// not the guest's doing (no kernel for the job in `context`, a base image that cannot be made).
JobRun run_job(const plan::Job& job, const JobContext& context, vm::GuestBackend& backend,
               const vm::StopSignal& stop, const JobEvents& events = {});

}  // namespace foliolab::runner
