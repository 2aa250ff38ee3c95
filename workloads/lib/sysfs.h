/* Reading (and, where a workload's descriptor says so, writing) kernel knobs and counters:
 * sysfs/procfs text files, /proc/vmstat, the THP and khugepaged sysfs trees, /proc/swaps, NUMA
 * nodes and the workload's own memory cgroup. Functions return 0 or -errno; a file that does
 * not exist is -ENOENT, which callers turn into a skip naming the missing feature. */
#ifndef WL_SYSFS_H
#define WL_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_THP_DIR "/sys/kernel/mm/transparent_hugepage"

int wl_read_text(const char *path, char *buf, size_t cap);  /* trimmed of trailing space */
int wl_read_u64(const char *path, uint64_t *value);
/* The selected value of a knob: the [bracketed] token when there is one, else the text. */
int wl_read_selected(const char *path, char *buf, size_t cap);
int wl_write_text(const char *path, const char *text);
/* "key value" files (/proc/vmstat, memory.stat, memory.events): the value of one key. */
int wl_read_keyed(const char *path, const char *key, uint64_t *value);
int wl_vmstat(const char *name, uint64_t *value);

/* THP. Sizes are in kB as the sysfs directory names give them. */
bool wl_thp_present(void);
uint64_t wl_pmd_size(void);                       /* hpage_pmd_size, 0 when absent */
int wl_thp_sizes(uint64_t *kb, int max);          /* ascending hugepages-<N>kB; count */
/* Whether a fault in a MADV_HUGEPAGE (madvised) or plain VMA may allocate this size:
 * always|madvise (madvise only when madvised), inherit -> the global enabled knob. */
bool wl_thp_size_enabled(uint64_t kb, bool madvised);
/* hugepages-<kb>kB/stats/<stat>; -ENOENT when this kernel lacks that stat. */
int wl_mthp_stat(uint64_t kb, const char *stat, uint64_t *value);
int wl_khugepaged(const char *knob, uint64_t *value); /* khugepaged/<knob> */

/* Swap devices from /proc/swaps. */
struct wl_swapdev {
  char path[128];
  char type[16];     /* partition | file */
  uint64_t size_kb, used_kb;
  int priority;
};
int wl_swap_devices(struct wl_swapdev *out, int max);  /* count (0: no swap), or -errno */
uint64_t wl_swap_used_kb(void);
/* "zram" for /dev/zramN, "disk" for any other block device, "file" otherwise. */
const char *wl_swap_kind(const struct wl_swapdev *d);

/* Online NUMA nodes (/sys/devices/system/node/online); count, 1 when the file is absent. */
int wl_numa_nodes(int *nodes, int max);
/* Parses a kernel cpu/node list ("0-1,3"); count. Exposed for unit tests. */
int wl_parse_list(const char *text, int *out, int max);

/* The workload's cgroup v2 directory (/sys/fs/cgroup/<path from /proc/self/cgroup>). */
int wl_memcg_dir(char *buf, size_t cap);
/* A file of that directory: memory.max, memory.stat ... */
int wl_memcg_read(const char *file, char *buf, size_t cap);
int wl_memcg_keyed(const char *file, const char *key, uint64_t *value);

#endif
