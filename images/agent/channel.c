#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "channel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* How long a write waits for the host to connect before the channel is declared dead:
 * long at first (the host may attach to the socket late), short once it has gone away. */
#define HOST_WAIT_FIRST_MS 60000
#define HOST_WAIT_LATER_MS 5000
#define VIRTIO_CONSOLE_MAX_WRITE (32 * 1024)

static int data_fd = -1;
static char data_device[64];
static bool host_seen;
static bool dead;
static unsigned long dropped;
static int error_count;

static char record_buf[RECORD_MAX_BYTES];
static struct jw record_writer;
static char record_type[32];

static bool find_port(char *dev_name, size_t cap) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return false;
  struct dirent *e;
  bool found = false;
  while (!found && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], name[128];
    fmt(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    ssize_t n = read_text_file(path, name, sizeof name);
    if (n <= 0) continue;
    char trimmed[128];
    trim_copy(name, (size_t)n, trimmed, sizeof trimmed);
    if (strcmp(trimmed, CHANNEL_PORT_NAME) == 0 && strlen(e->d_name) < cap) {
      snprintf(dev_name, cap, "%s", e->d_name);
      found = true;
    }
  }
  closedir(d);
  return found;
}

static bool any_console_device(void) {
  DIR *d = opendir("/sys/bus/virtio/drivers/virtio_console");
  if (!d) return false;
  struct dirent *e;
  bool found = false;
  while (!found && (e = readdir(d)))
    if (strncmp(e->d_name, "virtio", 6) == 0) found = true;
  closedir(d);
  return found;
}

bool channel_open(int wait_ms) {
  char port[48] = "";
  int64_t until = monotonic_ms() + wait_ms;
  /* Ports (and their names) are announced by the host after the driver is up, possibly after
   * /init has started: poll for a while. */
  int64_t started = monotonic_ms();
  while (!find_port(port, sizeof port)) {
    /* Without any virtio console device bound there is nothing to wait for. Give probing a
     * few seconds first: on a loaded host, riscv64's virtio-mmio devices bind (deferred, after
     * the interrupt controller) well after /init has started. */
    bool no_device = monotonic_ms() - started >= 5000 && !any_console_device();
    if (no_device || monotonic_ms() >= until) {
      say("ERROR: no virtio-serial port named %s in /sys/class/virtio-ports: "
          "records will go nowhere (the host will see no hello)", CHANNEL_PORT_NAME);
      dead = true;
      return false;
    }
    /* 1 ms: the port usually appears a few ms after /init starts, and hello waits for it. */
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fmt(data_device, sizeof data_device, "/dev/%s", port);
  char sys_dev[128];
  fmt(sys_dev, sizeof sys_dev, "/sys/class/virtio-ports/%s/dev", port);
  if (ensure_device_node(data_device, sys_dev, false) < 0) {
    say("ERROR: cannot create %s from %s: %s", data_device, sys_dev, strerror(errno));
    data_device[0] = '\0';
    dead = true;
    return false;
  }
  /* Non-blocking: a write to a port whose host side is closed would otherwise block forever.
   * Read and write: the host's only message to the guest is the ack of done. */
  int fd = open(data_device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    say("ERROR: open %s: %s", data_device, strerror(errno));
    data_device[0] = '\0';
    dead = true;
    return false;
  }
  data_fd = fd_move_high(fd);
  say("data channel %s (%s)", data_device, CHANNEL_PORT_NAME);
  return data_fd >= 0;
}

const char *channel_device(void) { return data_device; }
int channel_fd(void) { return data_fd; }

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

bool channel_send(const char *buf, size_t len) {
  if (dead || data_fd < 0) {
    dropped++;
    return false;
  }
  size_t off = 0;
  int64_t disconnected_since = -1;
  bool announced = false;
  while (off < len) {
    size_t chunk = len - off;
    if (chunk > VIRTIO_CONSOLE_MAX_WRITE) chunk = VIRTIO_CONSOLE_MAX_WRITE;
    ssize_t n = write(data_fd, buf + off, chunk);
    if (n > 0) {
      off += (size_t)n;
      host_seen = true;
      disconnected_since = -1;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      say("ERROR: write to %s: %s; records are dropped from now on", data_device, strerror(errno));
      dead = true;
      dropped++;
      return false;
    }
    /* EAGAIN: either the virtqueue is full (host reading slowly: wait for it) or the host
     * side is not connected (poll reports POLLHUP at once: wait a bounded time). */
    struct pollfd pfd = {.fd = data_fd, .events = POLLOUT};
    int r = poll(&pfd, 1, 1000);
    if (r > 0 && (pfd.revents & POLLHUP)) {
      int64_t now = monotonic_ms();
      if (disconnected_since < 0) disconnected_since = now;
      int budget = host_seen ? HOST_WAIT_LATER_MS : HOST_WAIT_FIRST_MS;
      if (!announced && now - disconnected_since >= 1000) {
        say("waiting for the host to open the data channel %s", data_device);
        announced = true;
      }
      if (now - disconnected_since >= budget) {
        say("ERROR: the host did not open the data channel %s within %d s; records are dropped "
            "from now on", data_device, budget / 1000);
        dead = true;
        dropped++;
        return false;
      }
      sleep_ms(20);
    }
  }
  return true;
}

struct jw *record_begin(const char *type) {
  jw_init(&record_writer, record_buf, sizeof record_buf);
  snprintf(record_type, sizeof record_type, "%s", type);
  jw_object_begin(&record_writer);
  jw_kv_string(&record_writer, "type", type);
  jw_key(&record_writer, "t");
  jw_seconds(&record_writer, agent_seconds());
  return &record_writer;
}

void record_end(void) {
  jw_object_end(&record_writer);
  if (jw_finish(&record_writer)) {
    channel_send(record_writer.buf, record_writer.len);
    return;
  }
  char msg[160];
  fmt(msg, sizeof msg, "internal: a '%s' record %s and was not sent", record_type,
      record_writer.overflow ? "exceeded the record size bound" : "was malformed");
  say("ERROR: %s", msg);
  record_error("agent", record_type, msg);
}

void record_error(const char *where, const char *name, const char *message) {
  error_count++;
  say("error (%s) %s: %s", where, name, message);
  struct jw *w = record_begin("error");
  jw_kv_string(w, "where", where);
  jw_kv_string(w, "name", name);
  jw_kv_string(w, "message", message);
  jw_object_end(w);
  if (jw_finish(w)) channel_send(w->buf, w->len);
}

int records_error_count(void) { return error_count; }

enum channel_ack channel_await_ack(int wait_ms) {
  if (dead || data_fd < 0 || !host_seen) return CHANNEL_ACK_NO_HOST;
  int64_t until = monotonic_ms() + wait_ms;
  for (;;) {
    int64_t left = until - monotonic_ms();
    if (left <= 0) return CHANNEL_ACK_TIMEOUT;
    struct pollfd pfd = {.fd = data_fd, .events = POLLIN};
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return CHANNEL_ACK_TIMEOUT;
    if (r < 0) return CHANNEL_ACK_NO_HOST;
    if (pfd.revents & POLLIN) {
      /* Any byte will do: the host sends the ack only after it has read done, and the
       * stream is ordered, so every record before done has arrived too. */
      char buf[256];
      ssize_t n = read(data_fd, buf, sizeof buf);
      if (n > 0) return CHANNEL_ACK_RECEIVED;
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      return CHANNEL_ACK_NO_HOST;
    }
    return CHANNEL_ACK_NO_HOST;  /* POLLHUP or POLLERR: the host has gone */
  }
}
