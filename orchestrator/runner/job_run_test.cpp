// run_job against a scripted backend: the runner's own logic (retry, stop, classification,
// manifest) without QEMU. The real guests are in run_integration_test and the boot tests.
#include "runner/job_run.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"
#include "plan/plan.h"
#include "runner/signals.h"

namespace foliolab::runner {
namespace {

namespace fs = std::filesystem;

// What the scripted guest does in one run.
enum class Script {
  kOk,         // hello, the step with one metric, done; exits
  kCrash,      // hello, step begins, an oops on the console; the guest dies
  kHang,       // hello, step begins, then nothing: the backend's step deadline ends it
  kInfra,      // the backend cannot start the guest (InfraError)
  kWaitStop,   // hello, step begins, then waits for the stop request
};

class ScriptedBackend : public vm::GuestBackend {
 public:
  explicit ScriptedBackend(std::deque<Script> scripts) : scripts_(std::move(scripts)) {}
  std::string name() const override { return "scripted"; }
  int runs() const { return runs_; }

  vm::GuestRun run(const vm::GuestSpec& spec, const vm::GuestCallbacks& cb, const vm::StopSignal& stop) override {
    ++runs_;
    EXPECT_TRUE(fs::is_regular_file(spec.initrd)) << "the runner writes the run's initrd before the backend runs";
    EXPECT_EQ(spec.step_deadlines_s.size(), 1u);
    Script script = scripts_.empty() ? Script::kOk : scripts_.front();
    if (!scripts_.empty()) scripts_.pop_front();
    if (script == Script::kInfra) throw common::InfraError("qemu-system-x86_64 failed (signal 11): scripted");
    const std::string step = spec.step_deadlines_s.begin()->first;
    // Backends write console.log themselves (vm::GuestSpec::console_log) and hand the bytes on.
    std::ofstream log(spec.console_log, std::ios::binary);
    auto console = [&](std::string_view bytes) {
      log << bytes;
      cb.console(bytes);
    };
    vm::GuestRun run;
    run.accel = "tcg";
    run.machine_profile = "x86_64-q35";
    console("Linux version 6.12.0-scripted\n");
    cb.data_line(hello());
    run.hello_seen = true;
    cb.data_line(fmt::format(R"({{"type":"step-begin","t":0.1,"step":"{}","workload":"swap-roundtrip","argv":["/workloads/swap-roundtrip"],"deadline_s":60}})", step));
    run.last_step = step;
    switch (script) {
      case Script::kOk:
        cb.data_line(fmt::format(R"({{"type":"metric","t":0.5,"step":"{}","name":"wl.swapped_fraction","value":0.75,"unit":"ratio"}})", step));
        cb.data_line(fmt::format(R"({{"type":"step-end","t":0.6,"step":"{}","status":"ok","exit_code":0,"signal":null,"reason":"","seconds":0.5}})", step));
        cb.data_line(R"({"type":"done","t":0.7,"steps":1,"errors":0})");
        run.done_seen = true;
        run.exit_code = 0;
        break;
      case Script::kCrash:
        console("BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
                   "Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
                   "RIP: 0010:collapse_huge_page+0x1a2/0x6b0\n"
                   "Kernel panic - not syncing: Fatal exception\n");
        run.exit_code = 0;
        break;
      case Script::kHang:
        run.end = vm::EndReason::kStepDeadline;
        run.end_detail = fmt::format("step {} ran past its deadline of 60 s", step);
        break;
      case Script::kWaitStop:
        while (!stop.requested()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        run.end = vm::EndReason::kStopped;
        run.end_detail = "foliolab received SIGTERM";
        break;
      case Script::kInfra: break;
    }
    run.total_seconds = 1.5;
    return run;
  }

  std::string job_key;

 private:
  std::string hello() const {
    return fmt::format(
        R"({{"type":"hello","t":0.01,"job_key":"{}","release":"6.12.0-scripted","version":"#1 SMP","machine":"x86_64","arch":"x86_64","page_size":4096,"pmd_kb":2048,"thp_sizes_kb":[64,2048],"mem_total_kb":1000000,"cpus":2,"features":{{"thp":true,"vmstat_thp":true,"zram":true,"tracefs":true,"cgroup2":true,"userfaultfd":true,"numa":false}}}})",
        job_key);
  }

  std::deque<Script> scripts_;
  int runs_ = 0;
};

class RunJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path file = tmp_.path() / "suite.yaml";
    std::ofstream(file) << "name: scripted\n"
                           "kernels:\n"
                           "  base:\n"
                           "    source: {debian: linux-source-6.12}\n"
                           "arches: [x86_64]\n"
                           "guest: {memory: 1G, cpus: 2, swap: {zram: 256M}}\n"
                           "workloads:\n"
                           "  - {name: swap-small, workload: swap-roundtrip, params: {size: 4M, folio: 64K}}\n"
                           "repetitions: 1\n";
    suite_ = std::make_unique<config::Suite>(config::load_suite(file));
    plan::Inputs inputs;
    inputs.artifact_key = [](const config::KernelVariant&, config::Arch) { return std::string(32, 'a'); };
    inputs.machine = [](config::Arch) { return std::string("x86_64-q35"); };
    plan_ = plan::make_plan(*suite_, catalog_, inputs);
    ASSERT_EQ(plan_.size(), 1u);
    JobContext::Kernel kernel;
    kernel.artifact.image = tmp_.path() / "bzImage";  // never booted: the backend is scripted
    std::ofstream(kernel.artifact.image) << "not a kernel";
    kernel.artifact.release = "6.12.0-scripted";
    kernel.metadata = {{"release", "6.12.0-scripted"}};
    context_ = std::make_unique<JobContext>(JobContext{*suite_, catalog_, registry_, tmp_.path() / "cache", {}});
    context_->kernels[{"base", config::Arch::kX86_64}] = kernel;
  }

  JobRun run(ScriptedBackend& backend, std::vector<std::string>* events = nullptr) {
    backend.job_key = job().key;
    JobEvents ev;
    if (events) {
      ev.started = [events](int attempt) { events->push_back(fmt::format("started {}", attempt)); };
      ev.finished = [events](const std::string& outcome, const std::string&, double, bool final) {
        events->push_back(fmt::format("{} {}", outcome, final ? "final" : "retried"));
      };
    }
    return run_job(job(), *context_, backend, stop_, ev);
  }

  const plan::Job& job() const { return plan_.front(); }

  common::TemporaryDirectory tmp_{fs::temp_directory_path(), "run-job-test"};
  catalog::Catalog catalog_ = catalog::Catalog::load(catalog::default_workloads_dir());
  metrics::Registry registry_ = metrics::Registry::load_default();
  std::unique_ptr<config::Suite> suite_;
  std::vector<plan::Job> plan_;
  std::unique_ptr<JobContext> context_;
  vm::StopSignal stop_;
};

TEST_F(RunJobTest, FinishedGuestGivesAnOkManifestWithTheWorkloadsMetric) {
  ScriptedBackend backend({Script::kOk});
  JobRun r = run(backend);
  ASSERT_FALSE(r.stopped);
  EXPECT_EQ(r.outcome, collect::Outcome::kOk);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.manifest.outcome, "ok") << r.manifest.outcome_reason;
  EXPECT_EQ(r.manifest.job_key, job().key);
  EXPECT_EQ(r.manifest.kernel.variant, "base");
  EXPECT_EQ(r.manifest.workload.name, "swap-small");
  EXPECT_EQ(r.manifest.workload.params.at("folio"), job().resolved.params.at("folio"));
  ASSERT_TRUE(r.manifest.metrics.count("wl.swapped_fraction")) << "metrics kept: " << r.manifest.metrics.size();
  EXPECT_DOUBLE_EQ(r.manifest.metrics.at("wl.swapped_fraction"), 0.75);
  EXPECT_NE(r.records_jsonl.find(R"("type":"done")"), std::string::npos);
  EXPECT_NE(r.console.find("Linux version"), std::string::npos) << "console.log is read back for the store";
}

TEST_F(RunJobTest, OopsOnTheConsoleIsAKernelCrashWithItsTitle) {
  ScriptedBackend backend({Script::kCrash});
  JobRun r = run(backend);
  EXPECT_EQ(r.outcome, collect::Outcome::kKernelCrash) << r.manifest.outcome_reason;
  ASSERT_TRUE(r.manifest.crash.has_value());
  EXPECT_NE(r.manifest.crash->title.find("NULL pointer dereference"), std::string::npos) << r.manifest.crash->title;
  EXPECT_EQ(backend.runs(), 1) << "a crash is the guest's doing: never retried";
}

TEST_F(RunJobTest, HungStepIsATimeoutNamingTheStep) {
  ScriptedBackend backend({Script::kHang});
  JobRun r = run(backend);
  EXPECT_EQ(r.outcome, collect::Outcome::kTimeout) << r.manifest.outcome_reason;
  EXPECT_EQ(backend.runs(), 1);
}

TEST_F(RunJobTest, InfraErrorIsRetriedOnceAndTheRetryIsTheResult) {
  ScriptedBackend backend({Script::kInfra, Script::kOk});
  std::vector<std::string> events;
  JobRun r = run(backend, &events);
  EXPECT_EQ(r.outcome, collect::Outcome::kOk);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(backend.runs(), 2);
  EXPECT_EQ(events, (std::vector<std::string>{"started 1", "infra-error retried", "started 2", "ok final"}));
}

TEST_F(RunJobTest, InfraErrorTwiceIsStoredAsInfraErrorWithTheReason) {
  ScriptedBackend backend({Script::kInfra, Script::kInfra, Script::kOk});
  JobRun r = run(backend);
  EXPECT_EQ(r.outcome, collect::Outcome::kInfraError);
  EXPECT_EQ(r.manifest.outcome, "infra-error");
  EXPECT_NE(r.manifest.outcome_reason.find("signal 11"), std::string::npos) << r.manifest.outcome_reason;
  EXPECT_EQ(backend.runs(), 2) << "one retry, no more";
}

TEST_F(RunJobTest, StopDuringTheGuestGivesStoppedAndNothingToStore) {
  ScriptedBackend backend({Script::kWaitStop});
  std::thread stopper([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop_.request(SIGTERM);
  });
  std::vector<std::string> events;
  JobRun r = run(backend, &events);
  stopper.join();
  EXPECT_TRUE(r.stopped);
  EXPECT_TRUE(r.manifest.job_key.empty()) << "a stopped job has no manifest";
  EXPECT_EQ(events.back(), "stopped retried") << "a stopped attempt is never the job's result";
}

TEST_F(RunJobTest, StopBeforeTheJobStartsNoGuest) {
  ScriptedBackend backend({Script::kOk});
  stop_.request(SIGINT);
  JobRun r = run(backend);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(backend.runs(), 0);
}

TEST_F(RunJobTest, InfraErrorIsNotRetriedAfterAStop) {
  ScriptedBackend backend({Script::kInfra, Script::kOk});
  std::vector<std::string> events;
  JobEvents ev;
  backend.job_key = job().key;
  ev.finished = [this](const std::string&, const std::string&, double, bool) { stop_.request(SIGINT); };
  JobRun r = run_job(job(), *context_, backend, stop_, ev);
  EXPECT_EQ(backend.runs(), 1);
  EXPECT_TRUE(r.stopped);
}

TEST_F(RunJobTest, JobWhoseKernelWasNotPreparedThrows) {
  context_->kernels.clear();
  ScriptedBackend backend({Script::kOk});
  EXPECT_THROW(run(backend), common::InfraError);
  EXPECT_EQ(backend.runs(), 0);
}

TEST(SignalWatchTest, FirstSignalIsKeptAndEveryRequestCounted) {
  SignalWatch watch;
  EXPECT_FALSE(watch.stopped());
  watch.request(SIGTERM);
  watch.request(SIGINT);
  EXPECT_TRUE(watch.stopped());
  EXPECT_EQ(watch.signal(), SIGTERM);
  EXPECT_EQ(watch.stop().requests(), 2) << "a second request makes backends kill at once";
  EXPECT_EQ(common::signal_name(watch.signal()), "SIGTERM");
}

}  // namespace
}  // namespace foliolab::runner
