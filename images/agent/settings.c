#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "util.h"

void setting_selected_value(const char *readback, char *out, size_t outlen) {
  const char *open = strchr(readback, '[');
  if (open) {
    const char *close = strchr(open + 1, ']');
    if (close) {
      trim_copy(open + 1, (size_t)(close - open - 1), out, outlen);
      return;
    }
  }
  trim_copy(readback, strlen(readback), out, outlen);
}

bool setting_value_means_off(const char *value) {
  return strcmp(value, "N") == 0 || strcmp(value, "0") == 0 || strcmp(value, "never") == 0;
}

bool setting_matches(const char *actual, const char *wanted, bool rounds_up) {
  if (!rounds_up) return strcmp(actual, wanted) == 0;
  /* buffer_size_kb: whole ring-buffer pages, at least two ("4" reads back "7") */
  char *end_a, *end_w;
  errno = 0;
  long long a = strtoll(actual, &end_a, 10), w = strtoll(wanted, &end_w, 10);
  if (errno != 0 || end_a == actual || end_w == wanted || *end_w != '\0') return false;
  while (*end_a == ' ') end_a++;  /* "7 (expanded: 1408)" before the buffer is first used */
  return (*end_a == '\0' || *end_a == '(') && a >= w;
}

static bool apply_one(const struct job_setting *s) {
  char msg[768];
  /* A knob that already holds the value is not written: some writes have side effects even
   * when they change nothing (writing N to zswap/enabled initialises zswap on 6.12, after
   * which every swap-in from zram falls back to order 0). */
  char before[4096], current[512], wanted_now[512];
  ssize_t had = read_text_file(s->path, before, sizeof before);
  bool already = false;
  if (had >= 0) {
    setting_selected_value(before, current, sizeof current);
    trim_copy(s->value, strlen(s->value), wanted_now, sizeof wanted_now);
    already = strcmp(current, wanted_now) == 0;
  }
  if (!already && write_text_file(s->path, s->value) < 0) {
    int e = errno;
    if (e == ENOENT && s->absent_ok && setting_value_means_off(s->value)) {
      say("setting %s: %s is absent, which satisfies '%s'", s->name, s->path, s->value);
      return true;
    }
    fmt(msg, sizeof msg, "write '%.200s' to %s: %s%s", s->value, s->path, strerror(e),
        e == ENOENT ? " (this kernel has no such knob)" : "");
    record_error("setting", s->name, msg);
    return false;
  }
  char back[4096];
  ssize_t n = read_text_file(s->path, back, sizeof back);
  if (n < 0) {
    fmt(msg, sizeof msg, "wrote '%.200s' to %s but reading it back failed: %s", s->value, s->path,
        strerror(errno));
    record_error("setting", s->name, msg);
    return false;
  }
  char actual[512], wanted[512];
  setting_selected_value(back, actual, sizeof actual);
  trim_copy(s->value, strlen(s->value), wanted, sizeof wanted);
  if (!setting_matches(actual, wanted, s->rounds_up)) {
    char shown[300];
    trim_copy(back, (size_t)n, shown, sizeof shown);
    fmt(msg, sizeof msg, "wrote '%.200s' to %s but it reads back '%s'", s->value, s->path, shown);
    record_error("setting", s->name, msg);
    return false;
  }
  struct jw *w = record_begin("setting");
  jw_kv_string(w, "name", s->name);
  jw_kv_string(w, "path", s->path);
  jw_kv_string(w, "requested", s->value);
  jw_kv_string(w, "actual", actual);
  jw_kv_bool(w, "ok", true);
  record_end();
  return true;
}

int settings_apply(const struct job *job) {
  int errors = 0;
  for (size_t i = 0; i < job->n_settings; i++)
    if (!apply_one(&job->settings[i])) errors++;
  if (job->n_settings > 0)
    say("settings: %zu applied, %d refused", job->n_settings - (size_t)errors, errors);
  return errors;
}
