#include "sysfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wl_read_text(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t got = read(fd, buf + n, cap - 1 - n);
    if (got < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return -e;
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  close(fd);
  buf[n] = 0;
  while (n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
  return 0;
}

int wl_read_u64(const char *path, uint64_t *value) {
  char buf[64];
  int rc = wl_read_text(path, buf, sizeof buf);
  if (rc) return rc;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || end == buf) return -EINVAL;
  *value = v;
  return 0;
}

int wl_read_selected(const char *path, char *buf, size_t cap) {
  char text[256];
  int rc = wl_read_text(path, text, sizeof text);
  if (rc) return rc;
  const char *open_b = strchr(text, '[');
  const char *close_b = open_b ? strchr(open_b, ']') : NULL;
  if (open_b && close_b) {
    size_t len = (size_t)(close_b - open_b - 1);
    if (len >= cap) len = cap - 1;
    memcpy(buf, open_b + 1, len);
    buf[len] = 0;
  } else {
    snprintf(buf, cap, "%s", text);
  }
  return 0;
}

int wl_write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len);
  int e = n < 0 ? errno : 0;
  close(fd);
  if (n < 0) return -e;
  return (size_t)n == len ? 0 : -EIO;
}

int wl_read_keyed(const char *path, const char *key, uint64_t *value) {
  FILE *f = fopen(path, "re");
  if (!f) return -errno;
  char line[256];
  size_t klen = strlen(key);
  int rc = -ENOENT;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      *value = strtoull(line + klen + 1, NULL, 10);
      rc = 0;
      break;
    }
  }
  fclose(f);
  return rc;
}

int wl_vmstat(const char *name, uint64_t *value) {
  return wl_read_keyed("/proc/vmstat", name, value);
}

bool wl_thp_present(void) {
  struct stat st;
  return stat(WL_THP_DIR "/enabled", &st) == 0;
}

uint64_t wl_pmd_size(void) {
  uint64_t v = 0;
  if (wl_read_u64(WL_THP_DIR "/hpage_pmd_size", &v)) return 0;
  return v;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int wl_thp_sizes(uint64_t *kb, int max) {
  DIR *d = opendir(WL_THP_DIR);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    unsigned long long v;
    char tail[8];
    if (sscanf(e->d_name, "hugepages-%llu%7s", &v, tail) == 2 && strcmp(tail, "kB") == 0)
      kb[n++] = v;
  }
  closedir(d);
  qsort(kb, (size_t)n, sizeof *kb, cmp_u64);
  return n;
}

bool wl_thp_size_enabled(uint64_t kb, bool madvised) {
  char path[160], value[32];
  snprintf(path, sizeof path, WL_THP_DIR "/hugepages-%" PRIu64 "kB/enabled", kb);
  if (wl_read_selected(path, value, sizeof value)) return false;
  if (strcmp(value, "inherit") == 0) {
    if (wl_read_selected(WL_THP_DIR "/enabled", value, sizeof value)) return false;
  }
  if (strcmp(value, "always") == 0) return true;
  if (strcmp(value, "madvise") == 0) return madvised;
  return false;
}

int wl_mthp_stat(uint64_t kb, const char *stat, uint64_t *value) {
  char path[192];
  snprintf(path, sizeof path, WL_THP_DIR "/hugepages-%" PRIu64 "kB/stats/%s", kb, stat);
  return wl_read_u64(path, value);
}

int wl_khugepaged(const char *knob, uint64_t *value) {
  char path[160];
  snprintf(path, sizeof path, WL_THP_DIR "/khugepaged/%s", knob);
  return wl_read_u64(path, value);
}

int wl_swap_devices(struct wl_swapdev *out, int max) {
  FILE *f = fopen("/proc/swaps", "re");
  if (!f) return -errno;
  char line[512];
  int n = 0;
  if (!fgets(line, sizeof line, f)) { /* header */
    fclose(f);
    return 0;
  }
  while (n < max && fgets(line, sizeof line, f)) {
    struct wl_swapdev *d = &out[n];
    unsigned long long size, used;
    int prio;
    if (sscanf(line, "%127s %15s %llu %llu %d", d->path, d->type, &size, &used, &prio) == 5) {
      d->size_kb = size;
      d->used_kb = used;
      d->priority = prio;
      ++n;
    }
  }
  fclose(f);
  return n;
}

uint64_t wl_swap_used_kb(void) {
  struct wl_swapdev devs[8];
  int n = wl_swap_devices(devs, 8);
  uint64_t used = 0;
  for (int i = 0; i < n; ++i) used += devs[i].used_kb;
  return used;
}

const char *wl_swap_kind(const struct wl_swapdev *d) {
  if (strcmp(d->type, "partition") != 0) return "file";
  if (strncmp(d->path, "/dev/zram", 9) == 0) return "zram";
  return "disk";
}

int wl_parse_list(const char *text, int *out, int max) {
  int n = 0;
  const char *p = text;
  while (*p && n < max) {
    char *end;
    long a = strtol(p, &end, 10);
    if (end == p) break;
    long b = a;
    p = end;
    if (*p == '-') {
      b = strtol(p + 1, &end, 10);
      if (end == p + 1) break;
      p = end;
    }
    for (long v = a; v <= b && n < max; ++v) out[n++] = (int)v;
    if (*p == ',') ++p;
    else break;
  }
  return n;
}

int wl_numa_nodes(int *nodes, int max) {
  char text[128];
  if (wl_read_text("/sys/devices/system/node/online", text, sizeof text)) {
    if (max > 0) nodes[0] = 0;
    return 1;
  }
  return wl_parse_list(text, nodes, max);
}

int wl_memcg_dir(char *buf, size_t cap) {
  char text[512];
  int rc = wl_read_text("/proc/self/cgroup", text, sizeof text);
  if (rc) return rc;
  /* cgroup v2: a single line "0::/path" */
  char *line = strstr(text, "0::");
  if (!line) return -ENOENT;
  char *path = line + 3;
  char *nl = strchr(path, '\n');
  if (nl) *nl = 0;
  snprintf(buf, cap, "/sys/fs/cgroup%s", strcmp(path, "/") == 0 ? "" : path);
  return 0;
}

int wl_memcg_read(const char *file, char *buf, size_t cap) {
  char dir[384], path[512];
  int rc = wl_memcg_dir(dir, sizeof dir);
  if (rc) return rc;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return wl_read_text(path, buf, cap);
}

int wl_memcg_keyed(const char *file, const char *key, uint64_t *value) {
  char dir[384], path[512];
  int rc = wl_memcg_dir(dir, sizeof dir);
  if (rc) return rc;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return wl_read_keyed(path, key, value);
}
