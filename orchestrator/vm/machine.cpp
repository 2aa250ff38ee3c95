#include "vm/machine.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"

namespace foliolab::vm {
namespace {

// One row per arch. Facts behind the choices: docs/design/reference.md sections 1-2 and the
// boot-time measurements in docs/benchmarks.md ("boot").
std::vector<MachineProfile> make_profiles() {
  std::vector<MachineProfile> p;
  p.push_back(MachineProfile{
      .name = "x86_64-q35",
      .arch = config::Arch::kX86_64,
      .qemu_binary = "qemu-system-x86_64",
      .debian_package = "qemu-system-x86",
      .image_name = "bzImage",
      // No legacy devices the lean kernel would probe (i8042 alone costs ~0.3 s under TCG).
      .machine_args = {"-M", "q35,i8042=off,sata=off,smbus=off,vmport=off"},
      .cpu_tcg = "max",
      .cpu_kvm = "host",
      .tcg_accel = "tcg,thread=multi",
      .cpus_as_sockets = true,
      .nodefaults = true,
      .virtio_serial = "virtio-serial-pci",
      .virtio_blk = "virtio-blk-pci",
      .numa = NumaMethod::kKernelFake,
      // reboot=t: without ACPI and i8042 the default reboot method waits ~5 s for a keyboard
      // controller that is not there; a triple fault resets at once (and -no-reboot exits).
      // tsc=reliable: no clocksource watchdog (there is no HPET/PM timer to check it against
      // without ACPI). noapictimer: under TCG the local APIC timer's calibration costs
      // 0.1-0.3 s and its verification fails whenever the host is busy, so whether it was used
      // depended on the host's load; the PIT broadcast tick is used always instead.
      // no_timer_check: no IO-APIC timer check.
      .cmdline = {"console=ttyS0", "reboot=t", "tsc=reliable", "noapictimer", "no_timer_check"},
      .tcg_slowdown = 4,
      .tsc_from_host = true,
  });
  p.push_back(MachineProfile{
      .name = "arm64-virt",
      .arch = config::Arch::kArm64,
      .qemu_binary = "qemu-system-aarch64",
      .debian_package = "qemu-system-arm",
      .image_name = "Image",
      .machine_args = {"-M", "virt,gic-version=3"},
      // SVE and architected pointer authentication make TCG much slower.
      .cpu_tcg = "max,sve=off,pauth-impdef=on",
      .cpu_kvm = "host",
      .tcg_accel = "tcg,thread=multi",
      .nodefaults = true,
      .virtio_serial = "virtio-serial-device",
      .virtio_blk = "virtio-blk-device",
      .numa = NumaMethod::kQemuNodes,
      .cmdline = {"console=ttyAMA0", "earlycon=pl011,0x9000000"},
      .tcg_slowdown = 4,
  });
  p.push_back(MachineProfile{
      .name = "riscv64-virt",
      .arch = config::Arch::kRiscv64,
      .qemu_binary = "qemu-system-riscv64",
      .debian_package = "qemu-system-misc",
      .image_name = "Image",
      .machine_args = {"-M", "virt", "-bios", "default"},
      .cpu_tcg = "rv64",
      .cpu_kvm = "host",
      .tcg_accel = "tcg,thread=multi",
      .nodefaults = true,
      .virtio_serial = "virtio-serial-device",
      .virtio_blk = "virtio-blk-device",
      // Not QEMU's NUMA nodes: on riscv virt each node is a socket with its own PLIC, and
      // QEMU 7.2 wires the virtio-mmio interrupts to the second socket's PLIC; the 6.12 guest
      // then never binds virtio-serial (no data channel: the host sees no hello). The kernel's
      // own emulation (NUMA_EMU, numa=fake=N) gives the nodes without a second socket.
      .numa = NumaMethod::kKernelFake,
      .cmdline = {"console=ttyS0", "earlycon=sbi"},
      .tcg_slowdown = 4,
  });
  return p;
}

std::string mebibytes(std::uint64_t bytes) { return fmt::format("{}M", bytes >> 20); }

// A path inside a QEMU option string ("socket,path=..."): commas are doubled.
std::string option_path(const std::filesystem::path& path) {
  std::string out;
  for (char c : path.string()) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

// The host TSC's frequency in kHz: TSC ticks against CLOCK_MONOTONIC_RAW over short windows
// (the best of several, each window bracketed by two TSC reads). Only for an invariant TSC
// (constant_tsc and nonstop_tsc), the one QEMU's TCG hands to x86 guests unchanged.
std::optional<std::uint64_t> measure_tsc_khz() {
#if defined(__x86_64__)
  std::string cpuinfo;
  try {
    cpuinfo = common::read_file("/proc/cpuinfo");
  } catch (const common::InfraError&) {
    return std::nullopt;
  }
  auto flags_at = cpuinfo.find("\nflags");
  std::string flags = flags_at == std::string::npos ? "" : cpuinfo.substr(flags_at, cpuinfo.find('\n', flags_at + 1) - flags_at);
  if (flags.find(" constant_tsc") == std::string::npos || flags.find(" nonstop_tsc") == std::string::npos)
    return std::nullopt;
  auto now_ns = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  };
  std::vector<double> khz;
  for (int i = 0; i < 5; ++i) {
    std::uint64_t a0 = __rdtsc();
    double t0 = now_ns();
    std::uint64_t a1 = __rdtsc();
    ::usleep(10'000);
    std::uint64_t b0 = __rdtsc();
    double t1 = now_ns();
    std::uint64_t b1 = __rdtsc();
    double ticks = (static_cast<double>(b0) + static_cast<double>(b1)) / 2 - (static_cast<double>(a0) + static_cast<double>(a1)) / 2;
    if (t1 > t0) khz.push_back(ticks / (t1 - t0) * 1e6);
  }
  if (khz.size() < 3) return std::nullopt;
  std::sort(khz.begin(), khz.end());
  double median = khz[khz.size() / 2];
  if (median < 100'000 || median > 10'000'000) return std::nullopt;  // not a plausible TSC
  return static_cast<std::uint64_t>(median + 0.5);
#else
  return std::nullopt;
#endif
}

}  // namespace

// The TSC frequency holds until the host reboots, and measuring it costs 50 ms of every
// `foliolab boot`: it is measured once per host boot and kept in <cache>/host-facts/.
std::optional<std::uint64_t> host_tsc_khz() {
  common::Hasher key;
  key.field("fact", "tsc_khz");
  auto file = common::host_boot_cache_file("host-facts", key);
  if (file) {
    try {
      auto doc = nlohmann::json::parse(common::read_file(*file));
      const auto& v = doc.at("tsc_khz");
      if (v.is_null()) return std::nullopt;
      auto khz = v.get<std::uint64_t>();
      if (khz >= 100'000 && khz <= 10'000'000) return khz;
    } catch (const std::exception&) {
      // absent or unreadable: measure again
    }
  }
  auto khz = measure_tsc_khz();
  if (file) {
    try {
      std::filesystem::create_directories(file->parent_path());
      nlohmann::json doc = {{"tsc_khz", khz ? nlohmann::json(*khz) : nlohmann::json(nullptr)}};
      common::write_file_atomic(*file, doc.dump());
    } catch (const std::exception& e) {
      spdlog::debug("cannot keep the TSC frequency: {}", e.what());
    }
  }
  return khz;
}

const HostFacts& host_facts() {
  static const HostFacts facts = [] {
    HostFacts f;
    f.tsc_khz = host_tsc_khz();
    return f;
  }();
  return facts;
}

const char* to_string(Accel accel) { return accel == Accel::kKvm ? "kvm" : "tcg"; }

const char* to_string(EndReason reason) {
  switch (reason) {
    case EndReason::kExited: return "exited";
    case EndReason::kBootDeadline: return "boot-deadline";
    case EndReason::kStepDeadline: return "step-deadline";
    case EndReason::kSilence: return "silence";
    case EndReason::kRunDeadline: return "run-deadline";
    case EndReason::kShutdownDeadline: return "shutdown-deadline";
    case EndReason::kStopped: return "stopped";
  }
  return "unknown";
}

const std::vector<MachineProfile>& all_profiles() {
  static const std::vector<MachineProfile> profiles = make_profiles();
  return profiles;
}

const MachineProfile& profile_for(config::Arch arch) {
  for (const auto& p : all_profiles())
    if (p.arch == arch) return p;
  throw common::InfraError(fmt::format("internal: no machine profile for arch {}", static_cast<int>(arch)));
}

std::string kernel_cmdline(const MachineProfile& profile, const GuestSpec& spec, Accel accel, const HostFacts& host) {
  std::vector<std::string> words = profile.cmdline;
  words.push_back("panic=-1");
  if (profile.tsc_from_host && accel == Accel::kTcg && host.tsc_khz) {
    words.push_back(fmt::format("tsc_early_khz={}", *host.tsc_khz));
    // Loops per jiffy as the boot CPU derives them from the TSC: without this, every other CPU
    // calibrates its delay loop for about 0.1 s. Under TCG the guest CPU has no invariant-TSC
    // bit, so the kernel does not reuse CPU 0's value (and each CPU is its own socket).
    if (spec.kernel_hz) words.push_back(fmt::format("lpj={}", *host.tsc_khz * 1000 / static_cast<std::uint64_t>(*spec.kernel_hz)));
  }
  if (profile.numa == NumaMethod::kKernelFake && spec.numa_nodes > 1)
    words.push_back(fmt::format("numa=fake={}", spec.numa_nodes));
  for (const auto& extra : spec.cmdline_extra) words.push_back(extra);
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::vector<std::string> qemu_argv(const MachineProfile& profile, const GuestSpec& spec,
                                   const GuestEndpoints& endpoints, Accel accel, const HostFacts& host) {
  if (spec.cpus < 1) throw common::UsageError(fmt::format("a guest needs at least one CPU (got {})", spec.cpus));
  if (spec.numa_nodes < 1) throw common::UsageError(fmt::format("a guest needs at least one NUMA node (got {})", spec.numa_nodes));
  std::uint64_t node_quantum = std::uint64_t{2} << 20;  // whole 2 MiB per node keeps PMDs intact
  if (spec.memory_bytes < (std::uint64_t{64} << 20) ||
      spec.memory_bytes % (std::uint64_t{1} << 20) != 0)
    throw common::UsageError(fmt::format("guest memory must be a whole number of MiB, at least 64M (got {} bytes)",
                                         spec.memory_bytes));

  std::vector<std::string> a = {profile.qemu_binary, "-no-user-config"};
  if (profile.nodefaults) a.push_back("-nodefaults");
  a.insert(a.end(), profile.machine_args.begin(), profile.machine_args.end());
  if (accel == Accel::kKvm) {
    a.insert(a.end(), {"-accel", "kvm", "-cpu", profile.cpu_kvm});
  } else {
    a.insert(a.end(), {"-accel", profile.tcg_accel, "-cpu", profile.cpu_tcg});
  }
  a.insert(a.end(), {"-m", mebibytes(spec.memory_bytes), "-smp",
                     profile.cpus_as_sockets ? fmt::format("{},sockets={}", spec.cpus, spec.cpus)
                                             : std::to_string(spec.cpus)});

  if (profile.numa == NumaMethod::kQemuNodes && spec.numa_nodes > 1) {
    auto nodes = static_cast<std::uint64_t>(spec.numa_nodes);
    std::uint64_t per_node = spec.memory_bytes / nodes / node_quantum * node_quantum;
    if (per_node == 0) throw common::UsageError("guest memory too small for its NUMA nodes");
    std::uint64_t given = 0;
    for (int i = 0; i < spec.numa_nodes; ++i) {
      std::uint64_t size = (i + 1 == spec.numa_nodes) ? spec.memory_bytes - given : per_node;
      given += size;
      a.insert(a.end(), {"-object", fmt::format("memory-backend-ram,id=numa-mem{},size={}", i, mebibytes(size))});
      std::string node = fmt::format("node,nodeid={},memdev=numa-mem{}", i, i);
      int first = i * spec.cpus / spec.numa_nodes;
      int last = (i + 1) * spec.cpus / spec.numa_nodes - 1;
      if (last >= first) node += first == last ? fmt::format(",cpus={}", first) : fmt::format(",cpus={}-{}", first, last);
      a.insert(a.end(), {"-numa", node});
    }
  }

  a.insert(a.end(), {"-kernel", spec.kernel.string(), "-initrd", spec.initrd.string(),
                     "-append", kernel_cmdline(profile, spec, accel, host)});
  a.insert(a.end(), {"-display", "none", "-no-reboot"});
  // Console: the first serial port on QEMU's stdout; signal=off so that no byte is taken as
  // a QEMU control sequence (stdin is /dev/null anyway).
  a.insert(a.end(), {"-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"});
  // Control: QMP, QEMU connects to foliolab's listening socket.
  a.insert(a.end(), {"-chardev", fmt::format("socket,id=qmp,path={}", option_path(endpoints.qmp_socket)),
                     "-mon", "chardev=qmp,mode=control"});
  // Data channel: a virtio-serial port the agent finds by name. max_ports=2: port 0 is kept
  // for a virtconsole, ours is port 1. QEMU's default of 31 ports makes the guest driver set up
  // 64 virtqueues at probe, which cost 35-55 ms of an arm64 boot under TCG (docs/design.md).
  a.insert(a.end(), {"-chardev", fmt::format("socket,id=data,path={}", option_path(endpoints.data_socket)),
                     "-device", fmt::format("{},id=vser,max_ports=2", profile.virtio_serial),
                     "-device", fmt::format("virtserialport,bus=vser.0,chardev=data,name={}", kDataPortName)});
  if (endpoints.swap_image) {
    a.insert(a.end(), {"-drive", fmt::format("file={},if=none,id=swap,format=raw,cache=unsafe,discard=unmap",
                                             option_path(*endpoints.swap_image)),
                       "-device", fmt::format("{},drive=swap,serial={}", profile.virtio_blk, kSwapDiskSerial)});
  }
  return a;
}

}  // namespace foliolab::vm
