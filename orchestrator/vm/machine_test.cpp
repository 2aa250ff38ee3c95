#include "vm/machine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "common/errors.h"
#include "common/fs.h"
#include "vm/accel.h"

namespace foliolab::vm {
namespace {

GuestSpec spec_for(config::Arch arch) {
  GuestSpec s;
  s.arch = arch;
  s.kernel = "/k/Image";
  s.initrd = "/run/initrd.cpio";
  s.memory_bytes = 2ull << 30;
  s.cpus = 2;
  return s;
}

GuestEndpoints endpoints() {
  GuestEndpoints e;
  e.qmp_socket = "/tmp/g/qmp.sock";
  e.data_socket = "/tmp/g/data.sock";
  return e;
}

// The value following `flag` (first occurrence), or "" when absent.
std::string value_of(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return (it == argv.end() || it + 1 == argv.end()) ? "" : *(it + 1);
}

std::vector<std::string> values_of(const std::vector<std::string>& argv, const std::string& flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  return out;
}

bool has(const std::vector<std::string>& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

bool any_contains(const std::vector<std::string>& values, const std::string& part) {
  return std::any_of(values.begin(), values.end(), [&](const std::string& v) { return v.find(part) != std::string::npos; });
}

TEST(MachineProfiles, OnePerArch) {
  for (auto arch : config::all_arches()) EXPECT_EQ(profile_for(arch).arch, arch);
  EXPECT_EQ(all_profiles().size(), config::all_arches().size());
}

TEST(QemuArgv, X86_64IsQ35WithCpuMaxAndPciVirtio) {
  auto argv = qemu_argv(profile_for(config::Arch::kX86_64), spec_for(config::Arch::kX86_64), endpoints(), Accel::kTcg);
  EXPECT_EQ(argv[0], "qemu-system-x86_64");
  EXPECT_EQ(value_of(argv, "-M").rfind("q35", 0), 0u);
  EXPECT_EQ(value_of(argv, "-cpu"), "max");
  EXPECT_EQ(value_of(argv, "-accel").rfind("tcg", 0), 0u);
  EXPECT_TRUE(any_contains(values_of(argv, "-device"), "virtio-serial-pci"));
  auto cmdline = value_of(argv, "-append");
  EXPECT_NE(cmdline.find("console=ttyS0"), std::string::npos);
  EXPECT_NE(cmdline.find("panic=-1"), std::string::npos);
  EXPECT_TRUE(has(argv, "-nodefaults"));
  EXPECT_TRUE(has(argv, "-no-reboot"));
  EXPECT_EQ(value_of(argv, "-display"), "none");
  EXPECT_EQ(value_of(argv, "-kernel"), "/k/Image");
  EXPECT_EQ(value_of(argv, "-initrd"), "/run/initrd.cpio");
  EXPECT_EQ(value_of(argv, "-m"), "2048M");
  EXPECT_EQ(value_of(argv, "-smp"), "2,sockets=2");  // else the MP table lists one CPU
  EXPECT_NE(cmdline.find("reboot=t"), std::string::npos);
}

TEST(QemuArgv, Arm64IsVirtGicV3WithoutSveAndMmioVirtio) {
  auto argv = qemu_argv(profile_for(config::Arch::kArm64), spec_for(config::Arch::kArm64), endpoints(), Accel::kTcg);
  EXPECT_EQ(argv[0], "qemu-system-aarch64");
  EXPECT_EQ(value_of(argv, "-M"), "virt,gic-version=3");
  EXPECT_EQ(value_of(argv, "-cpu"), "max,sve=off,pauth-impdef=on");
  EXPECT_TRUE(any_contains(values_of(argv, "-device"), "virtio-serial-device"));
  EXPECT_FALSE(any_contains(values_of(argv, "-device"), "-pci"));
  auto cmdline = value_of(argv, "-append");
  EXPECT_NE(cmdline.find("console=ttyAMA0"), std::string::npos);
  EXPECT_NE(cmdline.find("earlycon=pl011,0x9000000"), std::string::npos);
  EXPECT_NE(cmdline.find("panic=-1"), std::string::npos);
  EXPECT_EQ(value_of(argv, "-smp"), "2");
}

TEST(QemuArgv, Riscv64IsVirtWithOpenSbiAndSbiEarlycon) {
  auto argv = qemu_argv(profile_for(config::Arch::kRiscv64), spec_for(config::Arch::kRiscv64), endpoints(), Accel::kTcg);
  EXPECT_EQ(argv[0], "qemu-system-riscv64");
  EXPECT_EQ(value_of(argv, "-M"), "virt");
  EXPECT_EQ(value_of(argv, "-bios"), "default");
  EXPECT_TRUE(any_contains(values_of(argv, "-device"), "virtio-serial-device"));
  auto cmdline = value_of(argv, "-append");
  EXPECT_NE(cmdline.find("console=ttyS0"), std::string::npos);
  EXPECT_NE(cmdline.find("earlycon=sbi"), std::string::npos);
}

TEST(QemuArgv, ChannelsAreSocketsQemuConnectsTo) {
  for (auto arch : config::all_arches()) {
    auto argv = qemu_argv(profile_for(arch), spec_for(arch), endpoints(), Accel::kTcg);
    auto chardevs = values_of(argv, "-chardev");
    EXPECT_TRUE(any_contains(chardevs, "socket,id=qmp,path=/tmp/g/qmp.sock"));
    EXPECT_TRUE(any_contains(chardevs, "socket,id=data,path=/tmp/g/data.sock"));
    EXPECT_FALSE(any_contains(chardevs, "server=on"));  // foliolab listens: no start-up race
    EXPECT_EQ(value_of(argv, "-mon"), "chardev=qmp,mode=control");
    EXPECT_TRUE(any_contains(values_of(argv, "-device"), "virtserialport,bus=vser.0,chardev=data,name=foliolab.data"));
    // Two ports (0 is QEMU's reserved virtconsole slot, 1 is ours), not QEMU's 31: every
    // port is two virtqueues the guest sets up at boot.
    EXPECT_TRUE(any_contains(values_of(argv, "-device"), ",id=vser,max_ports=2"));
    EXPECT_TRUE(any_contains(chardevs, "stdio,id=console"));
    EXPECT_EQ(value_of(argv, "-serial"), "chardev:console");
    EXPECT_FALSE(has(argv, "-drive"));  // no swap disk unless asked for
  }
}

TEST(QemuArgv, SwapDiskIsVirtioBlkWithItsSerial) {
  auto e = endpoints();
  e.swap_image = "/tmp/g/swap.img";
  auto x86 = qemu_argv(profile_for(config::Arch::kX86_64), spec_for(config::Arch::kX86_64), e, Accel::kTcg);
  EXPECT_NE(value_of(x86, "-drive").find("file=/tmp/g/swap.img,if=none,id=swap,format=raw"), std::string::npos);
  EXPECT_TRUE(any_contains(values_of(x86, "-device"), "virtio-blk-pci,drive=swap,serial=foliolab-swap"));
  auto arm = qemu_argv(profile_for(config::Arch::kArm64), spec_for(config::Arch::kArm64), e, Accel::kTcg);
  EXPECT_TRUE(any_contains(values_of(arm, "-device"), "virtio-blk-device,drive=swap,serial=foliolab-swap"));
}

TEST(QemuArgv, NumaNodesSplitMemoryAndCpus) {
  auto spec = spec_for(config::Arch::kArm64);
  spec.numa_nodes = 2;
  spec.memory_bytes = 3ull << 30;
  spec.cpus = 2;
  auto argv = qemu_argv(profile_for(config::Arch::kArm64), spec, endpoints(), Accel::kTcg);
  auto numa = values_of(argv, "-numa");
  ASSERT_EQ(numa.size(), 2u);
  EXPECT_EQ(numa[0], "node,nodeid=0,memdev=numa-mem0,cpus=0");
  EXPECT_EQ(numa[1], "node,nodeid=1,memdev=numa-mem1,cpus=1");
  auto objects = values_of(argv, "-object");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0], "memory-backend-ram,id=numa-mem0,size=1536M");
  EXPECT_EQ(objects[1], "memory-backend-ram,id=numa-mem1,size=1536M");
  EXPECT_EQ(value_of(argv, "-m"), "3072M");
}

// x86_64 without ACPI has no firmware NUMA tables; riscv64's QEMU nodes are sockets whose
// second PLIC takes virtio's interrupts and virtio-serial never binds: the kernel emulates both.
TEST(QemuArgv, X86AndRiscvNumaIsEmulatedByTheKernel) {
  for (auto arch : {config::Arch::kX86_64, config::Arch::kRiscv64}) {
    auto spec = spec_for(arch);
    spec.numa_nodes = 2;
    auto argv = qemu_argv(profile_for(arch), spec, endpoints(), Accel::kTcg);
    EXPECT_TRUE(values_of(argv, "-numa").empty());
    EXPECT_NE(value_of(argv, "-append").find("numa=fake=2"), std::string::npos);
    spec.numa_nodes = 1;
    argv = qemu_argv(profile_for(arch), spec, endpoints(), Accel::kTcg);
    EXPECT_EQ(value_of(argv, "-append").find("numa=fake"), std::string::npos);
  }
}

TEST(QemuArgv, KvmUsesTheHostCpu) {
  auto argv = qemu_argv(profile_for(config::Arch::kX86_64), spec_for(config::Arch::kX86_64), endpoints(), Accel::kKvm);
  EXPECT_EQ(value_of(argv, "-accel"), "kvm");
  EXPECT_EQ(value_of(argv, "-cpu"), "host");
}

TEST(QemuArgv, X86TscFrequencyComesFromTheHostUnderTcgOnly) {
  HostFacts host;
  host.tsc_khz = 2445404;
  auto spec = spec_for(config::Arch::kX86_64);
  EXPECT_NE(kernel_cmdline(profile_for(config::Arch::kX86_64), spec, Accel::kTcg, host).find("tsc_early_khz=2445404"),
            std::string::npos);
  EXPECT_EQ(kernel_cmdline(profile_for(config::Arch::kX86_64), spec, Accel::kKvm, host).find("tsc_early_khz"),
            std::string::npos);
  EXPECT_EQ(kernel_cmdline(profile_for(config::Arch::kX86_64), spec, Accel::kTcg, {}).find("tsc_early_khz"),
            std::string::npos);
  auto arm = spec_for(config::Arch::kArm64);
  EXPECT_EQ(kernel_cmdline(profile_for(config::Arch::kArm64), arm, Accel::kTcg, host).find("tsc_early_khz"),
            std::string::npos);
}

TEST(QemuArgv, X86LoopsPerJiffyFollowTheTscAndTheKernelsHz) {
  HostFacts host;
  host.tsc_khz = 2595762;
  auto spec = spec_for(config::Arch::kX86_64);
  const auto& x86 = profile_for(config::Arch::kX86_64);
  // Unknown HZ: no lpj (a wrong one would skew every udelay).
  EXPECT_EQ(kernel_cmdline(x86, spec, Accel::kTcg, host).find("lpj="), std::string::npos);
  spec.kernel_hz = 250;
  EXPECT_NE(kernel_cmdline(x86, spec, Accel::kTcg, host).find(" lpj=10383048"), std::string::npos);
  spec.kernel_hz = 1000;
  EXPECT_NE(kernel_cmdline(x86, spec, Accel::kTcg, host).find(" lpj=2595762"), std::string::npos);
  EXPECT_EQ(kernel_cmdline(x86, spec, Accel::kKvm, host).find("lpj="), std::string::npos);
  EXPECT_EQ(kernel_cmdline(x86, spec, Accel::kTcg, {}).find("lpj="), std::string::npos);
  auto arm = spec_for(config::Arch::kArm64);
  arm.kernel_hz = 250;
  EXPECT_EQ(kernel_cmdline(profile_for(config::Arch::kArm64), arm, Accel::kTcg, host).find("lpj="), std::string::npos);
}

TEST(HostFacts, TscFrequencyIsKeptForTheHostBoot) {
  common::TemporaryDirectory cache(std::filesystem::temp_directory_path(), "tsc");
  const char* old = std::getenv("FOLIOLAB_CACHE");
  std::string saved = old ? old : "";
  ::setenv("FOLIOLAB_CACHE", cache.path().c_str(), 1);
  auto measured = host_tsc_khz();
  std::vector<std::filesystem::path> kept;
  for (const auto& e : std::filesystem::directory_iterator(cache.path() / "host-facts")) kept.push_back(e.path());
  ASSERT_EQ(kept.size(), 1u) << "the answer is kept in <cache>/host-facts/";
  // What is kept is what the next process gets, without measuring.
  common::write_file_atomic(kept[0], R"({"tsc_khz": 1234567})");
  EXPECT_EQ(host_tsc_khz(), 1234567u);
  common::write_file_atomic(kept[0], R"({"tsc_khz": null})");
  EXPECT_EQ(host_tsc_khz(), std::nullopt) << "a host without an invariant TSC is not measured again";
  common::write_file_atomic(kept[0], "garbage");
  EXPECT_EQ(host_tsc_khz().has_value(), measured.has_value()) << "an unreadable entry is measured again";
  if (old) ::setenv("FOLIOLAB_CACHE", saved.c_str(), 1);
  else ::unsetenv("FOLIOLAB_CACHE");
}

TEST(HostFacts, TscFrequencyIsPlausibleWhenKnown) {
  const auto& facts = host_facts();
  if (facts.tsc_khz) {
    EXPECT_GT(*facts.tsc_khz, 100'000u);
    EXPECT_LT(*facts.tsc_khz, 10'000'000u);
  }
}

TEST(QemuArgv, CmdlineExtrasComeLast) {
  auto spec = spec_for(config::Arch::kX86_64);
  spec.cmdline_extra = {"loglevel=8", "transparent_hugepage=never"};
  auto cmdline = kernel_cmdline(profile_for(config::Arch::kX86_64), spec);
  EXPECT_GT(cmdline.find("loglevel=8"), cmdline.find("panic=-1"));
  EXPECT_EQ(cmdline.substr(cmdline.size() - std::string("transparent_hugepage=never").size()),
            "transparent_hugepage=never");
}

TEST(QemuArgv, RejectsImpossibleGuests) {
  auto spec = spec_for(config::Arch::kX86_64);
  spec.cpus = 0;
  EXPECT_THROW(qemu_argv(profile_for(spec.arch), spec, endpoints(), Accel::kTcg), common::UsageError);
  spec = spec_for(config::Arch::kX86_64);
  spec.memory_bytes = (2ull << 30) + 5;
  EXPECT_THROW(qemu_argv(profile_for(spec.arch), spec, endpoints(), Accel::kTcg), common::UsageError);
}

TEST(QemuArgv, CommasInPathsAreEscapedForQemuOptions) {
  auto e = endpoints();
  e.data_socket = "/tmp/a,b/data.sock";
  auto argv = qemu_argv(profile_for(config::Arch::kX86_64), spec_for(config::Arch::kX86_64), e, Accel::kTcg);
  EXPECT_TRUE(any_contains(values_of(argv, "-chardev"), "path=/tmp/a,,b/data.sock"));
}

TEST(ProbeImage, IsAMultibootFlatImage) {
  auto img = probe_image();
  ASSERT_GE(img.size(), 40u);
  auto word = [&](size_t off) {
    return static_cast<uint32_t>(static_cast<unsigned char>(img[off])) |
           static_cast<uint32_t>(static_cast<unsigned char>(img[off + 1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(img[off + 2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(img[off + 3])) << 24;
  };
  EXPECT_EQ(word(0), 0x1BADB002u);
  EXPECT_EQ(word(0) + word(4) + word(8), 0u);  // checksum
}

}  // namespace
}  // namespace foliolab::vm
