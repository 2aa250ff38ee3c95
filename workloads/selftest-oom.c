/* selftest-oom: allocates memory in 16 MiB chunks and fills every page with incompressible data
 * (so zram cannot absorb it) until the OOM killer kills it, or until --size bytes are touched
 * (size 0, the default, means "until killed"). Its oom_score_adj is 1000, so it is the victim.
 * Expected outcome with size 0: workload-failed (SIGKILL) with an "Out of memory: Killed
 * process" line on the console, counted as an OOM event, not a kernel crash.
 * Exit 0 when --size was reached, 1 when memory ran out without the OOM killer acting. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_BYTES (16ull << 20)

static int parse_args(int argc, char **argv, unsigned long long *size) {
  *size = 0;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--size=", 7) == 0) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(argv[i] + 7, &end, 10);
      if (errno != 0 || *end != '\0' || end == argv[i] + 7) {
        printf("{\"fail\":\"bad --size value (bytes expected)\"}\n");
        return -1;
      }
      *size = v;
    } else {
      printf("{\"fail\":\"unknown argument\"}\n");
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  unsigned long long limit;
  if (parse_args(argc, argv, &limit) < 0) return 1;
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (write(fd, "1000", 4) != 4) fprintf(stderr, "selftest-oom: oom_score_adj: %s\n", strerror(errno));
    close(fd);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  uint64_t x = 0x2545F4914F6CDD1Dull;
  unsigned long long touched = 0, next_report = 256ull << 20;
  size_t chunk = CHUNK_BYTES;
  while (limit == 0 || touched < limit) {
    size_t want = chunk;
    if (limit != 0 && limit - touched < want) want = (size_t)(limit - touched);
    uint64_t *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      if (chunk > (1u << 20)) {
        chunk /= 2;  /* the overcommit heuristic may refuse big chunks first */
        continue;
      }
      printf("{\"fail\":\"mmap failed after %llu bytes (%s) before the OOM killer acted\"}\n",
             touched, strerror(errno));
      return 1;
    }
    for (size_t i = 0; i < want / sizeof *p; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[i] = x;
    }
    touched += want;
    if (touched >= next_report) {
      fprintf(stderr, "selftest-oom: %llu MiB touched\n", touched >> 20);
      next_report += 256ull << 20;
    }
  }
  printf("{\"metric\":\"touched_bytes\",\"value\":%llu,\"unit\":\"bytes\"}\n", touched);
  return 0;
}
