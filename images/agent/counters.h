/* Counter snapshots for `sample` records (docs/protocol.md section 2): every /proc/vmstat line
 * (vmstat.<name>), every per-size mTHP stat (mthp.<N>kB.<stat>), khugepaged's pages_collapsed
 * and full_scans, the agent's zram device (zram.<field>) and /proc/meminfo (meminfo.<Name>, kB).
 * The parsers are pure and report through a callback; counters_write_values() reads the live
 * files and writes one "values" object. */
#ifndef FOLIOLAB_AGENT_COUNTERS_H
#define FOLIOLAB_AGENT_COUNTERS_H

#include <stddef.h>

#include "json_write.h"

/* Bound on the names in one sample, keeping a sample line far below the record limit. */
#define COUNTERS_MAX_VALUES 3000

typedef void (*counter_fn)(void *ctx, const char *name, long long value);

/* "name value" lines (/proc/vmstat). Values the kernel printed unsigned are taken modulo 2^64,
 * so a transiently negative per-cpu sum shows as the small negative number it is.
 * Returns the number of values reported; malformed lines are skipped. */
int counters_parse_vmstat(const char *text, const char *prefix, counter_fn fn, void *ctx);

/* "Name:   value [kB]" lines (/proc/meminfo). */
int counters_parse_meminfo(const char *text, const char *prefix, counter_fn fn, void *ctx);

/* Whitespace-separated numbers in a fixed order (zram mm_stat, io_stat): reports
 * prefix+names[i] for every number present (fewer numbers than names is fine). */
int counters_parse_fields(const char *text, const char *prefix, const char *const *names,
                          size_t n_names, counter_fn fn, void *ctx);

/* One integer ("123\n"). Returns 0 on success. */
int counters_parse_single(const char *text, long long *value);

/* Discovers the mTHP size directories and their stat files (call once, after sysfs is up).
 * zram_name: the agent's zram swap device ("zram0") or "" for none. */
void counters_init(const char *zram_name);
/* Only the THP sizes (for hello), without listing each size's stats files: under TCG those
 * nine directory scans cost 10-30 ms, and counters_init() runs again before any step. */
void counters_discover_sizes(void);

/* Ascending per-size THP sizes in kB found under /sys/kernel/mm/transparent_hugepage. */
size_t counters_thp_sizes(long long *out, size_t cap);

/* Writes "values":{...} into w from the live kernel files. */
void counters_write_values(struct jw *w);

#endif
