// Wires checks owned by later stages into `foliolab doctor`.
#include <fmt/format.h>

#include "cli/commands.h"
#include "vm/accel.h"

namespace foliolab::cli {

void register_doctor_probes(std::vector<doctor::ExtraCheck>& checks) {
  // The vm stage's accelerator choice: KVM only when a probe guest really runs.
  checks.push_back([] {
    doctor::CheckResult r;
    r.name = "accelerator";
    auto choice = vm::choose_accel(config::Arch::kX86_64);
    if (choice.accel == vm::Accel::kKvm) {
      r.status = doctor::Status::kOk;
      r.detail = fmt::format("x86_64 guests run under KVM ({})", choice.why);
    } else {
      r.status = doctor::Status::kWarn;
      r.detail = fmt::format("guests run under TCG ({}); runs are several times slower than with KVM", choice.why);
    }
    return r;
  });
}

}  // namespace foliolab::cli
