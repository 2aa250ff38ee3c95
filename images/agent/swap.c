#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "swap.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/swap.h>
#include <unistd.h>

#include "channel.h"
#include "settings.h"
#include "util.h"

#define SWAP_MIN_PAGES 10

static char zram_name[32];

const char *swap_zram_name(void) { return zram_name; }

int swap_header_build(unsigned char *page, size_t page_size, uint64_t device_bytes) {
  if (page_size < 4096 || (page_size & (page_size - 1)) != 0) return -1;
  uint64_t pages = device_bytes / page_size;
  if (pages < SWAP_MIN_PAGES) return -1;
  uint64_t last = pages - 1;
  if (last > UINT32_MAX) last = UINT32_MAX;
  memset(page, 0, page_size);
  uint32_t version = 1;
  uint32_t last_page = (uint32_t)last;
  memcpy(page + 1024, &version, 4);
  memcpy(page + 1028, &last_page, 4);
  memcpy(page + page_size - 10, "SWAPSPACE2", 10);
  return 0;
}

int swap_flags_for_priority(int priority) {
  if (priority < 0) return 0;
  return SWAP_FLAG_PREFER | ((priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
}

/* Writes the header to dev and enables it. On failure fills msg and returns -1. */
static int format_and_enable(const char *dev, uint64_t bytes, int priority, char *msg, size_t cap) {
  size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
  unsigned char *page = calloc(1, page_size);
  if (!page) {
    fmt(msg, cap, "out of memory");
    return -1;
  }
  if (swap_header_build(page, page_size, bytes) < 0) {
    fmt(msg, cap, "%s: %llu bytes is too small for a swap area", dev, (unsigned long long)bytes);
    free(page);
    return -1;
  }
  int fd = open(dev, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    fmt(msg, cap, "open %s: %s", dev, strerror(errno));
    free(page);
    return -1;
  }
  ssize_t n = pwrite(fd, page, page_size, 0);
  int e = errno;
  free(page);
  if (n != (ssize_t)page_size) {
    fmt(msg, cap, "write swap header to %s: %s", dev, n < 0 ? strerror(e) : "short write");
    close(fd);
    return -1;
  }
  if (fsync(fd) < 0) {
    fmt(msg, cap, "fsync %s: %s", dev, strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  if (swapon(dev, swap_flags_for_priority(priority)) < 0) {
    fmt(msg, cap, "swapon %s: %s", dev, strerror(errno));
    return -1;
  }
  return 0;
}

/* The priority the kernel gave dev, from /proc/swaps ("Filename Type Size Used Priority"). */
static bool kernel_swap_priority(const char *dev, int *priority) {
  static char text[8192];
  if (read_text_file("/proc/swaps", text, sizeof text) < 0) return false;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char name[256], type[32];
    long long size, used;
    int prio;
    if (sscanf(line, "%255s %31s %lld %lld %d", name, type, &size, &used, &prio) == 5 &&
        strcmp(name, dev) == 0) {
      *priority = prio;
      return true;
    }
  }
  return false;
}

static void swap_record(const char *kind, const char *dev, uint64_t bytes, int priority) {
  /* Report what the kernel applied; without a requested priority it picks a negative one. */
  kernel_swap_priority(dev, &priority);
  struct jw *w = record_begin("swap");
  jw_kv_string(w, "kind", kind);
  jw_kv_string(w, "device", dev);
  jw_kv_int(w, "size_bytes", (long long)bytes);
  jw_kv_int(w, "priority", priority);
  record_end();
  say("swap on %s (%s, %llu MiB, priority %d)", dev, kind, (unsigned long long)(bytes >> 20),
      priority);
}

/* Picks an unused zram device: zram0 when its disksize is still 0, else a hot-added one. */
static int pick_zram(char *name, size_t cap, char *msg, size_t msgcap) {
  long long disksize;
  if (read_int_file("/sys/block/zram0/disksize", &disksize) == 0 && disksize == 0) {
    fmt(name, cap, "zram0");
    return 0;
  }
  char buf[32];
  if (read_text_file("/sys/class/zram-control/hot_add", buf, sizeof buf) > 0) {
    int id = atoi(buf);
    if (id >= 0) {
      fmt(name, cap, "zram%d", id);
      return 0;
    }
  }
  if (!path_exists("/sys/block/zram0"))
    fmt(msg, msgcap, "no zram device: /sys/block/zram0 is absent (CONFIG_ZRAM off?)");
  else
    fmt(msg, msgcap, "zram0 is in use and /sys/class/zram-control/hot_add gave no new device");
  return -1;
}

static int setup_zram(const struct job_zram *z) {
  char msg[512], name[32], path[128], dev[64];
  if (pick_zram(name, sizeof name, msg, sizeof msg) < 0) {
    record_error("swap", "zram", msg);
    return 1;
  }
  if (z->algorithm) {
    fmt(path, sizeof path, "/sys/block/%s/comp_algorithm", name);
    if (write_text_file(path, z->algorithm) < 0) {
      fmt(msg, sizeof msg, "write '%s' to %s: %s", z->algorithm, path, strerror(errno));
      record_error("swap", "zram", msg);
      return 1;
    }
    char back[512], actual[64];
    if (read_text_file(path, back, sizeof back) >= 0) {
      setting_selected_value(back, actual, sizeof actual);
      if (strcmp(actual, z->algorithm) != 0) {
        fmt(msg, sizeof msg, "wrote '%s' to %s but it reads back '%.300s'", z->algorithm, path, back);
        record_error("swap", "zram", msg);
        return 1;
      }
    }
  }
  fmt(path, sizeof path, "/sys/block/%s/disksize", name);
  char size_text[32];
  fmt(size_text, sizeof size_text, "%lld", z->size);
  if (write_text_file(path, size_text) < 0) {
    fmt(msg, sizeof msg, "write '%s' to %s: %s", size_text, path, strerror(errno));
    record_error("swap", "zram", msg);
    return 1;
  }
  fmt(dev, sizeof dev, "/dev/%s", name);
  fmt(path, sizeof path, "/sys/block/%s/dev", name);
  if (ensure_device_node(dev, path, true) < 0) {
    fmt(msg, sizeof msg, "no device node %s (from %s): %s", dev, path, strerror(errno));
    record_error("swap", "zram", msg);
    return 1;
  }
  if (format_and_enable(dev, (uint64_t)z->size, z->priority, msg, sizeof msg) < 0) {
    record_error("swap", "zram", msg);
    return 1;
  }
  fmt(zram_name, sizeof zram_name, "%s", name);
  swap_record("zram", dev, (uint64_t)z->size, z->priority);
  return 0;
}

static int setup_disk(const struct job_disk *d) {
  char msg[512];
  DIR *dir = opendir("/sys/block");
  if (!dir) {
    fmt(msg, sizeof msg, "opendir /sys/block: %s", strerror(errno));
    record_error("swap", "disk", msg);
    return 1;
  }
  char found[64] = "";
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (e->d_name[0] == '.' || strlen(e->d_name) > 32) continue;
    char path[128], serial[64], trimmed[64];
    fmt(path, sizeof path, "/sys/block/%s/serial", e->d_name);
    ssize_t n = read_text_file(path, serial, sizeof serial);
    if (n <= 0) continue;
    trim_copy(serial, (size_t)n, trimmed, sizeof trimmed);
    if (strcmp(trimmed, d->serial) == 0) {
      fmt(found, sizeof found, "%s", e->d_name);
      break;
    }
  }
  closedir(dir);
  if (!found[0]) {
    fmt(msg, sizeof msg, "no block device with serial '%s' in /sys/block/*/serial", d->serial);
    record_error("swap", "disk", msg);
    return 1;
  }
  char path[128], dev[64];
  long long sectors;
  fmt(path, sizeof path, "/sys/block/%s/size", found);
  if (read_int_file(path, &sectors) < 0 || sectors <= 0) {
    fmt(msg, sizeof msg, "cannot read the size of %s from %s", found, path);
    record_error("swap", "disk", msg);
    return 1;
  }
  uint64_t bytes = (uint64_t)sectors * 512u;  /* /sys/block/X/size is in 512-byte units */
  fmt(dev, sizeof dev, "/dev/%s", found);
  fmt(path, sizeof path, "/sys/block/%s/dev", found);
  if (ensure_device_node(dev, path, true) < 0) {
    fmt(msg, sizeof msg, "no device node %s (from %s): %s", dev, path, strerror(errno));
    record_error("swap", "disk", msg);
    return 1;
  }
  if (format_and_enable(dev, bytes, d->priority, msg, sizeof msg) < 0) {
    record_error("swap", "disk", msg);
    return 1;
  }
  swap_record("disk", dev, bytes, d->priority);
  return 0;
}

int swap_setup(const struct job *job) {
  int errors = 0;
  if (job->zram.present) errors += setup_zram(&job->zram);
  if (job->disk.present) errors += setup_disk(&job->disk);
  return errors;
}
