#include "bisect/steps.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"
#include "image/initramfs.h"
#include "image/job.h"
#include "kernel/source.h"
#include "plan/plan.h"
#include "runner/guest.h"
#include "runner/job_run.h"
#include "vm/qemu.h"

namespace foliolab::bisect {

namespace fs = std::filesystem;
using common::UsageError;

kernel::BuildOptions build_options(const BisectOptions& o, const config::Suite& suite) {
  kernel::BuildOptions build;
  build.cache_dir = o.cache_dir ? *o.cache_dir : suite.cache_dir ? *suite.cache_dir : common::default_cache_dir();
  build.jobs = o.build_jobs;
  return build;
}

std::vector<RunSample> ensure_runs(Env& env, const Candidate& c, int repetitions) {
  config::Suite suite = env.suite;  // the jobs hold pointers into it: it lives until they are run
  suite.kernels = {c.variant};
  suite.workloads = {env.entry};
  suite.arches = {env.arch};
  suite.repetitions = repetitions;
  suite.baseline = env.baseline;
  const std::vector<plan::Job> jobs = plan::make_plan(suite, env.catalog, runner::plan_inputs(env.build));
  std::vector<const plan::Job*> pending;
  for (const auto& job : jobs)
    if (!env.store.has_run(job.key)) pending.push_back(&job);
  if (!pending.empty()) {
    if (env.signals.stopped()) throw Stopped{};
    runner::JobContext context{suite, env.catalog, env.registry, env.build.cache_dir, {}};
    try {
      context.kernels[{c.variant.name, env.arch}] = runner::prepare_kernel(c.variant, env.arch, env.build);
    } catch (const common::Interrupted&) {
      throw Stopped{};
    }
    image::base_image(env.arch, context.cache_dir);
    vm::QemuBackend backend;
    for (const auto* job : pending) {
      spdlog::info("{}: run {} of {}", c.label, job->repetition + 1, repetitions);
      runner::JobRun run = runner::run_job(*job, context, backend, env.signals.stop());
      if (run.stopped) throw Stopped{};
      env.store.write_run(run.manifest, run.console, run.records_jsonl);
    }
  }
  std::vector<RunSample> samples;
  for (const auto& job : jobs)
    if (auto manifest = env.store.read_manifest(job.key)) samples.push_back(sample_of(*manifest, env.options.metric));
  return samples;
}

std::optional<std::vector<RunSample>> runs_or_skip(Env& env, const Candidate& c, int repetitions, Judgement& skip) {
  try {
    return ensure_runs(env, c, repetitions);
  } catch (const common::UsageError& e) {
    skip = {Verdict::kSkip, "not buildable: " + first_line(e.what())};
  } catch (const common::InfraError& e) {
    skip = {Verdict::kSkip, "not buildable: " + first_line(e.what())};
  }
  return std::nullopt;
}

metrics::Direction metric_direction(const Env& env, const std::string& metric) {
  if (metric.starts_with("wl.")) {
    auto info = runner::workload_metric_info(env.catalog, {image::job_step(env.catalog, env.entry)});
    auto it = info.find(metric);
    if (it == info.end())
      throw UsageError(fmt::format("--metric {}: workload {} has no such metric (see `foliolab workloads {}`)", metric,
                                   env.entry.workload, env.entry.workload));
    return it->second.direction;
  }
  return env.registry.lookup(metric).direction;
}

const config::WorkloadEntry& find_entry(const config::Suite& suite, const std::string& name) {
  std::string known;
  for (const auto& w : suite.workloads) {
    if (w.name == name) return w;
    known += (known.empty() ? "" : ", ") + w.name;
  }
  throw UsageError(fmt::format("--workload {}: {} has no workload of that name (known: {})", name,
                               suite.file.string(), known));
}

std::string resolve_commit(const fs::path& repo, const std::string& ref) {
  return kernel::git(repo, {"rev-parse", "--verify", "--quiet", ref + "^{commit}"},
                     fmt::format("'{}' is not a commit of this repository", ref));
}

RangeShape range_shape(const fs::path& repo, const std::string& from, const std::string& to) {
  RangeShape shape;
  shape.ancestor = common::run_process({"git", "-C", repo.string(), "merge-base", "--is-ancestor", from, to}).ok();
  if (shape.ancestor)
    shape.first_merge = first_line(kernel::git(repo, {"rev-list", "--merges", from + ".." + to}, "git rev-list"));
  return shape;
}

std::vector<CommitPatch> commit_patches(const fs::path& repo, const std::string& from, const std::string& to,
                                        const fs::path& dir) {
  // One patch per non-empty commit, oldest first, each starting "From <hash> ...".
  fs::remove_all(dir);
  fs::create_directories(dir);
  kernel::git(repo, {"format-patch", "--no-renames", "--no-signature", "--quiet", "-o", dir.string(), from + ".." + to},
              "git format-patch");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<CommitPatch> out;
  for (const auto& file : files) {
    const std::string text = common::read_file(file);
    CommitPatch p{file, text.starts_with("From ") ? text.substr(5, text.find(' ', 5) - 5) : std::string(), ""};
    const auto subject_at = text.find("\nSubject: ");
    if (subject_at != std::string::npos) p.subject = first_line(text.substr(subject_at + 10));
    if (p.subject.starts_with("[PATCH")) p.subject = p.subject.substr(std::min(p.subject.size(), p.subject.find("] ") + 2));
    out.push_back(std::move(p));
  }
  return out;
}

std::string commit_variant_name(const std::string& variant, const std::string& hash) {
  return fmt::format("{}+{}", variant, hash.substr(0, 12));
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace foliolab::bisect
