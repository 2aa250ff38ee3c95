#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
  char *err;
  size_t errlen;
  bool failed;
};

static void bad(struct ctx *c, const char *where, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void bad(struct ctx *c, const char *where, const char *f, ...) {
  if (c->failed) return;
  c->failed = true;
  char msg[256];
  va_list ap;
  va_start(ap, f);
  vsnprintf(msg, sizeof msg, f, ap);
  va_end(ap);
  snprintf(c->err, c->errlen, "job.json: %s: %s", where, msg);
}

static const struct json_value *member(const struct json_value *obj, const char *key) {
  return json_get(obj, key);
}

static bool is_null(const struct json_value *v) { return !v || v->type == JSON_NULL; }

/* Rejects keys the agent does not know, so a typo in the host's job is not silently ignored. */
static void only_keys(struct ctx *c, const char *where, const struct json_value *obj,
                      const char *const *known) {
  for (const struct json_value *m = obj->child; m; m = m->next) {
    bool ok = false;
    for (size_t i = 0; known[i]; i++)
      if (strcmp(m->key, known[i]) == 0) ok = true;
    if (!ok) {
      char k[64];
      snprintf(k, sizeof k, "%s", m->key);
      bad(c, where, "unknown key '%s'", k);
      return;
    }
  }
}

static const char *req_string(struct ctx *c, const char *where, const struct json_value *obj,
                              const char *key, bool nonempty) {
  const struct json_value *v = member(obj, key);
  char w[160];
  snprintf(w, sizeof w, "%s.%s", where, key);
  if (!v) {
    bad(c, w, "missing");
    return NULL;
  }
  if (v->type != JSON_STRING) {
    bad(c, w, "expected a string, got %s", json_type_name(v->type));
    return NULL;
  }
  if (nonempty && v->len == 0) {
    bad(c, w, "must not be empty");
    return NULL;
  }
  return v->text;
}

static bool get_int(struct ctx *c, const char *where, const struct json_value *v, long long min,
                    long long max, long long *out) {
  if (v->type != JSON_NUMBER || !v->is_int) {
    bad(c, where, "expected an integer");
    return false;
  }
  if (v->integer < min || v->integer > max) {
    bad(c, where, "%lld is outside [%lld, %lld]", v->integer, min, max);
    return false;
  }
  *out = v->integer;
  return true;
}

static bool simple_name(const char *s, size_t maxlen) {
  size_t n = strlen(s);
  if (n == 0 || n > maxlen) return false;
  for (const char *p = s; *p; p++) {
    char ch = *p;
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.';
    if (!ok) return false;
  }
  return true;
}

/* A kernel knob path: absolute, under /sys/ or /proc/sys/, no ".." component. */
static bool knob_path_ok(const char *path) {
  if (strncmp(path, "/sys/", 5) != 0 && strncmp(path, "/proc/sys/", 10) != 0) return false;
  if (strstr(path, "/../") || strstr(path, "//")) return false;
  size_t n = strlen(path);
  if (n >= 3 && strcmp(path + n - 3, "/..") == 0) return false;
  return n < 512;
}

static void parse_settings(struct ctx *c, struct job *job, const struct json_value *arr) {
  if (is_null(arr)) return;
  if (arr->type != JSON_ARRAY) {
    bad(c, "settings", "expected an array");
    return;
  }
  if (arr->count > JOB_MAX_SETTINGS) {
    bad(c, "settings", "more than %d entries", JOB_MAX_SETTINGS);
    return;
  }
  static const char *const known[] = {"name", "path", "value", "absent_ok", "rounds_up", NULL};
  size_t i = 0;
  for (const struct json_value *s = arr->child; s && !c->failed; s = s->next, i++) {
    char where[64];
    snprintf(where, sizeof where, "settings[%zu]", i);
    if (s->type != JSON_OBJECT) {
      bad(c, where, "expected an object");
      return;
    }
    only_keys(c, where, s, known);
    struct job_setting *st = &job->settings[job->n_settings];
    st->name = req_string(c, where, s, "name", true);
    st->path = req_string(c, where, s, "path", true);
    st->value = req_string(c, where, s, "value", true);
    const struct json_value *a = member(s, "absent_ok");
    if (a && a->type != JSON_BOOL) bad(c, where, "absent_ok: expected a boolean");
    st->absent_ok = a && a->type == JSON_BOOL && a->boolean;
    const struct json_value *up = member(s, "rounds_up");
    if (up && up->type != JSON_BOOL) bad(c, where, "rounds_up: expected a boolean");
    st->rounds_up = up && up->type == JSON_BOOL && up->boolean;
    if (c->failed) return;
    if (strlen(st->name) > JOB_MAX_NAME) bad(c, where, "name too long");
    if (!knob_path_ok(st->path)) bad(c, where, "path '%.200s' is not a knob under /sys/ or /proc/sys/", st->path);
    if (strlen(st->value) > 4000) bad(c, where, "value too long");
    if (strchr(st->value, '\n')) bad(c, where, "value contains a newline");
    job->n_settings++;
  }
}

static int parse_priority(struct ctx *c, const char *where, const struct json_value *obj) {
  const struct json_value *v = member(obj, "priority");
  if (is_null(v)) return -1;
  long long p;
  char w[96];
  snprintf(w, sizeof w, "%s.priority", where);
  if (!get_int(c, w, v, 0, 32767, &p)) return -1;
  return (int)p;
}

static void parse_swap(struct ctx *c, struct job *job, const struct json_value *swap) {
  if (is_null(swap)) return;
  if (swap->type != JSON_OBJECT) {
    bad(c, "swap", "expected an object or null");
    return;
  }
  static const char *const known_swap[] = {"zram", "disk", NULL};
  only_keys(c, "swap", swap, known_swap);
  const struct json_value *z = member(swap, "zram");
  if (!is_null(z)) {
    if (z->type != JSON_OBJECT) {
      bad(c, "swap.zram", "expected an object or null");
      return;
    }
    static const char *const known[] = {"size", "algorithm", "priority", NULL};
    only_keys(c, "swap.zram", z, known);
    const struct json_value *size = member(z, "size");
    if (!size) {
      bad(c, "swap.zram.size", "missing");
      return;
    }
    if (!get_int(c, "swap.zram.size", size, 1, (long long)1 << 50, &job->zram.size)) return;
    const struct json_value *alg = member(z, "algorithm");
    if (!is_null(alg)) {
      if (alg->type != JSON_STRING || !simple_name(alg->text, 64)) {
        bad(c, "swap.zram.algorithm", "expected an algorithm name");
        return;
      }
      job->zram.algorithm = alg->text;
    }
    job->zram.priority = parse_priority(c, "swap.zram", z);
    job->zram.present = true;
  }
  const struct json_value *d = member(swap, "disk");
  if (!is_null(d)) {
    if (d->type != JSON_OBJECT) {
      bad(c, "swap.disk", "expected an object or null");
      return;
    }
    static const char *const known[] = {"serial", "priority", NULL};
    only_keys(c, "swap.disk", d, known);
    job->disk.serial = req_string(c, "swap.disk", d, "serial", true);
    if (c->failed) return;
    if (strlen(job->disk.serial) > 20) {
      /* virtio-blk serials are at most 20 bytes (VIRTIO_BLK_ID_BYTES) */
      bad(c, "swap.disk.serial", "longer than 20 bytes");
      return;
    }
    job->disk.priority = parse_priority(c, "swap.disk", d);
    job->disk.present = true;
  }
}

static void parse_trace(struct ctx *c, struct job *job, const struct json_value *arr) {
  if (is_null(arr)) return;
  if (arr->type != JSON_ARRAY) {
    bad(c, "trace", "expected an array");
    return;
  }
  if (arr->count > JOB_MAX_TRACE) {
    bad(c, "trace", "more than %d entries", JOB_MAX_TRACE);
    return;
  }
  static const char *const known[] = {"event", "field", NULL};
  size_t i = 0;
  for (const struct json_value *t = arr->child; t && !c->failed; t = t->next, i++) {
    char where[64];
    snprintf(where, sizeof where, "trace[%zu]", i);
    if (t->type != JSON_OBJECT) {
      bad(c, where, "expected an object");
      return;
    }
    only_keys(c, where, t, known);
    struct job_trace *tr = &job->trace[job->n_trace];
    tr->event = req_string(c, where, t, "event", true);
    tr->field = req_string(c, where, t, "field", true);
    if (c->failed) return;
    const char *slash = strchr(tr->event, '/');
    if (!slash || slash == tr->event || strchr(slash + 1, '/') || !simple_name(slash + 1, 64)) {
      bad(c, where, "event must be <subsystem>/<name>");
      return;
    }
    char sub[80];
    snprintf(sub, sizeof sub, "%.*s", (int)(slash - tr->event), tr->event);
    if (!simple_name(sub, 64) || !simple_name(tr->field, 64)) {
      bad(c, where, "bad subsystem or field name");
      return;
    }
    tr->name = slash + 1;
    job->n_trace++;
  }
}

static void parse_memcg(struct ctx *c, const char *where, struct job_step *st,
                        const struct json_value *m) {
  if (is_null(m)) return;
  if (m->type != JSON_OBJECT) {
    bad(c, where, "memcg: expected an object or null");
    return;
  }
  if (m->count > JOB_MAX_MEMCG) {
    bad(c, where, "memcg: more than %d files", JOB_MAX_MEMCG);
    return;
  }
  st->has_memcg = true;
  for (const struct json_value *f = m->child; f; f = f->next) {
    if (!simple_name(f->key, 64) || f->key[0] == '.') {
      bad(c, where, "memcg: '%.64s' is not a cgroup file name", f->key);
      return;
    }
    struct job_memcg_file *mf = &st->memcg[st->n_memcg];
    mf->file = f->key;
    if (f->type == JSON_STRING && f->len > 0 && f->len < sizeof mf->value &&
        !strchr(f->text, '\n')) {
      snprintf(mf->value, sizeof mf->value, "%s", f->text);
    } else if (f->type == JSON_NUMBER && f->is_int && f->integer >= 0) {
      snprintf(mf->value, sizeof mf->value, "%lld", f->integer);
    } else {
      bad(c, where, "memcg.%.64s: expected a short string or a non-negative integer", f->key);
      return;
    }
    st->n_memcg++;
  }
}

static void parse_steps(struct ctx *c, struct job *job, const struct json_value *arr) {
  if (is_null(arr)) return;
  if (arr->type != JSON_ARRAY) {
    bad(c, "steps", "expected an array");
    return;
  }
  if (arr->count > JOB_MAX_STEPS) {
    bad(c, "steps", "more than %d entries", JOB_MAX_STEPS);
    return;
  }
  if (arr->count == 0) return;
  job->steps = calloc(arr->count, sizeof *job->steps);
  if (!job->steps) {
    bad(c, "steps", "out of memory");
    return;
  }
  static const char *const known[] = {"name", "workload", "argv", "deadline_s", "memcg",
                                      "cpus", "mem_node", NULL};
  size_t i = 0;
  for (const struct json_value *s = arr->child; s && !c->failed; s = s->next, i++) {
    char where[64];
    snprintf(where, sizeof where, "steps[%zu]", i);
    if (s->type != JSON_OBJECT) {
      bad(c, where, "expected an object");
      return;
    }
    only_keys(c, where, s, known);
    struct job_step *st = &job->steps[job->n_steps];
    st->mem_node = -1;
    st->name = req_string(c, where, s, "name", true);
    st->workload = req_string(c, where, s, "workload", true);
    if (c->failed) return;
    if (strlen(st->name) > JOB_MAX_NAME || strlen(st->workload) > JOB_MAX_NAME) {
      bad(c, where, "name or workload longer than %d bytes", JOB_MAX_NAME);
      return;
    }
    for (size_t j = 0; j < job->n_steps; j++) {
      if (strcmp(job->steps[j].name, st->name) == 0) {
        bad(c, where, "duplicate step name '%.64s'", st->name);
        return;
      }
    }
    const struct json_value *argv = member(s, "argv");
    if (!argv || argv->type != JSON_ARRAY || argv->count == 0 || argv->count > JOB_MAX_ARGV) {
      bad(c, where, "argv: expected a non-empty array of at most %d strings", JOB_MAX_ARGV);
      return;
    }
    for (const struct json_value *a = argv->child; a; a = a->next) {
      if (a->type != JSON_STRING) {
        bad(c, where, "argv[%zu]: expected a string", st->argc);
        return;
      }
      st->argv[st->argc++] = a->text;
    }
    st->argv[st->argc] = NULL;
    if (st->argv[0][0] != '/') {
      bad(c, where, "argv[0]: must be an absolute path");
      return;
    }
    const struct json_value *dl = member(s, "deadline_s");
    if (!dl || dl->type != JSON_NUMBER || !(dl->number > 0) || dl->number > 1e6) {
      bad(c, where, "deadline_s: expected a number of seconds in (0, 1e6]");
      return;
    }
    st->deadline_s = dl->number;
    parse_memcg(c, where, st, member(s, "memcg"));
    const struct json_value *cpus = member(s, "cpus");
    if (!is_null(cpus)) {
      if (cpus->type != JSON_STRING || cpus->len == 0 || cpus->len > 256) {
        bad(c, where, "cpus: expected a cpu list string like \"0-1,3\"");
        return;
      }
      st->cpus = cpus->text;
    }
    const struct json_value *node = member(s, "mem_node");
    if (!is_null(node)) {
      long long n;
      char w[96];
      snprintf(w, sizeof w, "%s.mem_node", where);
      if (!get_int(c, w, node, 0, 62, &n)) return;
      st->mem_node = (int)n;
    }
    if (c->failed) return;
    job->n_steps++;
  }
}

int job_parse(struct job *job, const char *text, size_t len, char *err, size_t errlen) {
  memset(job, 0, sizeof *job);
  job->zram.priority = job->disk.priority = -1;
  job->sample_ms = 250;
  struct ctx c = {.err = err, .errlen = errlen};
  if (errlen > 0) err[0] = '\0';
  if (len > JOB_MAX_BYTES) {
    snprintf(err, errlen, "job.json: larger than %d bytes", JOB_MAX_BYTES);
    return -1;
  }
  char perr[160];
  if (json_parse(&job->doc, text, len, perr, sizeof perr) != 0) {
    snprintf(err, errlen, "job.json: not valid JSON: %s", perr);
    return -1;
  }
  const struct json_value *root = job->doc.root;
  if (root->type != JSON_OBJECT) {
    bad(&c, "top level", "expected an object");
    return -1;
  }
  static const char *const known[] = {"version", "job_key", "sample_ms", "settings", "swap",
                                      "trace", "steps", NULL};
  const struct json_value *ver = member(root, "version");
  if (!ver) {
    bad(&c, "version", "missing");
    return -1;
  }
  if (!get_int(&c, "version", ver, 0, 1000000, &job->version)) return -1;
  if (job->version != 1) {
    bad(&c, "version", "unsupported version %lld (this agent reads version 1)", job->version);
    return -1;
  }
  only_keys(&c, "top level", root, known);
  job->job_key = req_string(&c, "top level", root, "job_key", true);
  if (job->job_key && strlen(job->job_key) > 128) bad(&c, "job_key", "longer than 128 bytes");
  const struct json_value *sm = member(root, "sample_ms");
  if (!is_null(sm)) get_int(&c, "sample_ms", sm, 0, 3600000, &job->sample_ms);
  if (!c.failed) parse_settings(&c, job, member(root, "settings"));
  if (!c.failed) parse_swap(&c, job, member(root, "swap"));
  if (!c.failed) parse_trace(&c, job, member(root, "trace"));
  if (!c.failed) parse_steps(&c, job, member(root, "steps"));
  return c.failed ? -1 : 0;
}

void job_free(struct job *job) {
  free(job->steps);
  job->steps = NULL;
  json_free(&job->doc);
}
