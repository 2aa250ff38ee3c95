/* What backs a range of our own address space, from /proc/self/pagemap (per-page present /
 * swapped / uffd-wp bits and PFNs; PFNs need CAP_SYS_ADMIN, which the guest agent has) and
 * /proc/kpageflags (compound head/tail bits, from which the folio order is derived exactly:
 * the head's run of tail pages). smaps gives the kernel's own AnonHugePages count (PMD-mapped
 * THPs only in 6.12). All need CONFIG_PROC_PAGE_MONITOR. */
#ifndef WL_PAGEMAP_H
#define WL_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#define WL_PM_PRESENT (1ull << 63)
#define WL_PM_SWAP (1ull << 62) /* any non-present, non-none entry: swap, migration, marker */
#define WL_PM_FILE (1ull << 61)
#define WL_PM_UFFD_WP (1ull << 57)
#define WL_PM_EXCLUSIVE (1ull << 56)
#define WL_PM_PFN_MASK ((1ull << 55) - 1)

#define WL_KPF_COMPOUND_HEAD 15
#define WL_KPF_COMPOUND_TAIL 16
#define WL_KPF_HUGE 17
#define WL_KPF_THP 22
#define WL_KPF_ZERO_PAGE 24

#define WL_MAX_ORDER 10

/* Reads npages pagemap entries starting at addr (page aligned). 0 or -errno. */
int wl_pagemap_read(const void *addr, size_t npages, uint64_t *out);

/* NULL when this kernel has no pagemap/kpageflags or PFNs are hidden; else "" */
const char *wl_pagemap_unavailable(void);

/* Per-page folio order of what maps each page: 0..WL_MAX_ORDER for a present page,
 * -1 none, -2 non-present entry (swap / migration / marker). 0 or -errno. */
int wl_page_orders(const void *addr, size_t npages, int8_t *orders);

struct wl_census {
  size_t pages;     /* pages examined */
  size_t present;
  size_t nonpresent;  /* swap entries, migration entries, PTE markers */
  size_t none;
  size_t uffd_wp;     /* entries (present or not) carrying the uffd-wp bit */
  size_t large;       /* present pages mapped from a folio of order >= 1 */
  size_t by_order[WL_MAX_ORDER + 1]; /* present pages by order of their folio */
};

/* Census of [addr, addr + npages pages). 0 or -errno. */
int wl_census_range(const void *addr, size_t npages, struct wl_census *c);

/* How many of nranges consecutive ranges of range_bytes (a folio size, e.g. the PMD size)
 * starting at base are mapped, from their first page, by one folio of exactly that size;
 * collapsed[i] (optional) says which. Count, or -errno. */
long wl_count_huge_ranges(const void *base, size_t nranges, size_t range_bytes,
                          uint8_t *collapsed);

/* Sum of one smaps field (kB) over the VMAs overlapping [addr, addr+len). -1 if unreadable. */
long wl_smaps_kb(const void *addr, size_t len, const char *field);

/* log2 of a power of two (0 for 0 and 1). */
unsigned wl_ilog2(uint64_t v);

#endif
