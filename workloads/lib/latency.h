/* Latency samples and their percentiles (nearest rank). Samples are kept, not bucketed: a
 * workload measures at most a few hundred thousand events, and exact percentiles are cheaper
 * to explain than histogram error bounds. The buffer can live in MAP_SHARED memory so a
 * fork()ed child records into the parent's set. */
#ifndef WL_LATENCY_H
#define WL_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_samples {
  uint64_t *ns;
  size_t n, cap;
  bool shared;
};

/* Room for cap samples; shared: in MAP_SHARED memory (visible across fork). Fails the workload
 * when memory is short. Samples past cap are dropped and counted in n_dropped. */
void wl_samples_init(struct wl_samples *s, size_t cap, bool shared);
void wl_samples_free(struct wl_samples *s);
static inline void wl_samples_add(struct wl_samples *s, uint64_t ns) {
  if (s->n < s->cap) s->ns[s->n++] = ns;
}
/* Appends every sample of src to dst (as many as fit). */
void wl_samples_merge(struct wl_samples *dst, const struct wl_samples *src);

/* Percentile in [0, 100] by nearest rank; sorts the samples in place. 0 when empty. */
uint64_t wl_samples_pct(struct wl_samples *s, double pct);
uint64_t wl_samples_max(const struct wl_samples *s);
double wl_samples_mean(const struct wl_samples *s);

/* The rate of several passes that each move the same amount: total amount over total time,
 * i.e. the harmonic mean of the passes' rates (what compare's mean of a higher-is-better rate
 * is too). The arithmetic mean overstates it: passes of 1 and 3 MiB/s move 2 MiB in 4/3 s,
 * 1.5 MiB/s, not 2. 0 when n is 0 or a rate is not positive. */
double wl_equal_work_rate(const double *rates, size_t n);

/* Prints <prefix>_p50_us<suffix>, _p90_us, _p99_us, _max_us (microseconds) and
 * <prefix>_count<suffix> (suffix may be "", or e.g. ".64kB" for a per-size metric).
 * Prints nothing but the count when there are no samples. */
void wl_report_latency(struct wl_samples *s, const char *prefix, const char *suffix);

#endif
