/* Timed first touches: read one word of each listed page, in the order given, and record how
 * long the touch took and whether it faulted (per-thread fault counts before and after, read
 * outside the timed window). The latency samples are the touches that faulted, so the
 * percentiles are fault latencies, whether a large-folio swap-in made the next pages present
 * or every page faulted on its own; a page that needed more than one fault counts refaults. */
#ifndef WL_TOUCH_H
#define WL_TOUCH_H

#include <stddef.h>
#include <stdint.h>

#include "latency.h"

struct wl_touch_stats {
  struct wl_samples *lat;  /* may be NULL */
  size_t pages;            /* pages touched */
  size_t faulted_pages;    /* touches that took at least one fault */
  uint64_t faults;         /* minor + major */
  uint64_t major;
  uint64_t refaults;       /* faults beyond the first on one touch */
  uint64_t busy_ns;        /* sum of the timed touches */
};

void wl_touch_pages(char *const *pages, size_t n, struct wl_touch_stats *st);

#endif
