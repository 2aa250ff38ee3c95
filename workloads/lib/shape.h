/* The region shapes the collapse workloads share (khugepaged-collapse, madvise-collapse):
 * PMD-sized ranges, each populated with small pages at a fill ratio and pattern, then
 *   none    nothing more: the unpopulated pages are none PTEs (max_ptes_none);
 *   swap    `fraction` of each range's populated pages swapped out with MADV_PAGEOUT
 *           (swap PTEs, max_ptes_swap);
 *   shared  a forked child keeps the region mapped; the parent rewrites (COW) all but
 *           `fraction` of each range's populated pages, so that fraction stays shared
 *           (max_ptes_shared).
 * Pages are populated under PR_SET_THP_DISABLE so they are small whatever the knobs say; the
 * switch is off again when wl_shape_build returns. expect[] holds each page's generation
 * (WL_GEN_ZERO where nothing was written: a collapse fills holes with zeros). */
#ifndef WL_SHAPE_H
#define WL_SHAPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pattern.h"
#include "region.h"

enum wl_shape_case { WL_SHAPE_NONE, WL_SHAPE_SWAP, WL_SHAPE_SHARED };
int wl_shape_case_from(const char *name, enum wl_shape_case *out);

struct wl_shape_spec {
  uint64_t size;       /* rounded down to whole ranges, at least one */
  uint64_t range;      /* the PMD size */
  double fill;
  enum wl_fill_pattern pattern;
  enum wl_shape_case kind;
  double fraction;
  uint64_t seed;       /* 0: from the clock */
};

struct wl_shape {
  char *region;
  size_t ps, range_pages, nranges, pages;
  uint8_t *expect;     /* per page generation */
  uint8_t *subset;     /* per page: swapped out (swap) or left shared (shared) */
  size_t populated, subset_pages, swapped_pages;
  struct wl_pattern pat;
  pid_t child;         /* shared: the child holding the pages; -1 otherwise */
  int child_fd;        /* write end of the pipe that tells the child to verify and exit */
};

/* Builds the shape and reports populated_fraction and, per case, swapped_pages or
 * shared_pages. The swap case needs an active swap device (skips otherwise) and fails when
 * MADV_PAGEOUT swaps nothing out. */
void wl_shape_build(struct wl_shape *s, const struct wl_shape_spec *spec);
/* Verifies every page of the parent's region against expect[], then lets the shared-case
 * child verify its copy and reaps it. Integrity errors end the workload (exit 3). */
void wl_shape_verify(struct wl_shape *s, const char *when);

#endif
