/* memcg-pressure: a working set larger than the step's memory.max, accessed in passes
 * (sequential or random page order); every touch verifies the page's current generation and
 * writes the next, so every page is dirty again and must be swapped out again under the limit.
 * Reports throughput per pass, major faults, and the memory cgroup's own reclaim and THP swap
 * counters (memory.stat, memory.events); the agent's /proc/vmstat samples give pswpin/pswpout
 * and the THP splits. The suite sets the limit (memcg: {max: ...}); size=0 picks 1.5x it.
 * Where the runner cannot give the step a cgroup (foliolab boot), memory_max=<bytes> makes the
 * workload create its own child cgroup with that limit (memory.swap.max unlimited), move into
 * it, and remove it at the end. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wl.h"

static uint64_t p_size, p_memory_max;
static const char *p_access;
static int64_t p_passes, p_seed;
static bool p_thp;

static const char *const accesses[] = {"sequential", "random", NULL};

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "0", &p_size, 0, 1024.0 * 1024 * 1024, NULL,
     "working set (0: 1.5x the cgroup's memory.max)"},
    {"memory_max", WL_P_SIZE, "0", &p_memory_max, 0, 1024.0 * 1024 * 1024, NULL,
     "0: use the step's cgroup limit; else create a child cgroup with this memory.max"},
    {"access", WL_P_ENUM, "sequential", &p_access, 0, 0, accesses, "page order of each pass"},
    {"passes", WL_P_INT, "3", &p_passes, 1, 100, NULL, "verify-and-rewrite passes over the set"},
    {"thp", WL_P_BOOL, "true", &p_thp, 0, 0, NULL, "MADV_HUGEPAGE on the working set"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern and order seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

static const char *const memcg_events[] = {"pgscan_direct", "pgsteal_direct", "pgmajfault",
                                           "thp_fault_alloc", "thp_swpout", "thp_swpout_fallback",
                                           "swpout_zero", NULL};

static char g_own_cgroup[384];

/* Creates <current cgroup>/foliolab-memcg-pressure-<pid> with memory.max = limit and moves this
 * process into it. Only from a cgroup without other processes' controllers in the way (the
 * root cgroup, where the agent runs steps without memcg). */
static void enter_own_cgroup(uint64_t limit) {
  char dir[256], path[512], text[64];
  if (wl_memcg_dir(dir, sizeof dir))
    wl_skip("no cgroup v2 membership in /proc/self/cgroup (CONFIG_MEMCG / cgroup2 not mounted)");
  snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
  int rc = wl_write_text(path, "+memory");
  if (rc) wl_fail("enable the memory controller in %s: %s", path, strerror(-rc));
  snprintf(g_own_cgroup, sizeof g_own_cgroup, "%s/foliolab-memcg-pressure-%d", dir, (int)getpid());
  if (mkdir(g_own_cgroup, 0755) && errno != EEXIST) wl_fail("mkdir %s: %s", g_own_cgroup, strerror(errno));
  snprintf(path, sizeof path, "%s/memory.max", g_own_cgroup);
  snprintf(text, sizeof text, "%" PRIu64, limit);
  if ((rc = wl_write_text(path, text))) wl_fail("write %s: %s", path, strerror(-rc));
  snprintf(path, sizeof path, "%s/memory.swap.max", g_own_cgroup);
  wl_write_text(path, "max"); /* absent without swap accounting: fine */
  snprintf(path, sizeof path, "%s/cgroup.procs", g_own_cgroup);
  snprintf(text, sizeof text, "%d", (int)getpid());
  if ((rc = wl_write_text(path, text))) wl_fail("move into %s: %s", g_own_cgroup, strerror(-rc));
}

static void leave_own_cgroup(void) {
  if (!g_own_cgroup[0]) return;
  char parent[384], path[512], text[32];
  snprintf(parent, sizeof parent, "%s", g_own_cgroup);
  char *slash = strrchr(parent, '/');
  if (slash) *slash = 0;
  snprintf(path, sizeof path, "%s/cgroup.procs", parent);
  snprintf(text, sizeof text, "%d", (int)getpid());
  if (wl_write_text(path, text) == 0) rmdir(g_own_cgroup);
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  char text[64], dir[256];
  if (p_memory_max) enter_own_cgroup(p_memory_max);
  if (wl_memcg_dir(dir, sizeof dir))
    wl_skip("no cgroup v2 membership in /proc/self/cgroup (CONFIG_MEMCG / cgroup2 not mounted)");
  if (wl_memcg_read("memory.max", text, sizeof text))
    wl_skip("%s has no memory.max (the suite sets memcg: {max: ...} for this workload)", dir);
  if (strcmp(text, "max") == 0)
    wl_skip("%s/memory.max is 'max': no limit to press against (the suite sets memcg: {max: ...})", dir);
  const uint64_t limit = strtoull(text, NULL, 10);
  struct wl_swapdev dev;
  wl_require_swap("any", &dev);
  wl_require_pagemap();

  const size_t ps = wl_page_size();
  uint64_t size = p_size ? p_size : limit / 2 * 3;
  size = size / ps * ps;
  if (size <= limit)
    wl_note("warning: working set %" PRIu64 " bytes fits in memory.max %" PRIu64 ": no pressure",
            size, limit);
  const size_t pages = (size_t)(size / ps);
  const uint64_t pmd = wl_thp_present() ? wl_pmd_size() : 0;
  char *region = wl_map_aligned(size, pmd ? (size_t)pmd : ps);
  if (p_thp && pmd) {
    int rc = wl_madvise(region, size, MADV_HUGEPAGE);
    if (rc) wl_fail("MADV_HUGEPAGE: %s", strerror(-rc));
  }
  wl_note("working set %" PRIu64 " MiB against memory.max %" PRIu64 " MiB, swap on %s",
          size >> 20, limit >> 20, dev.path);

  uint64_t before[8] = {0};
  for (int i = 0; memcg_events[i]; ++i) wl_memcg_keyed("memory.stat", memcg_events[i], &before[i]);
  uint64_t max_events0 = 0, oom0 = 0;
  wl_memcg_keyed("memory.events", "max", &max_events0);
  wl_memcg_keyed("memory.events", "oom", &oom0);

  struct wl_pattern pat;
  wl_pattern_init(&pat, ps, (uint64_t)p_seed);
  uint64_t rng = p_seed ? (uint64_t)p_seed : wl_now_ns();
  size_t *order = malloc(pages * sizeof(size_t));
  if (!order) wl_fail("out of memory");

  uint64_t t = wl_now_ns();
  wl_fill_pages(&pat, region, 0, pages, 1);
  const double mib = (double)size / (1024.0 * 1024.0);
  wl_metric("fill_mib_s", mib / ((double)(wl_now_ns() - t) / 1e9), "MiB/s");

  uint64_t minor0, major0, minor1, major1;
  wl_thread_faults(&minor0, &major0);
  double rates[100], min_rate = 0; /* p_passes <= 100 (its descriptor's bound) */
  for (int64_t pass = 0; pass < p_passes; ++pass) {
    const unsigned gen = (unsigned)(pass + 1);
    for (size_t i = 0; i < pages; ++i) order[i] = i;
    if (strcmp(p_access, "random") == 0) wl_shuffle(order, pages, &rng);
    t = wl_now_ns();
    for (size_t k = 0; k < pages; ++k) {
      size_t i = order[k];
      char *page = region + i * ps;
      char why[256];
      if (wl_check_page(&pat, page, i, gen, why, sizeof why))
        wl_integrity("pass %" PRId64 ": %s", pass + 1, why);
      wl_fill_page(&pat, page, i, gen + 1);
    }
    double rate = mib / ((double)(wl_now_ns() - t) / 1e9);
    if (pass < 100) rates[pass] = rate;
    if (pass == 0 || rate < min_rate) min_rate = rate;
    wl_note("pass %" PRId64 ": %.1f MiB/s", pass + 1, rate);
  }
  wl_thread_faults(&minor1, &major1);
  struct wl_mismatch m;
  if (wl_verify_pages(&pat, region, 0, pages, NULL, (unsigned)p_passes + 1, &m))
    wl_integrity("final check: %zu pages differ; first: %s", m.bad_pages, m.why);

  wl_metric("working_set_mib", mib, "MiB");
  wl_metric("memory_max_mib", (double)limit / (1024.0 * 1024.0), "MiB");
  wl_metric("throughput_mib_s", wl_equal_work_rate(rates, (size_t)(p_passes < 100 ? p_passes : 100)), "MiB/s");
  wl_metric("pass_min_mib_s", min_rate, "MiB/s");
  wl_metric("major_faults", (double)(major1 - major0), "count");
  wl_metric("minor_faults", (double)(minor1 - minor0), "count");
  for (int i = 0; memcg_events[i]; ++i) {
    uint64_t after;
    if (wl_memcg_keyed("memory.stat", memcg_events[i], &after) == 0)
      wl_metricf("count", (double)(after - before[i]), "memcg_%s", memcg_events[i]);
  }
  uint64_t max_events1 = 0, oom1 = 0, swap_current = 0;
  wl_memcg_keyed("memory.events", "max", &max_events1);
  wl_memcg_keyed("memory.events", "oom", &oom1);
  wl_metric("memcg_max_events", (double)(max_events1 - max_events0), "count");
  wl_metric("memcg_oom_events", (double)(oom1 - oom0), "count");
  if (wl_memcg_read("memory.swap.current", text, sizeof text) == 0) {
    swap_current = strtoull(text, NULL, 10);
    wl_metric("memcg_swap_mib", (double)swap_current / (1024.0 * 1024.0), "MiB");
  }
  munmap(region, size);
  leave_own_cgroup();
  return WL_EXIT_OK;
}
