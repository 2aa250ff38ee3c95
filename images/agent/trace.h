/* Tracepoint histograms (docs/protocol.md section 1, `trace`): the job's events are enabled
 * once; during each step trace_pipe is drained without blocking and every line of an event is
 * counted by the value of the job's field ("status=exceed_swap_pte" counts under
 * "exceed_swap_pte"). One `trace` record per (event, field) is emitted at the end of a step. */
#ifndef FOLIOLAB_AGENT_TRACE_H
#define FOLIOLAB_AGENT_TRACE_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"

#define TRACE_MAX_VALUES 128   /* distinct values per histogram; more are counted as lost */
#define TRACE_MAX_VALUE_LEN 64

struct trace_bucket {
  char value[TRACE_MAX_VALUE_LEN];
  long long count;
};

struct trace_histogram {
  const char *event;   /* "huge_memory/mm_khugepaged_scan_pmd" */
  const char *name;    /* "mm_khugepaged_scan_pmd" */
  const char *field;   /* "status" */
  bool enabled;
  struct trace_bucket buckets[TRACE_MAX_VALUES];
  size_t n_buckets;
  long long lost;      /* lines of this event without a usable field, or past TRACE_MAX_VALUES */
  long long ring_lost; /* events the ring buffer dropped, as trace_pipe's "[LOST N EVENTS]" said */
};

/* Pure helpers on one formatted trace line (no trailing newline needed). */
/* True when the line is an event called name ("... 12.345678: <name>: fields"). */
bool trace_line_is_event(const char *line, size_t len, const char *name);
/* Finds "<field>=<value>" as a whole token (after the start, ' ' or ','); the value runs to the
 * next ',' or whitespace. Returns true and sets value and vlen. */
bool trace_line_field(const char *line, size_t len, const char *field, const char **value,
                      size_t *vlen);
/* Recognises "CPU:N [LOST M EVENTS]" (M = 1 when the kernel does not know how many). */
bool trace_line_lost(const char *line, size_t len, long long *lost);
/* The events one CPU's ring buffer dropped, from its per_cpu/cpuN/stats text: "overrun"
 * (overwritten before they were read) plus "dropped events" (refused when full). */
long long trace_stats_dropped(const char *text, size_t len);
/* What a histogram may be short by: its own unusable lines plus the ring buffer's loss. The
 * ring buffer's loss is the larger of the LOST markers and the per-CPU counters (the same
 * event can appear in both; events dropped after the last read appear only in the counters),
 * and is charged to every histogram, since which event was dropped is unknown. */
long long trace_histogram_lost(const struct trace_histogram *h, long long ring_dropped);
/* Counts one line into the matching histograms; a line of no histogram is ignored. */
void trace_count_line(struct trace_histogram *h, size_t n, const char *line, size_t len);
void trace_histogram_reset(struct trace_histogram *h);

/* Enables the job's events; returns the number of error records emitted. */
int trace_setup(const struct job *job);
bool trace_active(void);
/* Clears the ring buffer and the histograms (before a step starts). */
void trace_step_begin(void);
/* Reads whatever trace_pipe holds now, without blocking, and counts it. */
void trace_drain(void);
/* Final drain, then one `trace` record per enabled histogram. */
void trace_step_end(const char *step);

#endif
