#include "collect/classify.h"

#include <gtest/gtest.h>

#include <string>

namespace foliolab::collect {
namespace {

const char* kWarning = R"([    8.100000] ------------[ cut here ]------------
[    8.100100] WARNING: CPU: 0 PID: 35 at mm/khugepaged.c:1234 collapse_huge_page+0x5e2/0x7a0
[    8.101000] Call Trace:
[    8.101100]  <TASK>
[    8.101300]  hpage_collapse_scan_pmd+0x8b4/0xe50
[    8.101800]  </TASK>
[    8.101900] ---[ end trace 0000000000000000 ]---
)";

const char* kPanic = R"([    5.100000] sysrq: Trigger a crash
[    5.100200] Kernel panic - not syncing: sysrq triggered crash
)";

const char* kOom = "[ 40.0] Out of memory: Killed process 90 (swap-stress) total-vm:2101452kB\n";

ConsoleAnalyzer console_of(const std::string& text) {
  ConsoleAnalyzer c;
  c.feed(text);
  c.finish();
  return c;
}

StepRecords step(const std::string& name, StepStatus status, const std::string& reason = "") {
  StepRecords s;
  s.name = name;
  s.workload = "khugepaged-collapse";
  s.deadline_s = 180;
  s.status = status;
  s.reason = reason;
  if (status == StepStatus::kOk) s.exit_code = 0;
  if (status == StepStatus::kFailed) s.exit_code = 1;
  return s;
}

// A run where everything went right: hello, one ok step, done.
RunRecords good_run() {
  RunRecords r;
  r.hello = Hello{};
  r.hello->job_key = "3f2a";
  r.steps.push_back(step("collapse-full", StepStatus::kOk));
  r.done = true;
  return r;
}

RunEnd normal_end() {
  RunEnd end;
  end.hello_seen = true;
  end.guest_exited = true;
  end.boot_seconds = 1.4;
  end.total_seconds = 9.8;
  return end;
}

TEST(Classify, GoodRunIsOk) {
  auto result = classify_run(good_run(), console_of(""), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kOk);
  EXPECT_EQ(result.reason, "");
  EXPECT_FALSE(result.crash);
  EXPECT_DOUBLE_EQ(result.boot_seconds, 1.4);
  EXPECT_DOUBLE_EQ(result.total_seconds, 9.8);
  EXPECT_TRUE(result.records.done);
  EXPECT_EQ(result.records.steps.size(), 1u);
}

TEST(Classify, InfraErrorWinsOverEverything) {
  RunEnd end = normal_end();
  end.infra_error = true;
  end.infra_reason = "qemu-system-riscv64: cannot open /dev/kvm\nsecond line";
  end.silence_hit = true;
  auto result = classify_run(RunRecords{}, console_of(kPanic), end);
  EXPECT_EQ(result.outcome, Outcome::kInfraError);
  EXPECT_EQ(result.reason, "qemu-system-riscv64: cannot open /dev/kvm second line");
}

TEST(Classify, NoHelloIsBootFailedWithTheCrashAttached) {
  RunEnd end;
  end.guest_exited = true;
  auto result = classify_run(RunRecords{}, console_of(kPanic), end);
  EXPECT_EQ(result.outcome, Outcome::kBootFailed);
  ASSERT_TRUE(result.crash);
  EXPECT_EQ(result.crash->title, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_EQ(result.reason, "kernel crashed before the agent started: Kernel panic - not syncing: sysrq triggered crash");
}

TEST(Classify, NoHelloReasonSaysHowTheBootEnded) {
  RunEnd deadline;
  deadline.boot_deadline_hit = true;
  EXPECT_EQ(classify_run(RunRecords{}, console_of(""), deadline).reason,
            "no hello from the agent within the boot deadline");
  RunEnd exited;
  exited.guest_exited = true;
  auto r = classify_run(RunRecords{}, console_of(kWarning), exited);
  EXPECT_EQ(r.outcome, Outcome::kBootFailed);
  EXPECT_EQ(r.reason, "the guest exited before the agent said hello; kernel reported: "
                      "WARNING at mm/khugepaged.c:1234 collapse_huge_page");
}

TEST(Classify, NoHelloWithMalformedLinesQuotesTheFirst) {
  RunRecords r;
  r.malformed_lines = 2;
  r.errors.push_back({"channel", "schema", "line 1: field 'arch' has unknown value 'mips64': {...}"});
  RunEnd end;
  end.guest_exited = true;
  EXPECT_EQ(classify_run(std::move(r), console_of(""), end).reason,
            "the guest exited before the agent said hello; 2 malformed data-channel lines "
            "(first: line 1: field 'arch' has unknown value 'mips64': {...})");
}

TEST(Classify, FatalReportIsKernelCrashEvenWhenTheRunTimedOutOrFinished) {
  RunEnd end = normal_end();
  end.silence_hit = true;
  auto result = classify_run(good_run(), console_of(std::string(kWarning) + kPanic), end);
  EXPECT_EQ(result.outcome, Outcome::kKernelCrash);
  ASSERT_TRUE(result.crash);
  EXPECT_TRUE(result.crash->fatal);  // the fatal report, not the first one
  EXPECT_EQ(result.reports.size(), 2u);
  EXPECT_EQ(result.reason, "Kernel panic - not syncing: sysrq triggered crash (and 1 more kernel report)");
}

TEST(Classify, HostDeadlineIsTimeoutNamingTheStep) {
  RunRecords r = good_run();
  r.steps[0].status = StepStatus::kUnfinished;
  r.done = false;
  RunEnd end = normal_end();
  end.step_deadline_hit = true;
  auto result = classify_run(std::move(r), console_of(""), end);
  EXPECT_EQ(result.outcome, Outcome::kTimeout);
  EXPECT_EQ(result.reason, "step 'collapse-full' outlived its deadline of 180 s (host watchdog)");
}

TEST(Classify, SilenceIsTimeout) {
  RunRecords r = good_run();
  r.steps[0].status = StepStatus::kUnfinished;
  RunEnd end = normal_end();
  end.silence_hit = true;
  auto result = classify_run(std::move(r), console_of(""), end);
  EXPECT_EQ(result.outcome, Outcome::kTimeout);
  EXPECT_EQ(result.reason, "console and data channel silent during step 'collapse-full'");
}

TEST(Classify, StepTimeoutOutranksIntegrityAndWarnings) {
  RunRecords r = good_run();
  r.steps.push_back(step("swap", StepStatus::kIntegrityFailed, "page 12 differs"));
  r.steps.push_back(step("stress", StepStatus::kTimeout, "SIGKILL after 180 s"));
  auto result = classify_run(std::move(r), console_of(kWarning), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kTimeout);
  EXPECT_EQ(result.reason, "step 'stress' exceeded its deadline of 180 s: SIGKILL after 180 s");
  ASSERT_TRUE(result.crash);  // the warning is still reported
}

TEST(Classify, IntegrityFailureOutranksKernelWarning) {
  RunRecords r = good_run();
  r.steps.push_back(step("swap", StepStatus::kIntegrityFailed, "page 12 differs after swap-in"));
  auto result = classify_run(std::move(r), console_of(kWarning), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kIntegrityFailed);
  EXPECT_EQ(result.reason, "step 'swap': page 12 differs after swap-in");
}

TEST(Classify, NonFatalReportIsKernelWarningEvenWhenAStepFailed) {
  RunRecords r = good_run();
  r.steps.push_back(step("swap", StepStatus::kFailed));
  auto result = classify_run(std::move(r), console_of(kWarning), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kKernelWarning);
  EXPECT_EQ(result.reason, "WARNING at mm/khugepaged.c:1234 collapse_huge_page");
  ASSERT_TRUE(result.crash);
  EXPECT_FALSE(result.crash->fatal);
}

TEST(Classify, RefusedSettingIsWorkloadFailedNamingSettingAndKernelAnswer) {
  RunRecords r = good_run();
  r.steps.clear();
  r.errors.push_back({"channel", "invalid-json", "line 7: invalid JSON: xx"});
  r.errors.push_back({"setting", "thp.hugepages-64kB.enabled", "wrote 'always', kernel has 'never'"});
  r.malformed_lines = 1;
  auto result = classify_run(std::move(r), console_of(""), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kWorkloadFailed);
  EXPECT_EQ(result.reason, "setting thp.hugepages-64kB.enabled: wrote 'always', kernel has 'never'");
}

TEST(Classify, FailedStepReasonSaysHow) {
  RunRecords r = good_run();
  r.steps.push_back(step("swap", StepStatus::kFailed, "madvise(MADV_PAGEOUT): Invalid argument"));
  auto result = classify_run(std::move(r), console_of(""), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kWorkloadFailed);
  EXPECT_EQ(result.reason, "step 'swap' failed: exit 1: madvise(MADV_PAGEOUT): Invalid argument");

  RunRecords killed = good_run();
  killed.steps[0].status = StepStatus::kFailed;
  killed.steps[0].exit_code.reset();
  killed.steps[0].signal = 11;
  EXPECT_EQ(classify_run(std::move(killed), console_of(""), normal_end()).reason,
            "step 'collapse-full' failed: killed by signal 11");

  // The agent's generated reason already says how: not repeated.
  RunRecords oom = good_run();
  oom.steps[0].status = StepStatus::kFailed;
  oom.steps[0].exit_code.reset();
  oom.steps[0].signal = 9;
  oom.steps[0].reason = "killed by signal 9 (Killed)";
  EXPECT_EQ(classify_run(std::move(oom), console_of(""), normal_end()).reason,
            "step 'collapse-full' failed: killed by signal 9 (Killed)");
  RunRecords code = good_run();
  code.steps[0].status = StepStatus::kFailed;
  code.steps[0].exit_code = 2;
  code.steps[0].reason = "exit code 2";
  EXPECT_EQ(classify_run(std::move(code), console_of(""), normal_end()).reason, "step 'collapse-full' failed: exit code 2");
}

TEST(Classify, MalformedChannelLinesFailTheWorkload) {
  RunRecords r = good_run();
  r.malformed_lines = 3;
  r.errors.push_back({"channel", "invalid-json", "line 7: invalid JSON: {\"type\":"});
  auto result = classify_run(std::move(r), console_of(""), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kWorkloadFailed);
  EXPECT_EQ(result.reason, "3 malformed data-channel lines (first: line 7: invalid JSON: {\"type\":)");
}

TEST(Classify, MissingDoneOrUnfinishedStepFailsTheWorkload) {
  RunRecords no_done = good_run();
  no_done.done = false;
  auto a = classify_run(std::move(no_done), console_of(""), normal_end());
  EXPECT_EQ(a.outcome, Outcome::kWorkloadFailed);
  EXPECT_EQ(a.reason, "the guest exited before the agent sent 'done'");

  RunRecords unfinished = good_run();
  unfinished.steps[0].status = StepStatus::kUnfinished;
  auto b = classify_run(std::move(unfinished), console_of(""), normal_end());
  EXPECT_EQ(b.outcome, Outcome::kWorkloadFailed);
  EXPECT_EQ(b.reason, "the guest exited during step 'collapse-full'");
}

TEST(Classify, AllStepsSkippedIsSkippedWithTheWorkloadsReason) {
  RunRecords r = good_run();
  r.steps[0] = step("collapse-64k", StepStatus::kSkipped, "no hugepages-64kB in this kernel");
  r.steps.push_back(step("collapse-32k", StepStatus::kSkipped, "no hugepages-32kB in this kernel"));
  auto result = classify_run(std::move(r), console_of(""), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kSkipped);
  EXPECT_EQ(result.reason, "no hugepages-64kB in this kernel");
}

TEST(Classify, SomeStepsSkippedIsOkWithANote) {
  RunRecords r = good_run();
  r.steps.push_back(step("collapse-64k", StepStatus::kSkipped, "no hugepages-64kB"));
  auto result = classify_run(std::move(r), console_of(""), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kOk);
  EXPECT_EQ(result.reason, "step 'collapse-64k' skipped: no hugepages-64kB");
}

TEST(Classify, OomKillsAreCopiedAndDoNotChangeTheOutcome) {
  auto result = classify_run(good_run(), console_of(std::string(kOom) + kOom), normal_end());
  EXPECT_EQ(result.outcome, Outcome::kOk);
  EXPECT_EQ(result.oom_kills, 2);
}

TEST(Classify, GuestTextInReasonsIsOneLineAndPrintable) {
  RunRecords r = good_run();
  r.errors.push_back({"agent", "job", "line one\nline two\x1b[31m"});
  auto result = classify_run(std::move(r), console_of(""), normal_end());
  EXPECT_EQ(result.reason, "agent job: line one line two\\x1b[31m");
}

TEST(Outcome, NamesRoundTrip) {
  for (auto o : {Outcome::kOk, Outcome::kWorkloadFailed, Outcome::kIntegrityFailed, Outcome::kKernelWarning,
                 Outcome::kKernelCrash, Outcome::kBootFailed, Outcome::kTimeout, Outcome::kSkipped,
                 Outcome::kInfraError}) {
    EXPECT_EQ(outcome_from_string(to_string(o)), o);
  }
  EXPECT_STREQ(to_string(Outcome::kKernelCrash), "kernel-crash");
  EXPECT_STREQ(to_string(Outcome::kWorkloadFailed), "workload-failed");
  EXPECT_FALSE(outcome_from_string("crash"));
  EXPECT_FALSE(outcome_from_string(""));
}

}  // namespace
}  // namespace foliolab::collect
