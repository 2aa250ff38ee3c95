/* The workload side of docs/protocol.md section 3: metric lines and the single outcome line on
 * stdout, and the exit codes the agent maps to step-end.status.
 *
 * Every line is written and flushed at once, so a workload that is killed at its deadline still
 * delivers what it measured so far, and a fork()ed child never re-emits the parent's buffer.
 * wl_skip/wl_fail/wl_integrity print the outcome line and exit; only the first outcome of a
 * process is printed (a later one is logged to stderr and the first exit code is kept).
 *
 * A data workload (one that called wl_pattern_init) also reports checked_pages, the pages it
 * verified (pattern.h wl_checked_pages), from its main process: just before a fail or
 * integrity outcome line, or at exit when main() returns; not with a skip. No workload has
 * to remember it, and an "ok" always says how many page verifications back it (0 included). */
#ifndef WL_REPORT_H
#define WL_REPORT_H

#include <stdarg.h>

enum {
  WL_EXIT_OK = 0,
  WL_EXIT_FAILED = 1,
  WL_EXIT_INTEGRITY = 3,
  WL_EXIT_SKIPPED = 4,
};

/* Sets the program name used in stderr diagnostics; makes stdout line-buffered; arranges for
 * checked_pages to be reported at exit. */
void wl_report_init(const char *program);

/* {"metric":name,"value":value,"unit":unit}. A non-finite value is not JSON: it is logged to
 * stderr and dropped, so a division by zero never produces a line the host must reject. */
void wl_metric(const char *name, double value, const char *unit);
/* Same with a name built from a format: wl_metricf("ms", 3.0, "fault_p50_us.%ukB", 64). */
void wl_metricf(const char *unit, double value, const char *name_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A plain line on stdout, forwarded by the agent to the console (progress, per-range detail). */
void wl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A diagnostic on stderr (also forwarded to the console). */
void wl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Outcome lines; each exits the process (exit(3) in the main process, so stdio is flushed). */
void wl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void wl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void wl_integrity(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Writes the JSON string escape of text into out (at most cap bytes including the NUL). */
void wl_json_escape(const char *text, char *out, unsigned cap);

#endif
