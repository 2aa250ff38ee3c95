#pragma once
// A guest run as the rest of foliolab sees it: what to boot (GuestSpec), what happened
// (GuestRun) and the stream of console bytes and data-channel lines in between. Nothing here
// names an emulator flag: backends (QEMU directly; libvirt later) translate a GuestSpec into
// their own terms and all enforce the same deadlines with the same meaning.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/suite.h"

namespace foliolab::vm {

using Milliseconds = std::chrono::milliseconds;

// Every deadline of a run. The step margin is multiplied by the backend's slowdown factor for
// the accelerator it uses (TCG is several times slower than KVM), the others are taken as
// given: callers scale them once from the suite's Timeouts.
struct GuestTimeouts {
  Milliseconds boot{120'000};          // guest start -> hello record
  Milliseconds silence{300'000};       // neither console bytes nor data-channel lines
  Milliseconds step_margin{15'000};    // host deadline of a step = its deadline_s + margin x slowdown
  Milliseconds shutdown{30'000};       // done record (or the last step-end) -> guest gone
  Milliseconds stop_grace{5'000};      // polite stop (QMP quit) -> SIGKILL
  Milliseconds drain{3'000};           // after the guest is gone: read what is still buffered
};

struct GuestSpec {
  config::Arch arch = config::Arch::kX86_64;
  std::filesystem::path kernel;  // bzImage / Image
  std::filesystem::path initrd;  // base + job cpio
  std::uint64_t memory_bytes = 2ull << 30;
  int cpus = 2;
  int numa_nodes = 1;
  std::vector<std::string> cmdline_extra;       // appended to the profile's kernel command line
  std::optional<int> kernel_hz;                 // the kernel's CONFIG_HZ, when known (x86_64 TCG: lpj=)
  std::optional<std::uint64_t> swap_disk_bytes; // a blank disk with serial "foliolab-swap"
  // Host-side deadline of each step the job will run (the job's deadline_s). The guest's own
  // step-begin record is untrusted: a step it announces that is not listed here gets the
  // largest listed deadline. Also bounds the run as a whole (boot + steps + shutdown).
  std::map<std::string, std::int64_t> step_deadlines_s;
  GuestTimeouts timeouts;
  std::filesystem::path console_log;  // the console, verbatim (bounded); written by the backend
  std::filesystem::path scratch_dir;  // a private temp dir is created (and removed) inside
};

// Why a guest run ended. kExited is the only ending the guest chose (power-off, reboot, panic
// with panic=-1); every other one was the host's decision.
enum class EndReason {
  kExited,            // the guest ended on its own
  kBootDeadline,      // no hello within timeouts.boot
  kStepDeadline,      // a step ran past its deadline plus margin
  kSilence,           // nothing on console or data channel for timeouts.silence
  kRunDeadline,       // the run as a whole exceeded boot + steps + shutdown
  kShutdownDeadline,  // done, but the guest did not go away
  kStopped,           // SIGINT/SIGTERM to foliolab
};
const char* to_string(EndReason reason);

struct GuestRun {
  EndReason end = EndReason::kExited;
  std::string end_detail;        // one line for people: "no hello within 120 s"
  std::string accel;             // "tcg" | "kvm"
  std::string machine_profile;   // "x86_64-q35"
  std::string emulator_version;  // "QEMU emulator version 7.2.22 ..."
  std::optional<int> exit_code;  // of the emulator process
  std::optional<int> exit_signal;
  bool hello_seen = false;
  bool done_seen = false;
  std::string last_step;         // the step running (or last begun) when the run ended
  double boot_seconds = 0;       // guest start -> hello (0 without hello)
  double total_seconds = 0;
  std::filesystem::path console_log;
  std::uint64_t console_bytes = 0;    // seen, including any not written because of the bound
  bool console_truncated = false;
  std::uint64_t data_lines = 0;
  std::uint64_t data_lines_dropped = 0;  // over-long lines (never delivered)
  std::string emulator_stderr;   // tail of the emulator's own messages
};

// What a backend reports while the guest runs. Called on the thread that called run(), in the
// order the bytes arrived on each channel. The guest is untrusted: console bytes are raw, data
// lines are at most kMaxDataLine bytes, without the newline, not validated.
struct GuestCallbacks {
  std::function<void(std::string_view bytes)> console;
  std::function<void(std::string_view line)> data_line;
  std::function<void(std::size_t length)> data_line_dropped;  // a line over kMaxDataLine
};

inline constexpr std::size_t kMaxDataLine = 256 * 1024;     // docs/protocol.md section 2
inline constexpr std::uint64_t kMaxConsoleLog = 64ull << 20;  // console.log bound

// A request to stop, made by the one owner of SIGINT/SIGTERM (the runner, or `foliolab boot`)
// and seen by every backend's run() on any thread: the first request ends the guest the polite
// way (EndReason::kStopped), a later one kills it at once. A request made before run() starts
// is honoured too, so no guest starts after a stop.
class StopSignal {
 public:
  void request(int signo) {
    int none = 0;
    signo_.compare_exchange_strong(none, signo);
    requests_.fetch_add(1);
  }
  int signal() const { return signo_.load(); }  // of the first request; 0 when none
  int requests() const { return requests_.load(); }
  bool requested() const { return requests() > 0; }

 private:
  std::atomic<int> signo_{0};
  std::atomic<int> requests_{0};
};

// A way to run guests. run() blocks until the guest is gone and every temporary file it made
// is removed. Guest misbehaviour (panic, hang, garbage) is a normal GuestRun; only host-side
// failures (emulator missing or failing to start, socket errors) throw common::InfraError,
// and a GuestSpec that cannot be booted (no such kernel) throws common::UsageError.
class GuestBackend {
 public:
  virtual ~GuestBackend() = default;
  virtual GuestRun run(const GuestSpec& spec, const GuestCallbacks& callbacks, const StopSignal& stop) = 0;
  virtual std::string name() const = 0;  // "qemu"
};

}  // namespace foliolab::vm
