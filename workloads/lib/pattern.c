#include "pattern.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define HEADER_MAGIC 0xF011ull

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

static uint64_t header_word(uint64_t index, unsigned gen) {
  return HEADER_MAGIC << 48 | (uint64_t)(gen & 0xffff) << 32 | (index & 0xffffffffull);
}

static uint64_t stream_start(const struct wl_pattern *p, uint64_t index, unsigned gen) {
  return mix64(p->seed ^ (index * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)gen << 48));
}

static inline uint64_t stream_next(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return *state ^ (*state >> 29);
}

/* The checked-page tally: shared with forked children (swapin-race, pmd-swap and the shape
 * cases verify in a child too), process-local only if the shared mapping cannot be made. */
static uint64_t g_checked_local;
static uint64_t *g_checked;

static void count_checked(void) {
  if (g_checked) __atomic_add_fetch(g_checked, 1, __ATOMIC_RELAXED);
}

int wl_checked_pages(uint64_t *n) {
  if (!g_checked) return 0;
  *n = __atomic_load_n(g_checked, __ATOMIC_RELAXED);
  return 1;
}

void wl_pattern_init(struct wl_pattern *p, size_t page_size, uint64_t seed) {
  if (!g_checked) {
    void *shared = mmap(NULL, sizeof *g_checked, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_checked = shared == MAP_FAILED ? &g_checked_local : shared;
  }
  if (seed == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40));
    if (seed == 0) seed = 1;
  }
  p->seed = seed;
  p->page_size = page_size;
}

void wl_fill_page(const struct wl_pattern *p, void *page, uint64_t index, unsigned gen) {
  uint64_t *w = page;
  size_t words = p->page_size / sizeof(uint64_t);
  uint64_t state = stream_start(p, index, gen);
  w[0] = header_word(index, gen);
  for (size_t i = 1; i < words; ++i) w[i] = stream_next(&state);
}

void wl_fill_pages(const struct wl_pattern *p, void *base, uint64_t first, size_t npages,
                   unsigned gen) {
  for (size_t i = 0; i < npages; ++i)
    wl_fill_page(p, (char *)base + i * p->page_size, first + i, gen);
}

int wl_page_is_zero(const void *page, size_t page_size) {
  const uint64_t *w = page;
  for (size_t i = 0; i < page_size / sizeof(uint64_t); ++i)
    if (w[i]) return 0;
  return 1;
}

static void explain(const struct wl_pattern *p, const uint64_t *w, uint64_t index, unsigned gen,
                    size_t bad_word, char *why, size_t cap) {
  if (!why || cap == 0) return;
  if (wl_page_is_zero(w, p->page_size)) {
    snprintf(why, cap, "page %" PRIu64 " reads as zeros (expected generation %u)", index, gen);
    return;
  }
  uint64_t h = w[0];
  if (h >> 48 == HEADER_MAGIC) {
    uint64_t got_index = h & 0xffffffffull;
    unsigned got_gen = (unsigned)(h >> 32 & 0xffff);
    if (got_index != (index & 0xffffffffull)) {
      snprintf(why, cap, "page %" PRIu64 " holds the data of page %" PRIu64 " generation %u"
               " (expected generation %u)", index, got_index, got_gen, gen);
      return;
    }
    if (got_gen != gen) {
      snprintf(why, cap, "page %" PRIu64 " holds stale generation %u (expected %u)", index,
               got_gen, gen);
      return;
    }
  }
  uint64_t state = stream_start(p, index, gen);
  uint64_t expected = header_word(index, gen);
  for (size_t i = 1; i <= bad_word; ++i) expected = stream_next(&state);
  snprintf(why, cap, "page %" PRIu64 " generation %u: word %zu is 0x%016" PRIx64
           ", expected 0x%016" PRIx64, index, gen, bad_word, w[bad_word], expected);
}

int wl_check_page(const struct wl_pattern *p, const void *page, uint64_t index, unsigned gen,
                  char *why, size_t cap) {
  const uint64_t *w = page;
  size_t words = p->page_size / sizeof(uint64_t);
  if (gen == WL_GEN_SKIP) return 0;
  count_checked();
  if (gen == WL_GEN_ZERO) {
    for (size_t i = 0; i < words; ++i) {
      if (w[i]) {
        if (why && cap)
          snprintf(why, cap, "page %" PRIu64 " should read as zeros but word %zu is 0x%016" PRIx64
                   "%s", index, i, w[i], w[0] >> 48 == HEADER_MAGIC ? " (holds pattern data)" : "");
        return 1;
      }
    }
    return 0;
  }
  if (w[0] != header_word(index, gen)) {
    explain(p, w, index, gen, 0, why, cap);
    return 1;
  }
  uint64_t state = stream_start(p, index, gen);
  for (size_t i = 1; i < words; ++i) {
    if (w[i] != stream_next(&state)) {
      explain(p, w, index, gen, i, why, cap);
      return 1;
    }
  }
  return 0;
}

size_t wl_verify_pages(const struct wl_pattern *p, const void *base, uint64_t first,
                       size_t npages, const uint8_t *expect, unsigned gen,
                       struct wl_mismatch *m) {
  struct wl_mismatch local;
  if (!m) m = &local;
  memset(m, 0, sizeof *m);
  for (size_t i = 0; i < npages; ++i) {
    unsigned g = expect ? expect[i] : gen;
    if (g == WL_GEN_SKIP) continue;
    const char *page = (const char *)base + i * p->page_size;
    m->checked_pages++;
    char why[256];
    if (wl_check_page(p, page, first + i, g, why, sizeof why)) {
      if (m->bad_pages == 0) {
        m->first_index = first + i;
        snprintf(m->why, sizeof m->why, "%s at %p", why, (const void *)page);
      }
      m->bad_pages++;
    }
  }
  return m->bad_pages;
}
