#pragma once
// The QEMU backend: one qemu-system-<arch> process per guest, driven from one Boost.Asio
// event loop on the calling thread. The console is QEMU's stdout (written to console.log and
// handed to the callback), the data channel and QMP are unix sockets foliolab listens on and
// QEMU connects to, so there is no start-up race. Deadlines (boot, step, silence, run,
// shutdown) and a stop request (StopSignal, set by whoever owns SIGINT/SIGTERM) end the guest the same way: QMP quit, then SIGKILL of QEMU's
// process group after a grace period. QEMU is always reaped and every temporary file
// (sockets, swap disk) is removed before run() returns or throws.
#include <optional>
#include <string>

#include "vm/guest.h"
#include "vm/machine.h"

namespace foliolab::vm {

class QemuBackend : public GuestBackend {
 public:
  // accel: forced accelerator; unset = choose_accel() (probed once per process).
  explicit QemuBackend(std::optional<Accel> accel = std::nullopt) : forced_accel_(accel) {}
  GuestRun run(const GuestSpec& spec, const GuestCallbacks& callbacks, const StopSignal& stop) override;
  std::string name() const override { return "qemu"; }

 private:
  std::optional<Accel> forced_accel_;
};

// "QEMU emulator version 7.2.22 (...)" of the binary, asked once per process; throws
// InfraError naming the Debian package when the binary is not installed.
std::string emulator_version(const MachineProfile& profile);

// Throws InfraError ("qemu-system-riscv64 not found: install the Debian package
// qemu-system-misc") when the profile's QEMU is missing.
void require_emulator(const MachineProfile& profile);

}  // namespace foliolab::vm
