#include "require.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "pagemap.h"
#include "region.h"
#include "report.h"

uint64_t wl_require_thp(void) {
  if (!wl_thp_present())
    wl_skip("CONFIG_TRANSPARENT_HUGEPAGE: no " WL_THP_DIR " on this kernel");
  uint64_t pmd = wl_pmd_size();
  if (!pmd) wl_skip("THP: no " WL_THP_DIR "/hpage_pmd_size on this kernel");
  return pmd;
}

void wl_require_pagemap(void) {
  const char *why = wl_pagemap_unavailable();
  if (why) wl_skip("%s", why);
}

void wl_require_vmstat(const char *name) {
  uint64_t v;
  if (wl_vmstat(name, &v))
    wl_skip("/proc/vmstat has no %s (CONFIG_VM_EVENT_COUNTERS off, or this kernel lacks it)", name);
}

void wl_require_swap(const char *kind, struct wl_swapdev *chosen) {
  struct wl_swapdev devs[8];
  int n = wl_swap_devices(devs, 8);
  if (n < 0) wl_skip("/proc/swaps: %s (CONFIG_SWAP off?)", strerror(-n));
  if (n == 0) wl_skip("no active swap device (the suite sets swap: {zram: ...} or {disk: ...})");
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (devs[i].priority > devs[best].priority) best = i;
  if (strcmp(kind, "any") != 0 && strcmp(wl_swap_kind(&devs[best]), kind) != 0)
    wl_skip("device=%s asked for, but the highest-priority swap device is %s (%s)", kind,
            devs[best].path, wl_swap_kind(&devs[best]));
  *chosen = devs[best];
}

void wl_require_madvise(int advice, const char *what) {
  size_t ps = wl_page_size();
  void *p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) wl_fail("mmap: %s", strerror(errno));
  int rc = madvise(p, ps, advice) ? errno : 0;
  munmap(p, ps);
  if (rc == EINVAL || rc == ENOSYS)
    wl_skip("%s: madvise answers %s (not in this kernel, or CONFIG_ADVISE_SYSCALLS off)", what,
            strerror(rc));
}
