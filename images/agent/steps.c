#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "steps.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "counters.h"
#include "json_read.h"
#include "trace.h"
#include "util.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define WL_LINE_MAX (64 * 1024)
#define WL_MAX_METRICS 1000
#define KILL_GRACE_MS 10000    /* after SIGKILL, how long to wait for the exit before giving up */
#define TRACE_DRAIN_MS 100
#define MPOL_BIND_MODE 2       /* MPOL_BIND from <linux/mempolicy.h> */

/* ---- pure parts ---- */

static bool metric_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

static bool unit_ok(const char *s) {
  size_t n = strlen(s);
  if (n >= 40) return false;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\') return false;
  return true;
}

enum wl_line_kind workload_parse_line(const char *line, size_t len, struct wl_line *out) {
  memset(out, 0, sizeof *out);
  out->kind = WL_OTHER;
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
  if (i == len || line[i] != '{') return WL_OTHER;
  struct json_doc doc;
  char err[96];
  if (json_parse(&doc, line, len, err, sizeof err) != 0 || doc.root->type != JSON_OBJECT) {
    json_free(&doc);
    return WL_OTHER;
  }
  const struct json_value *root = doc.root;
  const struct json_value *metric = json_get(root, "metric");
  const struct json_value *value = json_get(root, "value");
  const struct json_value *unit = json_get(root, "unit");
  if (metric && value && root->count == (size_t)(unit ? 3 : 2)) {
    if (metric->type == JSON_STRING && metric_name_ok(metric->text) && value->type == JSON_NUMBER &&
        strlen(value->text) < sizeof out->value &&
        (!unit || (unit->type == JSON_STRING && unit_ok(unit->text)))) {
      out->kind = WL_METRIC;
      snprintf(out->metric, sizeof out->metric, "%s", metric->text);
      snprintf(out->value, sizeof out->value, "%s", value->text);
      snprintf(out->unit, sizeof out->unit, "%s", unit ? unit->text : "");
    }
  } else if (root->count == 1 && root->child->type == JSON_STRING) {
    const char *key = root->child->key;
    enum wl_line_kind kind = strcmp(key, "skip") == 0        ? WL_SKIP
                             : strcmp(key, "fail") == 0      ? WL_FAIL
                             : strcmp(key, "integrity") == 0 ? WL_INTEGRITY
                                                             : WL_OTHER;
    if (kind != WL_OTHER) {
      out->kind = kind;
      snprintf(out->reason, sizeof out->reason, "%s", root->child->text);
    }
  }
  json_free(&doc);
  return out->kind;
}

const char *step_status_name(enum step_status status) {
  switch (status) {
    case STEP_OK: return "ok";
    case STEP_FAILED: return "failed";
    case STEP_INTEGRITY_FAILED: return "integrity-failed";
    case STEP_SKIPPED: return "skipped";
    case STEP_TIMEOUT: return "timeout";
  }
  return "failed";
}

void step_outcome_from(int wait_status, bool timed_out, double deadline_s,
                       const struct wl_line *stated, struct step_outcome *out) {
  memset(out, 0, sizeof *out);
  bool has_reason = stated && stated->kind != WL_OTHER && stated->reason[0];
  if (WIFEXITED(wait_status)) {
    out->has_exit_code = true;
    out->exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    out->has_signal = true;
    out->signal = WTERMSIG(wait_status);
  }
  if (timed_out) {
    out->status = STEP_TIMEOUT;
    snprintf(out->reason, sizeof out->reason, "deadline of %g s exceeded; the workload was killed",
             deadline_s);
    return;
  }
  if (out->has_signal) {
    out->status = STEP_FAILED;
    const char *desc = strsignal(out->signal);
    snprintf(out->reason, sizeof out->reason, "killed by signal %d (%s)", out->signal,
             desc ? desc : "?");
    return;
  }
  if (!out->has_exit_code) {
    out->status = STEP_FAILED;
    snprintf(out->reason, sizeof out->reason, "ended in an unknown way (wait status %#x)", wait_status);
    return;
  }
  switch (out->exit_code) {
    case 0:
      out->status = STEP_OK;
      if (stated && stated->kind == WL_INTEGRITY) out->status = STEP_INTEGRITY_FAILED;
      if (stated && stated->kind == WL_FAIL) out->status = STEP_FAILED;
      break;
    case 1: out->status = STEP_FAILED; break;
    case 3: out->status = STEP_INTEGRITY_FAILED; break;
    case 4: out->status = STEP_SKIPPED; break;
    default: out->status = STEP_FAILED; break;
  }
  if (has_reason) {
    snprintf(out->reason, sizeof out->reason, "%s", stated->reason);
  } else if (out->exit_code == 4) {
    snprintf(out->reason, sizeof out->reason, "skipped (the workload gave no reason)");
  } else if (out->exit_code != 0) {
    snprintf(out->reason, sizeof out->reason, "exit code %d", out->exit_code);
  }
}

int parse_cpu_list(const char *text, cpu_set_t *set) {
  CPU_ZERO(set);
  const char *p = text;
  bool any = false;
  for (;;) {
    char *end;
    if (*p < '0' || *p > '9') return -1;
    long a = strtol(p, &end, 10);
    long b = a;
    p = end;
    if (*p == '-') {
      p++;
      if (*p < '0' || *p > '9') return -1;
      b = strtol(p, &end, 10);
      p = end;
    }
    if (a < 0 || b < a || b >= CPU_SETSIZE) return -1;
    for (long c = a; c <= b; c++) CPU_SET((int)c, set);
    any = true;
    if (*p == '\0') break;
    if (*p != ',') return -1;
    p++;
  }
  return any ? 0 : -1;
}

void memcg_dir_name(const char *step, char *out, size_t cap) {
  size_t o = 0;
  const char *prefix = "foliolab-";
  for (const char *p = prefix; *p && o + 1 < cap; p++) out[o++] = *p;
  for (const char *p = step; *p && o + 1 < cap && o < 100; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out[o++] = ok ? c : '_';
  }
  if (cap > 0) out[o < cap ? o : cap - 1] = '\0';
}

/* ---- running ---- */

struct step_run {
  const struct job *job;
  const struct job_step *st;
  int64_t begin_ms;           /* step-begin, origin of t_ms */
  struct wl_line stated;      /* first skip/fail/integrity line */
  int metrics;
  char line[WL_LINE_MAX];
  size_t line_len;
  bool line_truncated;
};

static void emit_sample(const struct step_run *r, const char *phase) {
  struct jw *w = record_begin("sample");
  jw_kv_string(w, "step", r->st->name);
  jw_kv_string(w, "phase", phase);
  jw_kv_int(w, "t_ms", (long long)(monotonic_ms() - r->begin_ms));
  counters_write_values(w);
  record_end();
}

static void console_line(const char *text, size_t len, const char *suffix) {
  char out[WL_LINE_MAX + 64];
  if (len > WL_LINE_MAX) len = WL_LINE_MAX;
  memcpy(out, text, len);
  size_t slen = strlen(suffix);
  memcpy(out + len, suffix, slen);
  out[len + slen] = '\n';
  ssize_t n = write(1, out, len + slen + 1);
  (void)n;
}

static void handle_line(struct step_run *r, const char *line, size_t len, bool truncated) {
  struct wl_line parsed;
  if (truncated) {
    console_line(line, len, " [line truncated by foliolab-agent]");
    return;
  }
  switch (workload_parse_line(line, len, &parsed)) {
    case WL_METRIC: {
      if (r->metrics >= WL_MAX_METRICS) {
        if (r->metrics++ == WL_MAX_METRICS)
          say("step %s: more than %d metrics; the rest are ignored", r->st->name, WL_MAX_METRICS);
        return;
      }
      r->metrics++;
      char name[80];
      fmt(name, sizeof name, "wl.%s", parsed.metric);
      struct jw *w = record_begin("metric");
      jw_kv_string(w, "step", r->st->name);
      jw_kv_string(w, "name", name);
      jw_key(w, "value");
      jw_number_text(w, parsed.value);
      jw_kv_string(w, "unit", parsed.unit);
      record_end();
      say("step %s: %s = %s %s", r->st->name, name, parsed.value, parsed.unit);
      return;
    }
    case WL_SKIP:
    case WL_FAIL:
    case WL_INTEGRITY:
      if (r->stated.kind == WL_OTHER) {
        r->stated = parsed;
        say("step %s: %s: %s", r->st->name,
            parsed.kind == WL_SKIP ? "skip" : parsed.kind == WL_FAIL ? "fail" : "integrity",
            parsed.reason);
      } else {
        say("step %s: ignoring a second reason line (only one is allowed): %.200s", r->st->name,
            parsed.reason);
      }
      return;
    case WL_OTHER:
      console_line(line, len, "");
      return;
  }
}

static void feed_stdout(struct step_run *r, const char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (data[i] == '\n') {
      handle_line(r, r->line, r->line_len, r->line_truncated);
      r->line_len = 0;
      r->line_truncated = false;
    } else if (r->line_len < sizeof r->line) {
      r->line[r->line_len++] = data[i];
    } else {
      r->line_truncated = true;
    }
  }
}

/* Reads what the pipe holds now. Returns false at EOF or on error. */
static bool read_stdout(struct step_run *r, int fd) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      feed_stdout(r, buf, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

static void step_begin_record(const struct job_step *st) {
  struct jw *w = record_begin("step-begin");
  jw_kv_string(w, "step", st->name);
  jw_kv_string(w, "workload", st->workload);
  jw_key(w, "argv");
  jw_array_begin(w);
  for (size_t i = 0; i < st->argc; i++) jw_string(w, st->argv[i]);
  jw_array_end(w);
  jw_key(w, "deadline_s");
  jw_seconds(w, st->deadline_s);
  record_end();
}

static void step_end_record(const struct job_step *st, const struct step_outcome *o, double seconds) {
  struct jw *w = record_begin("step-end");
  jw_kv_string(w, "step", st->name);
  jw_kv_string(w, "status", step_status_name(o->status));
  if (o->has_exit_code)
    jw_kv_int(w, "exit_code", o->exit_code);
  else
    jw_kv_null(w, "exit_code");
  if (o->has_signal)
    jw_kv_int(w, "signal", o->signal);
  else
    jw_kv_null(w, "signal");
  jw_kv_string(w, "reason", o->reason);
  jw_key(w, "seconds");
  jw_seconds(w, seconds);
  record_end();
  say("step %s: %s%s%s (%.3f s)", st->name, step_status_name(o->status), o->reason[0] ? ": " : "",
      o->reason, seconds);
}

/* A step that could not start: an error record (where=step) and a failed step-end. */
static void step_not_started(const struct job_step *st, const char *why) {
  record_error("step", st->name, why);
  struct step_outcome o;
  memset(&o, 0, sizeof o);
  o.status = STEP_FAILED;
  fmt(o.reason, sizeof o.reason, "%s", why);
  step_end_record(st, &o, 0);
}

static bool memory_controller_ready;

/* Creates the step's cgroup and writes its files. Returns 0, or -1 with msg filled. */
static int memcg_prepare(const struct job_step *st, char *dir, size_t dircap, char *msg, size_t cap) {
  if (!path_exists(CGROUP_ROOT "/cgroup.subtree_control")) {
    fmt(msg, cap, "memcg requested but cgroup2 is not mounted at " CGROUP_ROOT);
    return -1;
  }
  if (!memory_controller_ready) {
    if (write_text_file(CGROUP_ROOT "/cgroup.subtree_control", "+memory") < 0) {
      fmt(msg, cap, "write '+memory' to " CGROUP_ROOT "/cgroup.subtree_control: %s",
          strerror(errno));
      return -1;
    }
    memory_controller_ready = true;
  }
  char name[128];
  memcg_dir_name(st->name, name, sizeof name);
  fmt(dir, dircap, CGROUP_ROOT "/%s", name);
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    fmt(msg, cap, "mkdir %s: %s", dir, strerror(errno));
    return -1;
  }
  for (size_t i = 0; i < st->n_memcg; i++) {
    char path[256];
    fmt(path, sizeof path, "%s/%s", dir, st->memcg[i].file);
    if (write_text_file(path, st->memcg[i].value) < 0) {
      fmt(msg, cap, "write '%s' to %s: %s", st->memcg[i].value, path, strerror(errno));
      return -1;
    }
  }
  return 0;
}

static void memcg_remove(const char *dir) {
  /* The group's tasks were killed and reaped; the cgroup may take a moment to empty. */
  for (int i = 0; i < 50; i++) {
    if (rmdir(dir) == 0 || errno == ENOENT) return;
    usleep(10000);
  }
  say("note: could not remove %s: %s", dir, strerror(errno));
}

/* In the child after fork: report why the exec did not happen and exit. */
static void child_fail(int status_fd, const char *f, const char *arg, int err) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, f, arg, strerror(err));
  if (n > 0) {
    ssize_t w = write(status_fd, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    (void)w;
  }
  _exit(127);
}

struct child_setup {
  const struct job_step *st;
  int stdout_w;
  int status_w;
  int null_fd;
  int data_fd;
  const char *cgroup_procs;    /* NULL: stay in the root cgroup */
  bool has_cpus;
  cpu_set_t cpus;
  char *const *envp;
};

static void child_exec(const struct child_setup *c) {
  setpgid(0, 0);
  /* Dispositions set to "ignore" survive exec: give the workload default ones. */
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (c->cgroup_procs) {
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    if (write_text_file(c->cgroup_procs, pid) < 0)
      child_fail(c->status_w, "move into %s: %s", c->cgroup_procs, errno);
  }
  if (c->has_cpus && sched_setaffinity(0, sizeof c->cpus, &c->cpus) < 0)
    child_fail(c->status_w, "sched_setaffinity(%s): %s", c->st->cpus, errno);
  if (c->st->mem_node >= 0) {
    unsigned long mask = 1UL << c->st->mem_node;
    if (syscall(SYS_set_mempolicy, MPOL_BIND_MODE, &mask, (unsigned long)(sizeof mask * 8)) < 0) {
      char node[16];
      snprintf(node, sizeof node, "%d", c->st->mem_node);
      child_fail(c->status_w, "set_mempolicy(MPOL_BIND, node %s): %s", node, errno);
    }
  }
  if (dup2(c->null_fd, 0) < 0 || dup2(c->stdout_w, 1) < 0)
    child_fail(c->status_w, "%sdup2: %s", "", errno);
  /* fd 2 stays the console. The data channel is handed over as fd 3 (a virtio port can be
   * open only once, so the workload cannot open FOLIOLAB_DATA_PORT itself). */
  if (c->data_fd >= 0) {
    if (dup2(c->data_fd, 3) < 0) child_fail(c->status_w, "%sdup2 data fd: %s", "", errno);
  }
  execve(c->st->argv[0], (char *const *)c->st->argv, c->envp);
  child_fail(c->status_w, "exec %s: %s", c->st->argv[0], errno);
}

static int pidfd_for(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) return fd_move_high(fd);
#endif
  (void)pid;
  return -1;
}

static void reap_strays(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static void run_step(const struct job *job, const struct job_step *st) {
  struct step_run *r = calloc(1, sizeof *r);
  if (!r) {
    step_not_started(st, "agent out of memory");
    return;
  }
  r->job = job;
  r->st = st;
  r->stated.kind = WL_OTHER;
  say("step %s: %s (deadline %g s)", st->name, st->argv[0], st->deadline_s);
  r->begin_ms = monotonic_ms();
  step_begin_record(st);

  char msg[768];
  struct child_setup cs;
  memset(&cs, 0, sizeof cs);
  cs.st = st;
  cs.data_fd = channel_fd();
  if (st->cpus) {
    if (parse_cpu_list(st->cpus, &cs.cpus) < 0) {
      fmt(msg, sizeof msg, "bad cpu list '%.100s'", st->cpus);
      step_not_started(st, msg);
      free(r);
      return;
    }
    cs.has_cpus = true;
  }
  char cg_dir[200] = "", cg_procs[256];
  if (st->has_memcg) {
    if (memcg_prepare(st, cg_dir, sizeof cg_dir, msg, sizeof msg) < 0) {
      step_not_started(st, msg);
      if (cg_dir[0]) memcg_remove(cg_dir);
      free(r);
      return;
    }
    fmt(cg_procs, sizeof cg_procs, "%s/cgroup.procs", cg_dir);
    cs.cgroup_procs = cg_procs;
  }

  /* Environment: a fresh, small one. */
  char env_step[200], env_port[100], env_fd[32];
  char *envp[8];
  size_t ne = 0;
  envp[ne++] = "PATH=/workloads:/bin:/sbin:/usr/bin:/usr/sbin";
  envp[ne++] = "HOME=/";
  envp[ne++] = "TERM=linux";
  fmt(env_step, sizeof env_step, "FOLIOLAB_STEP=%s", st->name);
  envp[ne++] = env_step;
  if (cs.data_fd >= 0) {
    fmt(env_port, sizeof env_port, "FOLIOLAB_DATA_PORT=%s", channel_device());
    envp[ne++] = env_port;
    fmt(env_fd, sizeof env_fd, "FOLIOLAB_DATA_FD=3");
    envp[ne++] = env_fd;
  }
  envp[ne] = NULL;
  cs.envp = envp;

  int out_pipe[2], status_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(status_pipe, O_CLOEXEC) < 0) {
    fmt(msg, sizeof msg, "pipe: %s", strerror(errno));
    step_not_started(st, msg);
    free(r);
    return;
  }
  int out_r = fd_move_high(out_pipe[0]);
  cs.stdout_w = fd_move_high(out_pipe[1]);
  int status_r = fd_move_high(status_pipe[0]);
  cs.status_w = fd_move_high(status_pipe[1]);
  cs.null_fd = fd_move_high(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (cs.null_fd < 0) cs.null_fd = fd_move_high(open("/", O_RDONLY | O_CLOEXEC));

  emit_sample(r, "before");
  trace_step_begin();

  int64_t start_ms = monotonic_ms();
  pid_t pid = fork();
  if (pid == 0) child_exec(&cs);
  int fork_errno = errno;
  close(cs.stdout_w);
  close(cs.status_w);
  if (cs.null_fd >= 0) close(cs.null_fd);
  if (pid < 0) {
    close(out_r);
    close(status_r);
    fmt(msg, sizeof msg, "fork: %s", strerror(fork_errno));
    step_not_started(st, msg);
    free(r);
    return;
  }
  setpgid(pid, pid);  /* also in the child: whichever runs first */

  /* The status pipe closes on a successful exec; otherwise it carries the reason. */
  char why[512];
  ssize_t wn;
  do {
    wn = read(status_r, why, sizeof why - 1);
  } while (wn < 0 && errno == EINTR);
  close(status_r);
  if (wn > 0) {
    why[wn] = '\0';
    waitpid(pid, NULL, 0);
    close(out_r);
    if (cg_dir[0]) memcg_remove(cg_dir);
    step_not_started(st, why);
    free(r);
    return;
  }

  fcntl(out_r, F_SETFL, O_NONBLOCK);
  int pidfd = pidfd_for(pid);
  bool out_open = true, exited = false, timed_out = false, gave_up = false;
  int wstatus = 0;
  int64_t deadline = start_ms + (int64_t)(st->deadline_s * 1000.0);
  int64_t killed_at = 0;
  int64_t next_sample = job->sample_ms > 0 ? start_ms + job->sample_ms : INT64_MAX;
  int64_t next_trace = start_ms + TRACE_DRAIN_MS;
  int64_t end_ms = start_ms;

  while (!exited && !gave_up) {
    int64_t now = monotonic_ms();
    int64_t wake = next_sample;
    if (trace_active() && next_trace < wake) wake = next_trace;
    int64_t limit = timed_out ? killed_at + KILL_GRACE_MS : deadline;
    if (limit < wake) wake = limit;
    int64_t timeout = wake - now;
    if (timeout < 0) timeout = 0;
    if (pidfd < 0 && timeout > 50) timeout = 50;
    if (timeout > 1000) timeout = 1000;

    struct pollfd pfds[2];
    nfds_t n = 0;
    int out_idx = -1, pid_idx = -1;
    if (out_open) {
      pfds[n] = (struct pollfd){.fd = out_r, .events = POLLIN};
      out_idx = (int)n++;
    }
    if (pidfd >= 0) {
      pfds[n] = (struct pollfd){.fd = pidfd, .events = POLLIN};
      pid_idx = (int)n++;
    }
    int pr = poll(pfds, n, (int)timeout);
    if (pr < 0 && errno != EINTR) {
      say("poll: %s", strerror(errno));
      usleep(10000);
    }
    if (pr > 0 && out_idx >= 0 && (pfds[out_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!read_stdout(r, out_r)) {
        out_open = false;
      }
    }
    (void)pid_idx;
    pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) {
      exited = true;
      end_ms = monotonic_ms();
      break;
    }
    now = monotonic_ms();
    if (now >= next_sample) {
      emit_sample(r, "during");
      next_sample += job->sample_ms;
      if (next_sample <= now) next_sample = now + job->sample_ms;
    }
    if (trace_active() && now >= next_trace) {
      trace_drain();
      next_trace = now + TRACE_DRAIN_MS;
    }
    if (!timed_out && now >= deadline) {
      say("step %s: deadline of %g s exceeded: SIGKILL to process group %d", st->name,
          st->deadline_s, (int)pid);
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      timed_out = true;
      killed_at = now;
    } else if (timed_out && now >= killed_at + KILL_GRACE_MS) {
      say("step %s: the workload did not exit %d s after SIGKILL; giving up on it", st->name,
          KILL_GRACE_MS / 1000);
      gave_up = true;
      end_ms = now;
    }
  }
  if (pidfd >= 0) close(pidfd);

  /* Whatever the workload left behind in its process group goes too. */
  kill(-pid, SIGKILL);
  /* Remaining output: the writers are gone (or dying), so EOF comes soon. */
  int64_t drain_until = monotonic_ms() + 1000;
  while (out_open && monotonic_ms() < drain_until) {
    struct pollfd pfd = {.fd = out_r, .events = POLLIN};
    if (poll(&pfd, 1, 100) > 0 && !read_stdout(r, out_r)) out_open = false;
  }
  if (r->line_len > 0) handle_line(r, r->line, r->line_len, r->line_truncated);
  close(out_r);
  reap_strays();
  if (cg_dir[0]) memcg_remove(cg_dir);

  emit_sample(r, "after");
  trace_step_end(st->name);

  struct step_outcome o;
  if (gave_up) {
    memset(&o, 0, sizeof o);
    o.status = STEP_TIMEOUT;
    fmt(o.reason, sizeof o.reason, "deadline of %g s exceeded and the workload did not die "
        "within %d s of SIGKILL", st->deadline_s, KILL_GRACE_MS / 1000);
  } else {
    step_outcome_from(wstatus, timed_out, st->deadline_s, &r->stated, &o);
  }
  step_end_record(st, &o, (double)(end_ms - start_ms) / 1000.0);
  free(r);
}

int steps_run(const struct job *job) {
  int ran = 0;
  for (size_t i = 0; i < job->n_steps; i++) {
    run_step(job, &job->steps[i]);
    ran++;
  }
  return ran;
}
