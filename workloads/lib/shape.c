#include "shape.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kapi.h"
#include "pagemap.h"
#include "report.h"
#include "require.h"

int wl_shape_case_from(const char *name, enum wl_shape_case *out) {
  if (strcmp(name, "none") == 0) *out = WL_SHAPE_NONE;
  else if (strcmp(name, "swap") == 0) *out = WL_SHAPE_SWAP;
  else if (strcmp(name, "shared") == 0) *out = WL_SHAPE_SHARED;
  else return -1;
  return 0;
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

__attribute__((noreturn)) static void child_main(struct wl_shape *s, int fd) {
  char c;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {}
  /* The child's expect[] is the parent's before the COW rewrite: generation 1 or zeros. */
  struct wl_mismatch m;
  if (wl_verify_pages(&s->pat, s->region, 0, s->pages, s->expect, 0, &m))
    wl_integrity("child copy: %zu pages differ; first: %s", m.bad_pages, m.why);
  _exit(0);
}

void wl_shape_build(struct wl_shape *s, const struct wl_shape_spec *spec) {
  memset(s, 0, sizeof *s);
  s->child = -1;
  s->child_fd = -1;
  s->ps = wl_page_size();
  s->range_pages = (size_t)(spec->range / s->ps);
  s->nranges = (size_t)(spec->size / spec->range);
  if (s->nranges == 0) s->nranges = 1;
  s->pages = s->nranges * s->range_pages;
  struct wl_swapdev swapdev;
  if (spec->kind == WL_SHAPE_SWAP) wl_require_swap("any", &swapdev);

  uint64_t rng = spec->seed ? spec->seed : wl_now_ns();
  wl_pattern_init(&s->pat, s->ps, spec->seed);
  s->region = wl_map_aligned(s->pages * s->ps, (size_t)spec->range);
  s->expect = calloc(s->pages, 1);
  s->subset = calloc(s->pages, 1);
  uint8_t *sel = calloc(s->range_pages, 1);
  if (!s->expect || !s->subset || !sel) wl_fail("out of memory for page bookkeeping");

  wl_thp_disable(true);
  for (size_t r = 0; r < s->nranges; ++r) {
    wl_select_pages(spec->pattern, spec->fill, s->range_pages, sel, &rng);
    for (size_t i = 0; i < s->range_pages; ++i) {
      if (!sel[i]) continue;
      size_t page = r * s->range_pages + i;
      wl_fill_page(&s->pat, s->region + page * s->ps, page, 1);
      s->expect[page] = 1;
      s->populated++;
    }
  }
  free(sel);
  wl_metric("populated_fraction", (double)s->populated / (double)s->pages, "ratio");

  if (spec->kind != WL_SHAPE_NONE) {
    /* `fraction` of each range's populated pages, evenly strided over them. */
    for (size_t r = 0; r < s->nranges; ++r) {
      size_t count = 0;
      for (size_t i = 0; i < s->range_pages; ++i) count += s->expect[r * s->range_pages + i] != 0;
      size_t want = (size_t)(spec->fraction * (double)count + 0.5), k = 0;
      for (size_t i = 0; i < s->range_pages && count; ++i) {
        size_t page = r * s->range_pages + i;
        if (!s->expect[page]) continue;
        if ((k + 1) * want / count > k * want / count) {
          s->subset[page] = 1;
          s->subset_pages++;
        }
        ++k;
      }
    }
  }

  if (spec->kind == WL_SHAPE_SWAP) {
    pageout_selected(s->region, s->subset, s->pages, s->ps);
    uint64_t *pm = malloc(s->pages * sizeof(uint64_t));
    if (!pm) wl_fail("out of memory");
    int rc = wl_pagemap_read(s->region, s->pages, pm);
    if (rc) wl_fail("pagemap: %s", strerror(-rc));
    for (size_t i = 0; i < s->pages; ++i) s->swapped_pages += s->subset[i] && (pm[i] & WL_PM_SWAP);
    free(pm);
    wl_metric("swapped_pages", (double)s->swapped_pages, "pages");
    wl_note("swap case: %zu of %zu selected pages swapped out to %s", s->swapped_pages,
            s->subset_pages, swapdev.path);
    if (s->subset_pages && s->swapped_pages == 0)
      wl_fail("MADV_PAGEOUT swapped out none of %zu pages", s->subset_pages);
  } else if (spec->kind == WL_SHAPE_SHARED) {
    int fds[2];
    if (pipe(fds)) wl_fail("pipe: %s", strerror(errno));
    fflush(NULL);
    s->child = fork();
    if (s->child < 0) wl_fail("fork: %s", strerror(errno));
    if (s->child == 0) {
      close(fds[1]);
      child_main(s, fds[0]);
    }
    close(fds[0]);
    s->child_fd = fds[1];
    for (size_t i = 0; i < s->pages; ++i) {
      if (!s->expect[i] || s->subset[i]) continue;
      wl_fill_page(&s->pat, s->region + i * s->ps, i, 2); /* breaks COW: now exclusive */
      s->expect[i] = 2;
    }
    wl_metric("shared_pages", (double)s->subset_pages, "pages");
  }
  wl_thp_disable(false);
}

void wl_shape_verify(struct wl_shape *s, const char *when) {
  struct wl_mismatch m;
  if (wl_verify_pages(&s->pat, s->region, 0, s->pages, s->expect, 0, &m))
    wl_integrity("%zu of %zu pages differ %s; first: %s", m.bad_pages, m.checked_pages, when, m.why);
  if (s->child > 0) {
    close(s->child_fd);
    int code = wl_wait_child(s->child);
    s->child = -1;
    if (code == 3) wl_integrity("the forked child's copy differs %s (see its stderr)", when);
    if (code != 0) wl_fail("the forked child ended with code %d", code);
  }
}
