/* madvise-collapse: MADV_COLLAPSE over the shapes of khugepaged-collapse (fill ratio, pattern,
 * and the none / swap / shared cases; see lib/shape.h), one call per PMD-sized range. Reports
 * the fraction of calls that succeeded, the fraction of ranges that ended PMD-mapped, the call
 * latency and the errno of each failure (MADV_COLLAPSE maps its scan result to ENOMEM, EBUSY,
 * EAGAIN or EINVAL). The khugepaged max_ptes_* limits do not apply to MADV_COLLAPSE, so the
 * cases show what the synchronous path does with holes, swap entries and shared pages.
 * The region has no MADV_HUGEPAGE: khugepaged is not asked to touch it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl.h"

static uint64_t p_size;
static double p_fill, p_fraction;
static const char *p_pattern, *p_case;
static int64_t p_seed;

static const char *const patterns[] = {"contiguous", "strided", "random", NULL};
static const char *const cases[] = {"none", "swap", "shared", NULL};

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "16M", &p_size, 2 << 20, 1024.0 * 1024 * 1024, NULL,
     "region size (a multiple of the PMD size)"},
    {"fill", WL_P_FLOAT, "1.0", &p_fill, 0, 1, NULL, "fraction of each range's pages populated"},
    {"pattern", WL_P_ENUM, "contiguous", &p_pattern, 0, 0, patterns,
     "which pages of a range are populated"},
    {"case", WL_P_ENUM, "none", &p_case, 0, 0, cases,
     "none: holes only; swap: part of the populated pages swapped out; shared: part shared "
     "with a forked child"},
    {"fraction", WL_P_FLOAT, "0.1", &p_fraction, 0, 1, NULL,
     "case swap: populated pages swapped out; case shared: populated pages left shared"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern and selection seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

/* MADV_COLLAPSE exists from 6.1: probe it on a fresh PMD range with one page populated. */
static void require_madv_collapse(uint64_t pmd) {
  char *probe = wl_map_aligned((size_t)pmd, (size_t)pmd);
  probe[0] = 1;
  int rc = wl_madvise(probe, (size_t)pmd, MADV_COLLAPSE);
  wl_unmap(probe, (size_t)pmd);
  if (rc == -EINVAL || rc == -ENOSYS)
    wl_skip("MADV_COLLAPSE: %s (needs 6.1+ and THP)", strerror(-rc));
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  const uint64_t pmd = wl_require_thp();
  wl_require_pagemap();
  require_madv_collapse(pmd);

  struct wl_shape_spec spec = {.size = p_size, .range = pmd, .fill = p_fill,
                               .fraction = p_fraction, .seed = (uint64_t)p_seed};
  wl_fill_pattern_from(p_pattern, &spec.pattern);
  wl_shape_case_from(p_case, &spec.kind);
  struct wl_shape shape;
  wl_shape_build(&shape, &spec);

  struct wl_samples lat;
  wl_samples_init(&lat, shape.nranges, false);
  size_t ok = 0, e_again = 0, e_nomem = 0, e_busy = 0, e_inval = 0, e_other = 0;
  int first_other = 0;
  const uint64_t t0 = wl_now_ns();
  for (size_t r = 0; r < shape.nranges; ++r) {
    char *range = shape.region + r * (size_t)pmd;
    uint64_t t = wl_now_ns();
    int rc = wl_madvise(range, (size_t)pmd, MADV_COLLAPSE);
    wl_samples_add(&lat, wl_now_ns() - t);
    switch (rc) {
      case 0: ++ok; break;
      case -EAGAIN: ++e_again; break;
      case -ENOMEM: ++e_nomem; break;
      case -EBUSY: ++e_busy; break;
      case -EINVAL: ++e_inval; break;
      default:
        if (!first_other) first_other = -rc;
        ++e_other;
    }
  }
  const uint64_t total_ns = wl_now_ns() - t0;
  long collapsed = wl_count_huge_ranges(shape.region, shape.nranges, (size_t)pmd, NULL);
  if (collapsed < 0) wl_fail("pagemap: %s", strerror((int)-collapsed));

  wl_metric("ranges", (double)shape.nranges, "count");
  wl_metric("success_fraction", (double)ok / (double)shape.nranges, "ratio");
  wl_metric("collapsed_fraction", (double)collapsed / (double)shape.nranges, "ratio");
  wl_report_latency(&lat, "collapse", "");
  wl_metric("collapse_total_ms", (double)total_ns / 1e6, "ms");
  wl_metric("errors_eagain", (double)e_again, "count");
  wl_metric("errors_enomem", (double)e_nomem, "count");
  wl_metric("errors_ebusy", (double)e_busy, "count");
  wl_metric("errors_einval", (double)e_inval, "count");
  wl_metric("errors_other", (double)e_other, "count");
  wl_note("MADV_COLLAPSE: %zu of %zu ranges ok (EAGAIN %zu, ENOMEM %zu, EBUSY %zu, EINVAL %zu, "
          "other %zu%s%s), %ld PMD-mapped", ok, shape.nranges, e_again, e_nomem, e_busy, e_inval,
          e_other, e_other ? ": first " : "", e_other ? strerror(first_other) : "", collapsed);

  wl_shape_verify(&shape, "after MADV_COLLAPSE");
  return WL_EXIT_OK;
}
