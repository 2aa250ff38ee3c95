#include "vm/accel.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/process.h"

namespace foliolab::vm {
namespace {

constexpr auto kProbeDeadline = std::chrono::seconds(3);

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::optional<config::Arch> host_arch() {
  struct utsname u {};
  if (::uname(&u) != 0) return std::nullopt;
  std::string m = u.machine;
  if (m == "x86_64") return config::Arch::kX86_64;
  if (m == "aarch64") return config::Arch::kArm64;
  if (m == "riscv64") return config::Arch::kRiscv64;
  return std::nullopt;
}

// The probe's answer holds until the host reboots or QEMU changes, so it is also kept on disk
// (<cache>/accel-probe/<key>.json): every `foliolab boot` is a new process and the probe costs
// a few tenths of a second. The key: the host's boot id, the QEMU binary (path, size, mtime)
// and the probed CPU model.
std::optional<std::filesystem::path> probe_cache_file(const std::string& binary, const std::string& cpu) {
  auto exe = common::find_executable(binary);
  if (!exe) return std::nullopt;
  std::error_code ec;
  auto size = std::filesystem::file_size(*exe, ec);
  if (ec) return std::nullopt;
  auto mtime = std::filesystem::last_write_time(*exe, ec).time_since_epoch().count();
  if (ec) return std::nullopt;
  common::Hasher key;
  key.field("qemu", exe->string())
      .field("size", static_cast<std::int64_t>(size))
      .field("mtime", static_cast<std::int64_t>(mtime))
      .field("cpu", cpu);
  return common::host_boot_cache_file("accel-probe", key);
}

ProbeOutcome cached_probe(const std::string& binary, const std::string& cpu) {
  auto file = probe_cache_file(binary, cpu);
  if (file) {
    try {
      auto doc = nlohmann::json::parse(common::read_file(*file));
      return {doc.at("ran").get<bool>(), doc.at("detail").get<std::string>() + " (cached for this host boot)"};
    } catch (const std::exception&) {
      // absent or unreadable: probe again
    }
  }
  auto outcome = probe_guest("kvm", cpu, kProbeDeadline);
  if (file) {
    try {
      std::filesystem::create_directories(file->parent_path());
      common::write_file_atomic(*file, nlohmann::json{{"ran", outcome.ran}, {"detail", outcome.detail}}.dump());
    } catch (const std::exception& e) {
      spdlog::debug("cannot keep the accelerator probe's answer: {}", e.what());
    }
  }
  return outcome;
}

AccelChoice decide(config::Arch arch) {
  std::string forced = std::getenv("FOLIOLAB_ACCEL") ? std::getenv("FOLIOLAB_ACCEL") : "auto";
  if (forced == "tcg") return {Accel::kTcg, "FOLIOLAB_ACCEL=tcg"};
  if (forced == "kvm") return {Accel::kKvm, "FOLIOLAB_ACCEL=kvm (not probed)"};
  if (forced != "auto" && !forced.empty())
    throw common::UsageError(fmt::format("FOLIOLAB_ACCEL={}: expected tcg, kvm or auto", forced));
  auto host = host_arch();
  if (!host || *host != arch) return {Accel::kTcg, "guest arch differs from the host's"};
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return {Accel::kTcg, "/dev/kvm cannot be opened"};
  ::close(fd);
  // Only x86_64 hosts have a probe program; elsewhere KVM is not assumed to work.
  if (arch != config::Arch::kX86_64) return {Accel::kTcg, "no KVM probe for this host arch"};
  const auto& profile = profile_for(arch);
  auto probe = cached_probe(profile.qemu_binary, profile.cpu_kvm);
  if (probe.ran) return {Accel::kKvm, "a KVM probe guest ran"};
  return {Accel::kTcg, "/dev/kvm opens but a KVM probe guest did not run: " + probe.detail};
}

}  // namespace

std::string probe_image() {
  // Multiboot header with the address fields (flag bit 16), so QEMU loads the flat file at
  // 1 MiB and jumps to entry in 32-bit protected mode.
  constexpr std::uint32_t kMagic = 0x1BADB002, kFlags = 0x00010000, kLoad = 0x100000;
  constexpr std::uint32_t kHeaderSize = 32;
  std::string img;
  put32(img, kMagic);
  put32(img, kFlags);
  put32(img, static_cast<std::uint32_t>(0u - (kMagic + kFlags)));
  put32(img, kLoad);                // header_addr
  put32(img, kLoad);                // load_addr
  put32(img, 0);                    // load_end_addr: whole file
  put32(img, 0);                    // bss_end_addr: none
  put32(img, kLoad + kHeaderSize);  // entry_addr
  // cli; mov al, kProbeExitValue; out 0xf4, al; 1: hlt; jmp 1b
  const std::array<unsigned char, 8> code = {0xFA, 0xB0, kProbeExitValue, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD};
  img.append(reinterpret_cast<const char*>(code.data()), code.size());
  return img;
}

ProbeOutcome probe_guest(const std::string& accel, const std::string& cpu, std::chrono::milliseconds deadline) {
  const auto& profile = profile_for(config::Arch::kX86_64);
  if (!common::find_executable(profile.qemu_binary)) return {false, profile.qemu_binary + " not found"};
  common::TemporaryDirectory dir(std::filesystem::temp_directory_path(), "foliolab-probe");
  auto image = dir.path() / "probe.bin";
  common::write_file_atomic(image, probe_image());
  std::vector<std::string> argv = {profile.qemu_binary, "-no-user-config", "-nodefaults", "-display", "none",
                                   "-M", "pc", "-accel", accel, "-cpu", cpu, "-m", "32M", "-no-reboot",
                                   "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                   "-kernel", image.string()};
  common::ProcessOptions options;
  options.timeout = deadline;
  auto result = common::run_process(argv, options);
  ProbeOutcome outcome;
  outcome.ran = !result.timed_out && result.signal == 0 && result.exit_code == ((kProbeExitValue << 1) | 1);
  std::string message = result.output.substr(0, result.output.find('\n'));
  outcome.detail = result.timed_out ? fmt::format("no result within {} ms", deadline.count())
                                    : result.describe() + (message.empty() ? "" : " (" + message.substr(0, 200) + ")");
  spdlog::debug("accelerator probe ({}): {}", accel, outcome.detail);
  return outcome;
}

AccelChoice choose_accel(config::Arch arch) {
  static std::mutex mutex;
  static std::map<config::Arch, AccelChoice> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(arch); it != cache.end()) return it->second;
  AccelChoice choice = decide(arch);
  spdlog::info("{} guests run under {} ({})", config::to_string(arch), choice.accel == Accel::kKvm ? "KVM" : "TCG",
               choice.why);
  cache[arch] = choice;
  return choice;
}

}  // namespace foliolab::vm
