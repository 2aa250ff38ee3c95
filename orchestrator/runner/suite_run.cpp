#include "runner/suite_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <exception>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp forgets it under C++20
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#pragma GCC diagnostic pop

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
#include "runner/progress.h"
#include "runner/schedule.h"
#include "store/manifest.h"
#include "store/result_store.h"
#include "vm/machine.h"
#include "vm/qemu.h"

namespace foliolab::runner {
namespace {

namespace fs = std::filesystem;
using common::InfraError;
using common::UsageError;
using Clock = std::chrono::steady_clock;

constexpr const char* kFoliolabVersion = "0.1.0";

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// SIGINT/SIGTERM for the whole run. Each running guest's backend sees the same signal through
// its own handler and stops its guest; this watcher makes sure no new guest (or kernel build)
// starts, and re-sends the signal once to guests that started so close to it that their
// handler may not have been installed yet. Asio delivers a signal to every signal_set that
// waits for it, in every io_context, so the two coexist.
class SignalWatch {
 public:
  SignalWatch() {
    wait();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~SignalWatch() {
    boost::asio::post(io_, [this] {
      signals_.cancel();
      timer_.cancel();
    });
    thread_.join();
  }
  int signal() const { return signal_.load(); }
  bool stopped() const { return signal_.load() != 0; }
  // Workers say when their guest starts, so that a late starter can be signalled again.
  void guest_starting(int worker) {
    std::lock_guard lock(mutex_);
    starts_[worker] = Clock::now();
  }
  void guest_ended(int worker) {
    std::lock_guard lock(mutex_);
    starts_.erase(worker);
  }

 private:
  void wait() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (resending_.exchange(false)) {  // our own re-sent signal
        wait();
        return;
      }
      if (signal_.load() == 0) {
        signal_ = signo;
        signalled_at_ = Clock::now();
        spdlog::warn("{}: stopping the running guests; no new job starts", signo == SIGINT ? "SIGINT" : "SIGTERM");
        common::interrupt_children(signo);  // a kernel build in progress stops too
        timer_.expires_after(std::chrono::milliseconds(kRunDefaults.signal_resend_window_ms));
        timer_.async_wait([this](const boost::system::error_code& tec) {
          if (!tec) resend_to_late_starters();
        });
      }
      wait();
    });
  }
  void resend_to_late_starters() {
    std::lock_guard lock(mutex_);
    auto window = std::chrono::milliseconds(kRunDefaults.signal_resend_window_ms);
    for (const auto& [worker, since] : starts_) {
      if (since + window >= signalled_at_) {
        resending_ = true;
        ::kill(::getpid(), signal_.load());
        return;
      }
    }
  }

  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
  boost::asio::steady_timer timer_{io_};
  std::atomic<int> signal_{0};
  std::atomic<bool> resending_{false};
  Clock::time_point signalled_at_{};
  std::mutex mutex_;
  std::map<int, Clock::time_point> starts_;
  std::thread thread_;
};

std::map<std::string, std::string> settings_map(const config::GuestSettings& guest) {
  std::map<std::string, std::string> out;
  for (const auto& line : plan::canonical_settings(guest)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = line.substr(0, eq), value = line.substr(eq + 1);
    if (name == "trace") {  // may repeat
      auto& v = out[name];
      v += (v.empty() ? "" : ",") + value;
    } else {
      out[name] = value;
    }
  }
  return out;
}

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

struct Context {
  const config::Suite& suite;
  const catalog::Catalog& catalog;
  const metrics::Registry& registry;
  fs::path cache_dir;
  std::map<std::pair<std::string, config::Arch>, kernel::KernelArtifact> artifacts;
  std::map<std::pair<std::string, config::Arch>, nlohmann::json> metadata;
};

store::RunManifest make_manifest(const Context& ctx, const plan::Job& job, const kernel::KernelArtifact& artifact,
                                 const image::Job& image_job, const GuestOutcome& outcome, const std::string& started) {
  store::RunManifest m;
  m.suite = ctx.suite.name;
  m.job_key = job.key;
  m.baseline = ctx.suite.baseline;
  m.kernel.variant = job.kernel->name;
  m.kernel.artifact_key = job.artifact_key;
  m.kernel.release = artifact.release;
  if (m.kernel.release.empty() && outcome.result.records.hello) m.kernel.release = outcome.result.records.hello->release;
  m.kernel.source = job.kernel->source.describe();
  for (const auto& p : job.kernel->patches) m.kernel.patches.push_back(p.string());
  m.kernel.metadata = ctx.metadata.at({job.kernel->name, job.arch});
  m.arch = config::to_string(job.arch);
  m.machine.profile = outcome.run.machine_profile.empty() ? job.machine : outcome.run.machine_profile;
  m.machine.accel = outcome.run.accel;
  m.machine.qemu = outcome.run.emulator_version;
  m.machine.memory = common::format_size(job.settings.guest.memory_bytes);
  m.machine.cpus = job.settings.guest.cpus;
  m.settings = settings_map(job.settings.guest);
  m.settings_id = job.settings.id;
  m.workload.name = job.workload->name;
  m.workload.workload = job.workload->workload;
  m.workload.params = job.resolved.params;
  m.repetition = job.repetition;
  m.host = {hostname(), kFoliolabVersion};
  m.timing.started = started;
  m.timing.finished = utc_now();
  m.metric_info = workload_metric_info(ctx.catalog, image_job.steps);
  store::record_result(m, outcome.result, ctx.registry);
  return m;
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

  plan::Inputs inputs;
  inputs.artifact_key = [&](const config::KernelVariant& v, config::Arch arch) {
    return kernel::artifact_key(v, arch, kernel::resolve_inputs(v, arch, build));
  };
  inputs.machine = [](config::Arch arch) { return vm::profile_for(arch).name; };
  const std::vector<plan::Job> plan = plan::make_plan(suite, catalog, inputs);
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
  Context ctx{suite, catalog, registry, cache_dir, {}, {}};

  // Kernels first (one at a time: each build already uses every core), then guests.
  for (const auto& need : kernels_needed(pending)) {
    if (signals.stopped()) break;
    spdlog::info("kernel {} for {}", need.variant->name, config::to_string(need.arch));
    kernel::KernelArtifact artifact;
    try {
      artifact = kernel::build_kernel(*need.variant, need.arch, build);
    } catch (const common::Interrupted&) {
      break;  // reported below like any interrupt; finished kernels stay cached
    }
    if (artifact.key != need.key)
      throw InfraError(fmt::format("kernel {} for {}: built artifact {} but the plan expected {} (inputs changed "
                                   "while running?)",
                                   need.variant->name, config::to_string(need.arch), artifact.key, need.key));
    auto meta = nlohmann::json::parse(common::read_file(artifact.metadata), nullptr, false);
    ctx.metadata[{need.variant->name, need.arch}] = meta.is_discarded() ? nlohmann::json::object() : meta;
    ctx.artifacts[{need.variant->name, need.arch}] = std::move(artifact);
  }
  // The base image of each arch once, up front: a missing guest agent fails here, not per job.
  std::set<config::Arch> arches;
  for (const auto* job : pending) arches.insert(job->arch);
  for (auto arch : arches)
    if (!signals.stopped()) image::base_image(arch, cache_dir);

  std::uint64_t guest_memory = suite.guest.memory_bytes;
  PoolLimits limits;
  limits.requested = options.jobs;
  limits.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  limits.mem_available = host_mem_available().value_or(0);
  limits.guest_memory = guest_memory;
  limits.jobs = pending.size();
  const PoolSize pool = pool_size(limits);
  if (!pending.empty())
    spdlog::info("running {} job{} on {} guest{} at once ({})", pending.size(), pending.size() == 1 ? "" : "s",
                 pool.workers, pool.workers == 1 ? "" : "s", pool.why);

  std::mutex store_mutex;  // one ResultStore object, used by one thread at a time
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> stored{0};
  std::atomic<std::size_t> infra_failures{0};
  std::mutex fatal_mutex;
  std::exception_ptr fatal;
  std::atomic<bool> abort{false};
  {
    Progress progress(pending.size(), pool.workers, Progress::stderr_is_terminal());
    auto worker = [&](int id) {
      vm::QemuBackend backend;
      while (!signals.stopped() && !abort.load()) {
        std::size_t index = next.fetch_add(1);
        if (index >= pending.size()) return;
        const plan::Job& job = *pending[index];
        try {
          const auto& artifact = ctx.artifacts.at({job.kernel->name, job.arch});
          image::Job image_job;
          image_job.job_key = job.key;
          image_job.guest = job.settings.guest;
          image_job.steps.push_back(image::job_step(catalog, *job.workload));
          for (int attempt = 1;; ++attempt) {
            if (signals.stopped() || abort.load()) return;
            common::TemporaryDirectory work(fs::temp_directory_path(), "foliolab-run");
            GuestJob guest;
            guest.arch = job.arch;
            guest.kernel = artifact.image;
            guest.job = image_job;
            guest.timeouts = suite_timeouts(suite.timeouts);
            guest.cache_dir = cache_dir;
            guest.work_dir = work.path();
            std::string started = utc_now();
            progress.started(id, job, attempt);
            signals.guest_starting(id);
            GuestOutcome outcome = run_guest(guest, backend);
            signals.guest_ended(id);
            if (outcome.stopped) {
              progress.finished(id, job, "stopped", "not stored", outcome.run.total_seconds, false);
              return;
            }
            const std::string name = collect::to_string(outcome.result.outcome);
            bool retry = outcome.result.outcome == collect::Outcome::kInfraError &&
                         attempt <= kRunDefaults.infra_retries && !signals.stopped();
            if (retry) {
              progress.finished(id, job, name, outcome.result.reason, outcome.result.total_seconds, false);
              continue;
            }
            store::RunManifest manifest = make_manifest(ctx, job, artifact, image_job, outcome, started);
            std::string console;
            std::error_code ec;
            if (fs::exists(outcome.console_log, ec)) console = common::read_file(outcome.console_log);
            {
              std::lock_guard lock(store_mutex);
              store.write_run(manifest, console, outcome.records_jsonl);
            }
            ++stored;
            if (outcome.result.outcome == collect::Outcome::kInfraError) ++infra_failures;
            progress.finished(id, job, name, outcome.result.reason, outcome.result.total_seconds, true);
            break;
          }
        } catch (...) {
          // Not a guest's doing (a store that refuses writes, a kernel file gone): stop all.
          signals.guest_ended(id);
          std::lock_guard lock(fatal_mutex);
          if (!fatal) fatal = std::current_exception();
          abort = true;
          return;
        }
      }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < pool.workers && !pending.empty(); ++i) threads.emplace_back(worker, i);
    for (auto& t : threads) t.join();
    progress.stop();
  }
  if (fatal) std::rethrow_exception(fatal);

  const std::size_t total = selected.size();
  const std::size_t done = total - pending.size() + stored.load();
  if (signals.stopped()) {
    std::cerr << fmt::format("foliolab run: interrupted by {}: {} of {} runs stored; rerun with --resume to "
                             "complete the rest\n",
                             signals.signal() == SIGTERM ? "SIGTERM" : "SIGINT", done, total);
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
  if (infra_failures.load() > 0) {
    spdlog::error("{} run{} ended infra-error after a retry (see their manifest.json errors)", infra_failures.load(),
                  infra_failures.load() == 1 ? "" : "s");
    return static_cast<int>(common::ExitCode::kInfra);
  }
  return code;
}

}  // namespace foliolab::runner
