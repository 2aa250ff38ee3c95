#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "util.h"

#define TRACEFS "/sys/kernel/tracing"
#define TRACE_LINE_MAX 4096
#define TRACE_DRAIN_MAX (8 * 1024 * 1024)  /* bytes per drain, so a flood cannot stall a step */

static struct trace_histogram histograms[JOB_MAX_TRACE];
static size_t n_histograms;
static int pipe_fd = -1;
static char line_buf[TRACE_LINE_MAX];
static size_t line_len;
static bool line_overlong;
static long long ring_dropped_at_begin;

static const char *find_mem(const char *hay, size_t hlen, const char *needle, size_t nlen) {
  if (nlen == 0 || hlen < nlen) return NULL;
  for (size_t i = 0; i + nlen <= hlen; i++)
    if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0) return hay + i;
  return NULL;
}

bool trace_line_is_event(const char *line, size_t len, const char *name) {
  size_t nlen = strlen(name);
  const char *p = line;
  size_t left = len;
  while (left > 0) {
    const char *hit = find_mem(p, left, name, nlen);
    if (!hit) return false;
    size_t after = (size_t)(hit - line) + nlen;
    /* preceded by a blank and followed by ':' — the event column, not part of a task name */
    if (hit > line && (hit[-1] == ' ' || hit[-1] == '\t') && after < len && line[after] == ':')
      return true;
    left = len - (size_t)(hit - line) - 1;
    p = hit + 1;
  }
  return false;
}

bool trace_line_field(const char *line, size_t len, const char *field, const char **value,
                      size_t *vlen) {
  size_t flen = strlen(field);
  const char *p = line;
  size_t left = len;
  while (left > 0) {
    const char *hit = find_mem(p, left, field, flen);
    if (!hit) return false;
    size_t pos = (size_t)(hit - line);
    bool starts = pos == 0 || line[pos - 1] == ' ' || line[pos - 1] == ',' || line[pos - 1] == '\t';
    if (starts && pos + flen < len && line[pos + flen] == '=') {
      const char *v = hit + flen + 1;
      const char *end = v;
      const char *stop = line + len;
      while (end < stop && *end != ',' && *end != ' ' && *end != '\t' && *end != '\n') end++;
      *value = v;
      *vlen = (size_t)(end - v);
      return true;
    }
    left = len - pos - 1;
    p = hit + 1;
  }
  return false;
}

bool trace_line_lost(const char *line, size_t len, long long *lost) {
  if (len < 4 || memcmp(line, "CPU:", 4) != 0) return false;
  const char *mark = find_mem(line, len, "[LOST", 5);
  if (!mark) return false;
  const char *p = mark + 5;
  const char *stop = line + len;
  while (p < stop && *p == ' ') p++;
  long long n = 0;
  bool digits = false;
  while (p < stop && *p >= '0' && *p <= '9') {
    n = n * 10 + (*p - '0');
    digits = true;
    p++;
  }
  *lost = digits ? n : 1;
  return true;
}

static void count_value(struct trace_histogram *h, const char *v, size_t vlen) {
  if (vlen == 0 || vlen >= TRACE_MAX_VALUE_LEN) {
    h->lost++;
    return;
  }
  for (size_t i = 0; i < h->n_buckets; i++) {
    if (strlen(h->buckets[i].value) == vlen && memcmp(h->buckets[i].value, v, vlen) == 0) {
      h->buckets[i].count++;
      return;
    }
  }
  if (h->n_buckets >= TRACE_MAX_VALUES) {
    h->lost++;
    return;
  }
  struct trace_bucket *b = &h->buckets[h->n_buckets++];
  memcpy(b->value, v, vlen);
  b->value[vlen] = '\0';
  b->count = 1;
}

void trace_count_line(struct trace_histogram *h, size_t n, const char *line, size_t len) {
  long long lost;
  if (trace_line_lost(line, len, &lost)) {
    /* Which event was lost is unknown: every histogram may be short by that many. */
    for (size_t i = 0; i < n; i++) h[i].ring_lost += lost;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (!trace_line_is_event(line, len, h[i].name)) continue;
    const char *v;
    size_t vlen;
    if (trace_line_field(line, len, h[i].field, &v, &vlen))
      count_value(&h[i], v, vlen);
    else
      h[i].lost++;
  }
}

void trace_histogram_reset(struct trace_histogram *h) {
  h->n_buckets = 0;
  h->lost = 0;
  h->ring_lost = 0;
}

/* The number after "<key>:" at the start of a line of text, or 0. */
static long long stats_value(const char *text, size_t len, const char *key) {
  size_t klen = strlen(key);
  const char *p = text;
  const char *stop = text + len;
  while (p < stop) {
    const char *eol = memchr(p, '\n', (size_t)(stop - p));
    if (!eol) eol = stop;
    if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ':') {
      const char *d = p + klen + 1;
      while (d < eol && *d == ' ') d++;
      long long n = 0;
      while (d < eol && *d >= '0' && *d <= '9' && n < (1LL << 53)) n = n * 10 + (*d++ - '0');
      return n;
    }
    p = eol + 1;
  }
  return 0;
}

long long trace_stats_dropped(const char *text, size_t len) {
  return stats_value(text, len, "overrun") + stats_value(text, len, "dropped events");
}

long long trace_histogram_lost(const struct trace_histogram *h, long long ring_dropped) {
  long long ring = h->ring_lost > ring_dropped ? h->ring_lost : ring_dropped;
  return h->lost + ring;
}

/* The events every CPU's ring buffer has dropped since the buffer was last reset. */
static long long ring_dropped_total(void) {
  long long total = 0;
  char path[96], text[1024];
  for (int cpu = 0; cpu < 1024; cpu++) {
    fmt(path, sizeof path, TRACEFS "/per_cpu/cpu%d/stats", cpu);
    ssize_t n = read_text_file(path, text, sizeof text);
    if (n < 0) break;
    total += trace_stats_dropped(text, (size_t)n);
  }
  return total;
}

int trace_setup(const struct job *job) {
  int errors = 0;
  n_histograms = 0;
  if (job->n_trace == 0) return 0;
  char msg[512], path[256];
  if (!path_exists(TRACEFS "/trace_pipe")) {
    for (size_t i = 0; i < job->n_trace; i++) {
      fmt(msg, sizeof msg, "tracefs is not mounted at " TRACEFS " (CONFIG_TRACING off?): "
          "cannot enable %s", job->trace[i].event);
      record_error("trace", job->trace[i].event, msg);
      errors++;
    }
    return errors;
  }
  for (size_t i = 0; i < job->n_trace; i++) {
    struct trace_histogram *h = &histograms[n_histograms++];
    memset(h, 0, sizeof *h);
    h->event = job->trace[i].event;
    h->name = job->trace[i].name;
    h->field = job->trace[i].field;
    fmt(path, sizeof path, TRACEFS "/events/%s/enable", h->event);
    if (write_text_file(path, "1") < 0) {
      fmt(msg, sizeof msg, "write '1' to %s: %s", path, strerror(errno));
      record_error("trace", h->event, msg);
      errors++;
      continue;
    }
    h->enabled = true;
  }
  if (write_text_file(TRACEFS "/tracing_on", "1") < 0) {
    fmt(msg, sizeof msg, "write '1' to " TRACEFS "/tracing_on: %s", strerror(errno));
    record_error("trace", "tracing_on", msg);
    errors++;
  }
  pipe_fd = open(TRACEFS "/trace_pipe", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (pipe_fd < 0) {
    fmt(msg, sizeof msg, "open " TRACEFS "/trace_pipe: %s", strerror(errno));
    record_error("trace", "trace_pipe", msg);
    errors++;
  } else {
    pipe_fd = fd_move_high(pipe_fd);
  }
  return errors;
}

bool trace_active(void) { return pipe_fd >= 0; }

static void feed(const char *data, size_t n, bool counting) {
  for (size_t i = 0; i < n; i++) {
    char c = data[i];
    if (c == '\n') {
      if (counting) {
        if (line_overlong) {
          for (size_t k = 0; k < n_histograms; k++) histograms[k].lost++;
        } else {
          trace_count_line(histograms, n_histograms, line_buf, line_len);
        }
      }
      line_len = 0;
      line_overlong = false;
      continue;
    }
    if (line_len < sizeof line_buf - 1)
      line_buf[line_len++] = c;
    else
      line_overlong = true;
  }
}

static void drain(bool counting) {
  if (pipe_fd < 0) return;
  static char buf[64 * 1024];
  size_t total = 0;
  while (total < TRACE_DRAIN_MAX) {
    ssize_t n = read(pipe_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  /* EAGAIN: empty for now */
    feed(buf, (size_t)n, counting);
    total += (size_t)n;
  }
}

void trace_step_begin(void) {
  if (pipe_fd < 0) return;
  /* Opening "trace" with O_TRUNC clears the ring buffer; what remains is read and dropped. */
  int fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd >= 0) close(fd);
  drain(false);
  line_len = 0;
  line_overlong = false;
  for (size_t i = 0; i < n_histograms; i++) trace_histogram_reset(&histograms[i]);
  ring_dropped_at_begin = ring_dropped_total();
}

void trace_drain(void) { drain(true); }

void trace_step_end(const char *step) {
  if (pipe_fd < 0) return;
  drain(true);
  long long ring_dropped = ring_dropped_total() - ring_dropped_at_begin;
  if (ring_dropped < 0) ring_dropped = 0;  /* the buffer was reset under us */
  for (size_t i = 0; i < n_histograms; i++) {
    const struct trace_histogram *h = &histograms[i];
    if (!h->enabled) continue;
    struct jw *w = record_begin("trace");
    jw_kv_string(w, "step", step);
    jw_kv_string(w, "event", h->event);
    jw_kv_string(w, "field", h->field);
    jw_key(w, "counts");
    jw_object_begin(w);
    for (size_t b = 0; b < h->n_buckets; b++) jw_kv_int(w, h->buckets[b].value, h->buckets[b].count);
    jw_object_end(w);
    jw_kv_int(w, "lost", trace_histogram_lost(h, ring_dropped));
    record_end();
  }
}
