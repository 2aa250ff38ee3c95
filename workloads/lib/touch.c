#include "touch.h"

#include "region.h"

void wl_touch_pages(char *const *pages, size_t n, struct wl_touch_stats *st) {
  uint64_t minor0, major0;
  wl_thread_faults(&minor0, &major0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t t0 = wl_now_ns();
    (void)*(volatile const uint64_t *)pages[i];
    uint64_t dt = wl_now_ns() - t0;
    uint64_t minor1, major1;
    wl_thread_faults(&minor1, &major1);
    uint64_t faults = (minor1 - minor0) + (major1 - major0);
    st->pages++;
    st->busy_ns += dt;
    if (faults) {
      st->faulted_pages++;
      st->faults += faults;
      st->major += major1 - major0;
      st->refaults += faults - 1;
      if (st->lat) wl_samples_add(st->lat, dt);
    }
    minor0 = minor1;
    major0 = major1;
  }
}
