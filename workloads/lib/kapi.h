/* Kernel interfaces the workloads drive that the build's libc or uapi headers may not name.
 * The cross toolchains ship 6.1 uapi headers and glibc 2.36, so everything newer is defined
 * here with the value of the kernel ABI. Whether the running kernel implements it is decided
 * at run time (an EINVAL/ENOSYS/ENOTTY answer), never from these definitions. */
#ifndef WL_KAPI_H
#define WL_KAPI_H

#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* madvise(2) advice values (include/uapi/asm-generic/mman-common.h). */
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* 6.13+ */
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

/* userfaultfd features and ioctls newer than the 6.1 headers. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* 6.4+ */
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14) /* 6.6+ */
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
#endif
struct wl_uffdio_poison {
  struct uffdio_range range;
  uint64_t mode;
  int64_t updated;
};
#ifndef UFFDIO_POISON
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct wl_uffdio_poison)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* NUMA memory policy (include/uapi/linux/mempolicy.h). */
#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

/* prctl THP switch (include/uapi/linux/prctl.h). */
#ifndef PR_SET_THP_DISABLE
#define PR_SET_THP_DISABLE 41
#endif

static inline int wl_userfaultfd(int flags) { return (int)syscall(SYS_userfaultfd, flags); }

static inline long wl_move_pages(int pid, unsigned long count, void **pages, const int *nodes,
                                 int *status, int flags) {
  return syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);
}

static inline long wl_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                            unsigned long maxnode, unsigned flags) {
  return syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
}

#endif
