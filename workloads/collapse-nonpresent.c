/* collapse-nonpresent: PMD collapse (by khugepaged or MADV_COLLAPSE) over ranges that hold
 * non-present entries other than swap:
 *   uffd-wp    uffd-wp PTE markers (UFFDIO_WRITEPROTECT of unpopulated pages with
 *              UFFD_FEATURE_WP_UNPOPULATED); 6.12 refuses early with pte_uffd_wp;
 *   poison     UFFDIO_POISON markers; 6.12 counts them as swap entries and detours through
 *              __collapse_huge_page_swapin(), where do_swap_page() fails on them;
 *   migration  migration entries: a thread keeps moving the marked pages between two NUMA
 *              nodes (move_pages) while the collapse runs;
 *   guard      MADV_GUARD_INSTALL guard markers (6.13+; a skip naming the feature before).
 * Every range is fully populated but for `markers` pages (evenly spread), which get the
 * non-present entry. The scan status histogram (trace mm_khugepaged_scan_pmd, collected by the
 * agent) tells whether the kernel aborts early (pte_non_present, pte_uffd_wp) or goes through
 * swap-in; this workload reports the collapse outcome, the markers it installed and kept, and
 * data integrity of every page that holds data. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

static uint64_t p_size;
static const char *p_marker, *p_collapser;
static int64_t p_markers, p_scans, p_timeout_s, p_seed;

static const char *const markers[] = {"uffd-wp", "poison", "migration", "guard", NULL};
static const char *const collapsers[] = {"khugepaged", "madvise", NULL};

static const struct wl_param params[] = {
    {"marker", WL_P_ENUM, "uffd-wp", &p_marker, 0, 0, markers, "kind of non-present entry"},
    {"collapser", WL_P_ENUM, "khugepaged", &p_collapser, 0, 0, collapsers,
     "khugepaged (MADV_HUGEPAGE and wait) or madvise (MADV_COLLAPSE per range)"},
    {"size", WL_P_SIZE, "8M", &p_size, 2 << 20, 512.0 * 1024 * 1024, NULL, "region size"},
    {"markers", WL_P_INT, "8", &p_markers, 1, 511, NULL, "non-present entries per PMD range"},
    {"scans", WL_P_INT, "2", &p_scans, 1, 100, NULL, "khugepaged: full scans to wait for"},
    {"timeout_s", WL_P_INT, "60", &p_timeout_s, 1, 3600, NULL, "khugepaged: bound on the wait"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern seed (0: from the clock)"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

static size_t g_ps, g_pmd, g_pages, g_nranges;
static char *g_region;
static uint8_t *g_is_marker;

/* ---- userfaultfd ---- */

static int uffd_open(uint64_t features, uint64_t *available) {
  int fd = wl_userfaultfd(O_CLOEXEC | O_NONBLOCK);
  if (fd < 0 && (errno == EPERM || errno == EINVAL))
    fd = wl_userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd < 0) {
    if (errno == ENOSYS) wl_skip("userfaultfd: ENOSYS (CONFIG_USERFAULTFD off)");
    wl_fail("userfaultfd: %s", strerror(errno));
  }
  struct uffdio_api api = {.api = UFFD_API, .features = features};
  if (ioctl(fd, UFFDIO_API, &api)) {
    int e = errno;
    close(fd);
    return -e;
  }
  if (available) *available = api.features;
  return fd;
}

/* A userfaultfd with the wanted features, or a skip naming what is missing. */
static int uffd_with(uint64_t wanted, const char *what) {
  uint64_t available = 0;
  int probe = uffd_open(0, &available);
  if (probe < 0) wl_fail("UFFDIO_API: %s", strerror(-probe));
  close(probe);
  if ((available & wanted) != wanted) wl_skip("%s", what);
  int fd = uffd_open(wanted, NULL);
  if (fd < 0) wl_skip("%s (UFFDIO_API: %s)", what, strerror(-fd));
  return fd;
}

static void uffd_register(int fd, uint64_t mode) {
  struct uffdio_register reg = {
      .range = {.start = (uintptr_t)g_region, .len = g_pages * g_ps}, .mode = mode};
  if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
    if (errno == EINVAL && (mode & UFFDIO_REGISTER_MODE_WP))
      wl_skip("UFFDIO_REGISTER_MODE_WP on anonymous memory: EINVAL (no uffd-wp on this arch/kernel)");
    wl_fail("UFFDIO_REGISTER: %s", strerror(errno));
  }
}

static size_t install_uffd_wp(int fd) {
  size_t done = 0;
  for (size_t i = 0; i < g_pages; ++i) {
    if (!g_is_marker[i]) continue;
    struct uffdio_writeprotect wp = {
        .range = {.start = (uintptr_t)(g_region + i * g_ps), .len = g_ps},
        .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) wl_fail("UFFDIO_WRITEPROTECT: %s", strerror(errno));
    ++done;
  }
  return done;
}

static size_t install_poison(int fd) {
  size_t done = 0;
  for (size_t i = 0; i < g_pages; ++i) {
    if (!g_is_marker[i]) continue;
    struct wl_uffdio_poison p = {.range = {.start = (uintptr_t)(g_region + i * g_ps), .len = g_ps}};
    if (ioctl(fd, UFFDIO_POISON, &p)) {
      if (errno == EINVAL || errno == ENOTTY)
        wl_skip("UFFDIO_POISON: %s (needs 6.6+)", strerror(errno));
      wl_fail("UFFDIO_POISON: %s", strerror(errno));
    }
    ++done;
  }
  return done;
}

static size_t install_guards(void) {
  size_t done = 0;
  for (size_t i = 0; i < g_pages; ++i) {
    if (!g_is_marker[i]) continue;
    int rc = wl_madvise(g_region + i * g_ps, g_ps, MADV_GUARD_INSTALL);
    if (rc == -EINVAL) wl_skip("MADV_GUARD_INSTALL: EINVAL, guard markers need 6.13+");
    if (rc) wl_fail("MADV_GUARD_INSTALL: %s", strerror(-rc));
    ++done;
  }
  return done;
}

/* ---- migration ---- */

struct migrator {
  pthread_t thread;
  int stop;
  int nodes[2];
  void **pages;
  int *targets, *status;
  size_t count;
  uint64_t moved, passes, failures;
  int first_error;
};

static void *migrate_loop(void *arg) {
  struct migrator *m = arg;
  int turn = 1;
  while (!__atomic_load_n(&m->stop, __ATOMIC_RELAXED)) {
    for (size_t i = 0; i < m->count; ++i) m->targets[i] = m->nodes[turn];
    long rc = wl_move_pages(0, m->count, m->pages, m->targets, m->status, MPOL_MF_MOVE);
    if (rc < 0) {
      if (!m->first_error) m->first_error = errno;
      ++m->failures;
    } else {
      for (size_t i = 0; i < m->count; ++i) m->moved += m->status[i] == m->nodes[turn];
    }
    ++m->passes;
    turn ^= 1;
  }
  return NULL;
}

static void start_migrator(struct migrator *m) {
  int nodes[8];
  int n = wl_numa_nodes(nodes, 8);
  if (n < 2)
    wl_skip("migration entries need two NUMA nodes; this guest has %d (set numa_nodes: 2)", n);
  memset(m, 0, sizeof *m);
  m->nodes[0] = nodes[0];
  m->nodes[1] = nodes[1];
  size_t count = 0;
  for (size_t i = 0; i < g_pages; ++i) count += g_is_marker[i];
  m->pages = calloc(count, sizeof(void *));
  m->targets = calloc(count, sizeof(int));
  m->status = calloc(count, sizeof(int));
  if (!m->pages || !m->targets || !m->status) wl_fail("out of memory");
  for (size_t i = 0; i < g_pages; ++i)
    if (g_is_marker[i]) m->pages[m->count++] = g_region + i * g_ps;
  /* One synchronous pass first: move_pages may not exist (no CONFIG_MIGRATION/NUMA). */
  for (size_t i = 0; i < m->count; ++i) m->targets[i] = m->nodes[1];
  if (wl_move_pages(0, m->count, m->pages, m->targets, m->status, MPOL_MF_MOVE) < 0) {
    if (errno == ENOSYS) wl_skip("move_pages: ENOSYS (CONFIG_MIGRATION or CONFIG_NUMA off)");
    wl_fail("move_pages: %s", strerror(errno));
  }
  if (pthread_create(&m->thread, NULL, migrate_loop, m)) wl_fail("pthread_create failed");
}

static void stop_migrator(struct migrator *m) {
  __atomic_store_n(&m->stop, 1, __ATOMIC_RELAXED);
  pthread_join(m->thread, NULL);
}

/* ---- collapse ---- */

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static long collapse_khugepaged(void) {
  uint64_t full0 = 0, full = 0;
  if (wl_khugepaged("full_scans", &full0))
    wl_skip("no " WL_THP_DIR "/khugepaged/full_scans on this kernel");
  uint64_t t0 = wl_now_ns();
  int rc = wl_madvise(g_region, g_pages * g_ps, MADV_HUGEPAGE);
  if (rc) wl_fail("MADV_HUGEPAGE: %s", strerror(-rc));
  long collapsed = 0;
  bool timed_out = false;
  for (;;) {
    sleep_ms(20);
    wl_khugepaged("full_scans", &full);
    collapsed = wl_count_huge_ranges(g_region, g_nranges, g_pmd, NULL);
    if (collapsed < 0) wl_fail("pagemap: %s", strerror((int)-collapsed));
    if (full >= full0 + (uint64_t)p_scans) break;
    if (wl_now_ns() - t0 > (uint64_t)p_timeout_s * 1000000000ull) {
      timed_out = true;
      break;
    }
  }
  wl_metric("full_scans", (double)(full - full0), "count");
  wl_metric("scan_wait_ms", (double)(wl_now_ns() - t0) / 1e6, "ms");
  if (timed_out)
    wl_note("warning: khugepaged advanced full_scans by %" PRIu64 " of %" PRId64 " in %" PRId64 " s",
            full - full0, p_scans, p_timeout_s);
  return timed_out ? -1 : collapsed;
}

static long collapse_madvise(void) {
  size_t ok = 0, e_again = 0, e_inval = 0, e_busy = 0, e_nomem = 0, e_other = 0;
  struct wl_samples lat;
  wl_samples_init(&lat, g_nranges, false);
  for (size_t r = 0; r < g_nranges; ++r) {
    uint64_t t = wl_now_ns();
    int rc = wl_madvise(g_region + r * g_pmd, g_pmd, MADV_COLLAPSE);
    wl_samples_add(&lat, wl_now_ns() - t);
    switch (rc) {
      case 0: ++ok; break;
      case -EAGAIN: ++e_again; break;
      case -EINVAL: ++e_inval; break;
      case -EBUSY: ++e_busy; break;
      case -ENOMEM: ++e_nomem; break;
      default: ++e_other;
    }
  }
  wl_metric("success_fraction", (double)ok / (double)g_nranges, "ratio");
  wl_report_latency(&lat, "collapse", "");
  wl_metric("errors_eagain", (double)e_again, "count");
  wl_metric("errors_einval", (double)e_inval, "count");
  wl_metric("errors_ebusy", (double)e_busy, "count");
  wl_metric("errors_enomem", (double)e_nomem, "count");
  wl_metric("errors_other", (double)e_other, "count");
  wl_note("MADV_COLLAPSE: %zu of %zu ok (EAGAIN %zu, EINVAL %zu, EBUSY %zu, ENOMEM %zu, other %zu)",
          ok, g_nranges, e_again, e_inval, e_busy, e_nomem, e_other);
  wl_samples_free(&lat);
  long collapsed = wl_count_huge_ranges(g_region, g_nranges, g_pmd, NULL);
  if (collapsed < 0) wl_fail("pagemap: %s", strerror((int)-collapsed));
  return collapsed;
}

/* Non-present entries among the marker pages right now. */
static size_t count_nonpresent_markers(void) {
  uint64_t *pm = malloc(g_pages * sizeof(uint64_t));
  if (!pm) wl_fail("out of memory");
  int rc = wl_pagemap_read(g_region, g_pages, pm);
  if (rc) wl_fail("pagemap: %s", strerror(-rc));
  size_t n = 0;
  for (size_t i = 0; i < g_pages; ++i) n += g_is_marker[i] && (pm[i] & WL_PM_SWAP);
  free(pm);
  return n;
}

/* Which ranges collapsed, and over what: one note per range with the markers it held before the
 * collapse step and holds now, its largest folio order and whether it is PMD-mapped; metrics
 * count the ranges that collapsed although they held markers, and the ranges that collapsed to
 * an mTHP order (a kernel with mTHP collapse may do that around markers it refuses). */
static void account_ranges(const size_t *markers_before) {
  const size_t range_pages = g_pmd / g_ps;
  int8_t *orders = malloc(range_pages);
  uint64_t *pm = malloc(range_pages * sizeof(uint64_t));
  uint8_t *pmd_mapped = calloc(g_nranges, 1);
  if (!orders || !pm || !pmd_mapped) wl_fail("out of memory");
  if (wl_count_huge_ranges(g_region, g_nranges, g_pmd, pmd_mapped) < 0) wl_fail("pagemap failed");
  size_t over_markers = 0, to_mthp = 0;
  for (size_t r = 0; r < g_nranges; ++r) {
    char *base = g_region + r * g_pmd;
    if (wl_page_orders(base, range_pages, orders) || wl_pagemap_read(base, range_pages, pm)) wl_fail("pagemap failed");
    int best = -1;
    size_t now = 0;
    for (size_t i = 0; i < range_pages; ++i) {
      if (orders[i] > best) best = orders[i];
      now += g_is_marker[r * range_pages + i] && (pm[i] & WL_PM_SWAP);
    }
    over_markers += pmd_mapped[r] && markers_before[r] > 0;
    to_mthp += !pmd_mapped[r] && best > 0;
    if (r < 64) /* bounded: a 512M region has 256 ranges */
      wl_note("range %zu: %s, largest folio order %d, markers %zu before collapse, %zu now", r,
              pmd_mapped[r] ? "collapsed (PMD)" : "not collapsed", best, markers_before[r], now);
  }
  wl_metric("ranges_collapsed_over_markers", (double)over_markers, "count");
  wl_metric("ranges_mthp", (double)to_mthp, "count");
  free(orders);
  free(pm);
  free(pmd_mapped);
}

/* Markers per range now (before the collapse step). */
static size_t *markers_per_range(void) {
  const size_t range_pages = g_pmd / g_ps;
  size_t *out = calloc(g_nranges, sizeof *out);
  uint64_t *pm = malloc(g_pages * sizeof(uint64_t));
  if (!out || !pm) wl_fail("out of memory");
  if (wl_pagemap_read(g_region, g_pages, pm)) wl_fail("pagemap failed");
  for (size_t i = 0; i < g_pages; ++i) out[i / range_pages] += g_is_marker[i] && (pm[i] & WL_PM_SWAP);
  free(pm);
  return out;
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, NPARAMS);
  wl_params_print(params, NPARAMS);
  g_pmd = (size_t)wl_require_thp();
  g_ps = wl_page_size();
  wl_require_pagemap();
  const bool by_khugepaged = strcmp(p_collapser, "khugepaged") == 0;
  if (by_khugepaged && !wl_thp_size_enabled(g_pmd >> 10, true))
    wl_skip("PMD-size THP is disabled for MADV_HUGEPAGE regions: khugepaged does not run");
  const bool uffd_wp = strcmp(p_marker, "uffd-wp") == 0, poison = strcmp(p_marker, "poison") == 0;
  const bool migration = strcmp(p_marker, "migration") == 0, guard = strcmp(p_marker, "guard") == 0;

  g_nranges = (size_t)(p_size / g_pmd) ? (size_t)(p_size / g_pmd) : 1;
  const size_t range_pages = g_pmd / g_ps;
  g_pages = g_nranges * range_pages;
  g_region = wl_map_aligned(g_pages * g_ps, g_pmd);
  g_is_marker = calloc(g_pages, 1);
  uint8_t *expect = calloc(g_pages, 1);
  uint8_t *sel = calloc(range_pages, 1);
  if (!g_is_marker || !expect || !sel) wl_fail("out of memory");
  uint64_t rng = p_seed ? (uint64_t)p_seed : wl_now_ns();
  for (size_t r = 0; r < g_nranges; ++r) {
    wl_select_pages(WL_FILL_STRIDED, (double)p_markers / (double)range_pages, range_pages, sel, &rng);
    memcpy(g_is_marker + r * range_pages, sel, range_pages);
  }
  struct wl_pattern pat;
  wl_pattern_init(&pat, g_ps, (uint64_t)p_seed);

  /* Populate with small pages: everything but the marker pages, and those too for the kinds
   * whose markers replace a present page (migration moves it; a guard zaps it). */
  wl_thp_disable(true);
  for (size_t i = 0; i < g_pages; ++i) {
    bool populate = !g_is_marker[i] || migration || guard;
    if (populate) {
      wl_fill_page(&pat, g_region + i * g_ps, i, 1);
      expect[i] = 1;
    }
    if (g_is_marker[i]) {
      if (uffd_wp) expect[i] = WL_GEN_ZERO;             /* a marker over nothing: zeros */
      if (poison || guard) expect[i] = WL_GEN_SKIP;     /* SIGBUS / SIGSEGV if touched */
    }
  }
  wl_thp_disable(false);

  int uffd = -1;
  size_t installed = 0;
  struct migrator mig;
  if (uffd_wp) {
    uffd = uffd_with(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_UNPOPULATED,
                     "uffd-wp markers on anonymous memory need UFFD_FEATURE_PAGEFAULT_FLAG_WP "
                     "and UFFD_FEATURE_WP_UNPOPULATED (6.4+, arch with uffd-wp)");
    uffd_register(uffd, UFFDIO_REGISTER_MODE_WP);
    install_uffd_wp(uffd);
    installed = count_nonpresent_markers();
  } else if (poison) {
    uffd = uffd_with(UFFD_FEATURE_POISON, "UFFDIO_POISON needs UFFD_FEATURE_POISON (6.6+)");
    uffd_register(uffd, UFFDIO_REGISTER_MODE_MISSING);
    install_poison(uffd);
    installed = count_nonpresent_markers();
  } else if (guard) {
    install_guards();
    installed = count_nonpresent_markers();
  } else {
    start_migrator(&mig);
    installed = 0; /* transient: counted as migrations below */
  }
  wl_metric("ranges", (double)g_nranges, "count");
  if (!migration) {
    wl_metric("markers_installed", (double)installed, "count");
    if (installed == 0) wl_fail("no %s marker showed up in pagemap", p_marker);
  }

  size_t *markers_before = markers_per_range();
  long collapsed = by_khugepaged ? collapse_khugepaged() : collapse_madvise();
  if (migration) {
    stop_migrator(&mig);
    wl_metric("pages_migrated", (double)mig.moved, "count");
    wl_metric("migration_passes", (double)mig.passes, "count");
    if (mig.failures)
      wl_note("move_pages failed %" PRIu64 " times (first: %s)", mig.failures, strerror(mig.first_error));
  } else {
    wl_metric("markers_remaining", (double)count_nonpresent_markers(), "count");
  }
  if (collapsed >= 0) wl_metric("collapsed_fraction", (double)collapsed / (double)g_nranges, "ratio");
  wl_note("%s markers, %s: %ld of %zu ranges collapsed", p_marker, p_collapser, collapsed, g_nranges);
  account_ranges(markers_before);
  free(markers_before);

  if (uffd >= 0) close(uffd); /* unregisters: uffd-wp markers go away, poison markers stay */
  struct wl_mismatch m;
  if (wl_verify_pages(&pat, g_region, 0, g_pages, expect, 0, &m))
    wl_integrity("%zu of %zu pages differ after the collapse attempt; first: %s", m.bad_pages,
                 m.checked_pages, m.why);
  if (collapsed < 0) wl_fail("khugepaged did not complete %" PRId64 " full scans in %" PRId64 " s",
                             p_scans, p_timeout_s);
  return WL_EXIT_OK;
}
