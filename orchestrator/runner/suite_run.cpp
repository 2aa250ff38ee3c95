#include "runner/suite_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <exception>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "catalog/catalog.h"
#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/units.h"
#include "config/suite.h"
#include "image/initramfs.h"
#include "image/job.h"
#include "kernel/builder.h"
#include "metrics/registry.h"
#include "plan/plan.h"
#include "report/compare_command.h"
#include "runner/guest.h"
#include "runner/job_run.h"
#include "runner/progress.h"
#include "runner/schedule.h"
#include "runner/signals.h"
#include "store/manifest.h"
#include "store/result_store.h"
#include "vm/machine.h"
#include "vm/qemu.h"

namespace foliolab::runner {
namespace {

namespace fs = std::filesystem;
using common::InfraError;
using common::UsageError;

bool store_has_any_run(const store::ResultStore& store) {
  std::error_code ec;
  if (!fs::is_directory(store.runs_dir(), ec)) return false;
  for (const auto& entry : fs::directory_iterator(store.runs_dir(), ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(".tmp-", 0) == 0) continue;
    if (fs::exists(entry.path() / "manifest.json", ec)) return true;
  }
  return false;
}

struct KernelNeed {
  const config::KernelVariant* variant;
  config::Arch arch;
  std::string key;
};

// The (variant, arch) pairs the jobs need, in first-use order.
std::vector<KernelNeed> kernels_needed(const std::vector<const plan::Job*>& jobs) {
  std::vector<KernelNeed> out;
  for (const auto* job : jobs) {
    bool seen = false;
    for (const auto& k : out) seen = seen || (k.variant == job->kernel && k.arch == job->arch);
    if (!seen) out.push_back({job->kernel, job->arch, job->artifact_key});
  }
  return out;
}

void print_dry_run(std::ostream& out, const config::Suite& suite, const std::vector<const plan::Job*>& jobs,
                   std::size_t plan_size, const std::vector<KernelNeed>& kernels, const fs::path& cache_dir,
                   const store::ResultStore& store) {
  out << fmt::format("suite {}: {} job{} (of {} in the plan), results in {}\n", suite.name, jobs.size(),
                     jobs.size() == 1 ? "" : "s", plan_size, store.dir().string());
  out << "kernels:\n";
  for (const auto& k : kernels) {
    std::error_code ec;
    bool cached = fs::exists(cache_dir / "kernels" / k.key / "metadata.json", ec);
    out << fmt::format("  {} {} {} {}\n", k.variant->name, config::to_string(k.arch), k.key,
                       cached ? "cached" : "to build");
  }
  out << "jobs:\n";
  for (const auto* job : jobs)
    out << fmt::format("  {} {}{}\n", job->key.substr(0, 12), job->describe(),
                       store.has_run(job->key) ? " (stored)" : "");
  out.flush();
}

// Every kernel the jobs need, built or loaded from the cache, one at a time (each build already
// uses every core), then each arch's base image once: a missing guest agent fails here, not per
// job. Stops early (leaving finished kernels cached) when a stop is requested.
void prepare_kernels(const std::vector<const plan::Job*>& pending, const kernel::BuildOptions& build, JobContext& ctx,
                     const SignalWatch& signals) {
  for (const auto& need : kernels_needed(pending)) {
    if (signals.stopped()) return;
    spdlog::info("kernel {} for {}", need.variant->name, config::to_string(need.arch));
    JobContext::Kernel kernel;
    try {
      kernel = prepare_kernel(*need.variant, need.arch, build);
    } catch (const common::Interrupted&) {
      return;  // reported by the caller like any interrupt; finished kernels stay cached
    }
    if (kernel.artifact.key != need.key)
      throw InfraError(fmt::format("kernel {} for {}: built artifact {} but the plan expected {} (inputs changed "
                                   "while running?)",
                                   need.variant->name, config::to_string(need.arch), kernel.artifact.key, need.key));
    ctx.kernels[{need.variant->name, need.arch}] = std::move(kernel);
  }
  std::set<config::Arch> arches;
  for (const auto* job : pending) arches.insert(job->arch);
  for (auto arch : arches)
    if (!signals.stopped()) image::base_image(arch, ctx.cache_dir);
}

PoolSize guest_pool(const config::Suite& suite, const RunOptions& options, std::size_t jobs) {
  PoolLimits limits;
  limits.requested = options.jobs;
  limits.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  limits.mem_available = host_mem_available().value_or(0);
  limits.guest_memory = suite.guest.memory_bytes;
  limits.jobs = jobs;
  PoolSize pool = pool_size(limits);
  if (jobs > 0)
    spdlog::info("running {} job{} on {} guest{} at once ({})", jobs, jobs == 1 ? "" : "s", pool.workers,
                 pool.workers == 1 ? "" : "s", pool.why);
  return pool;
}

struct PoolCounts {
  std::size_t stored = 0;
  std::size_t infra_failures = 0;  // stored runs that still ended infra-error after their retry
};

// The pending jobs on `workers` threads, each with its own backend, each job through run_job
// and stored once. A failure that is not a guest's doing (a store that refuses writes) stops
// every worker and is rethrown.
PoolCounts run_pool(const std::vector<const plan::Job*>& pending, const JobContext& ctx, int workers,
                    store::ResultStore& store, const SignalWatch& signals, const BackendFactory& make_backend) {
  std::mutex store_mutex;  // one ResultStore object, used by one thread at a time
  std::atomic<std::size_t> next{0}, stored{0}, infra_failures{0};
  std::mutex fatal_mutex;
  std::exception_ptr fatal;
  std::atomic<bool> abort{false};
  Progress progress(pending.size(), workers, Progress::stderr_is_terminal());
  auto worker = [&](int id) {
    try {
      std::unique_ptr<vm::GuestBackend> backend = make_backend ? make_backend() : std::make_unique<vm::QemuBackend>();
      while (!signals.stopped() && !abort.load()) {
        std::size_t index = next.fetch_add(1);
        if (index >= pending.size()) return;
        const plan::Job& job = *pending[index];
        JobEvents events;
        events.started = [&](int attempt) { progress.started(id, job, attempt); };
        events.finished = [&](const std::string& outcome, const std::string& reason, double seconds, bool final) {
          progress.finished(id, job, outcome, reason, seconds, final);
        };
        JobRun run = run_job(job, ctx, *backend, signals.stop(), events);
        if (run.stopped) return;
        {
          std::lock_guard lock(store_mutex);
          store.write_run(run.manifest, run.console, run.records_jsonl);
        }
        ++stored;
        if (run.outcome == collect::Outcome::kInfraError) ++infra_failures;
      }
    } catch (...) {
      std::lock_guard lock(fatal_mutex);
      if (!fatal) fatal = std::current_exception();
      abort = true;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < workers && !pending.empty(); ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  progress.stop();
  if (fatal) std::rethrow_exception(fatal);
  return {stored.load(), infra_failures.load()};
}

}  // namespace

int run_suite(const RunOptions& options, std::ostream& out) {
  const config::Suite suite = config::load_suite(options.suite_file);
  const catalog::Catalog catalog = catalog::Catalog::load(catalog::default_workloads_dir());
  const fs::path cache_dir = options.cache_dir  ? *options.cache_dir
                             : suite.cache_dir ? *suite.cache_dir
                                               : common::default_cache_dir();
  kernel::BuildOptions build;
  build.cache_dir = cache_dir;
  build.jobs = options.build_jobs;
  build.write_cache = !options.dry_run;  // docs/run.md: a dry run writes nothing

  const std::vector<plan::Job> plan = plan::make_plan(suite, catalog, plan_inputs(build));
  const std::vector<const plan::Job*> selected = filter_jobs(plan, options.only);
  if (selected.empty()) throw UsageError(fmt::format("--only: no job of the {} in the plan matches", plan.size()));

  const fs::path results_dir = options.results_dir ? *options.results_dir
                               : suite.results_dir ? *suite.results_dir
                                                   : fs::path("results") / suite.name;
  store::ResultStore store(results_dir);

  if (options.dry_run) {
    print_dry_run(out, suite, selected, plan.size(), kernels_needed(selected), cache_dir, store);
    return 0;
  }
  if (!options.resume && store_has_any_run(store))
    throw UsageError(fmt::format("{} already holds runs; pass --resume to complete them, or --results DIR for a "
                                 "fresh results folder",
                                 results_dir.string()));
  if (options.resume) adopt_recipe1_runs(store, selected);
  const std::vector<const plan::Job*> pending =
      pending_jobs(selected, [&](const std::string& key) { return store.has_run(key); });
  if (selected.size() != pending.size())
    spdlog::info("resume: {} of {} jobs already stored", selected.size() - pending.size(), selected.size());

  SignalWatch signals;
  const metrics::Registry registry = metrics::Registry::load_default();
  JobContext ctx{suite, catalog, registry, cache_dir, {}};
  prepare_kernels(pending, build, ctx, signals);

  const PoolSize pool = guest_pool(suite, options, pending.size());
  const PoolCounts counts = run_pool(pending, ctx, pool.workers, store, signals, options.backend);

  const std::size_t total = selected.size();
  const std::size_t done = total - pending.size() + counts.stored;
  if (signals.stopped()) {
    std::cerr << fmt::format("foliolab run: interrupted by {}: {} of {} runs stored; rerun with --resume to "
                             "complete the rest\n",
                             common::signal_name(signals.signal()), done, total);
    return 128 + signals.signal();
  }

  int code = 0;
  if (store_has_any_run(store)) {
    report::CompareCommand compare;
    compare.input.dirs = {store.dir()};
    compare.render.fail_on = options.fail_on;
    compare.render.command_line = options.command_line;
    code = report::run_compare(compare, out);
  }
  if (counts.infra_failures > 0) {
    spdlog::error("{} run{} ended infra-error after a retry (see their manifest.json errors)", counts.infra_failures,
                  counts.infra_failures == 1 ? "" : "s");
    return static_cast<int>(common::ExitCode::kInfra);
  }
  return code;
}

}  // namespace foliolab::runner
