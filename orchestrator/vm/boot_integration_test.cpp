// End-to-end: the real `foliolab boot` boots real 6.12 kernels under QEMU with the real guest
// agent and selftest workloads, and each expected outcome comes out. Kernels come from
// FOLIOLAB_TEST_KERNEL_<ARCH> (X86_64, ARM64, RISCV64); CI builds them with `foliolab build`.
// A missing variable fails the test: a skipped guest test would hide that nothing booted.
//
// Every foliolab run has an outer deadline (the process group is killed past it), so a bug
// in the orchestrator's own deadlines shows as a failure, never as a hung test.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/process.h"
#include "common/test_binary.h"

namespace foliolab::vm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string foliolab_bin() { return common::foliolab_test_binary(); }

// The kernel for arch, or a test failure that says how to provide one.
std::string kernel_for(const std::string& arch) {
  std::string var = "FOLIOLAB_TEST_KERNEL_" + arch;
  for (auto& c : var) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const char* path = std::getenv(var.c_str());
  if (path == nullptr || *path == '\0') {
    ADD_FAILURE() << var << " is not set: point it at a 6.12 " << arch
                  << " kernel image built by `foliolab build` (CI exports it)";
    return "";
  }
  if (!fs::is_regular_file(path)) {
    ADD_FAILURE() << var << "=" << path << ": no such file";
    return "";
  }
  return path;
}

struct BootRun {
  int exit_code = -1;
  bool timed_out = false;
  json result;       // stdout parsed (null when it is not JSON)
  std::string log;   // stdout + stderr
};

class BootTest : public ::testing::Test {
 protected:
  // foliolab boot --json with the given extra arguments, killed after outer_deadline.
  BootRun boot(const std::string& arch, const std::vector<std::string>& extra,
               std::chrono::seconds outer_deadline = std::chrono::seconds(300)) {
    BootRun run;
    std::string kernel = kernel_for(arch);
    if (kernel.empty()) return run;
    std::vector<std::string> argv = {foliolab_bin(), "boot", "--arch", arch, "--kernel", kernel, "--json",
                                     "--console", (tmp_.path() / "console.log").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    common::ProcessOptions options;
    options.timeout = outer_deadline;
    options.env["FOLIOLAB_CACHE"] = (tmp_.path() / "cache").string();
    options.output_file = tmp_.path() / "output.txt";
    auto r = common::run_process(argv, options);
    run.exit_code = r.exit_code;
    run.timed_out = r.timed_out;
    run.log = common::read_file(tmp_.path() / "output.txt");
    fs::remove(tmp_.path() / "output.txt");
    // stdout and stderr share the file: the JSON document is the part from the first line
    // that is exactly "{" to the line that is exactly "}".
    auto begin = run.log.find("\n{\n");
    begin = run.log.rfind("{\n", 0) == 0 ? 0 : (begin == std::string::npos ? begin : begin + 1);
    auto end = run.log.find("\n}\n", begin == std::string::npos ? 0 : begin);
    if (begin != std::string::npos && end != std::string::npos)
      run.result = json::parse(run.log.substr(begin, end + 2 - begin), nullptr, false);
    EXPECT_FALSE(run.timed_out) << "foliolab boot did not finish within its outer deadline:\n" << tail(run.log);
    EXPECT_TRUE(run.result.is_object()) << "no JSON result:\n" << tail(run.log);
    return run;
  }

  static std::string tail(const std::string& text, size_t bytes = 6000) {
    return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
  }

  std::string console() const {
    std::error_code ec;
    auto p = tmp_.path() / "console.log";
    return fs::exists(p, ec) ? common::read_file(p) : "";
  }

  // What foliolab needs to pass lpj= (vm/machine.cpp measure_tsc_khz).
  static bool host_has_invariant_tsc() {
    std::string cpuinfo = common::read_file("/proc/cpuinfo");
    auto at = cpuinfo.find("\nflags");
    if (at == std::string::npos) return false;
    std::string flags = cpuinfo.substr(at, cpuinfo.find('\n', at + 1) - at);
    return flags.find(" constant_tsc") != std::string::npos && flags.find(" nonstop_tsc") != std::string::npos;
  }

  static bool any_error_contains(const json& result, const std::string& part) {
    for (const auto& e : result.value("errors", json::array()))
      if (e.is_string() && e.get<std::string>().find(part) != std::string::npos) return true;
    return false;
  }

  void expect_hello(const std::string& arch) {
    auto run = boot(arch, {});
    if (!run.result.is_object()) return;
    const auto& r = run.result;
    EXPECT_EQ(run.exit_code, 0) << tail(run.log);
    EXPECT_EQ(r["outcome"], "ok") << r.dump(2);
    ASSERT_TRUE(r["hello"].is_object()) << r.dump(2) << "\nconsole:\n" << tail(console());
    const auto& h = r["hello"];
    EXPECT_EQ(h["release"].get<std::string>().rfind("6.12", 0), 0u) << h["release"];
    EXPECT_EQ(h["arch"], arch);
    EXPECT_EQ(h["page_size"], 4096);
    auto sizes = h["thp_sizes_kb"].get<std::vector<long>>();
    EXPECT_NE(std::find(sizes.begin(), sizes.end(), 2048), sizes.end()) << h["thp_sizes_kb"];
    EXPECT_EQ(h["cpus"], 2) << "the guest must see every CPU it was given";
    EXPECT_EQ(r["kernel_release"], h["release"]);
    EXPECT_GT(r["boot_seconds"].get<double>(), 0.0);
    EXPECT_EQ(r["end"]["reason"], "exited");
    EXPECT_TRUE(r["done"].get<bool>());
    EXPECT_TRUE(r["errors"].empty()) << r["errors"];
    EXPECT_NE(console().find("Linux version 6.12"), std::string::npos) << "console.log holds the kernel's boot log";
    // x86_64 under TCG: loops per jiffy from the host TSC and the kernel's HZ (the config
    // beside the image), so secondary CPUs skip their delay-loop calibration.
    if (arch == "x86_64" && host_has_invariant_tsc()) {
      EXPECT_NE(console().find("Calibrating delay loop (skipped) preset value"), std::string::npos) << tail(console());
    }
    // The host acks done, and the agent reboots on the ack rather than after its 2 s fallback.
    EXPECT_EQ(console().find("no ack of done"), std::string::npos) << tail(console());
    EXPECT_NE(console().find("done: 0 steps, 0 errors; rebooting"), std::string::npos) << tail(console());
  }

  common::TemporaryDirectory tmp_{fs::temp_directory_path(), "boot-it"};
};

TEST_F(BootTest, X86_64SaysHello) { expect_hello("x86_64"); }
TEST_F(BootTest, Arm64SaysHello) { expect_hello("arm64"); }
TEST_F(BootTest, Riscv64SaysHello) { expect_hello("riscv64"); }

TEST_F(BootTest, PanicIsAKernelCrashNamingThePanic) {
  auto run = boot("x86_64", {"--workload", "selftest-panic"});
  if (!run.result.is_object()) return;
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.result["outcome"], "kernel-crash") << run.result.dump(2);
  ASSERT_TRUE(run.result["crash"].is_object()) << run.result.dump(2);
  std::string title = run.result["crash"]["title"];
  EXPECT_NE(title.find("Kernel panic"), std::string::npos) << title;
  EXPECT_NE(title.find("sysrq"), std::string::npos) << title;
  EXPECT_FALSE(run.result["crash"]["excerpt"].get<std::string>().empty());
  EXPECT_EQ(run.result["end"]["reason"], "exited");  // panic=-1 and -no-reboot ended the guest
}

TEST_F(BootTest, HangIsATimeout) {
  auto run = boot("x86_64", {"--workload", "selftest-hang"});
  if (!run.result.is_object()) return;
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.result["outcome"], "timeout") << run.result.dump(2);
  ASSERT_EQ(run.result["steps"].size(), 1u);
  EXPECT_EQ(run.result["steps"][0]["status"], "timeout");
}

TEST_F(BootTest, SegfaultIsAFailedWorkloadWithItsSignal) {
  auto run = boot("x86_64", {"--workload", "selftest-segv"});
  if (!run.result.is_object()) return;
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.result["outcome"], "workload-failed") << run.result.dump(2);
  ASSERT_EQ(run.result["steps"].size(), 1u);
  EXPECT_EQ(run.result["steps"][0]["signal"], 11);
  EXPECT_TRUE(run.result["crash"].is_null());
  EXPECT_TRUE(run.result["done"].get<bool>()) << "the guest carries on after a crashing workload";
}

// Data verification runs end to end. swap-roundtrip with fault=corrupt|discard damages one
// page between the swap-out and the read-back, through the verification every run uses, and
// the run must end integrity-failed naming that page; an ok run reports how many page
// verifications back it. With the verify calls removed, every other test would stay green.
// 4M of 2M THPs: 1024 pages; the damaged one is page 1024 / 2 + 1 = 513, a tail page of the
// second THP (swap-roundtrip.c inject_fault).
std::vector<std::string> swap_roundtrip_args(const std::string& fault) {
  return {"--setting", "thp.enabled=madvise", "--setting", "swap.zram=64M", "--workload", "swap-roundtrip",
          "--param", "size=4194304", "--param", "folio=2097152", "--param", "fault=" + fault};
}

// The run ended integrity-failed in its one step; returns its reason.
std::string integrity_failure(const nlohmann::json& r, int exit_code) {
  EXPECT_EQ(exit_code, 1);
  EXPECT_EQ(r["outcome"], "integrity-failed") << r.dump(2);
  EXPECT_EQ(r["steps"].size(), 1u) << r.dump(2);
  if (r["steps"].size() == 1) {
    EXPECT_EQ(r["steps"][0]["status"], "integrity-failed");
  }
  return r["reason"].get<std::string>();
}

TEST_F(BootTest, IntegrityFailsNamingTheCorruptedPage) {
  auto run = boot("x86_64", swap_roundtrip_args("corrupt"));
  if (!run.result.is_object()) return;
  const auto& r = run.result;
  const std::string reason = integrity_failure(r, run.exit_code);
  // The flipped byte is byte 2051: word 256 of page 513, found after the swap-in.
  EXPECT_NE(reason.find("after swap-in"), std::string::npos) << reason;
  EXPECT_NE(reason.find("page 513 generation 1: word 256 is"), std::string::npos) << reason;
  EXPECT_NE(reason.find(" at 0x"), std::string::npos) << "the page's address: " << reason;
  EXPECT_GT(r["metrics"]["swap-roundtrip"].value("wl.checked_pages", 0.0), 0.0)
      << "the pages verified before the failure: " << r["metrics"].dump(2);
}

TEST_F(BootTest, IntegrityFailsNamingTheDiscardedPage) {
  auto run = boot("x86_64", swap_roundtrip_args("discard"));
  if (!run.result.is_object()) return;
  const std::string reason = integrity_failure(run.result, run.exit_code);
  EXPECT_NE(reason.find("page 513 reads as zeros (expected generation 1)"), std::string::npos) << reason;
  EXPECT_NE(reason.find(" at 0x"), std::string::npos) << "the page's address: " << reason;
}

TEST_F(BootTest, OkSwapRoundtripReportsItsCheckedPages) {
  auto run = boot("x86_64", swap_roundtrip_args("none"));
  if (!run.result.is_object()) return;
  const auto& r = run.result;
  EXPECT_EQ(r["outcome"], "ok") << r.dump(2);
  // One cycle verifies all 1024 pages three times: after the first write, after the swap-in
  // and after the rewrite.
  const auto& m = r["metrics"]["swap-roundtrip"];
  ASSERT_TRUE(m.contains("wl.checked_pages")) << r["metrics"].dump(2);
  EXPECT_EQ(m["wl.checked_pages"].get<double>(), 3 * 1024.0) << r["metrics"].dump(2);
}

// A tracepoint histogram that the ring buffer could not hold says so. Every page allocation of
// an 8M swap round trip fires kmem/mm_page_alloc; a 4 KiB ring buffer per CPU, read every
// sample period, must overflow, and the run reports the loss (the agent's per-CPU overrun
// counters and trace_pipe's LOST markers) instead of a silently low histogram. With the
// kernel's default buffer the same run loses nothing, and the small buffer's counted plus lost
// events add up to about what the complete run counted (here 756 + 3496 against 4233).
TEST_F(BootTest, OverflowingTheTraceRingBufferIsReportedAsLostEvents) {
  std::vector<std::string> args = {"--setting", "thp.enabled=madvise", "--setting", "swap.zram=64M", "--setting",
                                   "trace=kmem/mm_page_alloc:order", "--workload", "swap-roundtrip",
                                   "--param", "size=8388608", "--param", "folio=2097152"};
  auto complete = boot("x86_64", args);
  args.insert(args.begin(), {"--setting", "trace_buffer_kb=4"});
  auto run = boot("x86_64", args);
  if (!run.result.is_object() || !complete.result.is_object()) return;
  const auto& c = complete.result["metrics"]["swap-roundtrip"];
  EXPECT_EQ(complete.result["outcome"], "ok") << complete.result.dump(2);
  EXPECT_EQ(c.value("trace.mm_page_alloc.lost_events", -1.0), 0.0) << c.dump(2);
  EXPECT_EQ(complete.result["trace_lost"].value("kmem/mm_page_alloc", -1), 0) << complete.result.dump(2);
  const double all = c.value("trace.mm_page_alloc.total", 0.0);
  EXPECT_GT(all, 1000.0) << "every page allocation is an event: " << c.dump(2);

  const auto& r = run.result;
  EXPECT_EQ(r["outcome"], "ok") << r.dump(2);
  const auto& m = r["metrics"]["swap-roundtrip"];
  const double counted = m.value("trace.mm_page_alloc.total", 0.0);
  const double lost = m.value("trace.mm_page_alloc.lost_events", 0.0);
  EXPECT_GT(counted, 0.0) << "events were traced at all: " << m.dump(2);
  EXPECT_GT(lost, 0.0) << m.dump(2);
  EXPECT_GT(counted + lost, 0.8 * all) << "the loss accounts for what is missing: " << m.dump(2);
  ASSERT_TRUE(r["trace_lost"].contains("kmem/mm_page_alloc")) << r.dump(2);
  EXPECT_EQ(r["trace_lost"]["kmem/mm_page_alloc"].get<double>(), lost);
}

// swapin-race is a race only when both sides fault at the same time: on one CPU it skips,
// saying why, and on two it reports how many rounds the two faulting passes overlapped.
TEST_F(BootTest, SwapinRaceSkipsOnOneCpuAndCountsOverlappingRoundsOnTwo) {
  const std::vector<std::string> race = {"--setting", "thp.enabled=madvise", "--setting", "swap.zram=64M",
                                         "--workload", "swapin-race", "--param", "size=4194304",
                                         "--param", "folio=2097152"};
  auto one = race;
  one.insert(one.begin(), {"--cpus", "1"});
  auto single = boot("x86_64", one);
  if (!single.result.is_object()) return;
  EXPECT_EQ(single.result["outcome"], "skipped") << single.result.dump(2);
  EXPECT_NE(single.result["reason"].get<std::string>().find("two online CPUs"), std::string::npos)
      << single.result.dump(2);

  auto two = boot("x86_64", race);
  ASSERT_TRUE(two.result.is_object());
  EXPECT_EQ(two.result["outcome"], "ok") << two.result.dump(2);
  EXPECT_GT(two.result["metrics"]["swapin-race"].value("wl.rounds_overlapped", 0.0), 0.0) << two.result.dump(2);
}

TEST_F(BootTest, GarbageOnTheChannelIsSurvivedAndFlagged) {
  auto run = boot("x86_64", {"--workload", "selftest-garbage"});
  if (!run.result.is_object()) return;
  const auto& r = run.result;
  EXPECT_TRUE(r["done"].get<bool>()) << "records after the garbage still arrive: " << r.dump(2);
  // What selftest-garbage.yaml says to expect: the run fails for its channel, the step is ok.
  EXPECT_EQ(r["outcome"], "workload-failed") << r.dump(2);
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(r["steps"].size(), 1u);
  EXPECT_EQ(r["steps"][0]["status"], "ok");
  EXPECT_GT(r["malformed_lines"].get<long>(), 0);
  EXPECT_FALSE(r["errors"].empty());
  EXPECT_TRUE(any_error_contains(r, "dropped")) << "the 1 MiB line is dropped and said so: " << r["errors"];
  EXPECT_EQ(r["end"]["reason"], "exited");
}

TEST_F(BootTest, OomIsCountedNotACrash) {
  auto run = boot("x86_64", {"--workload", "selftest-oom", "--memory", "256M"}, std::chrono::seconds(600));
  if (!run.result.is_object()) return;
  EXPECT_GT(run.result["oom_kills"].get<int>(), 0) << run.result.dump(2);
  EXPECT_NE(run.result["outcome"], "kernel-crash");
  EXPECT_NE(run.result["outcome"], "timeout");
  EXPECT_TRUE(run.result["done"].get<bool>());
}

TEST_F(BootTest, RefusedSettingFailsNamingTheKnobAndTheKernelsAnswer) {
  auto run = boot("x86_64", {"--setting", "khugepaged.max_ptes_none=600", "--workload", "selftest-segv"});
  if (!run.result.is_object()) return;
  const auto& r = run.result;
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(r["outcome"], "workload-failed") << r.dump(2);
  EXPECT_TRUE(any_error_contains(r, "khugepaged.max_ptes_none")) << r["errors"];
  EXPECT_TRUE(any_error_contains(r, "Invalid argument")) << "the kernel's answer (EINVAL): " << r["errors"];
  EXPECT_TRUE(r["steps"].empty()) << "no step runs after a refused setting";
}

TEST_F(BootTest, BootDeadlineStopsTheGuest) {
  auto start = std::chrono::steady_clock::now();
  auto run = boot("x86_64", {"--boot-timeout", "100ms"}, std::chrono::seconds(60));
  if (!run.result.is_object()) return;
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.result["outcome"], "boot-failed") << run.result.dump(2);
  EXPECT_EQ(run.result["end"]["reason"], "boot-deadline");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(45));
}

// SIGINT to foliolab: the guest is stopped (QMP quit), foliolab says so and exits 130, and no
// QEMU process of this run is left behind.
TEST_F(BootTest, InterruptStopsTheGuestCleanly) {
  std::string kernel = kernel_for("x86_64");
  if (kernel.empty()) return;
  std::string marker = "foliolab.test=" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
  common::SpawnOptions options;
  options.env["FOLIOLAB_CACHE"] = (tmp_.path() / "cache").string();
  auto child = common::spawn_process({foliolab_bin(), "boot", "--arch", "x86_64", "--kernel", kernel,
                                      "--workload", "selftest-hang", "--cmdline", marker},
                                     options);
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool started = false;
  char buf[4096];
  // Wait for the workload to start (the guest is then certainly running), then interrupt.
  auto read_some = [&](int timeout_ms) -> ssize_t {
    pollfd pfd{child.stdout_fd, POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) <= 0) return -1;
    return ::read(child.stdout_fd, buf, sizeof buf);
  };
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = read_some(200);
    if (n == 0) break;
    if (n < 0) continue;
    output.append(buf, static_cast<size_t>(n));
    if (output.find("step selftest-hang") != std::string::npos) {
      started = true;
      break;
    }
  }
  EXPECT_TRUE(started) << tail(output);
  ::kill(child.pid, SIGINT);
  int status = 0;
  bool reaped = false;
  auto stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < stop_deadline) {
    ssize_t n = read_some(50);
    if (n > 0) output.append(buf, static_cast<size_t>(n));
    if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
      reaped = true;
      break;
    }
  }
  if (!reaped) {
    ::kill(-child.pid, SIGKILL);
    ::waitpid(child.pid, &status, 0);
  }
  ::close(child.stdout_fd);
  ASSERT_TRUE(reaped) << "foliolab did not exit within 30 s of SIGINT:\n" << tail(output);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
  EXPECT_NE(output.find("stopped"), std::string::npos) << tail(output);
  // No QEMU with this run's marker on its command line survives.
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(cmdline.find(marker), std::string::npos) << "left behind: pid " << entry.path().filename();
  }
}

}  // namespace
}  // namespace foliolab::vm
