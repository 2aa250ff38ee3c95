/* pmd-swap: PMD THPs swapped out (MADV_PAGEOUT), then one operation on the swapped range, then
 * every page verified. On 6.12 a swapped-out THP leaves 512 PTE swap entries; the PMD
 * swap-entry series keeps one PMD entry, and every operation below must then split it, move
 * it, copy it or swap it in whole. The operations:
 *   fork       a child reads everything back, the parent too;
 *   cow        after fork the parent rewrites half of each THP; each side sees its own data;
 *   mprotect   read-only on a range that cuts a THP in the middle, read, back to read-write,
 *              rewrite;
 *   mremap     the region moved to a PMD-aligned address, then by one page (unaligned);
 *   munmap     a hole punched in the middle of each swapped THP; the rest verified;
 *   free       MADV_FREE over the swapped range: each page reads back as the old data or
 *              as zeros, nothing else;
 *   willneed   MADV_WILLNEED (swap readahead), then the read;
 *   swapoff    swapoff of the device holding the pages (the kernel swaps everything in),
 *              then swapon again with the same priority: the only operation that changes the
 *              guest's setup, so it only runs when asked for or with op=all.
 * For each operation: pages_swapped fraction before it, the THP fraction after swap-in, and
 * integrity. thp_swpout_pmd is reported where the kernel has that vmstat counter. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <unistd.h>

#include "wl.h"

static int64_t p_thps, p_seed;
static const char *p_op;

static const char *const ops[] = {"all", "fork", "cow", "mprotect", "mremap", "munmap", "free",
                                  "willneed", "swapoff", NULL};

static const struct wl_param params[] = {
    {"op", WL_P_ENUM, "all", &p_op, 0, 0, ops, "operation on the swapped-out THPs (all: each in turn)"},
    {"thps", WL_P_INT, "4", &p_thps, 1, 256, NULL, "PMD THPs per operation"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

static size_t g_ps, g_pmd, g_pages;
static struct wl_pattern g_pat;
static struct wl_swapdev g_dev;
static uint64_t g_whole_swpout, g_thps_paged_out; /* thp_swpout moved by our own MADV_PAGEOUTs */

/* A fresh region of p_thps PMD THPs written with generation 1 and swapped out. Returns the
 * fraction of pages that pagemap shows swapped. */
static char *swapped_thps(double *swapped_fraction, double *thp_fraction) {
  char *region = wl_map_aligned(g_pages * g_ps, g_pmd);
  int rc = wl_madvise(region, g_pages * g_ps, MADV_HUGEPAGE);
  if (rc) wl_fail("MADV_HUGEPAGE: %s", strerror(-rc));
  wl_fill_pages(&g_pat, region, 0, g_pages, 1);
  struct wl_census c;
  rc = wl_census_range(region, g_pages, &c);
  if (rc) wl_fail("pagemap census: %s", strerror(-rc));
  *thp_fraction = (double)c.by_order[wl_ilog2(g_pmd / g_ps)] / (double)g_pages;
  uint64_t swpout0 = 0, swpout1 = 0;
  wl_vmstat("thp_swpout", &swpout0);
  rc = wl_madvise(region, g_pages * g_ps, MADV_PAGEOUT);
  if (rc) wl_fail("MADV_PAGEOUT: %s", strerror(-rc));
  wl_vmstat("thp_swpout", &swpout1);
  g_whole_swpout += swpout1 - swpout0;
  g_thps_paged_out += (uint64_t)(c.by_order[wl_ilog2(g_pmd / g_ps)] / (g_pmd / g_ps));
  rc = wl_census_range(region, g_pages, &c);
  if (rc) wl_fail("pagemap census: %s", strerror(-rc));
  *swapped_fraction = (double)c.nonpresent / (double)g_pages;
  if (c.nonpresent == 0) wl_fail("MADV_PAGEOUT swapped out none of %zu pages", g_pages);
  return region;
}

static double pmd_fraction(const char *region, size_t pages) {
  struct wl_census c;
  int rc = wl_census_range(region, pages, &c);
  if (rc) wl_fail("pagemap census: %s", strerror(-rc));
  return (double)c.by_order[wl_ilog2(g_pmd / g_ps)] / (double)pages;
}

static void verify(const char *op, const char *when, const char *base, uint64_t first,
                   size_t pages, const uint8_t *expect, unsigned gen) {
  struct wl_mismatch m;
  if (wl_verify_pages(&g_pat, base, first, pages, expect, gen, &m))
    wl_integrity("op %s, %s: %zu of %zu pages differ; first: %s", op, when, m.bad_pages,
                 m.checked_pages, m.why);
}

/* A child that verifies the region (expect/gen as given) and exits 0 or 3. */
static pid_t fork_verifier(const char *op, const char *region, const uint8_t *expect,
                           unsigned gen, int *go_fd) {
  int fds[2];
  if (pipe(fds)) wl_fail("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) wl_fail("fork: %s", strerror(errno));
  if (pid == 0) {
    close(fds[1]);
    char c;
    while (read(fds[0], &c, 1) < 0 && errno == EINTR) {}
    verify(op, "in the forked child", region, 0, g_pages, expect, gen);
    _exit(0);
  }
  close(fds[0]);
  *go_fd = fds[1];
  return pid;
}

static void reap(const char *op, pid_t pid, int go_fd) {
  close(go_fd);
  int code = wl_wait_child(pid);
  if (code == WL_EXIT_INTEGRITY) wl_integrity("op %s: the forked child's copy differs", op);
  if (code) wl_fail("op %s: the forked child ended with code %d", op, code);
}

static void report(const char *op, double swapped, double thp_before, double thp_after,
                   uint64_t swapin_ns) {
  wl_metricf("ratio", swapped, "%s_swapped_fraction", op);
  wl_metricf("ratio", thp_after, "%s_thp_fraction_after", op);
  if (swapin_ns) wl_metricf("ms", (double)swapin_ns / 1e6, "%s_swapin_ms", op);
  wl_note("op %s: THPs before swap-out %.2f, swapped %.2f, THP fraction after %.2f: verified", op,
          thp_before, swapped, thp_after);
}

static void op_fork(bool cow) {
  const char *op = cow ? "cow" : "fork";
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  int go;
  pid_t child = fork_verifier(op, region, NULL, 1, &go);
  uint8_t *expect = NULL;
  uint64_t t0 = wl_now_ns();
  if (cow) {
    /* Rewrite the second half of every THP while it is still swapped and shared. */
    expect = malloc(g_pages);
    if (!expect) wl_fail("out of memory");
    size_t per = g_pmd / g_ps;
    for (size_t i = 0; i < g_pages; ++i) {
      expect[i] = (i % per) >= per / 2 ? 2 : 1;
      if (expect[i] == 2) wl_fill_page(&g_pat, region + i * g_ps, i, 2);
    }
  }
  verify(op, "in the parent", region, 0, g_pages, expect, 1);
  uint64_t dt = wl_now_ns() - t0;
  double after = pmd_fraction(region, g_pages);
  reap(op, child, go);
  report(op, swapped, thp_before, after, dt);
  free(expect);
  wl_unmap(region, g_pages * g_ps);
}

static void op_mprotect(void) {
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  /* From the middle of the first THP to the middle of the last one. */
  char *lo = region + g_pmd / 2;
  size_t len = g_pages * g_ps - g_pmd;
  if (len == 0) len = g_pmd / 4;
  if (mprotect(lo, len, PROT_READ)) wl_fail("mprotect(PROT_READ): %s", strerror(errno));
  uint64_t t0 = wl_now_ns();
  verify("mprotect", "read-only", region, 0, g_pages, NULL, 1);
  uint64_t dt = wl_now_ns() - t0;
  if (mprotect(lo, len, PROT_READ | PROT_WRITE)) wl_fail("mprotect(RW): %s", strerror(errno));
  double after = pmd_fraction(region, g_pages);
  wl_fill_pages(&g_pat, region, 0, g_pages, 2);
  verify("mprotect", "after rewrite", region, 0, g_pages, NULL, 2);
  report("mprotect", swapped, thp_before, after, dt);
  wl_unmap(region, g_pages * g_ps);
}

static void op_mremap(void) {
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  const size_t len = g_pages * g_ps;
  /* First a move to a PMD-aligned address (whole PMD entries can move), then by one page
   * (nothing stays PMD-aligned: entries must be split or moved one by one). MREMAP_FIXED
   * replaces the placeholder mappings. */
  char *aligned = wl_map_aligned(len, g_pmd);
  char *moved = mremap(region, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, aligned);
  if (moved == MAP_FAILED) wl_fail("mremap to an aligned address: %s", strerror(errno));
  verify("mremap", "after the aligned move", moved, 0, g_pages, NULL, 1);
  const double after_aligned = pmd_fraction(moved, g_pages);
  /* Swap the now swapped-in pages out again for the unaligned move. */
  int rc = wl_madvise(moved, len, MADV_PAGEOUT);
  if (rc) wl_fail("MADV_PAGEOUT: %s", strerror(-rc));
  char *reserve = wl_map_aligned(len + 2 * g_pmd, g_pmd);
  char *moved2 = mremap(moved, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, reserve + g_pmd + g_ps);
  if (moved2 == MAP_FAILED) wl_fail("mremap to an unaligned address: %s", strerror(errno));
  uint64_t t0 = wl_now_ns();
  verify("mremap", "after the unaligned move", moved2, 0, g_pages, NULL, 1);
  uint64_t dt = wl_now_ns() - t0;
  wl_metric("mremap_aligned_thp_fraction_after", after_aligned, "ratio");
  report("mremap", swapped, thp_before, pmd_fraction(moved2, g_pages), dt);
  munmap(reserve, len + 2 * g_pmd);
}

static void op_munmap(void) {
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  uint8_t *expect = malloc(g_pages);
  if (!expect) wl_fail("out of memory");
  size_t per = g_pmd / g_ps, hole = per / 8;
  for (size_t t = 0; t < g_pages / per; ++t) {
    size_t first = t * per + per / 2 - hole / 2;
    if (munmap(region + first * g_ps, hole * g_ps)) wl_fail("munmap: %s", strerror(errno));
    for (size_t i = 0; i < per; ++i)
      expect[t * per + i] = (i >= per / 2 - hole / 2 && i < per / 2 - hole / 2 + hole) ? WL_GEN_SKIP : 1;
  }
  uint64_t t0 = wl_now_ns();
  verify("munmap", "around the holes", region, 0, g_pages, expect, 1);
  uint64_t dt = wl_now_ns() - t0;
  size_t mapped = 0, thp_pages = 0;
  for (size_t i = 0; i < g_pages; ++i) {
    if (expect[i] == WL_GEN_SKIP) continue;
    ++mapped;
    int8_t order;
    if (wl_page_orders(region + i * g_ps, 1, &order) == 0 && order == (int8_t)wl_ilog2(per)) ++thp_pages;
  }
  report("munmap", swapped, thp_before, mapped ? (double)thp_pages / (double)mapped : 0, dt);
  free(expect);
  munmap(region, g_pages * g_ps);
}

static void op_free(void) {
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  int rc = wl_madvise(region, g_pages * g_ps, MADV_FREE);
  if (rc) wl_fail("MADV_FREE: %s", strerror(-rc));
  /* MADV_FREE may drop the swapped data (zeros on read) or keep it; anything else is wrong. */
  size_t zero = 0, kept = 0;
  uint64_t t0 = wl_now_ns();
  for (size_t i = 0; i < g_pages; ++i) {
    const char *page = region + i * g_ps;
    char why[256];
    if (wl_page_is_zero(page, g_ps)) {
      ++zero;
    } else if (wl_check_page(&g_pat, page, i, 1, why, sizeof why) == 0) {
      ++kept;
    } else {
      wl_integrity("op free: page %zu is neither zeros nor its old data: %s", i, why);
    }
  }
  uint64_t dt = wl_now_ns() - t0;
  wl_metric("free_zeroed_fraction", (double)zero / (double)g_pages, "ratio");
  double after = pmd_fraction(region, g_pages);
  wl_fill_pages(&g_pat, region, 0, g_pages, 2);
  verify("free", "after rewrite", region, 0, g_pages, NULL, 2);
  report("free", swapped, thp_before, after, dt);
  wl_note("op free: %zu pages zeroed, %zu kept", zero, kept);
  wl_unmap(region, g_pages * g_ps);
}

static void op_willneed(void) {
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  uint64_t t0 = wl_now_ns();
  int rc = wl_madvise(region, g_pages * g_ps, MADV_WILLNEED);
  if (rc) wl_fail("MADV_WILLNEED: %s", strerror(-rc));
  uint64_t minor0, major0, minor1, major1;
  wl_thread_faults(&minor0, &major0);
  verify("willneed", "after readahead", region, 0, g_pages, NULL, 1);
  wl_thread_faults(&minor1, &major1);
  uint64_t dt = wl_now_ns() - t0;
  wl_metric("willneed_major_faults", (double)(major1 - major0), "count");
  report("willneed", swapped, thp_before, pmd_fraction(region, g_pages), dt);
  wl_unmap(region, g_pages * g_ps);
}

static void op_swapoff(void) {
  double swapped, thp_before;
  char *region = swapped_thps(&swapped, &thp_before);
  uint64_t t0 = wl_now_ns();
  if (swapoff(g_dev.path)) {
    int e = errno;
    wl_fail("swapoff(%s): %s", g_dev.path, strerror(e));
  }
  uint64_t dt = wl_now_ns() - t0;
  int flags = g_dev.priority >= 0
                  ? SWAP_FLAG_PREFER | ((g_dev.priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK)
                  : 0;
  if (swapon(g_dev.path, flags)) {
    int e = errno;
    /* The pages are all in memory now: verify them before reporting the lost swap device. */
    verify("swapoff", "after swapoff", region, 0, g_pages, NULL, 1);
    wl_fail("swapon(%s) after swapoff: %s (the guest has lost this swap device)", g_dev.path,
            strerror(e));
  }
  struct wl_census c;
  int rc = wl_census_range(region, g_pages, &c);
  if (rc) wl_fail("pagemap census: %s", strerror(-rc));
  if (c.nonpresent) wl_integrity("op swapoff: %zu pages still not present after swapoff", c.nonpresent);
  verify("swapoff", "after swapoff", region, 0, g_pages, NULL, 1);
  report("swapoff", swapped, thp_before, pmd_fraction(region, g_pages), dt);
  wl_unmap(region, g_pages * g_ps);
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  g_pmd = (size_t)wl_require_thp();
  g_ps = wl_page_size();
  wl_require_pagemap();
  wl_require_madvise(MADV_PAGEOUT, "MADV_PAGEOUT");
  if (!wl_thp_size_enabled(g_pmd >> 10, true))
    wl_skip("PMD-size THP is not enabled for MADV_HUGEPAGE regions (settings)");
  wl_require_swap("any", &g_dev);
  g_pages = (size_t)p_thps * (g_pmd / g_ps);
  wl_pattern_init(&g_pat, g_ps, (uint64_t)p_seed);

  uint64_t swpout_pmd0 = 0;
  const bool has_pmd_counter = wl_vmstat("thp_swpout_pmd", &swpout_pmd0) == 0;

  const bool all = strcmp(p_op, "all") == 0;
  int done = 0;
  if (all || !strcmp(p_op, "fork")) op_fork(false), ++done;
  if (all || !strcmp(p_op, "cow")) op_fork(true), ++done;
  if (all || !strcmp(p_op, "mprotect")) op_mprotect(), ++done;
  if (all || !strcmp(p_op, "mremap")) op_mremap(), ++done;
  if (all || !strcmp(p_op, "munmap")) op_munmap(), ++done;
  if (all || !strcmp(p_op, "free")) op_free(), ++done;
  if (all || !strcmp(p_op, "willneed")) op_willneed(), ++done;
  if (all || !strcmp(p_op, "swapoff")) op_swapoff(), ++done;

  wl_metric("ops_verified", done, "count");
  /* THPs swapped out whole by our MADV_PAGEOUTs, of the THPs we paged out. */
  if (g_thps_paged_out)
    wl_metric("whole_thp_swpout_fraction", (double)g_whole_swpout / (double)g_thps_paged_out, "ratio");
  if (g_whole_swpout == 0)
    wl_note("no THP was swapped out whole (thp_swpout did not move): THP_SWAP is not in effect on "
            "this arch/kernel, so every case ran on split THPs");
  if (has_pmd_counter) {
    uint64_t swpout_pmd1 = 0;
    wl_vmstat("thp_swpout_pmd", &swpout_pmd1);
    wl_metric("thp_swpout_pmd", (double)(swpout_pmd1 - swpout_pmd0), "count");
  } else {
    wl_note("this kernel has no thp_swpout_pmd counter (no PMD swap entries)");
  }
  return WL_EXIT_OK;
}
