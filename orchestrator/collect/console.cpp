#include "collect/console.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>
#include <utility>

namespace foliolab::collect {

namespace {

// ---------------------------------------------------------------------------------------------
// Line cleaning

// Printable ASCII only: CR, ANSI escape sequences and other control bytes removed, tabs as
// spaces, bytes >= 0x80 written as \xNN (the kernel console is ASCII; anything else is junk or
// a guest program's output, and must not reach a terminal raw).
std::string sanitize(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c == 0x1b) {  // ESC: skip the whole sequence
      if (i + 1 >= raw.size()) break;
      const char kind = raw[i + 1];
      i += 1;
      if (kind == '[') {  // CSI: parameters, then one final byte in 0x40..0x7e
        while (i + 1 < raw.size()) {
          ++i;
          const auto b = static_cast<unsigned char>(raw[i]);
          if (b >= 0x40 && b <= 0x7e) break;
        }
      } else if (kind == ']') {  // OSC: up to BEL or ESC backslash
        while (i + 1 < raw.size()) {
          ++i;
          if (raw[i] == '\a') break;
          if (raw[i] == 0x1b && i + 1 < raw.size() && raw[i + 1] == '\\') {
            ++i;
            break;
          }
        }
      }
      continue;
    }
    if (c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      continue;
    } else if (c >= 0x80) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '.' || s.back() == ':' || s.back() == ','))
    s.remove_suffix(1);
  return s;
}

// "[  123.456789]" (printk time) and "[    T42]" / "[  C1]" (printk caller) prefixes.
bool is_bracket_prefix(std::string_view s, std::size_t& length) {
  if (s.empty() || s.front() != '[') return false;
  const std::size_t close = s.find(']');
  if (close == std::string_view::npos || close > 24) return false;
  std::string_view inner = trim_left(s.substr(1, close - 1));
  if (inner.empty()) return false;
  bool timestamp = true;
  for (char c : inner) timestamp = timestamp && (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
  bool caller = (inner.front() == 'T' || inner.front() == 'C') && inner.size() > 1;
  for (char c : inner.substr(1)) caller = caller && std::isdigit(static_cast<unsigned char>(c));
  if (!timestamp && !caller) return false;
  length = close + 1;
  return true;
}

// The kernel message of a console line: without time/caller prefixes and the one space after.
std::string_view message_of(std::string_view line) {
  std::size_t length = 0;
  bool stripped = false;
  while (is_bracket_prefix(line, length)) {
    line.remove_prefix(length);
    stripped = true;
  }
  if (stripped && !line.empty() && line.front() == ' ') line.remove_prefix(1);
  return line;
}

// pr_fmt prefixes in front of some markers ("watchdog: BUG: soft lockup", "rcu: INFO: ...").
std::string_view without_subsystem(std::string_view message) {
  for (std::string_view prefix : {"watchdog: ", "NMI watchdog: ", "rcu: "}) {
    if (starts_with(message, prefix)) return message.substr(prefix.size());
  }
  return message;
}

// ---------------------------------------------------------------------------------------------
// Titles: stable across builds (no offsets, addresses, PIDs)

// "collapse_huge_page.isra.0+0x1c/0x2c0" -> "collapse_huge_page".
std::string strip_offsets(const std::string& text) {
  static const std::regex offsets(
      R"(((\.(isra|constprop|part|cold|llvm)(\.[0-9]+)?)*)\+0x[0-9a-fA-F]+(/0x[0-9a-fA-F]+)?)");
  return std::regex_replace(text, offsets, "");
}

bool is_hex_word(std::string_view s) {
  if (starts_with(s, "0x")) s.remove_prefix(2);
  if (s.size() < 4) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// Cuts a marker line before the parts that change from run to run: addresses, PIDs, CPUs.
std::string cut_volatile(std::string_view text, std::size_t from) {
  std::size_t end = text.size();
  for (std::string_view stop : {": ", ", ", " - ", " [", " for address", " at virtual address",
                                " pfn:", " mm:", " on CPU", " (0x"}) {
    std::size_t pos = text.find(stop, from);
    if (pos != std::string_view::npos) end = std::min(end, pos);
  }
  // " at <hex>" but not " at mm/file.c:12".
  for (std::size_t pos = text.find(" at ", from); pos != std::string_view::npos && pos < end;
       pos = text.find(" at ", pos + 1)) {
    std::string_view word = text.substr(pos + 4);
    word = word.substr(0, word.find(' '));
    if (is_hex_word(word)) {
      end = pos;
      break;
    }
  }
  return std::string(trim_right(text.substr(0, end)));
}

std::string clean_symbol(std::string_view token) {
  std::size_t end = 0;
  while (end < token.size() && (std::isalnum(static_cast<unsigned char>(token[end])) || token[end] == '_' ||
                                token[end] == '.' || token[end] == '$')) {
    ++end;
  }
  std::string symbol(token.substr(0, end));
  static const std::regex suffix(R"((\.(isra|constprop|part|cold|llvm)(\.[0-9]+)?)+$)");
  return std::regex_replace(symbol, suffix, "");
}

// The faulting function of a register dump line: x86 "RIP: 0010:func+0x1c/0x2c0",
// arm64 "pc : func+0x1c/0x2c0", riscv "epc : func+0x1c/0x2c". Empty if the line is not one
// or names no symbol (user-space RIP, raw address).
std::string location_function(std::string_view message) {
  message = trim_left(message);
  std::string_view rest;
  if (starts_with(message, "RIP: ")) {
    rest = message.substr(5);
    const std::size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return {};
    rest.remove_prefix(colon + 1);
  } else if (starts_with(message, "pc : ")) {
    rest = message.substr(5);
  } else if (starts_with(message, "epc : ")) {
    rest = message.substr(6);
  } else {
    return {};
  }
  const std::size_t plus = rest.find("+0x");
  if (plus == std::string_view::npos || plus == 0) return {};
  std::string symbol = clean_symbol(rest.substr(0, plus));
  return symbol.empty() || starts_with(symbol, "0x") ? std::string() : symbol;
}

std::string title_panic(std::string_view m) { return std::string(trim_right(m)); }

std::string title_kernel_bug(std::string_view m) {
  // "kernel BUG at include/linux/swapops.h:511!"
  std::string_view where = m.substr(std::strlen("kernel BUG at "));
  where = where.substr(0, where.find_first_of(" !"));
  return "kernel BUG at " + std::string(where);
}

std::string title_warning(std::string_view m) {
  // "WARNING: CPU: 0 PID: 1 at mm/khugepaged.c:1234 collapse_huge_page+0x1c/0x2c0 [mod]"
  std::size_t at = std::string_view::npos;
  if (starts_with(m, "WARNING: CPU:")) {
    at = m.find(" at ");
    if (at != std::string_view::npos) at += 4;
  } else if (starts_with(m, "WARNING: at ")) {
    at = std::strlen("WARNING: at ");
  }
  if (at == std::string_view::npos) return strip_offsets(std::string(trim_right(m)));
  std::string_view rest = m.substr(at);
  std::string_view where = rest.substr(0, rest.find(' '));
  std::string function;
  if (where.size() < rest.size()) function = clean_symbol(trim_left(rest.substr(where.size())));
  if (starts_with(function, "0x")) function.clear();  // no symbols: an address says nothing stable
  if (is_hex_word(where)) return function.empty() ? "WARNING" : "WARNING in " + function;
  std::string title = "WARNING at " + std::string(where);
  if (!function.empty()) title += " " + function;
  return title;
}

// "BUG: KASAN: slab-use-after-free in f+0x1/0x2" -> "KASAN: slab-use-after-free in f"
std::string title_sanitizer(std::string_view m) {
  if (starts_with(m, "BUG: ")) m.remove_prefix(5);
  return strip_offsets(std::string(trim_right(m)));
}

std::string title_generic_bug(std::string_view m) { return cut_volatile(m, std::strlen("BUG: ")); }

std::string title_gpf(std::string_view) { return "general protection fault"; }
std::string title_invalid_opcode(std::string_view) { return "invalid opcode"; }

std::string title_oops(std::string_view m) {
  // riscv names the trap: "Oops - illegal instruction [#1]"
  if (starts_with(m, "Oops - ")) return cut_volatile(m, std::strlen("Oops - "));
  return "Oops";
}

std::string title_internal_error(std::string_view m) {
  // arm64 "Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP"
  return cut_volatile(m, std::strlen("Internal error: "));
}

std::string title_riscv_bug(std::string_view) { return "Kernel BUG"; }

// "BUG: unable to handle page fault for address: ffffeb0000000008"
std::string title_unable_bug(std::string_view m) { return cut_volatile(m, std::strlen("BUG: ")); }
// "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008"
std::string title_unable(std::string_view m) { return cut_volatile(m, 0); }
// "Unhandled fault: page domain fault (0x01b) at 0x00000000"
std::string title_unhandled(std::string_view m) { return cut_volatile(m, std::strlen("Unhandled fault: ")); }

std::string title_rcu_stall(std::string_view m) {
  // "INFO: rcu_preempt detected stalls on CPUs/tasks:" -> "INFO: rcu_preempt detected stalls"
  const std::size_t stall = m.find("stall");
  std::size_t end = m.find(' ', stall);
  if (end == std::string_view::npos) end = m.size();
  return std::string(trim_right(m.substr(0, end)));
}

std::string title_hung_task(std::string_view m) {
  // "INFO: task khugepaged:35 blocked for more than 122 seconds."
  std::string_view rest = m.substr(std::strlen("INFO: task "));
  std::string_view task = rest.substr(0, rest.find(" blocked for more than"));
  const std::size_t colon = task.rfind(':');
  if (colon != std::string_view::npos) task = task.substr(0, colon);
  return "INFO: task " + std::string(task) + " blocked";
}

std::string fixed_bad_page_state(std::string_view) { return "BUG: Bad page state"; }
std::string fixed_bad_page_map(std::string_view) { return "BUG: Bad page map"; }
std::string fixed_bad_rss(std::string_view) { return "BUG: Bad rss-counter state"; }
std::string fixed_soft_lockup(std::string_view) { return "BUG: soft lockup"; }
std::string fixed_hard_lockup(std::string_view) { return "Watchdog detected hard LOCKUP"; }
std::string fixed_null_deref(std::string_view) { return "BUG: kernel NULL pointer dereference"; }

// ---------------------------------------------------------------------------------------------
// Markers

enum class Role {
  kStart,     // begins a report (or titles a "cut here" one)
  kOops,      // the trap of a report (merged into an open report that has none yet)
  kPanic,     // the end of the kernel: merged into the report it follows, or a report of its own
  kCutHere,   // "------------[ cut here ]------------": a report whose title follows
  kEndTrace,  // "---[ end trace ...]---"
  kEndPanic,  // "---[ end Kernel panic - not syncing: ... ]---"
};

struct Marker {
  std::string_view needle;
  bool anywhere;      // false: the message starts with needle
  std::string_view also;  // when non-empty, the message must contain this too
  Role role;
  const char* kind;
  bool fatal;
  bool wants_location;  // title gains " in <function>" from the register dump
  std::string (*title)(std::string_view message);
  bool single_line = false;  // the kernel prints this report as one line
};

// First match wins: specific forms before general ones.
const Marker kMarkers[] = {
    {"Kernel panic - not syncing", false, "", Role::kPanic, "panic", true, false, title_panic},
    {"---[ end Kernel panic", false, "", Role::kEndPanic, "", false, false, nullptr},
    {"---[ end trace", false, "", Role::kEndTrace, "", false, false, nullptr},
    {"[ cut here ]", true, "", Role::kCutHere, "", false, false, nullptr},
    {"kernel BUG at ", false, "", Role::kStart, "bug", true, false, title_kernel_bug},
    {"BUG: KASAN: ", false, "", Role::kStart, "kasan", false, false, title_sanitizer},
    {"BUG: KFENCE: ", false, "", Role::kStart, "kfence", false, false, title_sanitizer},
    {"BUG: soft lockup", false, "", Role::kStart, "lockup", false, true, fixed_soft_lockup},
    {"Watchdog detected hard LOCKUP", false, "", Role::kStart, "lockup", false, true, fixed_hard_lockup},
    {"BUG: Bad page state", false, "", Role::kStart, "bad-page", false, false, fixed_bad_page_state},
    {"BUG: Bad page map", false, "", Role::kStart, "bad-page", false, false, fixed_bad_page_map},
    {"BUG: Bad rss-counter state", false, "", Role::kStart, "bad-page", false, false, fixed_bad_rss, true},
    {"BUG: kernel NULL pointer dereference", false, "", Role::kStart, "oops", true, true, fixed_null_deref},
    {"BUG: unable to handle ", false, "", Role::kStart, "oops", true, true, title_unable_bug},
    {"BUG: ", false, "", Role::kStart, "bug", false, false, title_generic_bug},
    {"WARNING: ", false, "", Role::kStart, "warning", false, false, title_warning},
    {"UBSAN: ", false, "", Role::kStart, "ubsan", false, false, title_sanitizer},
    {"Oops: general protection fault", false, "", Role::kOops, "oops", true, true, title_gpf},
    {"general protection fault", false, "", Role::kOops, "oops", true, true, title_gpf},
    {"Oops: invalid opcode", false, "", Role::kOops, "oops", true, true, title_invalid_opcode},
    {"invalid opcode:", false, "", Role::kOops, "oops", true, true, title_invalid_opcode},
    {"Oops: ", false, "", Role::kOops, "oops", true, true, title_oops},
    {"Oops [#", false, "", Role::kOops, "oops", true, true, title_oops},
    {"Oops - ", false, "", Role::kOops, "oops", true, true, title_oops},
    {"Internal error: ", false, "", Role::kOops, "oops", true, true, title_internal_error},
    {"Kernel BUG [#", false, "", Role::kOops, "oops", true, true, title_riscv_bug},
    {"Unable to handle kernel ", false, "", Role::kStart, "oops", true, true, title_unable},
    {"Unhandled fault", false, "", Role::kStart, "oops", true, true, title_unhandled},
    {"INFO: rcu_", false, "stall", Role::kStart, "stall", false, true, title_rcu_stall},
    {"INFO: task ", false, " blocked for more than", Role::kStart, "hung-task", false, false, title_hung_task},
};

const Marker* find_marker(std::string_view message) {
  const std::string_view bare = without_subsystem(message);
  for (const Marker& m : kMarkers) {
    const bool hit = m.anywhere ? contains(message, m.needle) : starts_with(bare, m.needle);
    if (hit && (m.also.empty() || contains(bare, m.also))) return &m;
  }
  return nullptr;
}

// A panic whose message says it is the consequence of the report just before it
// ("Fatal exception", "panic_on_warn set", "softlockup: hung tasks", ...).
bool panic_follows_report(std::string_view message) {
  std::string lower(message);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::string_view phrase : {"fatal exception", "panic_on_", "softlockup", "hung_task", "hung task",
                                  "rcu stall", "lockup", "attempted to kill", "killing interrupt handler",
                                  "fatal trap"}) {
    if (contains(lower, phrase)) return true;
  }
  return false;
}

// A stack frame line: " func+0x1c/0x2c0", " ? func+0x..", riscv "[<ffffffff8000a1b2>] func+..".
bool is_frame_line(std::string_view message) {
  return (!message.empty() && message.front() == ' ') || starts_with(message, "[<") || contains(message, "+0x");
}

// Lines that follow a call trace inside the same report: register dumps printed again,
// "Code:", module lists, the panic's trailer.
bool is_trailer_line(std::string_view message) {
  for (std::string_view prefix : {"Modules linked in", "Code:", "Kernel Offset", "Disabling lock debugging",
                                  "note:", "Dumping ftrace", "SMP: stopping", "CPU features", "Memory Limit",
                                  "irq event stamp", "hardirqs last", "softirqs last", "---[ ", "Rebooting in",
                                  "Mem abort info", "Data abort info", "CPU: ", "Hardware name", "Call Trace",
                                  "Call trace"}) {
    if (starts_with(message, prefix)) return true;
  }
  // Register lines: "RIP: 0010:..", "RAX: ..", "R10: ..", "CR2: ..", "FS:  ..", "EFLAGS: .."
  std::size_t n = 0;
  while (n < message.size() && (std::isupper(static_cast<unsigned char>(message[n])) ||
                                std::isdigit(static_cast<unsigned char>(message[n])))) {
    ++n;
  }
  return n >= 2 && n <= 6 && n < message.size() && message[n] == ':';
}

bool is_bracket_open(std::string_view m) {
  return m == "<TASK>" || m == "<IRQ>" || m == "<NMI>" || m == "<SOFTIRQ>";
}

constexpr std::size_t kMaxReportLines = 300;    // a report longer than this is closed
constexpr std::size_t kPanicAttachWindow = 60;  // lines after a report in which a panic joins it
constexpr std::size_t kMaxUntitledLines = 60;   // "cut here" with no title within: dropped

}  // namespace

ConsoleAnalyzer::ConsoleAnalyzer(ConsoleLimits limits) : limits_(limits) {
  partial_.reserve(limits_.max_line_bytes);  // never grows past this: see feed()
}

void ConsoleAnalyzer::feed(std::string_view bytes) {
  if (finished_) return;
  while (!bytes.empty()) {
    const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
    const std::size_t segment =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data()) : bytes.size();
    if (!partial_cut_) {
      const std::size_t room = limits_.max_line_bytes - partial_.size();
      if (segment > room) {
        partial_.append(bytes.data(), room);
        partial_cut_ = true;
      } else {
        partial_.append(bytes.data(), segment);
      }
    }
    if (!nl) break;
    end_line();
    bytes.remove_prefix(segment + 1);
  }
}

void ConsoleAnalyzer::finish() {
  if (finished_) return;
  if (!partial_.empty()) end_line();
  if (open_) close_report();
  finished_ = true;
}

int ConsoleAnalyzer::oom_kills() const { return std::max(killed_process_lines_, oom_kill_lines_); }

namespace {

// Kernel messages that change what a run measured without being a failure report.
constexpr std::string_view kNotices[] = {
    // 7.3 mm/khugepaged.c collapse_max_ptes_none(): mTHP orders take 0 or 511 only.
    "mTHP collapse does not support max_ptes_none",
};

bool is_kernel_notice(std::string_view message) {
  for (auto n : kNotices)
    if (message.find(n) != std::string_view::npos) return true;
  return false;
}

}  // namespace

void ConsoleAnalyzer::end_line() {
  std::string line = sanitize(partial_);
  partial_.clear();
  partial_cut_ = false;
  handle_line(line);
}

void ConsoleAnalyzer::handle_line(const std::string& line) {
  const std::string_view message = message_of(line);
  // With CONFIG_PRINTK_TIME every kernel line carries "[    1.234567]". Once the console has
  // shown that, a line without it was written by user space (the agent, a workload's stderr):
  // it can neither start a report ("WARNING: ..." from a test program) nor be part of one.
  const bool kernel_timestamped = message.data() != line.data();
  if (kernel_timestamped) {
    timestamps_seen_ = true;
  } else if (timestamps_seen_) {
    return;
  }
  ++lines_since_close_;

  // One OOM kill prints both "oom-kill:constraint=..." and "Out of memory: Killed process"
  // (older kernels only the latter): count the kind of line that appears more often.
  if (contains(message, "oom-kill:")) ++oom_kill_lines_;
  if (contains(message, "Killed process") &&
      (contains(message, "Out of memory") || contains(message, "out of memory"))) {
    ++killed_process_lines_;
  }

  if (is_kernel_notice(message) && notices_.size() < limits_.max_notices) {
    std::string text(message.substr(0, limits_.max_excerpt_line_bytes));
    if (std::find(notices_.begin(), notices_.end(), text) == notices_.end()) notices_.push_back(std::move(text));
  }

  const Marker* marker = find_marker(message);
  const int index = marker ? static_cast<int>(marker - kMarkers) : -1;

  if (open_) {
    if (marker) {
      switch (marker->role) {
        case Role::kEndTrace:
        case Role::kEndPanic:
          append(line);
          close_report();
          return;
        case Role::kPanic:
          append(line);
          if (!open_->titled) {
            open_->report.kind = marker->kind;
            open_->report.title = bounded_title(marker->title(without_subsystem(message)));
            open_->titled = true;
          }
          open_->report.fatal = true;
          return;
        case Role::kOops:
          if (!open_->has_oops) {
            append(line);
            open_->has_oops = true;
            open_->report.fatal = true;
            if (!open_->titled) {
              open_->report.kind = marker->kind;
              open_->report.title = bounded_title(marker->title(without_subsystem(message)));
              open_->wants_location = marker->wants_location;
              open_->titled = true;
            }
            return;
          }
          break;
        case Role::kStart:
          if (!open_->titled) {
            append(line);
            open_->report.kind = marker->kind;
            open_->report.fatal = marker->fatal;
            open_->report.title = bounded_title(marker->title(without_subsystem(message)));
            open_->wants_location = marker->wants_location;
            open_->titled = true;
            return;
          }
          break;
        case Role::kCutHere:
          break;
      }
      close_report();  // a new report begins
    } else {
      const std::string_view trimmed = trim_left(message);
      bool belongs = true;
      if (!open_->titled) {
        if (open_->total_lines >= kMaxUntitledLines) {
          open_.reset();  // "cut here" that never turned into a report
          return;
        }
      } else if (starts_with(trimmed, "Call Trace:") || starts_with(trimmed, "Call trace:")) {
        open_->in_call_trace = true;
      } else if (open_->in_call_trace) {
        if (open_->in_bracket) {
          if (starts_with(trimmed, "</")) open_->in_bracket = false;
        } else if (is_bracket_open(trimmed)) {
          open_->in_bracket = true;
        } else if (!is_frame_line(message) && !is_trailer_line(message)) {
          belongs = false;  // the call trace is over and this line is something else
        }
      }
      if (belongs) {
        append(line);
        if (open_ && open_->total_lines >= kMaxReportLines) close_report();
        return;
      }
      close_report();
      return;
    }
  }

  if (!marker) return;
  switch (marker->role) {
    case Role::kEndTrace:
    case Role::kEndPanic:
      return;
    case Role::kPanic:
      if (last_closed_stored_ && !reports_.empty() && lines_since_close_ <= kPanicAttachWindow &&
          panic_follows_report(message)) {
        // "Kernel panic - not syncing: Fatal exception" after an oops: the same failure.
        CrashReport previous = std::move(reports_.back());
        reports_.pop_back();
        OpenReport reopened;
        reopened.titled = true;
        reopened.has_oops = true;
        std::string_view excerpt = previous.excerpt;
        while (!excerpt.empty()) {
          const std::size_t nl = excerpt.find('\n');
          reopened.lines.emplace_back(excerpt.substr(0, nl));
          if (nl == std::string_view::npos) break;
          excerpt.remove_prefix(nl + 1);
        }
        reopened.total_lines = reopened.lines.size();
        reopened.report = std::move(previous);
        reopened.report.excerpt.clear();
        open_ = std::move(reopened);
        append(line);
        open_->report.fatal = true;
        return;
      }
      break;
    default:
      break;
  }
  open_report(line, message, index);
}

void ConsoleAnalyzer::open_report(const std::string& line, std::string_view message, int marker_index) {
  const Marker& marker = kMarkers[marker_index];
  OpenReport report;
  if (marker.role != Role::kCutHere) {
    report.report.kind = marker.kind;
    report.report.fatal = marker.fatal;
    report.report.title = bounded_title(marker.title(without_subsystem(message)));
    report.wants_location = marker.wants_location;
    report.has_oops = marker.role == Role::kOops;
    report.titled = true;
  }
  open_ = std::move(report);
  append(line);
  if (marker.single_line) close_report();
}

void ConsoleAnalyzer::append(const std::string& line) {
  OpenReport& r = *open_;
  ++r.total_lines;
  if (r.lines.size() < limits_.max_excerpt_lines) {
    r.lines.push_back(line.size() > limits_.max_excerpt_line_bytes ? line.substr(0, limits_.max_excerpt_line_bytes)
                                                                   : line);
  }
  if (r.titled && r.wants_location) {
    std::string function = location_function(message_of(line));
    if (!function.empty()) {
      r.report.title = bounded_title(r.report.title + " in " + function);
      r.wants_location = false;
    }
  }
}

void ConsoleAnalyzer::close_report() {
  OpenReport r = std::move(*open_);
  open_.reset();
  lines_since_close_ = 0;
  last_closed_stored_ = false;
  if (!r.titled) {
    // "cut here" ... "end trace" with no recognised marker between: still a kernel report.
    std::string first;
    for (std::size_t i = 1; i < r.lines.size() && first.empty(); ++i) {
      std::string_view m = trim_left(message_of(r.lines[i]));
      if (!m.empty() && !starts_with(m, "---[ ")) first = std::string(m);
    }
    if (r.lines.size() < 2 || !starts_with(message_of(r.lines.back()), "---[ end")) return;
    r.report.kind = "warning";
    r.report.title = bounded_title(first.empty() ? "kernel warning" : "WARNING: " + std::string(trim_right(first)));
  }
  std::string excerpt;
  for (const auto& l : r.lines) {
    if (!excerpt.empty()) excerpt += '\n';
    excerpt += l;
  }
  if (r.total_lines > r.lines.size()) {
    excerpt += "\n[... " + std::to_string(r.total_lines - r.lines.size()) + " more lines]";
  }
  r.report.excerpt = std::move(excerpt);
  store(std::move(r.report));
}

void ConsoleAnalyzer::store(CrashReport report) {
  if (report.fatal) saw_fatal_ = true;
  if (reports_.size() < limits_.max_reports) {
    reports_.push_back(std::move(report));
    last_closed_stored_ = true;
    return;
  }
  ++reports_omitted_;
  const bool have_fatal = std::any_of(reports_.begin(), reports_.end(), [](const CrashReport& r) { return r.fatal; });
  if (report.fatal && !have_fatal && !reports_.empty()) {
    reports_.back() = std::move(report);  // the first fatal report must never be lost
    last_closed_stored_ = true;
  }
}

std::string ConsoleAnalyzer::bounded_title(std::string title) const {
  if (title.size() > limits_.max_title_bytes) title.resize(limits_.max_title_bytes);
  return title;
}

}  // namespace foliolab::collect
