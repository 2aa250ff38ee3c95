/* mthp-collapse: for khugepaged's mTHP collapse (the "khugepaged: add mTHP support" series).
 * For each enabled mTHP order N, `ranges_per_order` PMD-sized ranges each get one aligned
 * sub-block of 2^N small pages populated (at a different offset per range), the rest left
 * empty (or, with `hole`, all but its last `hole` pages). After MADV_HUGEPAGE the workload snapshots, at every advance of khugepaged's
 * full_scans, the largest folio order mapped in each range. That history shows "creep": a
 * collapse to order N that makes the range eligible for order N+1 on the next scan, and so on
 * (the series limits max_ptes_none to 0 or 511 for mTHP to prevent exactly that).
 * Kernels without mTHP collapse (6.12: khugepaged collapses to PMD size only) are a skip with
 * that reason, unless require_support=false asks to run anyway as a baseline. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>

#include "wl.h"

static int64_t p_ranges_per_order, p_scans, p_timeout_s, p_seed, p_hole;
static bool p_require_support;

static const struct wl_param params[] = {
    {"ranges_per_order", WL_P_INT, "4", &p_ranges_per_order, 1, 64, NULL,
     "PMD ranges per populated order"},
    {"scans", WL_P_INT, "4", &p_scans, 1, 100, NULL, "full khugepaged scans to follow"},
    {"timeout_s", WL_P_INT, "90", &p_timeout_s, 1, 3600, NULL, "bound on the wait"},
    {"require_support", WL_P_BOOL, "true", &p_require_support, 0, 0, NULL,
     "skip when the kernel has no mTHP collapse (false: run as a baseline anyway)"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern seed (0: from the clock)"},
    {"hole", WL_P_INT, "0", &p_hole, 0, 256, NULL,
     "small pages left empty at the end of each populated block (at most the block less one)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

#define MAX_SCANS 101

/* The series adds per-size collapse statistics (hugepages-<N>kB/stats/collapse_*). */
static bool has_mthp_collapse(uint64_t kb) {
  char path[160];
  snprintf(path, sizeof path, WL_THP_DIR "/hugepages-%" PRIu64 "kB/stats", kb);
  DIR *d = opendir(path);
  if (!d) return false;
  bool found = false;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "collapse", 8) == 0) found = true;
  closedir(d);
  return found;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A note per range (its largest folio order at each snapshot) and the range metrics: how many
 * collapsed, reached or passed their populated order, went to PMD, and how they got there. */
static void report_ranges(const int8_t *history, const unsigned *populated_order, size_t nranges, int nsnap,
                          unsigned pmd_order) {
  size_t collapsed = 0, above = 0, at_order = 0, at_pmd = 0, creep = 0;
  int max_steps = 0;
  double order_sum = 0;
  for (size_t r = 0; r < nranges; ++r) {
    const int8_t *h = history + r * MAX_SCANS;
    int steps = 0;
    char line[512];
    int n = snprintf(line, sizeof line, "range %zu populated order %u: max order by scan", r,
                     populated_order[r]);
    for (int s = 0; s < nsnap; ++s) {
      if (s > 0 && h[s] > h[s - 1]) ++steps;
      n += snprintf(line + n, sizeof line - (size_t)n, " %d", h[s]);
      if ((size_t)n >= sizeof line) break;
    }
    wl_note("%s", line);
    int final = h[nsnap - 1];
    collapsed += final > 0;
    above += final > (int)populated_order[r];
    at_order += final == (int)populated_order[r];
    at_pmd += final == (int)pmd_order;
    creep += steps > 1;
    if (steps > max_steps) max_steps = steps;
    order_sum += final;
  }
  wl_metric("ranges", (double)nranges, "count");
  wl_metric("snapshots", nsnap, "count");
  wl_metric("ranges_collapsed", (double)collapsed, "count");
  wl_metric("ranges_above_populated_order", (double)above, "count");
  wl_metric("ranges_at_populated_order", (double)at_order, "count");
  wl_metric("ranges_pmd", (double)at_pmd, "count");
  wl_metric("creep_ranges", (double)creep, "count");
  wl_metric("max_order_steps", max_steps, "count");
  wl_metric("mean_final_order", order_sum / (double)nranges, "order");
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  const uint64_t pmd = wl_require_thp();
  wl_require_pagemap();
  const size_t ps = wl_page_size();
  const unsigned pmd_order = wl_ilog2(pmd / ps);
  uint64_t full0;
  if (wl_khugepaged("full_scans", &full0))
    wl_skip("no " WL_THP_DIR "/khugepaged/full_scans on this kernel");

  uint64_t sizes[16];
  int nsizes = wl_thp_sizes(sizes, 16);
  unsigned orders[16];
  int norders = 0;
  bool support = false;
  for (int i = 0; i < nsizes; ++i) {
    if (sizes[i] << 10 >= pmd) continue;
    support |= has_mthp_collapse(sizes[i]);
    if (wl_thp_size_enabled(sizes[i], true)) orders[norders++] = wl_ilog2((sizes[i] << 10) / ps);
  }
  if (!support && p_require_support)
    wl_skip("khugepaged mTHP collapse: this kernel has no hugepages-<N>kB/stats/collapse_* "
            "(6.12 khugepaged collapses to PMD size only)");
  if (norders == 0)
    wl_skip("no mTHP size below the PMD size is enabled for MADV_HUGEPAGE regions (settings)");
  uint64_t knob_none = 0;
  wl_khugepaged("max_ptes_none", &knob_none);
  wl_note("mTHP collapse %s; max_ptes_none=%" PRIu64 "; %d enabled mTHP orders",
          support ? "present" : "absent (baseline run)", knob_none, norders);

  const size_t range_pages = (size_t)(pmd / ps);
  const size_t nranges = (size_t)norders * (size_t)p_ranges_per_order;
  const size_t pages = nranges * range_pages;
  char *region = wl_map_aligned(pages * ps, (size_t)pmd);
  uint8_t *expect = calloc(pages, 1);
  unsigned *populated_order = calloc(nranges, sizeof(unsigned));
  int8_t *history = calloc(nranges * MAX_SCANS, 1); /* max order per range per snapshot */
  int8_t *page_orders = malloc(range_pages);
  if (!expect || !populated_order || !history || !page_orders) wl_fail("out of memory");
  struct wl_pattern pat;
  wl_pattern_init(&pat, ps, (uint64_t)p_seed);

  wl_thp_disable(true);
  for (size_t r = 0; r < nranges; ++r) {
    unsigned order = orders[r / (size_t)p_ranges_per_order];
    size_t block = (size_t)1 << order;
    size_t slots = range_pages / block;
    size_t first = r * range_pages + (r % slots) * block; /* a different aligned slot per range */
    /* A hole keeps the block from collapsing to its own order at max_ptes_none 0. */
    size_t hole = (size_t)p_hole < block ? (size_t)p_hole : block - 1;
    populated_order[r] = order;
    wl_fill_pages(&pat, region + first * ps, first, block - hole, 1);
    memset(expect + first, 1, block - hole);
  }
  wl_thp_disable(false);

  int nsnap = 0;
  const int max_snap = (int)(p_scans + 1 < MAX_SCANS ? p_scans + 1 : MAX_SCANS);
  uint64_t last_full = full0, full = full0;
  uint64_t t0 = wl_now_ns();
  int rc = wl_madvise(region, pages * ps, MADV_HUGEPAGE);
  if (rc) wl_fail("MADV_HUGEPAGE: %s", strerror(-rc));
  bool timed_out = false;
  /* Snapshot 0 now (nothing collapsed yet), then one per full_scans advance. */
  for (;;) {
    if (nsnap == 0 || full != last_full) {
      for (size_t r = 0; r < nranges; ++r) {
        rc = wl_page_orders(region + r * range_pages * ps, range_pages, page_orders);
        if (rc) wl_fail("pagemap: %s", strerror(-rc));
        int8_t best = 0;
        for (size_t i = 0; i < range_pages; ++i)
          if (page_orders[i] > best) best = page_orders[i];
        history[r * MAX_SCANS + (size_t)nsnap] = best;
      }
      ++nsnap;
      last_full = full;
      if (nsnap >= max_snap) break;
    }
    if (wl_now_ns() - t0 > (uint64_t)p_timeout_s * 1000000000ull) {
      timed_out = true;
      break;
    }
    sleep_ms(20);
    wl_khugepaged("full_scans", &full);
  }

  report_ranges(history, populated_order, nranges, nsnap, pmd_order);
  wl_metric("full_scans", (double)(full - full0), "count");

  struct wl_mismatch m;
  if (wl_verify_pages(&pat, region, 0, pages, expect, 0, &m))
    wl_integrity("%zu of %zu pages differ after the scans; first: %s", m.bad_pages, m.checked_pages,
                 m.why);
  if (timed_out)
    wl_fail("khugepaged advanced full_scans by %" PRIu64 " of %" PRId64 " in %" PRId64 " s",
            full - full0, p_scans, p_timeout_s);
  return WL_EXIT_OK;
}
