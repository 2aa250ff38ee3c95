/* khugepaged-collapse: PMD-sized ranges populated with small pages at a fill ratio and
 * pattern, then MADV_HUGEPAGE, then a bounded wait for khugepaged's full_scans to advance by
 * `scans`; reports the fraction of ranges collapsed into PMD THPs and when they collapsed.
 *
 * Cases, each exercising one khugepaged limit (the suite sets the knob values):
 *   none    (max_ptes_none) the unpopulated pages of each range are none PTEs;
 *   swap    (max_ptes_swap) additionally `fraction` of the populated pages are swapped out
 *           (MADV_PAGEOUT) before the wait: swap PTEs, swapped back in by a collapse;
 *   shared  (max_ptes_shared) the region is shared with a forked child; the parent rewrites
 *           all but `fraction` of the populated pages (COW), so that fraction stays shared.
 * Pages are populated while PR_SET_THP_DISABLE is set, so they are small whatever the THP
 * knobs say. Every page is verified at the end (never-populated pages must read as zeros), and
 * in the shared case the child verifies its own copy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

static uint64_t p_size;
static double p_fill, p_fraction;
static const char *p_pattern, *p_case;
static int64_t p_scans, p_timeout_s, p_seed;

static const char *const patterns[] = {"contiguous", "strided", "random", NULL};
static const char *const cases[] = {"none", "swap", "shared", NULL};

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "16M", &p_size, 2 << 20, 1024.0 * 1024 * 1024, NULL,
     "region size (a multiple of the PMD size)"},
    {"fill", WL_P_FLOAT, "1.0", &p_fill, 0, 1, NULL, "fraction of each range's pages populated"},
    {"pattern", WL_P_ENUM, "contiguous", &p_pattern, 0, 0, patterns,
     "which pages of a range are populated"},
    {"case", WL_P_ENUM, "none", &p_case, 0, 0, cases,
     "which khugepaged limit is exercised: none (max_ptes_none), swap (max_ptes_swap), shared "
     "(max_ptes_shared)"},
    {"fraction", WL_P_FLOAT, "0.1", &p_fraction, 0, 1, NULL,
     "case swap: populated pages swapped out; case shared: populated pages left shared"},
    {"scans", WL_P_INT, "2", &p_scans, 1, 100, NULL, "full khugepaged scans to wait for"},
    {"timeout_s", WL_P_INT, "60", &p_timeout_s, 1, 3600, NULL, "bound on the wait"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern and selection seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  const uint64_t pmd = wl_require_thp();
  wl_require_pagemap();
  wl_require_madvise(MADV_HUGEPAGE, "MADV_HUGEPAGE");
  uint64_t full_scans0;
  if (wl_khugepaged("full_scans", &full_scans0))
    wl_skip("no " WL_THP_DIR "/khugepaged/full_scans on this kernel");
  if (!wl_thp_size_enabled(pmd >> 10, true))
    wl_skip("PMD-size THP is disabled for MADV_HUGEPAGE regions: khugepaged does not run "
            "(set thp enabled to always or madvise)");
  uint64_t knob_none = 0, knob_swap = 0, knob_shared = 0, sleep_ms_knob = 0, to_scan = 0;
  wl_khugepaged("max_ptes_none", &knob_none);
  wl_khugepaged("max_ptes_swap", &knob_swap);
  wl_khugepaged("max_ptes_shared", &knob_shared);
  wl_khugepaged("scan_sleep_millisecs", &sleep_ms_knob);
  wl_khugepaged("pages_to_scan", &to_scan);
  wl_note("khugepaged: max_ptes_none=%" PRIu64 " max_ptes_swap=%" PRIu64 " max_ptes_shared=%" PRIu64
          " scan_sleep_millisecs=%" PRIu64 " pages_to_scan=%" PRIu64,
          knob_none, knob_swap, knob_shared, sleep_ms_knob, to_scan);
  if (sleep_ms_knob * (uint64_t)p_scans > (uint64_t)p_timeout_s * 1000)
    wl_note("warning: %" PRId64 " scans at scan_sleep_millisecs=%" PRIu64 " may not fit in %" PRId64
            " s", p_scans, sleep_ms_knob, p_timeout_s);

  struct wl_shape_spec spec = {.size = p_size, .range = pmd, .fill = p_fill,
                               .fraction = p_fraction, .seed = (uint64_t)p_seed};
  wl_fill_pattern_from(p_pattern, &spec.pattern);
  wl_shape_case_from(p_case, &spec.kind);
  struct wl_shape shape;
  wl_shape_build(&shape, &spec);
  char *const region = shape.region;
  const size_t nranges = shape.nranges, pages = shape.pages, ps = shape.ps;

  /* Hand the region to khugepaged and wait for the scans. */
  uint8_t *collapsed = calloc(nranges, 1);
  int rc = wl_khugepaged("full_scans", &full_scans0);
  if (rc) wl_fail("khugepaged/full_scans: %s", strerror(-rc));
  const uint64_t t0 = wl_now_ns();
  rc = wl_madvise(region, pages * ps, MADV_HUGEPAGE);
  if (rc) wl_fail("MADV_HUGEPAGE: %s", strerror(-rc));
  long ncollapsed = 0;
  uint64_t t_first = 0, t_last = 0, full_scans = full_scans0;
  bool timed_out = false;
  for (;;) {
    sleep_ms(20);
    wl_khugepaged("full_scans", &full_scans);
    long now_collapsed = wl_count_huge_ranges(region, nranges, (size_t)pmd, collapsed);
    if (now_collapsed < 0) wl_fail("pagemap: %s", strerror((int)-now_collapsed));
    uint64_t t = wl_now_ns() - t0;
    if (now_collapsed > ncollapsed) {
      if (!t_first) t_first = t;
      t_last = t;
    }
    ncollapsed = now_collapsed;
    /* Always the full `scans`, even once every range is collapsed: a kernel that splits or
     * re-scans a collapsed range would otherwise go unseen. */
    if (full_scans >= full_scans0 + (uint64_t)p_scans) break;
    if (t > (uint64_t)p_timeout_s * 1000000000ull) {
      timed_out = true;
      break;
    }
  }
  const uint64_t wait_ns = wl_now_ns() - t0;

  struct wl_census census;
  rc = wl_census_range(region, pages, &census);
  if (rc) wl_fail("pagemap census: %s", strerror(-rc));

  wl_metric("ranges", (double)nranges, "count");
  wl_metric("collapsed_fraction", (double)ncollapsed / (double)nranges, "ratio");
  wl_metric("huge_fraction", (double)census.large / (double)pages, "ratio");
  wl_metric("full_scans", (double)(full_scans - full_scans0), "count");
  wl_metric("scan_wait_ms", (double)wait_ns / 1e6, "ms");
  if (ncollapsed > 0) {
    wl_metric("time_to_first_collapse_ms", (double)t_first / 1e6, "ms");
    wl_metric("time_to_collapse_ms", (double)t_last / 1e6, "ms");
  }
  wl_note("collapsed %ld of %zu ranges; %" PRIu64 " full scans in %.0f ms", ncollapsed, nranges,
          full_scans - full_scans0, (double)wait_ns / 1e6);

  wl_shape_verify(&shape, "after the khugepaged wait");
  if (timed_out)
    wl_fail("khugepaged advanced full_scans by %" PRIu64 " of %" PRId64 " in %" PRId64
            " s (scan_sleep_millisecs=%" PRIu64 ")",
            full_scans - full_scans0, p_scans, p_timeout_s, sleep_ms_knob);
  return WL_EXIT_OK;
}
