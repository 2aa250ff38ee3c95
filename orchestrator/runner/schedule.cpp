#include "runner/schedule.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace foliolab::runner {

PoolSize pool_size(const PoolLimits& limits) {
  PoolSize out;
  int workers = limits.requested > 0 ? limits.requested : std::max(1, limits.cores);
  out.why = limits.requested > 0 ? fmt::format("-j {}", limits.requested) : fmt::format("{} cores", workers);
  if (limits.mem_available > 0 && limits.guest_memory > 0) {
    std::uint64_t per_guest = limits.guest_memory + limits.overhead;
    auto fit = static_cast<int>(std::min<std::uint64_t>(limits.mem_available / per_guest, 1 << 20));
    if (fit < workers) {
      workers = std::max(1, fit);
      out.why = fmt::format("memory: {:.1f} GiB available, {:.1f} GiB per guest",
                            static_cast<double>(limits.mem_available) / (1 << 30),
                            static_cast<double>(per_guest) / (1 << 30));
    }
  }
  if (limits.jobs > 0 && static_cast<std::size_t>(workers) > limits.jobs) {
    workers = static_cast<int>(limits.jobs);
    out.why = fmt::format("{} job{}", limits.jobs, limits.jobs == 1 ? "" : "s");
  }
  out.workers = std::max(1, workers);
  return out;
}

std::optional<std::uint64_t> host_mem_available() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string name;
    std::uint64_t kb = 0;
    if (fields >> name >> kb && name == "MemAvailable:") return kb * 1024;
  }
  return std::nullopt;
}

std::vector<const plan::Job*> filter_jobs(const std::vector<plan::Job>& jobs, const std::vector<std::string>& globs) {
  std::vector<const plan::Job*> out;
  for (const auto& job : jobs) {
    std::string text = job.describe();
    bool match = globs.empty() || std::any_of(globs.begin(), globs.end(), [&](const std::string& glob) {
                   return ::fnmatch(glob.c_str(), text.c_str(), 0) == 0;
                 });
    if (match) out.push_back(&job);
  }
  return out;
}

std::vector<const plan::Job*> pending_jobs(const std::vector<const plan::Job*>& jobs,
                                           const std::function<bool(const std::string& key)>& has_run) {
  std::vector<const plan::Job*> out;
  for (const auto* job : jobs)
    if (!has_run(job->key)) out.push_back(job);
  return out;
}

std::size_t adopt_recipe1_runs(store::ResultStore& store, const std::vector<const plan::Job*>& jobs) {
  std::size_t moved = 0;
  for (const auto* job : jobs) {
    if (store.has_run(job->key)) continue;
    const std::string old_key = plan::job_key(*job, 1);
    std::optional<store::RunManifest> manifest;
    try {
      if (store.has_run(old_key)) manifest = store.read_manifest(old_key);
    } catch (const std::exception& e) {
      spdlog::warn("resume: run {} is unreadable and stays where it is: {}", old_key, e.what());
    }
    if (!manifest || manifest->kernel.variant != job->kernel->name || manifest->repetition != job->repetition)
      continue;
    store.rekey_run(old_key, job->key);
    ++moved;
  }
  if (moved) {
    store.sync_index();
    spdlog::info("resume: {} runs stored under the old job-key recipe (without the variant) moved to their "
                 "variant's key; runs that a variant building the same kernel overwrote there run again",
                 moved);
  }
  return moved;
}

}  // namespace foliolab::runner
