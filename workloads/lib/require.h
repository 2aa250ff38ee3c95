/* Preconditions every workload states the same way: each either returns or ends the workload
 * with {"skip": reason} (exit 4), the reason naming the missing kernel feature or guest setup. */
#ifndef WL_REQUIRE_H
#define WL_REQUIRE_H

#include "sysfs.h"

/* CONFIG_TRANSPARENT_HUGEPAGE (the sysfs tree) and a PMD size. Returns the PMD size. */
uint64_t wl_require_thp(void);
/* /proc/self/pagemap with PFNs and /proc/kpageflags. */
void wl_require_pagemap(void);
/* A /proc/vmstat counter (CONFIG_VM_EVENT_COUNTERS, or a counter this kernel has). */
void wl_require_vmstat(const char *name);
/* An active swap device of the given kind ("any", "zram", "disk") with the highest priority
 * among active devices (the kernel fills the highest priority first); fills *chosen. */
void wl_require_swap(const char *kind, struct wl_swapdev *chosen);
/* A madvise advice accepted on an anonymous page (EINVAL: not built in, e.g. no
 * CONFIG_ADVISE_SYSCALLS); `what` names the feature in the skip reason. */
void wl_require_madvise(int advice, const char *what);

#endif
