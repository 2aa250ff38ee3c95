#include "pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_pagemap_fd = -1;
static int g_kpageflags_fd = -1;
static size_t g_page_size;

static int open_files(void) {
  if (!g_page_size) g_page_size = (size_t)sysconf(_SC_PAGESIZE);
  if (g_pagemap_fd < 0) {
    g_pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (g_pagemap_fd < 0) return -errno;
  }
  if (g_kpageflags_fd < 0) {
    g_kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    if (g_kpageflags_fd < 0) return -errno;
  }
  return 0;
}

unsigned wl_ilog2(uint64_t v) {
  unsigned r = 0;
  while (v > 1) {
    v >>= 1;
    ++r;
  }
  return r;
}

static int pread_all(int fd, void *buf, size_t len, off_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    done += (size_t)n;
  }
  return 0;
}

int wl_pagemap_read(const void *addr, size_t npages, uint64_t *out) {
  int rc = open_files();
  if (rc && g_pagemap_fd < 0) return rc;
  off_t off = (off_t)((uintptr_t)addr / g_page_size * sizeof(uint64_t));
  return pread_all(g_pagemap_fd, out, npages * sizeof(uint64_t), off);
}

const char *wl_pagemap_unavailable(void) {
  static char why[160];
  int rc = open_files();
  if (rc) {
    snprintf(why, sizeof why, "%s: %s (CONFIG_PROC_PAGE_MONITOR missing?)",
             g_pagemap_fd < 0 ? "/proc/self/pagemap" : "/proc/kpageflags", strerror(-rc));
    return why;
  }
  /* A page we just wrote must show a PFN; 0 means PFNs are hidden (no CAP_SYS_ADMIN). */
  static volatile uint64_t probe[512];
  probe[0] = 1;
  uint64_t e = 0;
  rc = wl_pagemap_read((const void *)((uintptr_t)probe & ~(uintptr_t)(g_page_size - 1)), 1, &e);
  if (rc) {
    snprintf(why, sizeof why, "/proc/self/pagemap: %s", strerror(-rc));
    return why;
  }
  if ((e & WL_PM_PRESENT) && (e & WL_PM_PFN_MASK) == 0) {
    snprintf(why, sizeof why, "/proc/self/pagemap hides PFNs (not CAP_SYS_ADMIN)");
    return why;
  }
  return NULL;
}

/* The folio containing a PFN, found from kpageflags: the nearest head at or below the PFN and
 * the run of tail pages after it. One folio is cached: consecutive pages of a region usually
 * share it. */
struct folio_cache {
  uint64_t head, nr;
};

static int folio_of(uint64_t pfn, struct folio_cache *fc) {
  enum { WINDOW = 1u << WL_MAX_ORDER };
  static uint64_t flags[WINDOW];
  if (fc->nr && pfn >= fc->head && pfn < fc->head + fc->nr) return 0;
  uint64_t f;
  int rc = pread_all(g_kpageflags_fd, &f, sizeof f, (off_t)(pfn * sizeof f));
  if (rc) return rc;
  uint64_t head = pfn;
  if (f & (1ull << WL_KPF_COMPOUND_TAIL)) {
    uint64_t lo = pfn >= WINDOW - 1 ? pfn - (WINDOW - 1) : 0;
    size_t n = (size_t)(pfn - lo + 1);
    rc = pread_all(g_kpageflags_fd, flags, n * sizeof f, (off_t)(lo * sizeof f));
    if (rc) return rc;
    size_t i = n;
    while (i > 0 && !(flags[i - 1] & (1ull << WL_KPF_COMPOUND_HEAD))) --i;
    if (i == 0) { /* head out of the window: treat as a single page */
      fc->head = pfn;
      fc->nr = 1;
      return 0;
    }
    head = lo + i - 1;
    f = flags[i - 1];
  }
  if (!(f & (1ull << WL_KPF_COMPOUND_HEAD))) {
    fc->head = pfn;
    fc->nr = 1;
    return 0;
  }
  /* The window may run past the last PFN: a short read is fine. */
  ssize_t got;
  do {
    got = pread(g_kpageflags_fd, flags, (WINDOW - 1) * sizeof f, (off_t)((head + 1) * sizeof f));
  } while (got < 0 && errno == EINTR);
  if (got < 0) return -errno;
  uint64_t avail = (uint64_t)got / sizeof f;
  uint64_t tails = 0;
  while (tails < avail && (flags[tails] & (1ull << WL_KPF_COMPOUND_TAIL))) ++tails;
  fc->head = head;
  fc->nr = tails + 1;
  return 0;
}

int wl_page_orders(const void *addr, size_t npages, int8_t *orders) {
  int rc = open_files();
  if (rc) return rc;
  enum { BATCH = 4096 };
  static uint64_t entries[BATCH];
  struct folio_cache fc = {0, 0};
  for (size_t done = 0; done < npages;) {
    size_t n = npages - done < BATCH ? npages - done : BATCH;
    rc = wl_pagemap_read((const char *)addr + done * g_page_size, n, entries);
    if (rc) return rc;
    for (size_t i = 0; i < n; ++i) {
      uint64_t e = entries[i];
      int8_t order;
      if (e & WL_PM_PRESENT) {
        uint64_t pfn = e & WL_PM_PFN_MASK;
        rc = folio_of(pfn, &fc);
        if (rc) return rc;
        order = (int8_t)wl_ilog2(fc.nr);
      } else if (e & WL_PM_SWAP) {
        order = -2;
      } else {
        order = -1;
      }
      orders[done + i] = order;
    }
    done += n;
  }
  return 0;
}

int wl_census_range(const void *addr, size_t npages, struct wl_census *c) {
  memset(c, 0, sizeof *c);
  int rc = open_files();
  if (rc) return rc;
  enum { BATCH = 4096 };
  static uint64_t entries[BATCH];
  struct folio_cache fc = {0, 0};
  for (size_t done = 0; done < npages;) {
    size_t n = npages - done < BATCH ? npages - done : BATCH;
    rc = wl_pagemap_read((const char *)addr + done * g_page_size, n, entries);
    if (rc) return rc;
    for (size_t i = 0; i < n; ++i) {
      uint64_t e = entries[i];
      c->pages++;
      if (e & WL_PM_UFFD_WP) c->uffd_wp++;
      if (e & WL_PM_PRESENT) {
        c->present++;
        rc = folio_of(e & WL_PM_PFN_MASK, &fc);
        if (rc) return rc;
        unsigned order = wl_ilog2(fc.nr);
        if (order > WL_MAX_ORDER) order = WL_MAX_ORDER;
        c->by_order[order]++;
        if (order >= 1) c->large++;
      } else if (e & WL_PM_SWAP) {
        c->nonpresent++;
      } else {
        c->none++;
      }
    }
    done += n;
  }
  return 0;
}

long wl_smaps_kb(const void *addr, size_t len, const char *field) {
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) return -1;
  uintptr_t lo = (uintptr_t)addr, hi = lo + len;
  size_t flen = strlen(field);
  char line[512];
  int inside = 0;
  long total = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long start, end;
    char dash;
    /* VMA header: "start-end perms offset dev inode path"; field lines start with a letter. */
    if (sscanf(line, "%lx%c%lx", &start, &dash, &end) == 3 && dash == '-') {
      inside = start < hi && end > lo;
      continue;
    }
    if (inside && strncmp(line, field, flen) == 0 && line[flen] == ':')
      total += strtol(line + flen + 1, NULL, 10);
  }
  fclose(f);
  return total;
}

long wl_count_huge_ranges(const void *base, size_t nranges, size_t range_bytes,
                          uint8_t *collapsed) {
  int rc = open_files();
  if (rc) return rc;
  uint64_t range_pages = range_bytes / g_page_size;
  long count = 0;
  struct folio_cache fc = {0, 0};
  for (size_t r = 0; r < nranges; ++r) {
    uint64_t e;
    rc = wl_pagemap_read((const char *)base + r * range_bytes, 1, &e);
    if (rc) return rc;
    int huge = 0;
    if (e & WL_PM_PRESENT) {
      uint64_t pfn = e & WL_PM_PFN_MASK;
      rc = folio_of(pfn, &fc);
      if (rc) return rc;
      huge = fc.head == pfn && fc.nr == range_pages;
    }
    if (collapsed) collapsed[r] = (uint8_t)huge;
    count += huge;
  }
  return count;
}
