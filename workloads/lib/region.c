#define _GNU_SOURCE
#include "region.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kapi.h"
#include "report.h"

uint64_t wl_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

size_t wl_page_size(void) {
  static size_t size;
  if (!size) size = (size_t)sysconf(_SC_PAGESIZE);
  return size;
}

void *wl_map_aligned(size_t size, size_t align) {
  if (align < wl_page_size()) align = wl_page_size();
  size_t len = size + align;
  char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) wl_fail("mmap of %zu bytes: %s", len, strerror(errno));
  uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = start - (uintptr_t)raw;
  if (head) munmap(raw, head);
  size_t tail = len - head - size;
  if (tail) munmap((char *)start + size, tail);
  return (void *)start;
}

void wl_unmap(void *addr, size_t size) { munmap(addr, size); }

int wl_madvise(void *addr, size_t len, int advice) {
  return madvise(addr, len, advice) ? -errno : 0;
}

void wl_map_chunked(struct wl_chunked *c, size_t chunk, size_t nchunks, bool hugepage) {
  c->chunk = chunk;
  c->nchunks = nchunks;
  c->reserve_len = (2 * nchunks + 1) * chunk;
  c->reserve = mmap(NULL, c->reserve_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
  if (c->reserve == MAP_FAILED) wl_fail("mmap reserve of %zu bytes: %s", c->reserve_len, strerror(errno));
  for (size_t i = 0; i < nchunks; ++i) {
    char *p = wl_chunk(c, i);
    if (mprotect(p, chunk, PROT_READ | PROT_WRITE))
      wl_fail("mprotect chunk %zu: %s", i, strerror(errno));
    if (hugepage && madvise(p, chunk, MADV_HUGEPAGE))
      wl_fail("MADV_HUGEPAGE: %s", strerror(errno));
  }
}

void wl_unmap_chunked(struct wl_chunked *c) {
  if (c->reserve) munmap(c->reserve, c->reserve_len);
  c->reserve = NULL;
}

void wl_folio_region_map(struct wl_folio_region *r, size_t folio, size_t nfolios, size_t pmd) {
  memset(r, 0, sizeof *r);
  r->ps = wl_page_size();
  r->folio = folio;
  r->nfolios = nfolios;
  r->folio_pages = folio / r->ps;
  r->npages = r->folio_pages * nfolios;
  if (folio == r->ps) {
    r->flat = wl_map_aligned(folio * nfolios, r->ps);
  } else if (folio == pmd) {
    r->flat = wl_map_aligned(folio * nfolios, pmd);
    int rc = wl_madvise(r->flat, folio * nfolios, MADV_HUGEPAGE);
    if (rc) wl_fail("MADV_HUGEPAGE: %s", strerror(-rc));
  } else {
    wl_map_chunked(&r->chunks, folio, nfolios, true);
  }
}

void wl_folio_region_unmap(struct wl_folio_region *r) {
  if (r->flat) wl_unmap(r->flat, r->folio * r->nfolios);
  else wl_unmap_chunked(&r->chunks);
  r->flat = NULL;
}

void wl_thp_disable(bool disable) {
  if (prctl(PR_SET_THP_DISABLE, disable ? 1 : 0, 0, 0, 0))
    wl_fail("prctl(PR_SET_THP_DISABLE, %d): %s", disable, strerror(errno));
}

int wl_fill_pattern_from(const char *name, enum wl_fill_pattern *out) {
  if (strcmp(name, "contiguous") == 0) *out = WL_FILL_CONTIGUOUS;
  else if (strcmp(name, "strided") == 0) *out = WL_FILL_STRIDED;
  else if (strcmp(name, "random") == 0) *out = WL_FILL_RANDOM;
  else return -1;
  return 0;
}

size_t wl_select_pages(enum wl_fill_pattern pattern, double fraction, size_t n, uint8_t *sel,
                       uint64_t *rng) {
  if (fraction < 0) fraction = 0;
  if (fraction > 1) fraction = 1;
  size_t want = (size_t)(fraction * (double)n + 0.5);
  memset(sel, 0, n);
  switch (pattern) {
    case WL_FILL_CONTIGUOUS:
      memset(sel, 1, want);
      break;
    case WL_FILL_STRIDED:
      /* page i is selected when floor((i+1)*want/n) > floor(i*want/n): evenly spread */
      for (size_t i = 0; i < n; ++i) sel[i] = (uint8_t)((i + 1) * want / n > i * want / n);
      break;
    case WL_FILL_RANDOM:
      /* selection sampling: exactly `want` of n, uniformly */
      for (size_t i = 0, left = want; i < n && left; ++i) {
        if (wl_rng_below(rng, n - i) < left) {
          sel[i] = 1;
          --left;
        }
      }
      break;
  }
  return want;
}

uint64_t wl_rng_next(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t wl_rng_below(uint64_t *state, uint64_t bound) {
  if (bound == 0) return 0;
  return wl_rng_next(state) % bound;
}

void wl_shuffle(size_t *items, size_t n, uint64_t *state) {
  for (size_t i = n; i > 1; --i) {
    size_t j = (size_t)wl_rng_below(state, i);
    size_t t = items[i - 1];
    items[i - 1] = items[j];
    items[j] = t;
  }
}

int wl_pin_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) ? -errno : 0;
}

int wl_online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void wl_thread_faults(uint64_t *minor, uint64_t *major) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  *minor = (uint64_t)ru.ru_minflt;
  *major = (uint64_t)ru.ru_majflt;
}

int wl_wait_child(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 128;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 128;
}
