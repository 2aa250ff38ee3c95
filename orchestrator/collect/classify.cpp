#include "collect/classify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "collect/untrusted_text.h"

namespace foliolab::collect {

namespace {

constexpr std::size_t kMaxReasonBytes = 300;

// Guest-supplied text as part of a one-line reason: no line breaks, printable, bounded.
std::string one_line(std::string_view text, std::size_t max_bytes = kMaxReasonBytes) {
  std::string flat(text);
  std::replace_if(flat.begin(), flat.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return printable_excerpt(flat, max_bytes);
}

std::string step_label(const StepRecords& step) { return "step '" + one_line(step.name, 80) + "'"; }

// "exit 1", "killed by signal 9", plus the workload's own reason when it gave one.
std::string describe_failure(const StepRecords& step) {
  std::string how;
  if (step.signal) {
    how = fmt::format("killed by signal {}", *step.signal);
  } else if (step.exit_code) {
    how = fmt::format("exit {}", *step.exit_code);
  }
  if (!step.reason.empty()) {
    const std::string reason = one_line(step.reason);
    // The agent's own reasons often say the same ("killed by signal 9 (Killed)", "exit code 2").
    const bool repeats = !how.empty() && (reason.find(how) != std::string::npos ||
                                          (step.exit_code && reason.find(fmt::format("exit code {}", *step.exit_code)) !=
                                                                 std::string::npos));
    how = repeats || how.empty() ? reason : how + ": " + reason;
  }
  return how.empty() ? "failed" : how;
}

std::string describe_agent_error(const RunError& error) {
  std::string subject = one_line(error.where, 20);
  if (!error.name.empty()) subject += " " + one_line(error.name, 80);
  return subject + ": " + one_line(error.message);
}

// The first and most relevant report: the first fatal one, else the first one.
std::optional<CrashReport> main_report(const std::vector<CrashReport>& reports) {
  for (const auto& r : reports) {
    if (r.fatal) return r;
  }
  if (!reports.empty()) return reports.front();
  return std::nullopt;
}

std::string with_more(const std::string& title, std::size_t total) {
  if (total <= 1) return title;
  return fmt::format("{} (and {} more kernel report{})", title, total - 1, total == 2 ? "" : "s");
}

const StepRecords* first_step(const RunRecords& records, StepStatus status) {
  for (const auto& s : records.steps) {
    if (s.status == status) return &s;
  }
  return nullptr;
}

const RunError* first_channel_error(const RunRecords& records) {
  for (const auto& e : records.errors) {
    if (e.where == "channel") return &e;
  }
  return nullptr;
}

const RunError* first_agent_error(const RunRecords& records) {
  for (const auto& e : records.errors) {
    if (e.where != "channel") return &e;
  }
  return nullptr;
}

// Rule 7: the first cause of a workload failure, or nullopt when there is none.
std::optional<std::string> workload_failure(const RunRecords& records, const RunEnd& end) {
  if (const RunError* e = first_agent_error(records)) return describe_agent_error(*e);
  if (const StepRecords* s = first_step(records, StepStatus::kFailed))
    return step_label(*s) + " failed: " + describe_failure(*s);
  if (records.malformed_lines > 0) {
    std::string reason = fmt::format("{} malformed data-channel line{}", records.malformed_lines,
                                     records.malformed_lines == 1 ? "" : "s");
    if (const RunError* e = first_channel_error(records)) reason += " (first: " + one_line(e->message, 160) + ")";
    return reason;
  }
  if (const StepRecords* s = first_step(records, StepStatus::kUnfinished)) {
    return end.guest_exited ? "the guest exited during " + step_label(*s)
                            : step_label(*s) + " began but never ended";
  }
  if (!records.done) {
    return end.guest_exited ? std::string("the guest exited before the agent sent 'done'")
                            : std::string("the agent never sent 'done'");
  }
  return std::nullopt;
}

}  // namespace

// Precedence (first matching rule wins; docs/outcomes.md says the same for users):
//  1. infra-error       our side failed (end.infra_error)
//  2. boot-failed       no hello from the agent (a kernel report seen during boot is attached)
//  3. kernel-crash      a fatal kernel report (panic, oops, BUG) on the console
//  4. timeout           host step deadline, silence, or a step the agent ended as timeout
//  5. integrity-failed  a step read back data that differs from what it wrote
//  6. kernel-warning    a non-fatal kernel report (WARNING, bad page state, KASAN, stall, ...)
//  7. workload-failed   an agent error (e.g. a refused setting), a failed step, malformed
//                       channel lines, a step that never ended, or no 'done'
//  8. skipped           every step skipped (the reason is the workload's stated reason)
//  9. ok
// Crashes outrank timeouts because a crash usually causes the silence that follows it; kernel
// reports outrank workload failures because a kernel bug explains a failing workload, not the
// other way round.
RunResult classify_run(RunRecords records, const ConsoleAnalyzer& console, const RunEnd& end) {
  RunResult result;
  result.reports = console.reports();
  result.crash = main_report(result.reports);
  result.oom_kills = console.oom_kills();
  result.kernel_notices = console.notices();
  result.boot_seconds = end.boot_seconds;
  result.total_seconds = end.total_seconds;

  auto decide = [&](Outcome outcome, std::string reason) {
    result.outcome = outcome;
    result.reason = std::move(reason);
    result.records = std::move(records);
    return std::move(result);
  };

  // 1
  if (end.infra_error) {
    return decide(Outcome::kInfraError,
                  end.infra_reason.empty() ? "infrastructure error" : one_line(end.infra_reason));
  }

  // 2
  if (!records.hello && !end.hello_seen) {
    std::string reason;
    if (result.crash && result.crash->fatal) {
      reason = "kernel crashed before the agent started: " + result.crash->title;
    } else if (end.boot_deadline_hit) {
      reason = "no hello from the agent within the boot deadline";
    } else if (end.silence_hit) {
      reason = "console silent before the agent said hello";
    } else if (end.guest_exited) {
      reason = "the guest exited before the agent said hello";
    } else {
      reason = "no hello from the agent";
    }
    if (result.crash && !result.crash->fatal) reason += "; kernel reported: " + result.crash->title;
    if (records.malformed_lines > 0) {
      reason += fmt::format("; {} malformed data-channel line{}", records.malformed_lines,
                            records.malformed_lines == 1 ? "" : "s");
      if (const RunError* e = first_channel_error(records)) reason += " (first: " + one_line(e->message, 160) + ")";
    }
    return decide(Outcome::kBootFailed, std::move(reason));
  }

  // 3
  if (result.crash && result.crash->fatal) {
    return decide(Outcome::kKernelCrash, with_more(result.crash->title, result.reports.size()));
  }

  // 4
  const StepRecords* unfinished = first_step(records, StepStatus::kUnfinished);
  if (end.step_deadline_hit) {
    return decide(Outcome::kTimeout,
                  unfinished ? fmt::format("{} outlived its deadline of {} s (host watchdog)", step_label(*unfinished),
                                           unfinished->deadline_s)
                             : std::string("a step outlived its deadline (host watchdog)"));
  }
  if (end.silence_hit) {
    return decide(Outcome::kTimeout, unfinished ? "console and data channel silent during " + step_label(*unfinished)
                                                : std::string("console and data channel silent"));
  }
  if (const StepRecords* s = first_step(records, StepStatus::kTimeout)) {
    std::string reason = fmt::format("{} exceeded its deadline of {} s", step_label(*s), s->deadline_s);
    if (!s->reason.empty()) reason += ": " + one_line(s->reason);
    return decide(Outcome::kTimeout, std::move(reason));
  }

  // 5
  if (const StepRecords* s = first_step(records, StepStatus::kIntegrityFailed)) {
    return decide(Outcome::kIntegrityFailed,
                  step_label(*s) + ": " + (s->reason.empty() ? "data read back differs from data written"
                                                             : one_line(s->reason)));
  }

  // 6
  if (result.crash) {
    return decide(Outcome::kKernelWarning, with_more(result.crash->title, result.reports.size()));
  }

  // 7
  if (auto cause = workload_failure(records, end)) return decide(Outcome::kWorkloadFailed, std::move(*cause));

  // 8
  const bool all_skipped =
      !records.steps.empty() && std::all_of(records.steps.begin(), records.steps.end(),
                                            [](const StepRecords& s) { return s.status == StepStatus::kSkipped; });
  if (all_skipped) {
    const StepRecords& s = records.steps.front();
    return decide(Outcome::kSkipped, s.reason.empty() ? step_label(s) + " skipped without a reason" : one_line(s.reason));
  }

  // 9
  std::string note;
  if (const StepRecords* s = first_step(records, StepStatus::kSkipped)) {
    note = step_label(*s) + " skipped: " + (s->reason.empty() ? std::string("no reason given") : one_line(s->reason));
  }
  return decide(Outcome::kOk, std::move(note));
}

}  // namespace foliolab::collect
