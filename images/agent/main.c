/* foliolab guest agent: the guest's /init. See docs/protocol.md (sections 1-3) for the contract
 * and images/agent/README.md for the decisions taken where the contract is silent.
 * Order: mounts, data channel, job, hello, settings, swap, trace, steps, done, reboot. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "boot.h"
#include "channel.h"
#include "counters.h"
#include "job.h"
#include "settings.h"
#include "steps.h"
#include "swap.h"
#include "trace.h"
#include "util.h"

#define JOB_PATH "/job.json"
#define PORT_WAIT_MS 10000
/* Records already written may still sit in the virtqueue (writes to a virtio port do not wait
 * for the host): the reset would make QEMU exit before passing them on. So the agent reboots
 * once the host has acked done, and after this long without an ack (a host that never acks). */
#define ACK_WAIT_MS 2000

static struct job job;

static void finish(int steps) __attribute__((noreturn));
static void finish(int steps) {
  struct jw *w = record_begin("done");
  jw_kv_int(w, "steps", steps);
  jw_kv_int(w, "errors", records_error_count());
  record_end();
  say("done: %d steps, %d errors; rebooting", steps, records_error_count());
  sync();
  if (channel_await_ack(ACK_WAIT_MS) == CHANNEL_ACK_TIMEOUT)
    say("no ack of done from the host within %d ms; rebooting anyway", ACK_WAIT_MS);
  reboot(RB_AUTOBOOT);
  say("ERROR: reboot: %s; halting here", strerror(errno));
  for (;;) pause();
}

/* Reads the job; returns NULL on success or a message. */
static const char *load_job(char *err, size_t errlen) {
  static char text[JOB_MAX_BYTES + 1];
  int fd = open(JOB_PATH, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fmt(err, errlen, "open " JOB_PATH ": %s", strerror(errno));
    return err;
  }
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, text + len, sizeof text - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fmt(err, errlen, "read " JOB_PATH ": %s", strerror(errno));
      close(fd);
      return err;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len == sizeof text) {
      fmt(err, errlen, JOB_PATH " is larger than %d bytes", JOB_MAX_BYTES);
      close(fd);
      return err;
    }
  }
  close(fd);
  if (job_parse(&job, text, len, err, errlen) < 0) return err;
  return NULL;
}

int main(void) {
  if (getpid() != 1) {
    /* Mounting over /proc and rebooting are only right for a guest's init. */
    static const char msg[] = AGENT_PREFIX "not pid 1: this program is the foliolab guest's "
                              "/init and only runs as such\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    return 2;
  }
  agent_clock_start();
  signal(SIGPIPE, SIG_IGN);

  struct boot_features features;
  boot_mount_all(&features);
  boot_console_fds();
  say("starting (foliolab guest agent)");

  channel_open(PORT_WAIT_MS);

  char err[512];
  const char *job_error = load_job(err, sizeof err);
  counters_discover_sizes();  /* for hello; the counters themselves are set up after swap */
  boot_hello(job_error ? "" : job.job_key, &features);
  if (job_error) {
    record_error("agent", "job", job_error);
    finish(0);
  }
  say("job %s: %zu settings, %zu steps", job.job_key, job.n_settings, job.n_steps);

  if (settings_apply(&job) > 0) {
    say("settings were refused: no step runs");
    finish(0);
  }
  if (swap_setup(&job) > 0) {
    say("swap set-up failed: no step runs");
    finish(0);
  }
  counters_init(swap_zram_name());
  trace_setup(&job);  /* a missing tracepoint is reported; the steps still run */
  int steps = steps_run(&job);
  finish(steps);
}
