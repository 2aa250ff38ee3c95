/* The job the host hands to the agent: /job.json, docs/protocol.md section 1.
 * job_parse() validates everything the agent relies on before anything runs: types, required
 * keys, bounds, and that paths stay where they belong (settings under /sys or /proc/sys,
 * workloads absolute). All strings point into the parsed document owned by the job. */
#ifndef FOLIOLAB_AGENT_JOB_H
#define FOLIOLAB_AGENT_JOB_H

#include <stdbool.h>
#include <stddef.h>

#include "json_read.h"

#define JOB_MAX_BYTES (1024 * 1024)
#define JOB_MAX_SETTINGS 256
#define JOB_MAX_STEPS 64
#define JOB_MAX_TRACE 32
#define JOB_MAX_ARGV 256
#define JOB_MAX_MEMCG 16
#define JOB_MAX_NAME 128

struct job_setting {
  const char *name;
  const char *path;
  const char *value;
  bool absent_ok;
  bool rounds_up;   /* numeric knob the kernel rounds up: a read-back >= value matches */
};

struct job_zram {
  bool present;
  long long size;         /* bytes */
  const char *algorithm;  /* NULL: keep the kernel's default */
  int priority;           /* -1: no priority flag */
};

struct job_disk {
  bool present;
  const char *serial;
  int priority;           /* -1: no priority flag */
};

struct job_trace {
  const char *event;      /* "huge_memory/mm_khugepaged_scan_pmd" */
  const char *name;       /* "mm_khugepaged_scan_pmd" (points into event) */
  const char *field;      /* "status" */
};

struct job_memcg_file {
  const char *file;       /* "memory.max" */
  char value[64];         /* as written to the file */
};

struct job_step {
  const char *name;
  const char *workload;
  const char *argv[JOB_MAX_ARGV + 1];  /* NULL-terminated */
  size_t argc;
  double deadline_s;
  bool has_memcg;
  struct job_memcg_file memcg[JOB_MAX_MEMCG];
  size_t n_memcg;
  const char *cpus;       /* affinity list "0-1,3", or NULL */
  int mem_node;           /* -1: no binding */
};

struct job {
  struct json_doc doc;
  long long version;
  const char *job_key;
  long long sample_ms;
  struct job_setting settings[JOB_MAX_SETTINGS];
  size_t n_settings;
  struct job_zram zram;
  struct job_disk disk;
  struct job_trace trace[JOB_MAX_TRACE];
  size_t n_trace;
  struct job_step *steps;  /* n_steps entries, heap */
  size_t n_steps;
};

/* Parses and validates. Returns 0, or -1 with a message naming the offending key
 * ("steps[1].argv[0]: must be an absolute path"). job_free() in both cases. */
int job_parse(struct job *job, const char *text, size_t len, char *err, size_t errlen);
void job_free(struct job *job);

#endif
