#include "report.h"

#include "pattern.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_program = "workload";
static pid_t g_main_pid;
static int g_checked_reported;

static void emit_metric(const char *name, double value, const char *unit);

/* checked_pages, once, from the main process of a data workload (one that made a pattern):
 * before its outcome line, or at exit when main() returns. */
static void report_checked_pages(void) {
  uint64_t n;
  if (g_checked_reported || getpid() != g_main_pid) return;
  g_checked_reported = 1;
  if (wl_checked_pages(&n)) emit_metric("checked_pages", (double)n, "pages");
}

void wl_report_init(const char *program) {
  static int registered;
  const char *slash = strrchr(program, '/');
  g_program = slash ? slash + 1 : program;
  g_main_pid = getpid();
  g_checked_reported = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!registered && atexit(report_checked_pages) == 0) registered = 1;
}

void wl_json_escape(const char *text, char *out, unsigned cap) {
  unsigned n = 0;
  if (cap == 0) return;
  for (const unsigned char *p = (const unsigned char *)text; *p; ++p) {
    char buf[8];
    const char *piece = buf;
    switch (*p) {
      case '"': piece = "\\\""; break;
      case '\\': piece = "\\\\"; break;
      case '\n': piece = "\\n"; break;
      case '\t': piece = "\\t"; break;
      case '\r': piece = "\\r"; break;
      default:
        if (*p < 0x20 || *p == 0x7f) {
          snprintf(buf, sizeof buf, "\\u%04x", *p);
        } else {
          buf[0] = (char)*p;
          buf[1] = 0;
        }
    }
    size_t len = strlen(piece);
    if (n + len + 1 > cap) break;
    memcpy(out + n, piece, len);
    n += (unsigned)len;
  }
  out[n] = 0;
}

static void emit_metric(const char *name, double value, const char *unit) {
  char ename[256], eunit[64];
  if (value != value || value > 1e300 || value < -1e300) {
    wl_log("metric %s is not finite (%g): dropped", name, value);
    return;
  }
  wl_json_escape(name, ename, sizeof ename);
  wl_json_escape(unit, eunit, sizeof eunit);
  /* Integers print exactly (counts, bytes); everything else with 9 significant digits. */
  /* No libm in the static guest link: integer test by round trip through int64. */
  if (value > -9007199254740992.0 && value < 9007199254740992.0 &&
      value == (double)(int64_t)value)
    printf("{\"metric\":\"%s\",\"value\":%.0f,\"unit\":\"%s\"}\n", ename, value, eunit);
  else
    printf("{\"metric\":\"%s\",\"value\":%.9g,\"unit\":\"%s\"}\n", ename, value, eunit);
  fflush(stdout);
}

void wl_metric(const char *name, double value, const char *unit) { emit_metric(name, value, unit); }

void wl_metricf(const char *unit, double value, const char *name_fmt, ...) {
  char name[256];
  va_list ap;
  va_start(ap, name_fmt);
  vsnprintf(name, sizeof name, name_fmt, ap);
  va_end(ap);
  emit_metric(name, value, unit);
}

void wl_note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

void wl_log(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", g_program);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
}

__attribute__((noreturn)) static void outcome(const char *key, int code, const char *fmt,
                                               va_list ap) {
  char reason[1024], escaped[2048];
  vsnprintf(reason, sizeof reason, fmt, ap);
  if (getpid() != g_main_pid) {
    /* A child of the workload: the parent owns the outcome line; it learns ours from the
     * exit code and this stderr line. */
    fprintf(stderr, "%s[child %d]: %s: %s\n", g_program, (int)getpid(), key, reason);
    fflush(stderr);
    _exit(code);
  }
  /* A skipped step verified nothing worth counting; every other outcome says how many pages
   * were verified before it. */
  if (code == WL_EXIT_SKIPPED) g_checked_reported = 1;
  report_checked_pages();
  wl_json_escape(reason, escaped, sizeof escaped);
  printf("{\"%s\":\"%s\"}\n", key, escaped);
  fflush(stdout);
  fprintf(stderr, "%s: %s: %s\n", g_program, key, reason);
  exit(code);
}

void wl_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  outcome("skip", WL_EXIT_SKIPPED, fmt, ap);
  va_end(ap);
}

void wl_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  outcome("fail", WL_EXIT_FAILED, fmt, ap);
  va_end(ap);
}

void wl_integrity(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  outcome("integrity", WL_EXIT_INTEGRITY, fmt, ap);
  va_end(ap);
}
