/* Verifiable page contents. Every page gets a header word naming its own page index and a
 * generation, followed by a pseudo-random stream seeded by (run seed, index, generation). So a
 * page is never all zeros (6.12 does not write zero-filled pages to swap: they would only bump
 * swpout_zero), and a mismatch can be explained: a page that holds another page's data (a
 * misplaced PTE or swap slot), a stale generation (a lost write), zeros (a lost page) or a
 * corrupted word. Generation 0 means "expected to read as zeros". */
#ifndef WL_PATTERN_H
#define WL_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define WL_GEN_ZERO 0    /* expectation: the page reads as zeros (never written) */
#define WL_GEN_SKIP 255  /* expectation: do not look at this page (unmapped, poisoned, guard) */

struct wl_pattern {
  uint64_t seed;
  size_t page_size;
};

/* seed 0 picks one from the clock and the pid. */
void wl_pattern_init(struct wl_pattern *p, size_t page_size, uint64_t seed);

void wl_fill_page(const struct wl_pattern *p, void *page, uint64_t index, unsigned gen);
/* Fills npages consecutive pages starting at page index `first` with one generation. */
void wl_fill_pages(const struct wl_pattern *p, void *base, uint64_t first, size_t npages,
                   unsigned gen);

/* 0 when the page holds (index, gen) (or zeros for WL_GEN_ZERO, or anything for WL_GEN_SKIP);
 * otherwise 1 and a one-line explanation in why. Every call but a WL_GEN_SKIP one counts as
 * one checked page (wl_checked_pages). */
int wl_check_page(const struct wl_pattern *p, const void *page, uint64_t index, unsigned gen,
                  char *why, size_t cap);
int wl_page_is_zero(const void *page, size_t page_size);

struct wl_mismatch {
  size_t bad_pages;      /* pages that did not match */
  size_t checked_pages;  /* pages compared (WL_GEN_SKIP excluded) */
  uint64_t first_index;  /* page index of the first bad page */
  char why[320];         /* explanation of the first bad page, with its address */
};

/* Verifies npages pages at base (page index `first` for the first one) against expect[i]
 * (a generation per page) or, when expect is NULL, against `gen` for all. Returns bad_pages. */
size_t wl_verify_pages(const struct wl_pattern *p, const void *base, uint64_t first,
                       size_t npages, const uint8_t *expect, unsigned gen,
                       struct wl_mismatch *m);

/* Pages compared against an expectation so far (wl_check_page calls, WL_GEN_SKIP excluded),
 * by this process and by the children it forked after its first wl_pattern_init(): the tally
 * lives in a shared mapping made there. Returns 0 when this process never called
 * wl_pattern_init() (it is not a data workload), else 1 with the count in *n. The report
 * library prints it as the metric checked_pages when the workload ends, so an "ok" always
 * says how many page verifications back it. */
int wl_checked_pages(uint64_t *n);

#endif
