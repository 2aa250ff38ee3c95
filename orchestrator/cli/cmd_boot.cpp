// foliolab boot --arch A --kernel IMAGE [--workload W [--param k=v]...]... [--memory 2G] [--cpus 2]
//               [--console FILE|-] [--json] [--setting name=value]...
// One guest: builds its initrd (cached base + this job), boots it, shows the console live,
// then prints the outcome and the metrics of each step. Exit codes: 0 outcome ok or skipped,
// 1 any other outcome, 2 usage, 3 infrastructure, 128+N when stopped by signal N.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "collect/untrusted_text.h"
#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/units.h"
#include "config/suite.h"
#include "image/job.h"
#include "metrics/reduce.h"
#include "metrics/registry.h"
#include "runner/guest.h"
#include "runner/signals.h"
#include "vm/qemu.h"

namespace foliolab::cli {
namespace {

using common::UsageError;

struct WorkloadArg {
  std::string name;
  std::map<std::string, std::string> params;
};

struct BootArgs {
  std::string arch;
  std::string kernel;
  std::vector<WorkloadArg> workloads;
  std::string memory = "2G";
  int cpus = 2;
  int numa_nodes = 1;
  std::string console = "-";
  bool json = false;
  std::vector<std::string> settings;
  std::vector<std::string> cmdline;
  std::string boot_timeout = "120s";
  std::string silence_timeout = "300s";
  std::string cache;
};

// Makes guest console bytes safe for a terminal: printable ASCII, newlines and tabs pass,
// everything else (escape sequences, CR, invalid bytes) becomes '.' or is dropped.
std::string terminal_safe(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\t' || (u >= 0x20 && u < 0x7f)) out += c;
    else if (c != '\r') out += '.';
  }
  return out;
}

std::chrono::milliseconds duration_arg(const std::string& option, const std::string& text) {
  auto d = common::parse_duration(text);
  if (!d || d->count() <= 0) throw UsageError(fmt::format("{} {}: expected a duration such as 90s or 5m", option, text));
  return *d;
}

// The steps of this job, resolved against the workload catalog. A workload given twice gets
// the names W, W-2, W-3 (step names must be unique).
std::vector<image::JobStep> resolve_steps(const catalog::Catalog& catalog, const std::vector<WorkloadArg>& workloads) {
  std::vector<image::JobStep> steps;
  std::map<std::string, int> seen;
  for (const auto& w : workloads) {
    config::WorkloadEntry entry;
    int n = ++seen[w.name];
    entry.name = n == 1 ? w.name : fmt::format("{}-{}", w.name, n);
    entry.workload = w.name;
    entry.params = w.params;
    steps.push_back(image::job_step(catalog, entry));
  }
  return steps;
}

nlohmann::json hello_json(const collect::Hello& h) {
  return {{"job_key", h.job_key},   {"release", h.release},         {"version", h.version},
          {"machine", h.machine},   {"arch", h.arch},               {"page_size", h.page_size},
          {"pmd_kb", h.pmd_kb},     {"thp_sizes_kb", h.thp_sizes_kb}, {"mem_total_kb", h.mem_total_kb},
          {"cpus", h.cpus},         {"features", h.features},       {"t", h.t}};
}

std::string error_text(const collect::RunError& e) {
  std::string subject = e.where;
  if (!e.name.empty()) subject += " " + e.name;
  return subject + ": " + e.message;
}

int exit_code_for(collect::Outcome outcome) {
  switch (outcome) {
    case collect::Outcome::kOk:
    case collect::Outcome::kSkipped: return static_cast<int>(common::ExitCode::kOk);
    case collect::Outcome::kInfraError: return static_cast<int>(common::ExitCode::kInfra);
    default: return static_cast<int>(common::ExitCode::kFailures);
  }
}

int run_boot(const BootArgs& args, const GlobalOptions& global) {
  auto arch = config::arch_from_string(args.arch);
  if (!arch) throw UsageError(fmt::format("--arch {}: unknown arch (known: x86_64, arm64, riscv64)", args.arch));
  std::filesystem::path kernel = std::filesystem::absolute(args.kernel);
  if (!std::filesystem::is_regular_file(kernel))
    throw UsageError(fmt::format("--kernel {}: no such file", args.kernel));
  auto memory = common::parse_size(args.memory);
  if (!memory || *memory < (128ull << 20) || *memory % (1ull << 20) != 0)
    throw UsageError(fmt::format("--memory {}: expected a size of at least 128M in whole MiB", args.memory));
  if (args.cpus < 1 || args.cpus > 8) throw UsageError(fmt::format("--cpus {}: expected 1..8", args.cpus));

  config::GuestSettings guest;
  guest.memory_bytes = *memory;
  guest.cpus = args.cpus;
  guest.numa_nodes = args.numa_nodes;
  for (const auto& s : args.settings) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError(fmt::format("--setting {}: expected name=value", s));
    image::apply_setting(guest, s.substr(0, eq), s.substr(eq + 1));
  }

  image::Job job;
  job.guest = guest;
  // The catalog (every workload's YAML, about 5 ms) is read only when a workload is asked for.
  std::optional<catalog::Catalog> catalog;
  if (!args.workloads.empty()) {
    catalog = catalog::Catalog::load(catalog::default_workloads_dir());
    job.steps = resolve_steps(*catalog, args.workloads);
  }
  // The key names everything that determines this run (the job without its key, the kernel).
  job.job_key = common::Hasher()
                    .field("kind", "boot")
                    .file("kernel", kernel)
                    .field("arch", config::to_string(*arch))
                    .field("memory", static_cast<std::int64_t>(guest.memory_bytes))
                    .field("cpus", guest.cpus)
                    .field("job", image::job_json(job).dump())
                    .hex();
  std::string job_text = image::job_json(job).dump(2) + "\n";

  runner::GuestJob guest_job;
  guest_job.arch = *arch;
  guest_job.kernel = kernel;
  guest_job.job = job;
  guest_job.cmdline_extra = args.cmdline;
  guest_job.timeouts.boot = duration_arg("--boot-timeout", args.boot_timeout);
  guest_job.timeouts.silence = duration_arg("--silence-timeout", args.silence_timeout);
  guest_job.cache_dir = args.cache.empty() ? common::default_cache_dir() : std::filesystem::path(args.cache);
  common::TemporaryDirectory run_dir(std::filesystem::temp_directory_path(), "foliolab-boot");
  guest_job.work_dir = run_dir.path();
  if (args.console != "-") guest_job.console_log = std::filesystem::absolute(args.console);
  bool live = args.console == "-" && !global.quiet;
  runner::ConsoleSink console;
  if (live)
    console = [](std::string_view bytes) {
      std::string safe = terminal_safe(bytes);
      (void)!::write(STDERR_FILENO, safe.data(), safe.size());
    };

  spdlog::info("booting {} on {} ({} MiB, {} CPUs, {} step{})", kernel.string(), config::to_string(*arch),
               guest.memory_bytes >> 20, guest.cpus, job.steps.size(), job.steps.size() == 1 ? "" : "s");
  runner::SignalWatch signals;
  vm::QemuBackend backend;
  runner::GuestOutcome outcome = runner::run_guest(guest_job, backend, signals.stop(), console);
  const vm::GuestRun& run = outcome.run;
  if (outcome.stopped) {
    std::cerr << fmt::format("\nfoliolab boot: {}; the guest was stopped, no result.\n", run.end_detail);
    return 128 + signals.signal();
  }
  const collect::RunResult& result = outcome.result;

  auto registry = metrics::Registry::load_default();
  if (catalog)
    for (const auto& [name, info] : runner::workload_metric_info(*catalog, job.steps)) registry.set(name, info);
  nlohmann::json step_metrics = nlohmann::json::object();
  for (const auto& step : result.records.steps) step_metrics[step.name] = metrics::reduce_step(step, registry);

  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : result.records.errors) errors.push_back(error_text(e));
  if (result.records.errors_omitted > 0) errors.push_back(fmt::format("... and {} more errors", result.records.errors_omitted));

  nlohmann::json out;
  out["outcome"] = collect::to_string(result.outcome);
  out["reason"] = result.reason;
  out["arch"] = config::to_string(*arch);
  out["kernel"] = kernel.string();
  out["kernel_release"] = result.records.hello ? nlohmann::json(result.records.hello->release) : nlohmann::json(nullptr);
  out["boot_seconds"] = run.hello_seen ? nlohmann::json(run.boot_seconds) : nlohmann::json(nullptr);
  out["total_seconds"] = run.total_seconds;
  out["crash"] = result.crash ? nlohmann::json{{"title", result.crash->title}, {"excerpt", result.crash->excerpt},
                                               {"kind", result.crash->kind}}
                              : nlohmann::json(nullptr);
  out["metrics"] = step_metrics;
  out["hello"] = result.records.hello ? hello_json(*result.records.hello) : nlohmann::json(nullptr);
  out["errors"] = errors;
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& step : result.records.steps) {
    steps.push_back({{"name", step.name},
                     {"workload", step.workload},
                     {"status", collect::to_string(step.status)},
                     {"exit_code", step.exit_code ? nlohmann::json(*step.exit_code) : nlohmann::json(nullptr)},
                     {"signal", step.signal ? nlohmann::json(*step.signal) : nlohmann::json(nullptr)},
                     {"reason", step.reason},
                     {"seconds", step.seconds}});
  }
  out["steps"] = steps;
  out["done"] = result.records.done;
  out["malformed_lines"] = result.records.malformed_lines;
  out["oom_kills"] = result.oom_kills;
  out["trace_lost"] = metrics::trace_lost(result);
  out["end"] = {{"reason", vm::to_string(run.end)}, {"detail", run.end_detail}};
  out["machine"] = {{"profile", run.machine_profile}, {"accel", run.accel}, {"qemu", run.emulator_version}};
  out["job_key"] = job.job_key;
  if (args.console != "-") out["console_log"] = outcome.console_log.string();

  if (args.json) {
    std::cout << out.dump(2) << std::endl;
  } else {
    // Guest text reaches the terminal only through printable_excerpt.
    auto shown = [](const std::string& text) { return collect::printable_excerpt(text, 400); };
    std::cout << fmt::format("outcome: {}{}\n", collect::to_string(result.outcome),
                             result.reason.empty() ? "" : " (" + shown(result.reason) + ")");
    if (result.records.hello)
      std::cout << fmt::format("kernel: {} on {}, boot {:.2f} s, run {:.2f} s ({})\n",
                               shown(result.records.hello->release), config::to_string(*arch), run.boot_seconds,
                               run.total_seconds, run.accel);
    if (result.crash) std::cout << fmt::format("crash: {}\n", shown(result.crash->title));
    if (result.oom_kills > 0) std::cout << fmt::format("oom kills: {}\n", result.oom_kills);
    for (const auto& [event, lost] : metrics::trace_lost(result))
      if (lost > 0)
        std::cout << fmt::format("trace {}: {} events lost, its counts are lower bounds\n", shown(event), lost);
    for (const auto& e : errors) std::cout << "error: " << shown(e.get<std::string>()) << "\n";
    for (const auto& [step, values] : step_metrics.items()) {
      std::cout << fmt::format("step {}:\n", shown(step));
      for (const auto& [name, value] : values.items()) {
        if (value.is_number() && value.get<double>() == 0.0) continue;  // zero counters are noise here
        std::cout << fmt::format("  {:<48} {}\n", shown(name), value.dump());
      }
    }
    std::cout.flush();
  }
  return exit_code_for(result.outcome);
}

}  // namespace

void add_boot_command(CLI::App& app, Runner& runner, const GlobalOptions& global) {
  auto args = std::make_shared<BootArgs>();
  auto raw_workloads = std::make_shared<std::vector<std::string>>();
  auto raw_params = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand("boot", "boot one guest, run workloads, show the outcome and metrics");
  cmd->add_option("--arch", args->arch, "x86_64, arm64 or riscv64")->required();
  cmd->add_option("--kernel", args->kernel, "kernel image (bzImage / Image)")->required();
  auto* workload = cmd->add_option("--workload", *raw_workloads, "workload to run (repeatable, in order)");
  auto* param = cmd->add_option("--param", *raw_params, "k=v parameter of the preceding --workload");
  cmd->add_option("--memory", args->memory, "guest memory")->capture_default_str();
  cmd->add_option("--cpus", args->cpus, "guest CPUs")->capture_default_str();
  cmd->add_option("--numa-nodes", args->numa_nodes, "guest NUMA nodes")->capture_default_str();
  cmd->add_option("--console", args->console, "FILE to write the console to, or - for live on stderr")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print the result as JSON on stdout");
  cmd->add_option("--setting", args->settings, "guest setting name=value (thp.enabled=always, ...)");
  cmd->add_option("--cmdline", args->cmdline, "extra kernel command-line word (repeatable)");
  cmd->add_option("--boot-timeout", args->boot_timeout, "deadline for the agent's hello")->capture_default_str();
  cmd->add_option("--silence-timeout", args->silence_timeout, "deadline for a silent guest")->capture_default_str();
  cmd->add_option("--cache", args->cache, "cache folder (default: ~/.cache/foliolab)");
  cmd->callback([&runner, &global, args, raw_workloads, raw_params, cmd, workload, param] {
    // --param belongs to the --workload before it: walk the options in command-line order.
    args->workloads.clear();
    std::size_t wi = 0, pi = 0;
    for (const CLI::Option* opt : cmd->parse_order()) {
      if (opt == workload) {
        args->workloads.push_back({(*raw_workloads)[wi++], {}});
      } else if (opt == param) {
        const std::string& kv = (*raw_params)[pi++];
        if (args->workloads.empty()) throw CLI::ValidationError("--param", kv + ": comes before any --workload");
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw CLI::ValidationError("--param", kv + ": expected k=v");
        args->workloads.back().params[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    }
    runner = [args, &global] { return run_boot(*args, global); };
  });
}

}  // namespace foliolab::cli
