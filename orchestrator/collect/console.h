#pragma once
// Finds kernel failure reports and OOM kills in a guest's serial console.
//
// The console is untrusted and unbounded: the analyzer looks at one line at a time (a line is
// cut at max_line_bytes, the rest of it ignored), strips CR, ANSI escape sequences and other
// control bytes, and keeps only what reports need: at most max_reports reports, each with at
// most max_excerpt_lines lines of at most max_excerpt_line_bytes. Memory does not grow with the
// console's length.
//
// A report starts at a marker line (the list of /work/shared/design/reference.md section 3:
// "Kernel panic - not syncing", "BUG:", "kernel BUG at", "WARNING:", "cut here", "Oops",
// "general protection fault", "Unable to handle kernel", "Internal error:", "Unhandled fault",
// KASAN, KFENCE, UBSAN, soft/hard lockups, RCU stalls, hung tasks, bad page state/map,
// bad rss-counter state, "invalid opcode"), matched at the start of the kernel message (after the
// "[    1.234567]" timestamp and a "watchdog: "/"rcu: " style prefix). One failure prints several
// markers ("kernel BUG at" then "Oops: invalid opcode" then "Kernel panic - not syncing: Fatal
// exception"): they are merged into one report, titled by the first and made fatal by the
// oops or the panic. A report ends at "---[ end trace", at "---[ end Kernel panic", when its
// call trace is followed by a line that is not part of a report, or at a new report.
//
// Titles are one line and stable across builds and runs (no timestamps, addresses, offsets,
// PIDs or CPU numbers), so that they can serve as crash signatures:
//   "kernel BUG at include/linux/swapops.h:511"
//   "WARNING at mm/khugepaged.c:1234 collapse_huge_page"
//   "BUG: kernel NULL pointer dereference in collapse_huge_page"
//   "Kernel panic - not syncing: sysrq triggered crash"
//
// When the kernel prints timestamps, lines without one are user space's (the agent, workload
// stderr) and are ignored, so that a test program printing "WARNING: ..." is not a kernel report.
//
// "Out of memory: Killed process" and "oom-kill:" lines count OOM kills; they are not crashes.
//
// Kernel notices: messages that are neither a report nor noise but change what a run measured,
// from a table in console.cpp (for example 7.3's "mTHP collapse does not support max_ptes_none
// values other than 0 or 511, defaulting to 0": the run did not measure the value it asked
// for). Kept as their message text (timestamp stripped), each distinct text once, bounded.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collect/run_result.h"

namespace foliolab::collect {

struct ConsoleLimits {
  std::size_t max_line_bytes = 4096;  // printk lines are at most 1 KiB; longer is junk
  std::size_t max_excerpt_lines = 60;
  std::size_t max_excerpt_line_bytes = 512;
  std::size_t max_reports = 32;
  std::size_t max_title_bytes = 200;
  std::size_t max_notices = 16;
};

class ConsoleAnalyzer {
 public:
  explicit ConsoleAnalyzer(ConsoleLimits limits = {});

  // Console bytes in any chunking. Ignored after finish().
  void feed(std::string_view bytes);
  // End of the console: a trailing line without '\n' is analysed, an open report is closed.
  void finish();

  // Every report found, in console order (the first max_reports; a fatal report is always
  // kept: it replaces the last stored one when the list is full).
  const std::vector<CrashReport>& reports() const { return reports_; }
  std::int64_t reports_omitted() const { return reports_omitted_; }
  int oom_kills() const;
  const std::vector<std::string>& notices() const { return notices_; }
  bool saw_fatal() const { return saw_fatal_; }
  // Memory held for the line being received (bounded by max_line_bytes); for tests.
  std::size_t buffered_bytes() const { return partial_.capacity(); }

 private:
  // A report being collected: its lines so far and what the next lines may still change.
  struct OpenReport {
    CrashReport report;
    std::vector<std::string> lines;
    std::size_t total_lines = 0;   // including those past the excerpt limit
    bool titled = false;           // false while only "cut here" has been seen
    bool has_oops = false;         // an oops line (Oops, Internal error, ...) was merged
    bool wants_location = false;   // title gets " in <function>" from the first RIP/pc/epc line
    bool in_call_trace = false;    // "Call Trace:" seen: the report ends after the frames
    bool in_bracket = false;       // between <TASK>/<IRQ>/<NMI> and its closing tag
  };

  void end_line();
  void handle_line(const std::string& line);
  void open_report(const std::string& line, std::string_view message, int marker);
  void append(const std::string& line);
  void close_report();
  void store(CrashReport report);
  std::string bounded_title(std::string title) const;

  ConsoleLimits limits_;
  std::vector<CrashReport> reports_;
  std::int64_t reports_omitted_ = 0;
  std::optional<OpenReport> open_;
  std::string partial_;
  bool partial_cut_ = false;           // the current line passed max_line_bytes
  std::size_t lines_since_close_ = 0;  // lines since the last report closed
  bool last_closed_stored_ = false;    // reports_.back() is the report that closed last
  int killed_process_lines_ = 0;
  int oom_kill_lines_ = 0;
  std::vector<std::string> notices_;
  bool saw_fatal_ = false;
  bool timestamps_seen_ = false;       // the kernel prints printk timestamps on this console
  bool finished_ = false;
};

}  // namespace foliolab::collect
