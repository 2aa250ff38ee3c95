#include "runner/job_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <ctime>

#include "common/errors.h"
#include "common/fs.h"
#include "common/units.h"
#include "image/job.h"
#include "runner/schedule.h"
#include "vm/machine.h"

namespace foliolab::runner {
namespace {

namespace fs = std::filesystem;

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

store::RunManifest make_manifest(const JobContext& ctx, const plan::Job& job, const JobContext::Kernel& kernel,
                                 const image::Job& image_job, const GuestOutcome& outcome, const std::string& started) {
  store::RunManifest m;
  m.suite = ctx.suite.name;
  m.job_key = job.key;
  m.baseline = ctx.suite.baseline;
  m.kernel.variant = job.kernel->name;
  m.kernel.artifact_key = job.artifact_key;
  m.kernel.release = kernel.artifact.release;
  if (m.kernel.release.empty() && outcome.result.records.hello) m.kernel.release = outcome.result.records.hello->release;
  m.kernel.source = job.kernel->source.describe();
  for (const auto& p : job.kernel->patches) m.kernel.patches.push_back(p.string());
  m.kernel.metadata = kernel.metadata;
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

const JobContext::Kernel& kernel_of(const JobContext& ctx, const plan::Job& job) {
  auto it = ctx.kernels.find({job.kernel->name, job.arch});
  if (it == ctx.kernels.end())
    throw common::InfraError(fmt::format("{}: no kernel was built for {} on {}", job.describe(), job.kernel->name,
                                         config::to_string(job.arch)));
  return it->second;
}

}  // namespace

plan::Inputs plan_inputs(const kernel::BuildOptions& build) {
  plan::Inputs inputs;
  inputs.artifact_key = [build](const config::KernelVariant& v, config::Arch arch) {
    return kernel::artifact_key(v, arch, kernel::resolve_inputs(v, arch, build));
  };
  inputs.machine = [](config::Arch arch) { return vm::profile_for(arch).name; };
  return inputs;
}

JobContext::Kernel prepare_kernel(const config::KernelVariant& variant, config::Arch arch,
                                  const kernel::BuildOptions& build) {
  JobContext::Kernel kernel;
  kernel.artifact = kernel::build_kernel(variant, arch, build);
  auto meta = nlohmann::json::parse(common::read_file(kernel.artifact.metadata), nullptr, false);
  if (!meta.is_discarded()) kernel.metadata = std::move(meta);
  return kernel;
}

JobRun run_job(const plan::Job& job, const JobContext& context, vm::GuestBackend& backend, const vm::StopSignal& stop,
               const JobEvents& events) {
  const JobContext::Kernel& kernel = kernel_of(context, job);
  image::Job image_job;
  image_job.job_key = job.key;
  image_job.guest = job.settings.guest;
  image_job.steps.push_back(job.step);

  JobRun out;
  for (int attempt = 1;; ++attempt) {
    if (stop.requested()) {
      out.stopped = true;
      return out;
    }
    common::TemporaryDirectory work(fs::temp_directory_path(), "foliolab-run");
    GuestJob guest;
    guest.arch = job.arch;
    guest.kernel = kernel.artifact.image;
    guest.job = image_job;
    guest.timeouts = suite_timeouts(context.suite.timeouts);
    guest.cache_dir = context.cache_dir;
    guest.work_dir = work.path();
    const std::string started = utc_now();
    out.attempts = attempt;
    if (events.started) events.started(attempt);
    GuestOutcome outcome = run_guest(guest, backend, stop);
    if (outcome.stopped) {
      out.stopped = true;
      if (events.finished) events.finished("stopped", "not stored", outcome.run.total_seconds, false);
      return out;
    }
    out.outcome = outcome.result.outcome;
    const std::string name = collect::to_string(out.outcome);
    const bool retry = out.outcome == collect::Outcome::kInfraError && attempt <= kRunDefaults.infra_retries &&
                       !stop.requested();
    if (events.finished) events.finished(name, outcome.result.reason, outcome.result.total_seconds, !retry);
    if (retry) continue;
    out.manifest = make_manifest(context, job, kernel, image_job, outcome, started);
    std::error_code ec;
    if (fs::exists(outcome.console_log, ec)) out.console = common::read_file(outcome.console_log);
    out.records_jsonl = std::move(outcome.records_jsonl);
    return out;
  }
}

}  // namespace foliolab::runner
