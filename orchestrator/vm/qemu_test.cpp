// The QEMU backend against real QEMU, with guests small enough to need no Linux kernel: flat
// multiboot programs of a few bytes (x86_64 profile) that write to the serial port, stay silent
// or reset the machine. They exercise the deadlines, the console path, the exit path and the
// clean-up; the data channel needs a Linux guest and is covered by boot_integration_test.
#include "vm/qemu.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <thread>
#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "common/fs.h"
#include "vm/accel.h"

namespace foliolab::vm {
namespace {
namespace fs = std::filesystem;

constexpr std::uint32_t kLoad = 0x100000;
constexpr std::uint32_t kHeader = 32;

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A multiboot image (address fields, loaded at 1 MiB) whose entry is `code`.
std::string multiboot(const std::string& code) {
  std::string img;
  put32(img, 0x1BADB002);
  put32(img, 0x00010000);
  put32(img, static_cast<std::uint32_t>(0u - (0x1BADB002u + 0x00010000u)));
  put32(img, kLoad);
  put32(img, kLoad);
  put32(img, 0);
  put32(img, 0);
  put32(img, kLoad + kHeader);
  return img + code;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

// cli; 1: hlt; jmp 1b  -- says nothing, forever.
std::string silent_guest() { return multiboot(bytes({0xFA, 0xF4, 0xEB, 0xFD})); }

// Writes `message` to COM1, then resets the machine with a triple fault (an empty IDT and ud2),
// which ends QEMU under -no-reboot: a guest that "finishes" on its own.
std::string greeting_guest(const std::string& message) {
  // Layout after the header: code (27 bytes), 8 zero bytes (IDT descriptor), message, NUL.
  const std::uint32_t code_size = 27;
  const std::uint32_t idt = kLoad + kHeader + code_size;
  const std::uint32_t msg = idt + 8;
  std::string code = bytes({0xFA, 0x66, 0xBA, 0xF8, 0x03});  // cli; mov dx, 0x3f8
  code += bytes({0xBE});                                     // mov esi, msg
  put32(code, msg);
  code += bytes({0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8});  // 1: lodsb; test al,al; jz 2f; out dx,al; jmp 1b
  code += bytes({0x0F, 0x01, 0x1D});                                 // 2: lidt [idt]
  put32(code, idt);
  code += bytes({0x0F, 0x0B});                                       // ud2
  EXPECT_EQ(code.size(), code_size);
  return multiboot(code + std::string(8, '\0') + message + std::string(1, '\0'));
}

// Writes 'x' to COM1 forever: a guest that never goes silent.
std::string chatty_guest() {
  return multiboot(bytes({0xFA, 0x66, 0xBA, 0xF8, 0x03, 0xB0, 'x', 0xEE, 0xEB, 0xFD}));
}

class QemuBackendTest : public ::testing::Test {
 protected:
  GuestSpec spec_with(const std::string& image) {
    auto kernel = tmp_.path() / "kernel.bin";
    std::ofstream(kernel, std::ios::binary) << image;
    auto initrd = tmp_.path() / "initrd.cpio";
    std::ofstream(initrd, std::ios::binary) << "not used by a multiboot guest";
    GuestSpec s;
    s.arch = config::Arch::kX86_64;
    s.kernel = kernel;
    s.initrd = initrd;
    s.memory_bytes = 128ull << 20;
    s.cpus = 1;
    s.console_log = tmp_.path() / "console.log";
    s.scratch_dir = tmp_.path() / "scratch";
    fs::create_directories(s.scratch_dir);
    s.timeouts.boot = std::chrono::seconds(60);
    s.timeouts.silence = std::chrono::seconds(60);
    s.timeouts.stop_grace = std::chrono::seconds(5);
    s.timeouts.drain = std::chrono::milliseconds(500);
    return s;
  }

  void expect_scratch_empty(const GuestSpec& spec) {
    EXPECT_TRUE(fs::is_empty(spec.scratch_dir)) << "sockets and disks must be removed";
  }

  common::TemporaryDirectory tmp_{fs::temp_directory_path(), "qemu-test"};
  QemuBackend backend_{Accel::kTcg};
  StopSignal never_;  // no stop is ever requested
};

TEST_F(QemuBackendTest, GuestThatEndsOnItsOwnIsExitedWithItsConsole) {
  auto spec = spec_with(greeting_guest("FOLIOLAB-MULTIBOOT-HELLO\n"));
  spec.swap_disk_bytes = 64ull << 20;  // created sparse and removed afterwards
  std::string console;
  GuestCallbacks cb;
  cb.console = [&](std::string_view b) { console.append(b); };
  auto run = backend_.run(spec, cb, never_);
  EXPECT_EQ(run.end, EndReason::kExited) << run.end_detail;
  ASSERT_TRUE(run.exit_code.has_value()) << run.emulator_stderr;
  EXPECT_EQ(*run.exit_code, 0);
  EXPECT_NE(console.find("FOLIOLAB-MULTIBOOT-HELLO"), std::string::npos) << console;
  EXPECT_NE(common::read_file(spec.console_log).find("FOLIOLAB-MULTIBOOT-HELLO"), std::string::npos);
  EXPECT_EQ(run.console_bytes, console.size());
  EXPECT_FALSE(run.hello_seen);  // no data channel in this guest
  EXPECT_EQ(run.accel, "tcg");
  EXPECT_EQ(run.machine_profile, "x86_64-q35");
  EXPECT_NE(run.emulator_version.find("QEMU"), std::string::npos);
  expect_scratch_empty(spec);
}

TEST_F(QemuBackendTest, NoHelloEndsAtTheBootDeadline) {
  auto spec = spec_with(silent_guest());
  spec.timeouts.boot = std::chrono::seconds(1);
  auto run = backend_.run(spec, {}, never_);
  EXPECT_EQ(run.end, EndReason::kBootDeadline);
  EXPECT_NE(run.end_detail.find("no hello"), std::string::npos) << run.end_detail;
  EXPECT_FALSE(run.exit_signal.has_value()) << "QMP quit must stop QEMU before the SIGKILL fallback";
  expect_scratch_empty(spec);
}

TEST_F(QemuBackendTest, SilentGuestEndsAtTheSilenceDeadline) {
  auto spec = spec_with(silent_guest());
  spec.timeouts.silence = std::chrono::seconds(1);
  auto run = backend_.run(spec, {}, never_);
  EXPECT_EQ(run.end, EndReason::kSilence) << run.end_detail;
  expect_scratch_empty(spec);
}

TEST_F(QemuBackendTest, ChattyGuestIsNotSilentButStillMeetsTheBootDeadline) {
  auto spec = spec_with(chatty_guest());
  spec.timeouts.boot = std::chrono::seconds(2);
  spec.timeouts.silence = std::chrono::seconds(1);
  std::uint64_t seen = 0;
  GuestCallbacks cb;
  cb.console = [&](std::string_view b) { seen += b.size(); };
  auto run = backend_.run(spec, cb, never_);
  EXPECT_EQ(run.end, EndReason::kBootDeadline) << run.end_detail;
  EXPECT_GT(seen, 0u);
  EXPECT_EQ(run.console_bytes, seen);
  expect_scratch_empty(spec);
}

TEST_F(QemuBackendTest, StopRequestEndsARunningGuestPolitely) {
  auto spec = spec_with(chatty_guest());
  StopSignal stop;
  std::atomic<bool> console_seen{false};
  GuestCallbacks cb;
  cb.console = [&](std::string_view) { console_seen = true; };
  std::thread requester([&] {
    while (!console_seen.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop.request(SIGTERM);
  });
  auto run = backend_.run(spec, cb, stop);
  requester.join();
  EXPECT_EQ(run.end, EndReason::kStopped) << run.end_detail;
  EXPECT_NE(run.end_detail.find("SIGTERM"), std::string::npos) << run.end_detail;
  EXPECT_LT(run.total_seconds, 30.0) << "the stop must not wait for the boot deadline (60 s)";
  EXPECT_FALSE(run.exit_signal.has_value()) << "QMP quit must stop QEMU before the SIGKILL fallback";
  expect_scratch_empty(spec);
}

TEST_F(QemuBackendTest, StopRequestedBeforeTheRunStartsNoGuest) {
  auto spec = spec_with(chatty_guest());
  StopSignal stop;
  stop.request(SIGINT);
  std::uint64_t seen = 0;
  GuestCallbacks cb;
  cb.console = [&](std::string_view b) { seen += b.size(); };
  auto run = backend_.run(spec, cb, stop);
  EXPECT_EQ(run.end, EndReason::kStopped);
  EXPECT_NE(run.end_detail.find("SIGINT"), std::string::npos) << run.end_detail;
  EXPECT_FALSE(run.exit_code.has_value()) << "no emulator process may have run";
  EXPECT_EQ(seen, 0u);
}

TEST_F(QemuBackendTest, MissingKernelIsAUsageError) {
  auto spec = spec_with(silent_guest());
  spec.kernel = tmp_.path() / "no-such-kernel";
  EXPECT_THROW(backend_.run(spec, {}, never_), common::UsageError);
}

TEST_F(QemuBackendTest, KernelQemuRefusesIsAnInfraErrorWithQemusMessage) {
  auto spec = spec_with(std::string(4096, '\0'));  // neither Linux nor multiboot
  try {
    backend_.run(spec, {}, never_);
    FAIL() << "expected InfraError";
  } catch (const common::InfraError& e) {
    EXPECT_NE(std::string(e.what()).find("qemu-system-x86_64"), std::string::npos) << e.what();
  }
  expect_scratch_empty(spec);
}

TEST_F(QemuBackendTest, MissingQemuNamesTheDebianPackage) {
  auto spec = spec_with(silent_guest());
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  auto empty = tmp_.path() / "empty-bin";
  fs::create_directories(empty);
  ::setenv("PATH", empty.c_str(), 1);
  try {
    backend_.run(spec, {}, never_);
    ::setenv("PATH", saved.c_str(), 1);
    FAIL() << "expected InfraError";
  } catch (const common::InfraError& e) {
    ::setenv("PATH", saved.c_str(), 1);
    EXPECT_NE(std::string(e.what()).find("qemu-system-x86"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("install"), std::string::npos) << e.what();
  }
}

TEST(AccelProbe, ProbeGuestRunsUnderTcg) {
  // The probe program itself must be right: under TCG it always runs to its end.
  auto probe = probe_guest("tcg", "max", std::chrono::seconds(30));
  EXPECT_TRUE(probe.ran) << probe.detail;
}

TEST(AccelProbe, EnvironmentForcesTcg) {
  ::setenv("FOLIOLAB_ACCEL", "tcg", 1);
  auto choice = choose_accel(config::Arch::kRiscv64);
  ::unsetenv("FOLIOLAB_ACCEL");
  EXPECT_EQ(choice.accel, Accel::kTcg);
}

}  // namespace
}  // namespace foliolab::vm
