#pragma once
// Choosing the accelerator. "Is KVM usable?" is answered by running a guest, never by opening
// /dev/kvm: on some hosts KVM_CREATE_VM succeeds and yet no guest gets past its firmware
// (docs/design/reference.md section 1). The probe boots a 40-byte multiboot program that
// writes to QEMU's isa-debug-exit port; only a QEMU exit with that program's code within a few
// seconds counts as "KVM works".
#include <chrono>
#include <string>

#include "config/suite.h"
#include "vm/machine.h"

namespace foliolab::vm {

struct AccelChoice {
  Accel accel = Accel::kTcg;
  std::string why;  // "KVM probe guest did not finish within 3 s", "FOLIOLAB_ACCEL=tcg", ...
};

// The accelerator for guests of `arch` on this host, decided once per process and arch and
// logged once. The probe's answer is also kept in the cache folder until the host reboots or
// QEMU changes. FOLIOLAB_ACCEL=tcg|kvm|auto (default auto) overrides the probe.
AccelChoice choose_accel(config::Arch arch);

struct ProbeOutcome {
  bool ran = false;    // the program ran to its end
  std::string detail;  // otherwise why not: "timed out after 3 s", "exit 134: ... MSR 0x10a ..."
};

// Runs the probe program under `accel` ("kvm" or "tcg", a QEMU -accel value) with `cpu`.
// Exposed for tests (under TCG it must always run).
ProbeOutcome probe_guest(const std::string& accel, const std::string& cpu, std::chrono::milliseconds deadline);

// The probe program: a flat multiboot image (load address 1 MiB) whose code writes
// kProbeExitValue to I/O port 0xf4 and halts.
std::string probe_image();
inline constexpr int kProbeExitValue = 0x31;  // QEMU exits with (value << 1) | 1 = 99

}  // namespace foliolab::vm
