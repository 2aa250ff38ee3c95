/* Address-space and process helpers shared by the workloads: aligned anonymous regions,
 * "chunked" regions whose every chunk is its own VMA (so a fault can allocate a folio of
 * exactly the chunk's size and no larger), page selection by fill pattern, a seeded PRNG,
 * clocks, CPU pinning and per-thread fault counts. Allocation failures end the workload
 * with {"fail": ...}. */
#ifndef WL_REGION_H
#define WL_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

uint64_t wl_now_ns(void);
size_t wl_page_size(void);

/* Anonymous private read-write region of size bytes, aligned to align (a power of two). */
void *wl_map_aligned(size_t size, size_t align);
void wl_unmap(void *addr, size_t size);

/* Returns 0 or -errno. */
int wl_madvise(void *addr, size_t len, int advice);

/* nchunks chunks of chunk bytes, each aligned to chunk and separated by a PROT_NONE gap of
 * chunk bytes (address space only): every chunk is a separate VMA, so no fault in it can map a
 * folio larger than the chunk. With hugepage, MADV_HUGEPAGE is applied to every chunk. */
struct wl_chunked {
  char *reserve;
  size_t reserve_len;
  size_t chunk, nchunks;
};
void wl_map_chunked(struct wl_chunked *c, size_t chunk, size_t nchunks, bool hugepage);
static inline char *wl_chunk(const struct wl_chunked *c, size_t i) {
  return c->reserve + (2 * i + 1) * c->chunk - ((uintptr_t)c->reserve % c->chunk);
}
void wl_unmap_chunked(struct wl_chunked *c);

/* nfolios folios of `folio` bytes each, faulted in on first touch: for the page size a plain
 * region (the caller populates it under wl_thp_disable), for the PMD size one PMD-aligned
 * MADV_HUGEPAGE region, for an mTHP size a chunked MADV_HUGEPAGE region (one VMA per folio).
 * Pages are numbered 0 .. npages-1 across the folios. */
struct wl_folio_region {
  size_t folio, nfolios, folio_pages, npages, ps;
  char *flat;               /* page size and PMD size */
  struct wl_chunked chunks; /* mTHP sizes */
};
void wl_folio_region_map(struct wl_folio_region *r, size_t folio, size_t nfolios, size_t pmd);
void wl_folio_region_unmap(struct wl_folio_region *r);
static inline char *wl_folio_at(const struct wl_folio_region *r, size_t i) {
  return r->flat ? r->flat + i * r->folio : wl_chunk(&r->chunks, i);
}
static inline char *wl_folio_page(const struct wl_folio_region *r, size_t page) {
  return wl_folio_at(r, page / r->folio_pages) + (page % r->folio_pages) * r->ps;
}

/* prctl(PR_SET_THP_DISABLE): while set, no fault of this process allocates a large folio,
 * whatever the VMA flags and sysfs knobs say; used to populate regions with small pages. */
void wl_thp_disable(bool disable);

/* Fill patterns inside one range of n pages: which pages are populated. */
enum wl_fill_pattern { WL_FILL_CONTIGUOUS, WL_FILL_STRIDED, WL_FILL_RANDOM };
int wl_fill_pattern_from(const char *name, enum wl_fill_pattern *out);
/* Sets sel[i] = 1 for round(fraction * n) of the n pages, chosen by pattern (contiguous from
 * the start, evenly strided, or uniformly random); the rest 0. Returns the number selected. */
size_t wl_select_pages(enum wl_fill_pattern pattern, double fraction, size_t n, uint8_t *sel,
                       uint64_t *rng);

/* splitmix64 PRNG. */
uint64_t wl_rng_next(uint64_t *state);
uint64_t wl_rng_below(uint64_t *state, uint64_t bound);
void wl_shuffle(size_t *items, size_t n, uint64_t *state);

/* Pins the calling thread to one CPU; 0 or -errno. */
int wl_pin_cpu(int cpu);
int wl_online_cpus(void);

/* Faults taken by the calling thread so far (getrusage RUSAGE_THREAD). */
void wl_thread_faults(uint64_t *minor, uint64_t *major);

/* Waits for a child; its exit code, or 128 + signal number when it was killed. */
int wl_wait_child(pid_t pid);

#endif
