#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "counters.h"

#include <stdbool.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"
#define MAX_THP_SIZES 32
#define MAX_STAT_FILES 64

static bool is_name_char(char c) {
  return c > ' ' && c != ':' && c != '"' && c != '\\' && (unsigned char)c < 0x7f;
}

/* Parses an optionally signed decimal; unsigned text above LLONG_MAX wraps modulo 2^64.
 * Sets *end past the digits. Returns false when there are no digits. */
static bool parse_number(const char *p, long long *value, const char **end) {
  bool neg = false;
  if (*p == '-') {
    neg = true;
    p++;
  }
  if (*p < '0' || *p > '9') return false;
  unsigned long long v = 0;
  while (*p >= '0' && *p <= '9') {
    v = v * 10u + (unsigned long long)(*p - '0');
    p++;
  }
  if (neg) v = 0u - v;
  *value = (long long)v;
  *end = p;
  return true;
}

static const char *skip_blank(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

static void report(const char *prefix, const char *name, size_t len, long long value,
                   counter_fn fn, void *ctx) {
  char full[160];
  size_t plen = strlen(prefix);
  if (plen + len >= sizeof full) return;
  memcpy(full, prefix, plen);
  memcpy(full + plen, name, len);
  full[plen + len] = '\0';
  fn(ctx, full, value);
}

int counters_parse_vmstat(const char *text, const char *prefix, counter_fn fn, void *ctx) {
  int count = 0;
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    if (!eol) eol = p + strlen(p);
    const char *name = p;
    const char *q = name;
    while (q < eol && is_name_char(*q)) q++;
    size_t name_len = (size_t)(q - name);
    if (name_len > 0 && q < eol && (*q == ' ' || *q == '\t')) {
      long long v;
      const char *end;
      q = skip_blank(q);
      if (parse_number(q, &v, &end) && skip_blank(end) == eol) {
        report(prefix, name, name_len, v, fn, ctx);
        count++;
      }
    }
    p = *eol ? eol + 1 : eol;
  }
  return count;
}

int counters_parse_meminfo(const char *text, const char *prefix, counter_fn fn, void *ctx) {
  int count = 0;
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    if (!eol) eol = p + strlen(p);
    const char *name = p;
    const char *q = name;
    while (q < eol && is_name_char(*q)) q++;
    size_t name_len = (size_t)(q - name);
    if (name_len > 0 && q < eol && *q == ':') {
      long long v;
      const char *end;
      q = skip_blank(q + 1);
      if (parse_number(q, &v, &end)) {
        end = skip_blank(end);
        if (end == eol || (eol - end == 2 && end[0] == 'k' && end[1] == 'B')) {
          report(prefix, name, name_len, v, fn, ctx);
          count++;
        }
      }
    }
    p = *eol ? eol + 1 : eol;
  }
  return count;
}

int counters_parse_fields(const char *text, const char *prefix, const char *const *names,
                          size_t n_names, counter_fn fn, void *ctx) {
  int count = 0;
  const char *p = text;
  for (size_t i = 0; i < n_names; i++) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    long long v;
    const char *end;
    if (!parse_number(p, &v, &end)) break;
    if (*end && *end != ' ' && *end != '\t' && *end != '\n') break;
    report(prefix, names[i], strlen(names[i]), v, fn, ctx);
    count++;
    p = end;
  }
  return count;
}

int counters_parse_single(const char *text, long long *value) {
  const char *p = text;
  while (*p == ' ' || *p == '\t') p++;
  const char *end;
  if (!parse_number(p, value, &end)) return -1;
  while (*end == ' ' || *end == '\t' || *end == '\n') end++;
  return *end ? -1 : 0;
}

/* ---- live files ---- */

struct thp_size {
  long long kb;
  char dir[48];                       /* "hugepages-64kB" */
  char stats[MAX_STAT_FILES][40];     /* file names in stats/, sorted */
  size_t n_stats;
};

static struct thp_size thp_sizes[MAX_THP_SIZES];
static size_t n_thp_sizes;
static char zram_dev[32];

static int cmp_size(const void *a, const void *b) {
  const struct thp_size *x = a, *y = b;
  return (x->kb > y->kb) - (x->kb < y->kb);
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

static void discover(const char *zram_name, bool with_stats) {
  snprintf(zram_dev, sizeof zram_dev, "%s", zram_name ? zram_name : "");
  n_thp_sizes = 0;
  DIR *d = opendir(THP_DIR);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && n_thp_sizes < MAX_THP_SIZES) {
    long long kb;
    char tail[8];
    if (sscanf(e->d_name, "hugepages-%lld%7s", &kb, tail) != 2 || strcmp(tail, "kB") != 0 ||
        kb <= 0 || strlen(e->d_name) >= sizeof thp_sizes[0].dir)
      continue;
    struct thp_size *s = &thp_sizes[n_thp_sizes++];
    memset(s, 0, sizeof *s);
    s->kb = kb;
    memcpy(s->dir, e->d_name, strlen(e->d_name) + 1);
    if (!with_stats) continue;
    char path[160];
    fmt(path, sizeof path, THP_DIR "/%s/stats", s->dir);
    DIR *sd = opendir(path);
    if (!sd) continue;
    struct dirent *f;
    while ((f = readdir(sd)) && s->n_stats < MAX_STAT_FILES) {
      if (f->d_name[0] == '.' || strlen(f->d_name) >= sizeof s->stats[0]) continue;
      memcpy(s->stats[s->n_stats++], f->d_name, strlen(f->d_name) + 1);
    }
    closedir(sd);
    qsort(s->stats, s->n_stats, sizeof s->stats[0], cmp_name);
  }
  closedir(d);
  qsort(thp_sizes, n_thp_sizes, sizeof thp_sizes[0], cmp_size);
}

void counters_init(const char *zram_name) { discover(zram_name, true); }

void counters_discover_sizes(void) { discover("", false); }

size_t counters_thp_sizes(long long *out, size_t cap) {
  size_t n = n_thp_sizes < cap ? n_thp_sizes : cap;
  for (size_t i = 0; i < n; i++) out[i] = thp_sizes[i].kb;
  return n;
}

struct writer_ctx {
  struct jw *w;
  int n;
};

static void write_value(void *ctx, const char *name, long long value) {
  struct writer_ctx *c = ctx;
  if (c->n >= COUNTERS_MAX_VALUES) return;
  jw_kv_int(c->w, name, value);
  c->n++;
}

static char text_buf[64 * 1024];

void counters_write_values(struct jw *w) {
  struct writer_ctx c = {.w = w};
  jw_key(w, "values");
  jw_object_begin(w);
  if (read_text_file("/proc/vmstat", text_buf, sizeof text_buf) > 0)
    counters_parse_vmstat(text_buf, "vmstat.", write_value, &c);
  char path[192], buf[64], name[96];
  for (size_t i = 0; i < n_thp_sizes; i++) {
    const struct thp_size *s = &thp_sizes[i];
    for (size_t j = 0; j < s->n_stats; j++) {
      long long v;
      fmt(path, sizeof path, THP_DIR "/%s/stats/%s", s->dir, s->stats[j]);
      if (read_text_file(path, buf, sizeof buf) <= 0 || counters_parse_single(buf, &v) < 0) continue;
      fmt(name, sizeof name, "mthp.%lldkB.%s", s->kb, s->stats[j]);
      write_value(&c, name, v);
    }
  }
  static const char *const khugepaged[] = {"pages_collapsed", "full_scans"};
  for (size_t i = 0; i < 2; i++) {
    long long v;
    fmt(path, sizeof path, THP_DIR "/khugepaged/%s", khugepaged[i]);
    if (read_text_file(path, buf, sizeof buf) <= 0 || counters_parse_single(buf, &v) < 0) continue;
    fmt(name, sizeof name, "khugepaged.%s", khugepaged[i]);
    write_value(&c, name, v);
  }
  if (zram_dev[0]) {
    static const char *const mm_stat[] = {"orig_data_size", "compr_data_size", "mem_used_total",
                                          "mem_limit", "mem_used_max", "same_pages",
                                          "pages_compacted", "huge_pages", "huge_pages_since"};
    static const char *const io_stat[] = {"failed_reads", "failed_writes", "invalid_io",
                                          "notify_free"};
    char stat[512];
    fmt(path, sizeof path, "/sys/block/%s/mm_stat", zram_dev);
    if (read_text_file(path, stat, sizeof stat) > 0)
      counters_parse_fields(stat, "zram.", mm_stat, sizeof mm_stat / sizeof mm_stat[0], write_value, &c);
    fmt(path, sizeof path, "/sys/block/%s/io_stat", zram_dev);
    if (read_text_file(path, stat, sizeof stat) > 0)
      counters_parse_fields(stat, "zram.", io_stat, sizeof io_stat / sizeof io_stat[0], write_value, &c);
  }
  if (read_text_file("/proc/meminfo", text_buf, sizeof text_buf) > 0)
    counters_parse_meminfo(text_buf, "meminfo.", write_value, &c);
  jw_object_end(w);
}
