/* Runs the job's steps (docs/protocol.md sections 1-3): for each step a `step-begin`, counter
 * samples before/during/after, the workload as a child in its own process group (optionally in
 * a memcg, with cpu affinity and a memory binding), its stdout turned into `metric` records and
 * a stated reason, its deadline enforced with SIGKILL, a `trace` record and a `step-end`. */
#ifndef FOLIOLAB_AGENT_STEPS_H
#define FOLIOLAB_AGENT_STEPS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#include "job.h"

/* ---- pure parts (unit-tested) ---- */

enum wl_line_kind { WL_OTHER, WL_METRIC, WL_SKIP, WL_FAIL, WL_INTEGRITY };

struct wl_line {
  enum wl_line_kind kind;
  char metric[72];     /* WL_METRIC: name as printed (without the "wl." prefix) */
  char value[72];      /* WL_METRIC: the JSON number literal as printed */
  char unit[40];       /* WL_METRIC: may be empty */
  char reason[512];    /* WL_SKIP / WL_FAIL / WL_INTEGRITY */
};

/* Classifies one stdout line of a workload (protocol section 3). Anything that is not exactly
 * one of the recognised objects is WL_OTHER (forwarded to the console). */
enum wl_line_kind workload_parse_line(const char *line, size_t len, struct wl_line *out);

enum step_status { STEP_OK, STEP_FAILED, STEP_INTEGRITY_FAILED, STEP_SKIPPED, STEP_TIMEOUT };
const char *step_status_name(enum step_status status);

struct step_outcome {
  enum step_status status;
  bool has_exit_code;
  int exit_code;
  bool has_signal;
  int signal;
  char reason[600];
};

/* Maps how the workload ended to a step-end status and reason:
 * exit 0 ok, 1 failed, 3 integrity-failed, 4 skipped, other codes and signals failed,
 * timed_out wins over everything. A workload that exits 0 after printing a fail or integrity
 * line is not reported ok. stated: the skip/fail/integrity line (kind WL_OTHER when none). */
void step_outcome_from(int wait_status, bool timed_out, double deadline_s,
                       const struct wl_line *stated, struct step_outcome *out);

/* Parses a cpu list ("0-1,3"). Returns 0, or -1 when malformed or out of range. */
int parse_cpu_list(const char *text, cpu_set_t *set);

/* A cgroup directory name for a step: [A-Za-z0-9._-] kept, anything else becomes '_'. */
void memcg_dir_name(const char *step, char *out, size_t cap);

/* ---- running ---- */

/* Runs every step in order. Returns the number of steps run. */
int steps_run(const struct job *job);

#endif
