#pragma once
// QEMU machine profiles: everything that differs between arches, as data (one table in
// machine.cpp), and the pure translation of a GuestSpec into a QEMU argv. This is the one
// place in foliolab that knows QEMU flags.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/suite.h"
#include "vm/guest.h"

namespace foliolab::vm {

enum class Accel { kTcg, kKvm };
const char* to_string(Accel accel);

// How guest NUMA nodes are made: QEMU -numa nodes (described to the kernel in the device
// tree) or the kernel's own emulation (numa=fake=N), for machines whose only NUMA description
// would be ACPI, which our lean x86_64 kernels leave out.
enum class NumaMethod { kQemuNodes, kKernelFake };

struct MachineProfile {
  std::string name;            // "x86_64-q35": recorded in manifests, part of job keys
  config::Arch arch;
  std::string qemu_binary;     // "qemu-system-x86_64"
  std::string debian_package;  // where qemu_binary comes from, for "not installed" errors
  std::string image_name;      // what kernel image it boots ("bzImage", "Image")
  std::vector<std::string> machine_args;  // -M ... plus firmware
  std::string cpu_tcg;         // -cpu under TCG
  std::string cpu_kvm;         // -cpu under KVM
  std::string tcg_accel;       // -accel value under TCG
  // One CPU per socket (-smp N,sockets=N): SeaBIOS lists only one CPU per socket in its MP
  // table, the only CPU list an ACPI-less x86_64 kernel reads.
  bool cpus_as_sockets = false;
  bool nodefaults = true;      // -nodefaults works (no default devices needed)
  std::string virtio_serial;   // device name of the virtio-serial controller
  std::string virtio_blk;      // device name of a virtio block device
  NumaMethod numa = NumaMethod::kQemuNodes;
  // Kernel command line: console, earlycon, and per-arch boot-time trims for TCG.
  std::vector<std::string> cmdline;
  // TCG runs this many times slower than KVM for our workloads (scales the step margin).
  int tcg_slowdown = 4;
  // Under TCG on an x86_64 host the guest's TSC is the host's: its frequency is passed on the
  // command line (tsc_early_khz=), because calibrating it against the emulated PIT fails
  // whenever the host is busy, and the kernel then falls back to a jiffies clock.
  bool tsc_from_host = false;
};

// Facts about this host that go into a guest's configuration (see MachineProfile).
struct HostFacts {
  std::optional<std::uint64_t> tsc_khz;  // the host's invariant TSC frequency, when it has one
};

// This host's facts, measured once per host boot (kept in the cache) and read once per process.
const HostFacts& host_facts();
// The invariant TSC's frequency in kHz (nullopt without one): the answer kept in
// <cache>/host-facts/ for this host boot, else measured (about 50 ms) and kept.
std::optional<std::uint64_t> host_tsc_khz();

// The profile for an arch (every arch has exactly one today).
const MachineProfile& profile_for(config::Arch arch);
const std::vector<MachineProfile>& all_profiles();

// Host-side paths of one run's channels.
struct GuestEndpoints {
  std::filesystem::path qmp_socket;   // foliolab listens, QEMU connects
  std::filesystem::path data_socket;  // foliolab listens, QEMU connects
  std::optional<std::filesystem::path> swap_image;  // sparse raw file
};

// The kernel command line: profile's, then panic=-1 (a panic must end the guest), the TSC
// frequency under TCG when the profile takes it from the host, NUMA emulation if the profile
// needs it, then the spec's extras (which win, being last).
std::string kernel_cmdline(const MachineProfile& profile, const GuestSpec& spec, Accel accel = Accel::kTcg,
                           const HostFacts& host = {});

// The full argv (argv[0] = profile.qemu_binary). Pure: no file is touched.
std::vector<std::string> qemu_argv(const MachineProfile& profile, const GuestSpec& spec,
                                   const GuestEndpoints& endpoints, Accel accel, const HostFacts& host = {});

// Name of the virtio-serial port the agent looks for (docs/protocol.md section 2).
inline constexpr std::string_view kDataPortName = "foliolab.data";
// The host's one line to the guest, sent when it has read the done record (protocol section 2).
inline constexpr std::string_view kDoneAck = "{\"type\":\"ack\",\"of\":\"done\"}\n";
// Serial number of the swap disk (job.json swap.disk.serial).
inline constexpr std::string_view kSwapDiskSerial = "foliolab-swap";

}  // namespace foliolab::vm
