/* khugepaged-collapse: PMD-sized ranges populated with small pages at a fill ratio and
 * pattern, then MADV_HUGEPAGE, then a bounded wait for khugepaged's full_scans to advance by
 * `scans`; reports the fraction of ranges collapsed into PMD THPs and when they collapsed.
 *
 * Cases, each exercising one khugepaged limit (the suite sets the knob values):
 *   max_ptes_none    the unpopulated pages of each range are none PTEs;
 *   max_ptes_swap    additionally `fraction` of the populated pages are swapped out
 *                    (MADV_PAGEOUT) before the wait: swap PTEs, swapped back in by a collapse;
 *   max_ptes_shared  the region is shared with a forked child; the parent rewrites all but
 *                    `fraction` of the populated pages (COW), so that fraction stays shared.
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
static const char *const cases[] = {"max_ptes_none", "max_ptes_swap", "max_ptes_shared", NULL};

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "16M", &p_size, 2 << 20, 1024.0 * 1024 * 1024, NULL,
     "region size (a multiple of the PMD size)"},
    {"fill", WL_P_FLOAT, "1.0", &p_fill, 0, 1, NULL, "fraction of each range's pages populated"},
    {"pattern", WL_P_ENUM, "contiguous", &p_pattern, 0, 0, patterns,
     "which pages of a range are populated"},
    {"case", WL_P_ENUM, "max_ptes_none", &p_case, 0, 0, cases, "which khugepaged limit is exercised"},
    {"fraction", WL_P_FLOAT, "0.1", &p_fraction, 0, 1, NULL,
     "max_ptes_swap: populated pages swapped out; max_ptes_shared: populated pages left shared"},
    {"scans", WL_P_INT, "2", &p_scans, 1, 100, NULL, "full khugepaged scans to wait for"},
    {"timeout_s", WL_P_INT, "60", &p_timeout_s, 1, 3600, NULL, "bound on the wait"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern and selection seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* MADV_PAGEOUT of every selected page, in runs of consecutive pages. */
static void pageout_selected(char *base, const uint8_t *sel, size_t n, size_t ps) {
  for (size_t i = 0; i < n;) {
    if (!sel[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && sel[j]) ++j;
    int rc = wl_madvise(base + i * ps, (j - i) * ps, MADV_PAGEOUT);
    if (rc) wl_fail("MADV_PAGEOUT: %s", strerror(-rc));
    i = j;
  }
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
  const bool swap_case = strcmp(p_case, "max_ptes_swap") == 0;
  const bool shared_case = strcmp(p_case, "max_ptes_shared") == 0;
  struct wl_swapdev swapdev;
  if (swap_case) wl_require_swap("any", &swapdev);

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

  const size_t ps = wl_page_size();
  const size_t range_pages = (size_t)(pmd / ps);
  const size_t nranges = (size_t)(p_size / pmd) ? (size_t)(p_size / pmd) : 1;
  const size_t pages = nranges * range_pages;
  enum wl_fill_pattern pattern;
  wl_fill_pattern_from(p_pattern, &pattern);
  uint64_t rng = p_seed ? (uint64_t)p_seed : wl_now_ns();
  struct wl_pattern pat;
  wl_pattern_init(&pat, ps, (uint64_t)p_seed);

  char *region = wl_map_aligned(pages * ps, (size_t)pmd);
  uint8_t *expect = calloc(pages, 1);
  uint8_t *sel = calloc(range_pages, 1);
  uint8_t *sub = calloc(pages, 1); /* pages swapped out / left shared */
  if (!expect || !sel || !sub) wl_fail("out of memory for page bookkeeping");

  /* Populate with small pages only. */
  wl_thp_disable(true);
  size_t populated = 0;
  for (size_t r = 0; r < nranges; ++r) {
    wl_select_pages(pattern, p_fill, range_pages, sel, &rng);
    for (size_t i = 0; i < range_pages; ++i) {
      if (!sel[i]) continue;
      size_t page = r * range_pages + i;
      wl_fill_page(&pat, region + page * ps, page, 1);
      expect[page] = 1;
      ++populated;
    }
  }
  /* The subset for the swap/shared cases: `fraction` of each range's populated pages,
   * evenly strided over them. */
  size_t subset = 0;
  if (swap_case || shared_case) {
    for (size_t r = 0; r < nranges; ++r) {
      size_t count = 0;
      for (size_t i = 0; i < range_pages; ++i) count += expect[r * range_pages + i] != 0;
      size_t want = (size_t)(p_fraction * (double)count + 0.5), k = 0;
      for (size_t i = 0; i < range_pages; ++i) {
        size_t page = r * range_pages + i;
        if (!expect[page]) continue;
        if (count && (k + 1) * want / count > k * want / count) {
          sub[page] = 1;
          ++subset;
        }
        ++k;
      }
    }
  }

  pid_t child = -1;
  int child_pipe[2] = {-1, -1};
  if (swap_case) {
    pageout_selected(region, sub, pages, ps);
    uint64_t *pm = malloc(pages * sizeof(uint64_t));
    if (!pm) wl_fail("out of memory");
    int rc = wl_pagemap_read(region, pages, pm);
    if (rc) wl_fail("pagemap: %s", strerror(-rc));
    size_t swapped = 0;
    for (size_t i = 0; i < pages; ++i) swapped += sub[i] && (pm[i] & WL_PM_SWAP);
    free(pm);
    wl_metric("swapped_pages", (double)swapped, "pages");
    wl_note("swap case: %zu of %zu selected pages swapped out to %s", swapped, subset, swapdev.path);
    if (subset && swapped == 0) wl_fail("MADV_PAGEOUT swapped out none of %zu pages", subset);
  } else if (shared_case) {
    if (pipe(child_pipe)) wl_fail("pipe: %s", strerror(errno));
    fflush(stdout);
    child = fork();
    if (child < 0) wl_fail("fork: %s", strerror(errno));
    if (child == 0) {
      /* The child keeps the original pages mapped (shared) until the parent is done, then
       * verifies its own copy: generation 1 everywhere it was populated. */
      close(child_pipe[1]);
      char c;
      while (read(child_pipe[0], &c, 1) < 0 && errno == EINTR) {}
      for (size_t i = 0; i < pages; ++i) expect[i] = expect[i] ? 1 : WL_GEN_ZERO;
      struct wl_mismatch m;
      if (wl_verify_pages(&pat, region, 0, pages, expect, 0, &m))
        wl_integrity("child copy: %zu pages differ; first: %s", m.bad_pages, m.why);
      _exit(0);
    }
    close(child_pipe[0]);
    /* Break COW on the populated pages outside the shared subset. */
    for (size_t i = 0; i < pages; ++i) {
      if (!expect[i] || sub[i]) continue;
      wl_fill_page(&pat, region + i * ps, i, 2);
      expect[i] = 2;
    }
    wl_metric("shared_pages", (double)subset, "pages");
  }
  wl_thp_disable(false);

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
    if (full_scans >= full_scans0 + (uint64_t)p_scans) break;
    if ((size_t)ncollapsed == nranges) break; /* nothing left to collapse */
    if (t > (uint64_t)p_timeout_s * 1000000000ull) {
      timed_out = true;
      break;
    }
  }
  const uint64_t wait_ns = wl_now_ns() - t0;

  struct wl_census census;
  rc = wl_census(region, pages, &census);
  if (rc) wl_fail("pagemap census: %s", strerror(-rc));

  wl_metric("ranges", (double)nranges, "count");
  wl_metric("populated_fraction", (double)populated / (double)pages, "ratio");
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

  /* Every page: what was written, zeros where nothing was (a collapse fills holes with zeros). */
  struct wl_mismatch m;
  if (wl_verify_pages(&pat, region, 0, pages, expect, 0, &m))
    wl_integrity("%zu of %zu pages differ after the wait; first: %s", m.bad_pages, m.checked_pages,
                 m.why);
  if (child > 0) {
    close(child_pipe[1]);
    int code = wl_wait_child(child);
    if (code == WL_EXIT_INTEGRITY) wl_integrity("the forked child's copy differs (see its stderr)");
    if (code != 0) wl_fail("the forked child ended with code %d", code);
  }
  if (timed_out)
    wl_fail("khugepaged advanced full_scans by %" PRIu64 " of %" PRId64 " in %" PRId64
            " s (scan_sleep_millisecs=%" PRIu64 ")",
            full_scans - full_scans0, p_scans, p_timeout_s, sleep_ms_knob);
  return WL_EXIT_OK;
}
