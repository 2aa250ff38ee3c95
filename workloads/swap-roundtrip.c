/* swap-roundtrip: a region of folios of one size (PMD THP, an mTHP size, or small pages) is
 * written, swapped out with MADV_PAGEOUT, checked swapped through pagemap, read back (timed
 * per page, every fault classified), verified, rewritten and verified again.
 *
 * Reports swap-out and swap-in throughput, swap-in fault latency percentiles, the folio size
 * census before swap-out and after swap-in (6.12 brings a PMD THP back as small pages; mTHP
 * swap-in from zram can keep the size), and the fraction of folios swapped out whole
 * (thp_swpout for the PMD size, hugepages-<N>kB/stats/swpout for mTHP): an arch without
 * THP_SWAP splits them first, and the result says so.
 * The suite should keep khugepaged slow (long scan_sleep_millisecs): a re-collapse during the
 * swap-in would be measured as swap-in.
 *
 * fault=corrupt|discard damages one page between the first swap-out and the read-back (a
 * flipped byte; MADV_DONTNEED, so it reads back as zeros), through the same verification as
 * every run: such a run must end integrity-failed naming that page, which is what shows end to
 * end that the verification runs (CI asserts it on x86_64). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

static uint64_t p_size, p_folio;
static const char *p_device, *p_fault;
static int64_t p_cycles, p_seed;

static const char *const devices[] = {"any", "zram", "disk", NULL};
static const char *const faults[] = {"none", "corrupt", "discard", NULL};

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "32M", &p_size, 64 << 10, 1024.0 * 1024 * 1024, NULL, "region size"},
    {"folio", WL_P_SIZE, "2M", &p_folio, 4096, 1024.0 * 1024 * 1024, NULL,
     "folio size: the PMD size, an mTHP size, or the page size for small pages"},
    {"device", WL_P_ENUM, "any", &p_device, 0, 0, devices,
     "the swap device that must receive the pages (the highest-priority active one)"},
    {"cycles", WL_P_INT, "1", &p_cycles, 1, 100, NULL,
     "swap-out/in cycles; metrics describe the first, later ones only verify"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern seed (0: from the clock)"},
    {"fault", WL_P_ENUM, "none", &p_fault, 0, 0, faults,
     "fault injection after the first swap-out, to prove the verification catches it: corrupt "
     "flips a byte of one page, discard drops one page (MADV_DONTNEED); the run must end "
     "integrity-failed naming the page"},
};
#define NPARAMS ((int)(sizeof params / sizeof params[0]))

/* Whole-folio swap-outs of this size so far: thp_swpout for PMD, the per-size stat for mTHP;
 * and the folios that had to be split instead (thp_swpout_fallback, swpout_fallback). */
static int whole_swpout(uint64_t folio, uint64_t pmd, uint64_t *value) {
  if (folio == pmd) return wl_vmstat("thp_swpout", value);
  return wl_mthp_stat(folio >> 10, "swpout", value);
}
static uint64_t swpout_fallback(uint64_t folio, uint64_t pmd) {
  uint64_t v = 0;
  if (folio == pmd) wl_vmstat("thp_swpout_fallback", &v);
  else wl_mthp_stat(folio >> 10, "swpout_fallback", &v);
  return v;
}

/* Reports the census of the region; returns the fraction of pages in large folios. */
static double census_metrics(const struct wl_folio_region *r, const char *when) {
  struct wl_census total = {0};
  for (size_t i = 0; i < r->nfolios; ++i) {
    struct wl_census c;
    int rc = wl_census_range(wl_folio_at(r, i), r->folio_pages, &c);
    if (rc) wl_fail("pagemap census: %s", strerror(-rc));
    total.pages += c.pages;
    total.present += c.present;
    total.nonpresent += c.nonpresent;
    total.large += c.large;
    for (int o = 0; o <= WL_MAX_ORDER; ++o) total.by_order[o] += c.by_order[o];
  }
  unsigned order = wl_ilog2(r->folio_pages);
  if (order > WL_MAX_ORDER) order = WL_MAX_ORDER;
  wl_metricf("ratio", (double)total.by_order[order] / (double)total.pages, "folio_fraction_%s", when);
  wl_metricf("ratio", (double)total.large / (double)total.pages, "huge_fraction_%s", when);
  char orders[256];
  int n = 0;
  for (int o = 0; o <= WL_MAX_ORDER; ++o)
    if (total.by_order[o])
      n += snprintf(orders + n, sizeof orders - (size_t)n, " order%d=%zu", o, total.by_order[o]);
  orders[n] = 0;
  wl_note("%s: present %zu of %zu pages, by folio order:%s", when, total.present, total.pages,
          n ? orders : " none");
  return (double)total.large / (double)total.pages;
}

/* Why a large folio came back as small pages, where the workload can tell. */
static void explain_small_swapin(const struct wl_folio_region *r, uint64_t pmd) {
  if (r->folio == pmd) {
    wl_note("PMD THPs come back as small pages on kernels without PMD swap entries");
    return;
  }
  char text[16];
  if (wl_read_text("/sys/module/zswap/parameters/enabled", text, sizeof text) == 0)
    wl_note("no %zukB folio came back whole: on 6.12 mTHP swap-in falls back to order 0 once "
            "zswap was ever initialised (even by writing N to zswap/enabled at run time), and "
            "for swap entries shared with another process", r->folio >> 10);
}

static void verify_all(const struct wl_folio_region *r, const struct wl_pattern *pat, unsigned gen,
                       const char *when) {
  for (size_t i = 0; i < r->nfolios; ++i) {
    struct wl_mismatch m;
    if (wl_verify_pages(pat, wl_folio_at(r, i), i * r->folio_pages, r->folio_pages, NULL, gen, &m))
      wl_integrity("%s: %zu pages of folio %zu differ; first: %s", when, m.bad_pages, i, m.why);
  }
}

static void write_all(const struct wl_folio_region *r, const struct wl_pattern *pat, unsigned gen) {
  for (size_t i = 0; i < r->nfolios; ++i)
    wl_fill_pages(pat, wl_folio_at(r, i), i * r->folio_pages, r->folio_pages, gen);
}

/* MADV_PAGEOUT of every folio; returns the elapsed time. */
static uint64_t pageout_all(const struct wl_folio_region *r) {
  uint64_t t0 = wl_now_ns();
  if (r->flat) {
    int rc = wl_madvise(r->flat, r->folio * r->nfolios, MADV_PAGEOUT);
    if (rc) wl_fail("MADV_PAGEOUT: %s", strerror(-rc));
  } else {
    for (size_t i = 0; i < r->nfolios; ++i) {
      int rc = wl_madvise(wl_folio_at(r, i), r->folio, MADV_PAGEOUT);
      if (rc) wl_fail("MADV_PAGEOUT: %s", strerror(-rc));
    }
  }
  return wl_now_ns() - t0;
}

static size_t count_swapped(const struct wl_folio_region *r) {
  uint64_t *pm = malloc(r->folio_pages * sizeof(uint64_t));
  if (!pm) wl_fail("out of memory");
  size_t swapped = 0;
  for (size_t i = 0; i < r->nfolios; ++i) {
    int rc = wl_pagemap_read(wl_folio_at(r, i), r->folio_pages, pm);
    if (rc) wl_fail("pagemap: %s", strerror(-rc));
    for (size_t j = 0; j < r->folio_pages; ++j) swapped += (pm[j] & WL_PM_SWAP) != 0;
  }
  free(pm);
  return swapped;
}

/* fault=corrupt|discard: damages one page (a tail page of the middle folio when folios are
 * large) while the region is swapped out, and says which, so the integrity reason can be
 * checked against it. */
static void inject_fault(const struct wl_folio_region *r, size_t ps) {
  if (strcmp(p_fault, "none") == 0) return;
  size_t index = r->npages > 2 ? r->npages / 2 + 1 : 0;
  char *page = wl_folio_page(r, index);
  if (strcmp(p_fault, "corrupt") == 0) {
    /* A read-modify-write: the page is swapped in, then one byte of word ps/16 changes. */
    volatile unsigned char *byte = (volatile unsigned char *)page + ps / 2 + 3;
    *byte ^= 0x5a;
    wl_note("fault=corrupt: flipped byte %zu of page %zu at %p after the swap-out", ps / 2 + 3,
            index, (void *)page);
  } else {
    int rc = wl_madvise(page, ps, MADV_DONTNEED);
    if (rc) wl_fail("fault=discard: MADV_DONTNEED of page %zu: %s", index, strerror(-rc));
    wl_note("fault=discard: MADV_DONTNEED on page %zu at %p after the swap-out", index,
            (void *)page);
  }
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
    if (p_folio != pmd) {
      char path[128];
      snprintf(path, sizeof path, WL_THP_DIR "/hugepages-%" PRIu64 "kB/enabled", p_folio >> 10);
      if (access(path, F_OK))
        wl_skip("folio size %" PRIu64 "kB: no hugepages-%" PRIu64 "kB on this kernel (arch)",
                p_folio >> 10, p_folio >> 10);
    }
    if (!wl_thp_size_enabled(p_folio >> 10, true))
      wl_skip("folio size %" PRIu64 "kB is not enabled for MADV_HUGEPAGE regions (settings)",
              p_folio >> 10);
  }
  if (p_folio % ps || (p_folio & (p_folio - 1)))
    wl_fail("folio=%" PRIu64 " is not a power-of-two multiple of the page size", p_folio);
  wl_require_pagemap();
  wl_require_madvise(MADV_PAGEOUT, "MADV_PAGEOUT");
  wl_require_vmstat("pswpin");
  struct wl_swapdev dev;
  wl_require_swap(p_device, &dev);
  wl_note("swap device %s (%s, priority %d, %" PRIu64 " kB)", dev.path, wl_swap_kind(&dev),
          dev.priority, dev.size_kb);

  size_t nfolios = (size_t)(p_size / p_folio);
  if (nfolios == 0) nfolios = 1;
  struct wl_folio_region r;
  wl_folio_region_map(&r, (size_t)p_folio, nfolios, (size_t)pmd);
  const double mib = (double)(r.npages * ps) / (1024.0 * 1024.0);
  struct wl_pattern pat;
  wl_pattern_init(&pat, ps, (uint64_t)p_seed);
  char **order = malloc(r.npages * sizeof(char *));
  if (!order) wl_fail("out of memory");
  for (size_t i = 0; i < r.npages; ++i) order[i] = wl_folio_page(&r, i);

  if (small) wl_thp_disable(true);
  write_all(&r, &pat, 1);
  if (small) wl_thp_disable(false);
  verify_all(&r, &pat, 1, "after the first write");
  census_metrics(&r, "before");

  struct wl_samples lat;
  wl_samples_init(&lat, r.npages, false);
  unsigned gen = 1;
  for (int64_t cycle = 0; cycle < p_cycles; ++cycle) {
    const bool measured = cycle == 0;
    uint64_t whole0 = 0, whole1 = 0;
    int whole_rc = small ? -ENOENT : whole_swpout(p_folio, pmd, &whole0);
    uint64_t fallback0 = small ? 0 : swpout_fallback(p_folio, pmd);
    uint64_t out_ns = pageout_all(&r);
    if (!small && whole_rc == 0) whole_swpout(p_folio, pmd, &whole1);
    uint64_t fallback1 = small ? 0 : swpout_fallback(p_folio, pmd);
    size_t swapped = count_swapped(&r);
    if (swapped == 0)
      wl_fail("MADV_PAGEOUT swapped out none of %zu pages (swap full, or pages pinned?)", r.npages);
    if (measured) {
      wl_metric("swapped_fraction", (double)swapped / (double)r.npages, "ratio");
      wl_metric("swapout_mib_s", mib / ((double)out_ns / 1e9), "MiB/s");
      if (!small && whole_rc == 0) {
        double whole = (double)(whole1 - whole0) / (double)nfolios;
        wl_metric("whole_folio_swpout_fraction", whole, "ratio");
        wl_metric("swpout_fallback_fraction", (double)(fallback1 - fallback0) / (double)nfolios, "ratio");
        if (whole1 == whole0)
          wl_note("no %" PRIu64 "kB folio was swapped out whole (%" PRIu64 " swap-out fallbacks): "
                  "they were split first; no THP_SWAP on this arch/kernel, or %s (%s) could not "
                  "give whole swap clusters", p_folio >> 10, fallback1 - fallback0, dev.path,
                  wl_swap_kind(&dev));
      }
    }

    if (measured) inject_fault(&r, ps);

    struct wl_touch_stats st = {.lat = measured ? &lat : NULL};
    uint64_t collapsed0 = 0, collapsed1 = 0;
    wl_khugepaged("pages_collapsed", &collapsed0);
    uint64_t t0 = wl_now_ns();
    wl_touch_pages(order, r.npages, &st);
    uint64_t in_ns = wl_now_ns() - t0;
    wl_khugepaged("pages_collapsed", &collapsed1);
    if (measured) {
      wl_metric("swapin_mib_s", mib / ((double)st.busy_ns / 1e9), "MiB/s");
      wl_metric("swapin_pass_ms", (double)in_ns / 1e6, "ms");
      wl_report_latency(&lat, "swapin_fault", "");
      wl_metric("swapin_faulted_fraction", (double)st.faulted_pages / (double)r.npages, "ratio");
      wl_metric("swapin_major_faults", (double)st.major, "count");
      if (st.major == 0)
        wl_note("no major fault during the swap-in: the pages were still in the swap cache "
                "(writeback to %s had not let them go), so this measured swap-cache hits",
                dev.path);
      wl_metric("refaults", (double)st.refaults, "count");
      /* khugepaged collapsing during the read would be measured as swap-in: make it visible. */
      wl_metric("khugepaged_collapsed_during_swapin", (double)(collapsed1 - collapsed0), "count");
      if (collapsed1 != collapsed0)
        wl_note("warning: khugepaged collapsed %" PRIu64 " PMD ranges during the swap-in (keep "
                "scan_sleep_millisecs long for this workload)", collapsed1 - collapsed0);
      if (census_metrics(&r, "after") == 0 && !small) explain_small_swapin(&r, pmd);
    }
    verify_all(&r, &pat, gen, "after swap-in");
    ++gen;
    write_all(&r, &pat, gen);
    verify_all(&r, &pat, gen, "after rewriting the swapped-in pages");
  }
  wl_metric("cycles", (double)p_cycles, "count");
  return WL_EXIT_OK;
}
