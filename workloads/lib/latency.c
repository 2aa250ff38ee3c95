#include "latency.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "report.h"

void wl_samples_init(struct wl_samples *s, size_t cap, bool shared) {
  s->n = 0;
  s->cap = cap ? cap : 1;
  s->shared = shared;
  void *p = mmap(NULL, s->cap * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) wl_fail("latency buffer of %zu samples: mmap failed", s->cap);
  s->ns = p;
}

void wl_samples_free(struct wl_samples *s) {
  if (s->ns) munmap(s->ns, s->cap * sizeof(uint64_t));
  s->ns = NULL;
  s->n = s->cap = 0;
}

void wl_samples_merge(struct wl_samples *dst, const struct wl_samples *src) {
  for (size_t i = 0; i < src->n; ++i) wl_samples_add(dst, src->ns[i]);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

uint64_t wl_samples_pct(struct wl_samples *s, double pct) {
  if (s->n == 0) return 0;
  qsort(s->ns, s->n, sizeof(uint64_t), cmp_u64);
  if (pct <= 0) return s->ns[0];
  if (pct >= 100) return s->ns[s->n - 1];
  /* nearest rank: the smallest sample with at least pct% of samples at or below it */
  double rank = pct / 100.0 * (double)s->n;
  size_t k = (size_t)rank;
  if ((double)k < rank) ++k;
  if (k == 0) k = 1;
  return s->ns[k - 1];
}

uint64_t wl_samples_max(const struct wl_samples *s) {
  uint64_t m = 0;
  for (size_t i = 0; i < s->n; ++i)
    if (s->ns[i] > m) m = s->ns[i];
  return m;
}

double wl_samples_mean(const struct wl_samples *s) {
  if (s->n == 0) return 0;
  double sum = 0;
  for (size_t i = 0; i < s->n; ++i) sum += (double)s->ns[i];
  return sum / (double)s->n;
}

void wl_report_latency(struct wl_samples *s, const char *prefix, const char *suffix) {
  wl_metricf("count", (double)s->n, "%s_count%s", prefix, suffix);
  if (s->n == 0) return;
  wl_metricf("us", (double)wl_samples_pct(s, 50) / 1e3, "%s_p50_us%s", prefix, suffix);
  wl_metricf("us", (double)wl_samples_pct(s, 90) / 1e3, "%s_p90_us%s", prefix, suffix);
  wl_metricf("us", (double)wl_samples_pct(s, 99) / 1e3, "%s_p99_us%s", prefix, suffix);
  wl_metricf("us", (double)wl_samples_max(s) / 1e3, "%s_max_us%s", prefix, suffix);
}

double wl_equal_work_rate(const double *rates, size_t n) {
  double inverse = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(rates[i] > 0)) return 0;
    inverse += 1.0 / rates[i];
  }
  return n ? (double)n / inverse : 0;
}
