/* thp-fault: fault a MADV_HUGEPAGE region in folios of one size at a time, for the PMD size
 * and each enabled mTHP size, and report the fault latency and how much of the region the
 * kernel actually backed with folios of that size.
 *
 * For a size S the region is S-sized chunks, each its own VMA (wl_map_chunked), so the first
 * touch of a chunk can allocate a folio of S and nothing larger: the result per size does not
 * depend on which larger sizes are also enabled. Each chunk's first write is timed (that fault
 * allocates, zeroes and maps the folio); then every page is written with the pattern and
 * verified. The folio census comes from pagemap + kpageflags; smaps AnonHugePages is reported
 * for the PMD size (6.12 counts only PMD-mapped THPs there). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl.h"

static uint64_t p_size;
static const char *p_sizes;
static int64_t p_seed;

static const struct wl_param params[] = {
    {"size", WL_P_SIZE, "16M", &p_size, 64 << 10, 1024.0 * 1024 * 1024, NULL,
     "bytes faulted per folio size"},
    {"sizes", WL_P_STRING, "enabled", &p_sizes, 0, 0, NULL,
     "folio sizes to test: 'enabled' (PMD and every mTHP size enabled for MADV_HUGEPAGE), "
     "'all', or a comma list of sizes (64K,2M)"},
    {"seed", WL_P_INT, "0", &p_seed, 0, 0, NULL, "pattern seed (0: from the clock)"},
};

static void run_size(uint64_t size_bytes, uint64_t pmd, const struct wl_pattern *pat) {
  const size_t ps = wl_page_size();
  const uint64_t kb = size_bytes >> 10;
  char suffix[32];
  snprintf(suffix, sizeof suffix, ".%" PRIu64 "kB", kb);
  size_t nchunks = (size_t)(p_size / size_bytes);
  if (nchunks == 0) nchunks = 1;
  const size_t chunk_pages = (size_t)(size_bytes / ps);
  const size_t pages = nchunks * chunk_pages;

  struct wl_chunked region;
  wl_map_chunked(&region, (size_t)size_bytes, nchunks, true);

  struct wl_samples lat;
  wl_samples_init(&lat, nchunks, false);
  for (size_t i = 0; i < nchunks; ++i) {
    volatile uint64_t *first = (volatile uint64_t *)wl_chunk(&region, i);
    uint64_t t0 = wl_now_ns();
    *first = 1; /* the fault that allocates the chunk's folio */
    wl_samples_add(&lat, wl_now_ns() - t0);
  }
  for (size_t i = 0; i < nchunks; ++i)
    wl_fill_pages(pat, wl_chunk(&region, i), i * chunk_pages, chunk_pages, 1);

  struct wl_census total = {0};
  for (size_t i = 0; i < nchunks; ++i) {
    struct wl_census c;
    int rc = wl_census_range(wl_chunk(&region, i), chunk_pages, &c);
    if (rc) wl_fail("pagemap census: %s", strerror(-rc));
    total.pages += c.pages;
    total.present += c.present;
    total.large += c.large;
    for (int o = 0; o <= WL_MAX_ORDER; ++o) total.by_order[o] += c.by_order[o];
  }
  for (size_t i = 0; i < nchunks; ++i) {
    struct wl_mismatch m;
    if (wl_verify_pages(pat, wl_chunk(&region, i), i * chunk_pages, chunk_pages, NULL, 1, &m))
      wl_integrity("size %" PRIu64 "kB: %zu pages differ after fault and write; first: %s", kb,
                   m.bad_pages, m.why);
  }

  unsigned order = wl_ilog2(chunk_pages);
  double folio_fraction = (double)total.by_order[order > WL_MAX_ORDER ? WL_MAX_ORDER : order] /
                          (double)pages;
  wl_report_latency(&lat, "fault", suffix);
  wl_metricf("ratio", folio_fraction, "folio_fraction%s", suffix);
  wl_metricf("ratio", (double)total.large / (double)pages, "huge_fraction%s", suffix);
  if (size_bytes == pmd) {
    long anon_huge_kb = wl_smaps_kb(region.reserve, region.reserve_len, "AnonHugePages");
    if (anon_huge_kb >= 0)
      wl_metricf("ratio", (double)anon_huge_kb * 1024.0 / (double)(pages * ps),
                 "smaps_huge_fraction%s", suffix);
  }
  char orders[256];
  int n = 0;
  for (int o = 0; o <= WL_MAX_ORDER; ++o)
    if (total.by_order[o])
      n += snprintf(orders + n, sizeof orders - (size_t)n, " order%d=%zu", o, total.by_order[o]);
  orders[n] = 0;
  wl_note("size %" PRIu64 "kB (%s): %zu chunks, p50 fault %.1f us, pages by folio order:%s", kb,
          wl_thp_size_enabled(kb, true) ? "enabled" : "not enabled", nchunks,
          (double)wl_samples_pct(&lat, 50) / 1e3, n ? orders : " none");
  wl_samples_free(&lat);
  wl_unmap_chunked(&region);
}

int main(int argc, char **argv) {
  wl_report_init(argv[0]);
  wl_params_parse(argc, argv, params, (int)(sizeof params / sizeof params[0]));
  wl_params_print(params, (int)(sizeof params / sizeof params[0]));
  const uint64_t pmd = wl_require_thp();
  wl_require_pagemap();
  wl_require_madvise(MADV_HUGEPAGE, "MADV_HUGEPAGE");

  uint64_t available[16];
  int navailable = wl_thp_sizes(available, 16);
  uint64_t chosen[16];
  int nchosen = 0;
  if (strcmp(p_sizes, "enabled") == 0 || strcmp(p_sizes, "all") == 0) {
    bool all = strcmp(p_sizes, "all") == 0;
    for (int i = 0; i < navailable; ++i)
      if (all || wl_thp_size_enabled(available[i], true)) chosen[nchosen++] = available[i] << 10;
    if (navailable == 0) chosen[nchosen++] = pmd; /* a kernel without per-size directories */
    if (nchosen == 0)
      wl_skip("no THP size is enabled for MADV_HUGEPAGE regions (transparent_hugepage/enabled "
              "and every hugepages-<N>kB/enabled say never)");
  } else {
    char *list = strdup(p_sizes);
    for (char *tok = strtok(list, ","); tok && nchosen < 16; tok = strtok(NULL, ",")) {
      uint64_t bytes;
      if (wl_parse_size(tok, &bytes)) wl_fail("sizes: %s is not a size", tok);
      int known = 0;
      for (int i = 0; i < navailable; ++i) known |= (available[i] << 10) == bytes;
      if (!known && bytes != pmd)
        wl_skip("folio size %" PRIu64 "kB: no hugepages-%" PRIu64 "kB on this kernel (arch)",
                bytes >> 10, bytes >> 10);
      chosen[nchosen++] = bytes;
    }
    free(list);
  }

  struct wl_pattern pat;
  wl_pattern_init(&pat, wl_page_size(), (uint64_t)p_seed);
  for (int i = 0; i < nchosen; ++i) run_size(chosen[i], pmd, &pat);
  wl_metric("sizes_tested", nchosen, "count");
  return WL_EXIT_OK;
}
