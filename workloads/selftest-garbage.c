/* selftest-garbage: writes hostile bytes into the data channel the agent uses for its records,
 * then exits 0. In order: random bytes, lines of invalid JSON, a 1 MiB line without a newline
 * followed by a newline, and records whose types are wrong. Every piece ends with a newline, so
 * the agent's later records (step-end, done) still arrive as whole lines. A run of it proves that
 * the host survives and bounds garbage on the channel.
 *
 * The channel: a virtio port can be open only once, so the agent hands its open port over as
 * fd $FOLIOLAB_DATA_FD (3); $FOLIOLAB_DATA_PORT (/dev/vportNpM) is opened only when no fd is
 * given. The fd may be non-blocking: writes wait for room with poll(). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LONG_LINE_BYTES (1024 * 1024)

static int channel = -1;
static unsigned long long written;

static int write_all(const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(channel, p, len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      written += (unsigned long long)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = channel, .events = POLLOUT};
      int r = poll(&pfd, 1, 10000);
      if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      if (r > 0 && (pfd.revents & POLLHUP)) {
        errno = EPIPE;  /* the host side is not connected */
        return -1;
      }
      continue;
    }
    return -1;
  }
  return 0;
}

static int write_text(const char *s) { return write_all(s, strlen(s)); }

static int open_channel(char *why, size_t cap) {
  const char *fd_text = getenv("FOLIOLAB_DATA_FD");
  if (fd_text && *fd_text) {
    char *end;
    long fd = strtol(fd_text, &end, 10);
    if (*end == '\0' && fd >= 0 && fd < 1024 && fcntl((int)fd, F_GETFL) >= 0) return (int)fd;
  }
  const char *port = getenv("FOLIOLAB_DATA_PORT");
  if (!port || !*port) {
    snprintf(why, cap, "no data channel: neither FOLIOLAB_DATA_FD nor FOLIOLAB_DATA_PORT is set");
    return -1;
  }
  int fd = open(port, O_WRONLY | O_CLOEXEC);
  if (fd < 0) snprintf(why, cap, "open %s: %s", port, strerror(errno));
  return fd;
}

int main(int argc, char **argv) {
  char why[300];
  channel = open_channel(why, sizeof why);
  if (channel < 0) {
    printf("{\"skip\":\"%s\"}\n", why);
    return 4;
  }

  /* 1. Random bytes (NUL, control characters, invalid UTF-8, stray newlines), fixed seed. */
  unsigned char noise[8192];
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < sizeof noise; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    noise[i] = (unsigned char)x;
  }
  noise[sizeof noise - 1] = '\n';
  int rc = write_all(noise, sizeof noise);

  /* 2. Lines that look like JSON but are not. */
  static const char *const invalid[] = {
      "{\n",
      "{\"type\":\"sample\",\"t\":\n",
      "{not json at all}\n",
      "[1, 2,\n",
      "{\"type\":\"hello\",\"t\":1,}\n",
      "{\"type\":\"error\",\"message\":\"\\ud800\"}\n",
      "\"just a string\"\n",
      "null\n",
      "{\"type\":\"metric\",\"value\":1e999999}\n",
      "\xff\xfe{\"type\":\"done\"}\n",
  };
  for (size_t i = 0; rc == 0 && i < sizeof invalid / sizeof invalid[0]; i++) rc = write_text(invalid[i]);

  /* 3. A 1 MiB line without a newline, then the newline: far over the 256 KiB line bound. */
  if (rc == 0) {
    char *big = malloc(LONG_LINE_BYTES);
    if (!big) {
      printf("{\"fail\":\"malloc of %d bytes failed\"}\n", LONG_LINE_BYTES);
      return 1;
    }
    memset(big, 'A', LONG_LINE_BYTES);
    memcpy(big, "{\"type\":\"sample\",\"values\":\"", 27);
    rc = write_all(big, LONG_LINE_BYTES);
    free(big);
    if (rc == 0) rc = write_text("\n");
  }

  /* 4. Valid JSON records with wrong types: an unknown record type, and a known one whose
   *    fields have the wrong JSON types. */
  if (rc == 0) rc = write_text("{\"type\":\"no-such-record-type\",\"t\":0.5}\n");
  if (rc == 0) rc = write_text("{\"type\":\"metric\",\"t\":\"soon\",\"step\":7,\"name\":null,\"value\":\"NaN\",\"unit\":[]}\n");
  if (rc == 0) rc = write_text("{\"type\":42,\"t\":1}\n");

  if (rc != 0) {
    printf("{\"fail\":\"writing garbage to the data channel: %s\"}\n", strerror(errno));
    return 1;
  }
  printf("{\"metric\":\"garbage_bytes\",\"value\":%llu,\"unit\":\"bytes\"}\n", written);
  return 0;
}
