/* swapin-race: folios swapped out while shared by fork, one side with part of every folio
 * unmapped, then both sides fault the pages back at the same moment on different CPUs.
 *
 * This is the case discussed for large-folio swap-in through the swap cache: the side that
 * still maps the whole folio can swap it in large; the partially unmapped side cannot map all
 * of it and, depending on who takes the folio lock first, may fall back or fault repeatedly.
 * Each side touches its pages in address order, timing every touch and counting the faults it
 * took (a refault is a fault beyond the first on one touch); then each verifies its data.
 * Rounds repeat the whole sequence on a fresh region to give the race more chances. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl.h"

static uint64_t p_size, p_folio;
static double p_unmap_fraction;
static const char *p_side;
static int64_t p_rounds, p_seed;

static const char *const sides[] = {"child", "parent", NULL};

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "16M", &p_size, 64 << 10, 512.0 * 1024 * 1024, NULL, "region size per round"},
    {"folio", WL_P_SIZE, "64K", &p_folio, 4096, 1024.0 * 1024 * 1024, NULL,
     "folio size (an enabled mTHP size, the PMD size, or the page size)"},
    {"unmap_fraction", WL_P_FLOAT, "0.5", &p_unmap_fraction, 0, 0.99, NULL,
     "fraction of each folio (its tail) that one side unmaps before the race"},
    {"unmapped_side", WL_P_ENUM, "child", &p_side, 0, 0, sides, "the side that unmaps part of each folio"},
    {"rounds", WL_P_INT, "3", &p_rounds, 1, 100, NULL, "fresh region, swap-out, fork and race, repeated"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

/* Shared between parent and child (MAP_SHARED). */
struct race_control {
  int arrived;            /* barrier: both sides increment, then spin until 2 */
  int child_status;       /* 0 ok, 3 integrity (the child also logs what differed) */
  uint64_t child_begin_ns, child_end_ns; /* the child's faulting pass, CLOCK_MONOTONIC */
  struct wl_touch_stats child;
  char child_why[320];
};

static void barrier(struct race_control *ctl) {
  __atomic_add_fetch(&ctl->arrived, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&ctl->arrived, __ATOMIC_SEQ_CST) < 2) sched_yield();
}

/* Unmaps the tail `unmap_fraction` of every folio; marks those pages WL_GEN_SKIP. */
static void unmap_tails(const struct wl_folio_region *r, uint8_t *expect) {
  size_t keep = r->folio_pages - (size_t)(p_unmap_fraction * (double)r->folio_pages);
  if (keep == r->folio_pages) return;
  for (size_t f = 0; f < r->nfolios; ++f) {
    char *tail = wl_folio_at(r, f) + keep * r->ps;
    if (munmap(tail, (r->folio_pages - keep) * r->ps)) wl_fail("munmap: %s", strerror(errno));
    memset(expect + f * r->folio_pages + keep, WL_GEN_SKIP, r->folio_pages - keep);
  }
}

/* Touches every still-mapped page in address order; returns the stats. */
static void race_side(const struct wl_folio_region *r, const uint8_t *expect, char **order,
                      struct wl_touch_stats *st) {
  size_t n = 0;
  for (size_t i = 0; i < r->npages; ++i)
    if (expect[i] != WL_GEN_SKIP) order[n++] = wl_folio_page(r, i);
  wl_touch_pages(order, n, st);
}

static void verify_side(const struct wl_folio_region *r, const struct wl_pattern *pat,
                        const uint8_t *expect, struct wl_mismatch *m) {
  memset(m, 0, sizeof *m);
  for (size_t f = 0; f < r->nfolios && m->bad_pages == 0; ++f)
    wl_verify_pages(pat, wl_folio_at(r, f), f * r->folio_pages, r->folio_pages,
                    expect + f * r->folio_pages, 0, m);
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  const size_t ps = wl_page_size();
  const bool small = p_folio == ps;
  uint64_t pmd = 0;
  if (!small) {
    pmd = wl_require_thp();
    if (!wl_thp_size_enabled(p_folio >> 10, true))
      wl_skip("folio size %" PRIu64 "kB is not enabled for MADV_HUGEPAGE regions (settings), or "
              "this kernel has no such size", p_folio >> 10);
  }
  wl_require_pagemap();
  wl_require_madvise(MADV_PAGEOUT, "MADV_PAGEOUT");
  struct wl_swapdev dev;
  wl_require_swap("any", &dev);
  const int cpus = wl_online_cpus();
  /* On one CPU the two sides take turns: whatever it measured, the race was not run. */
  if (cpus < 2) wl_skip("swapin-race needs two online CPUs (the guest has %d): one cannot fault both sides at once", cpus);
  const bool child_unmaps = strcmp(p_side, "child") == 0;

  struct wl_pattern pat;
  wl_pattern_init(&pat, ps, (uint64_t)p_seed);
  size_t nfolios = (size_t)(p_size / p_folio);
  if (nfolios == 0) nfolios = 1;

  struct race_control *ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ctl == MAP_FAILED) wl_fail("mmap: %s", strerror(errno));
  struct wl_samples lat_parent, lat_child, lat_all;
  const size_t pages_per_round = nfolios * (size_t)(p_folio / ps);
  wl_samples_init(&lat_parent, pages_per_round * (size_t)p_rounds, false);
  wl_samples_init(&lat_child, pages_per_round, true);
  wl_samples_init(&lat_all, 2 * pages_per_round * (size_t)p_rounds, false);
  uint8_t *expect = malloc(pages_per_round);
  char **order = malloc(pages_per_round * sizeof(char *));
  if (!expect || !order) wl_fail("out of memory");

  uint64_t refaults = 0, faults = 0, major = 0, parent_ns = 0, child_ns = 0, overlapped = 0;
  double swapped_sum = 0, large_after_sum = 0;
  for (int64_t round = 0; round < p_rounds; ++round) {
    struct wl_folio_region r;
    wl_folio_region_map(&r, (size_t)p_folio, nfolios, (size_t)pmd);
    const unsigned gen = (unsigned)(round + 1);
    if (small) wl_thp_disable(true);
    for (size_t f = 0; f < r.nfolios; ++f)
      wl_fill_pages(&pat, wl_folio_at(&r, f), f * r.folio_pages, r.folio_pages, gen);
    if (small) wl_thp_disable(false);
    memset(expect, gen, r.npages);
    for (size_t f = 0; f < r.nfolios; ++f) {
      int rc = wl_madvise(wl_folio_at(&r, f), r.folio, MADV_PAGEOUT);
      if (rc) wl_fail("MADV_PAGEOUT: %s", strerror(-rc));
    }
    struct wl_census c, total = {0};
    for (size_t f = 0; f < r.nfolios; ++f) {
      if (wl_census_range(wl_folio_at(&r, f), r.folio_pages, &c)) wl_fail("pagemap census failed");
      total.nonpresent += c.nonpresent;
    }
    if (total.nonpresent == 0) wl_fail("MADV_PAGEOUT swapped out none of %zu pages", r.npages);
    swapped_sum += (double)total.nonpresent / (double)r.npages;

    memset(ctl, 0, sizeof *ctl);
    lat_child.n = 0;
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) wl_fail("fork: %s", strerror(errno));
    if (child == 0) {
      if (cpus >= 2) wl_pin_cpu(1);
      if (child_unmaps) unmap_tails(&r, expect);
      barrier(ctl);
      struct wl_touch_stats st = {.lat = &lat_child};
      ctl->child_begin_ns = wl_now_ns();
      race_side(&r, expect, order, &st);
      ctl->child_end_ns = wl_now_ns();
      st.lat = NULL;
      ctl->child = st;
      struct wl_mismatch m;
      verify_side(&r, &pat, expect, &m);
      if (m.bad_pages) {
        ctl->child_status = WL_EXIT_INTEGRITY;
        snprintf(ctl->child_why, sizeof ctl->child_why, "%s", m.why);
      }
      _exit(0);
    }
    if (cpus >= 2) wl_pin_cpu(0);
    uint8_t *parent_expect = expect;
    if (!child_unmaps) unmap_tails(&r, parent_expect);
    barrier(ctl);
    struct wl_touch_stats st = {.lat = &lat_parent};
    const uint64_t begin_ns = wl_now_ns();
    race_side(&r, parent_expect, order, &st);
    const uint64_t end_ns = wl_now_ns();
    struct wl_mismatch m;
    verify_side(&r, &pat, parent_expect, &m);
    int code = wl_wait_child(child);
    if (m.bad_pages)
      wl_integrity("round %" PRId64 ", parent: %zu pages differ; first: %s", round, m.bad_pages, m.why);
    if (ctl->child_status == WL_EXIT_INTEGRITY)
      wl_integrity("round %" PRId64 ", child: pages differ; first: %s", round, ctl->child_why);
    if (code) wl_fail("round %" PRId64 ": the child ended with code %d", round, code);
    /* Did the two faulting passes overlap in time? Only then did they race. */
    const uint64_t from = begin_ns > ctl->child_begin_ns ? begin_ns : ctl->child_begin_ns;
    const uint64_t to = end_ns < ctl->child_end_ns ? end_ns : ctl->child_end_ns;
    overlapped += to > from;

    /* Which folio sizes did the parent get back? */
    struct wl_census after = {0};
    for (size_t f = 0; f < r.nfolios; ++f) {
      size_t mapped = child_unmaps ? r.folio_pages
                                   : r.folio_pages - (size_t)(p_unmap_fraction * (double)r.folio_pages);
      if (wl_census_range(wl_folio_at(&r, f), mapped, &c)) wl_fail("pagemap census failed");
      after.pages += c.pages;
      after.large += c.large;
    }
    large_after_sum += after.pages ? (double)after.large / (double)after.pages : 0;
    refaults += st.refaults + ctl->child.refaults;
    faults += st.faults + ctl->child.faults;
    major += st.major + ctl->child.major;
    parent_ns += st.busy_ns;
    child_ns += ctl->child.busy_ns;
    /* The child's samples are in shared memory; their count came back in its stats. */
    lat_child.n = ctl->child.faulted_pages < lat_child.cap ? ctl->child.faulted_pages : lat_child.cap;
    wl_samples_merge(&lat_all, &lat_parent);
    wl_samples_merge(&lat_all, &lat_child);
    wl_note("round %" PRId64 ": parent %zu faulting touches (%" PRIu64 " refaults), child %zu (%" PRIu64
            " refaults)", round, st.faulted_pages, st.refaults, ctl->child.faulted_pages,
            ctl->child.refaults);
    lat_parent.n = 0;
    if (r.flat) wl_unmap(r.flat, r.folio * r.nfolios); /* holes already unmapped: fine */
    else wl_unmap_chunked(&r.chunks);
  }
  if (cpus >= 2) {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < cpus && i < CPU_SETSIZE; ++i) CPU_SET(i, &all);
    sched_setaffinity(0, sizeof all, &all);
  }
  wl_report_latency(&lat_all, "fault", "");
  wl_metric("rounds_overlapped", (double)overlapped, "count");
  if (overlapped == 0)
    wl_fail("in none of %" PRId64 " rounds did the two sides fault at the same time: the race was not run", p_rounds);
  wl_metric("refaults", (double)refaults, "count");
  wl_metric("faults", (double)faults, "count");
  wl_metric("major_faults", (double)major, "count");
  wl_metric("swapped_fraction", swapped_sum / (double)p_rounds, "ratio");
  wl_metric("parent_huge_fraction_after", large_after_sum / (double)p_rounds, "ratio");
  wl_metric("parent_swapin_ms", (double)parent_ns / 1e6 / (double)p_rounds, "ms");
  wl_metric("child_swapin_ms", (double)child_ns / 1e6 / (double)p_rounds, "ms");
  wl_metric("cpus", cpus, "count");
  return WL_EXIT_OK;
}
