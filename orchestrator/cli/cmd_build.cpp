// foliolab build SUITE [--arch A]... [--kernel NAME]... [--json] [--config-only]
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/fs.h"
#include "config/suite.h"
#include "kernel/builder.h"

namespace foliolab::cli {
namespace {

struct BuildArgs {
  std::string suite;
  std::vector<std::string> arches;
  std::vector<std::string> kernels;
  bool json = false;
  std::string cache;
  int jobs = 0;
  bool no_ccache = false;
  bool config_only = false;
};

int run_build(const BuildArgs& args) {
  using common::UsageError;
  config::Suite suite = config::load_suite(args.suite);
  std::vector<config::Arch> arches;
  for (const auto& a : args.arches) {
    auto arch = config::arch_from_string(a);
    if (!arch) throw UsageError(fmt::format("--arch {}: unknown arch (known: x86_64, arm64, riscv64)", a));
    if (std::find(suite.arches.begin(), suite.arches.end(), *arch) == suite.arches.end())
      throw UsageError(fmt::format("--arch {}: not one of the suite's arches", a));
    arches.push_back(*arch);
  }
  if (arches.empty()) arches = suite.arches;
  std::vector<const config::KernelVariant*> kernels;
  for (const auto& k : args.kernels) {
    const auto* v = suite.find_kernel(k);
    if (!v) throw UsageError(fmt::format("--kernel {}: the suite has no such kernel", k));
    kernels.push_back(v);
  }
  if (kernels.empty())
    for (const auto& k : suite.kernels) kernels.push_back(&k);

  kernel::BuildOptions options;
  options.cache_dir = !args.cache.empty() ? std::filesystem::path(args.cache)
                      : suite.cache_dir   ? *suite.cache_dir
                                          : common::default_cache_dir();
  options.jobs = args.jobs;
  options.use_ccache = !args.no_ccache;
  options.config_only = args.config_only;

  // Build everything asked for; a failure does not discard the artifacts built before it, and
  // other kernel x arch pairs still build. The exit code is the first failure's.
  int exit_code = 0;
  size_t done = 0;
  const size_t total = kernels.size() * arches.size();
  for (const auto* k : kernels) {
    for (auto arch : arches) {
      ++done;
      spdlog::info("[{}/{}] kernel {} for {}", done, total, k->name, config::to_string(arch));
      try {
        auto a = kernel::build_kernel(*k, arch, options);
        if (args.json) {
          nlohmann::json j = {{"kernel", a.kernel},       {"arch", config::to_string(a.arch)},
                              {"key", a.key},             {"image", a.image.string()},
                              {"config", a.config.string()}, {"vmlinux", a.vmlinux.string()},
                              {"release", a.release},     {"cached", a.cached},
                              {"seconds", a.seconds},     {"warnings", a.warnings}};
          std::cout << j.dump() << std::endl;
        }
      } catch (const common::UsageError& e) {
        spdlog::error("{}", e.what());
        if (exit_code == 0) exit_code = static_cast<int>(common::ExitCode::kUsage);
      } catch (const common::InfraError& e) {
        spdlog::error("{}", e.what());
        if (exit_code == 0) exit_code = static_cast<int>(common::ExitCode::kInfra);
      }
    }
  }
  return exit_code;
}

}  // namespace

void add_build_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<BuildArgs>();
  auto* cmd = app.add_subcommand("build", "build the suite's kernels (cached by content)");
  cmd->add_option("suite", args->suite, "suite YAML file")->required();
  cmd->add_option("--arch", args->arches, "only this arch (repeatable)");
  cmd->add_option("--kernel", args->kernels, "only this kernel variant (repeatable)");
  cmd->add_flag("--json", args->json, "print one JSON object per kernel x arch on stdout");
  cmd->add_option("--cache", args->cache, "artifact cache (default ~/.cache/foliolab or the suite's cache:)");
  cmd->add_option("-j,--jobs", args->jobs, "make -j (default: number of cores)");
  cmd->add_flag("--no-ccache", args->no_ccache, "do not use ccache");
  cmd->add_flag("--config-only", args->config_only,
                "stop after the kconfig merge and check: print each final .config and its warnings, build nothing");
  cmd->callback([args, &runner] { runner = [args] { return run_build(*args); }; });
}

}  // namespace foliolab::cli
