#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static struct timespec agent_start;

void say(const char *f, ...) {
  char line[1024];
  size_t prefix = strlen(AGENT_PREFIX);
  memcpy(line, AGENT_PREFIX, prefix);
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(line + prefix, sizeof line - prefix - 1, f, ap);
  va_end(ap);
  size_t len = prefix + (n < 0 ? 0 : (size_t)n);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(1, line, len);
  (void)w;
}

void agent_clock_start(void) { clock_gettime(CLOCK_MONOTONIC, &agent_start); }

double agent_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - agent_start.tv_sec) + (double)(now.tv_nsec - agent_start.tv_nsec) / 1e9;
}

int64_t monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

ssize_t read_text_file(const char *path, char *buf, size_t cap) {
  if (cap == 0) {
    errno = EINVAL;
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len < cap - 1) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

int write_text_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  ssize_t n;
  do {
    n = write(fd, text, len);
  } while (n < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return -1;
  }
  if ((size_t)n != len) {
    errno = EIO;  /* a kernel knob that takes part of a value is as good as a refusal */
    return -1;
  }
  return 0;
}

int read_int_file(const char *path, long long *value) {
  char buf[64];
  if (read_text_file(path, buf, sizeof buf) < 0) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno != 0 || end == buf) {
    errno = EINVAL;
    return -1;
  }
  while (*end == ' ' || *end == '\n' || *end == '\t') end++;
  if (*end != '\0') {
    errno = EINVAL;
    return -1;
  }
  *value = v;
  return 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

void trim_copy(const char *s, size_t len, char *out, size_t outlen) {
  if (outlen == 0) return;
  while (len > 0 && is_space(*s)) {
    s++;
    len--;
  }
  while (len > 0 && is_space(s[len - 1])) len--;
  if (len > outlen - 1) len = outlen - 1;
  memcpy(out, s, len);
  out[len] = '\0';
}

int fd_move_high(int fd) {
  if (fd < 0) return -1;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  int saved = errno;
  close(fd);
  errno = saved;
  return high;
}

bool path_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int ensure_device_node(const char *dev_path, const char *sysfs_dev_file, bool is_block) {
  if (path_exists(dev_path)) return 0;
  char buf[64];
  if (read_text_file(sysfs_dev_file, buf, sizeof buf) < 0) return -1;
  unsigned int major_n, minor_n;
  if (sscanf(buf, "%u:%u", &major_n, &minor_n) != 2) {
    errno = EINVAL;
    return -1;
  }
  mode_t mode = (mode_t)((is_block ? S_IFBLK : S_IFCHR) | 0600);
  if (mknod(dev_path, mode, makedev(major_n, minor_n)) < 0 && errno != EEXIST) return -1;
  return 0;
}

void fmt(char *buf, size_t cap, const char *f, ...) {
  if (cap == 0) return;
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(buf, cap, f, ap);
  va_end(ap);
  if (n < 0) buf[0] = '\0';
}
