// foliolab doctor [--json]: what this machine can and cannot do, with what to install.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/commands.h"
#include "common/errors.h"
#include "common/fs.h"
#include "doctor/doctor.h"

namespace foliolab::cli {

void add_doctor_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("doctor", "check tools, kernel source, disk and whether KVM really runs a guest");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->callback([json, &runner] {
    runner = [json] {
      std::vector<doctor::ExtraCheck> extra;
      register_doctor_probes(extra);
      auto results = doctor::run_checks(common::default_cache_dir(), extra);
      bool failed = false;
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : results) {
        failed |= r.status == doctor::Status::kFail;
        if (*json) out.push_back({{"check", r.name}, {"status", doctor::to_string(r.status)}, {"detail", r.detail}});
        else std::cout << fmt::format("{:<5} {:<24} {}\n", doctor::to_string(r.status), r.name, r.detail);
      }
      if (*json) std::cout << out.dump(2) << std::endl;
      return failed ? static_cast<int>(common::ExitCode::kInfra) : 0;
    };
  });
}

}  // namespace foliolab::cli
