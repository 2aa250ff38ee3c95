/* selftest-panic: crashes the guest kernel on purpose through the magic SysRq trigger
 * ("echo c > /proc/sysrq-trigger"). The expected outcome of a run is kernel-crash with the
 * sysrq crash report on the console; it proves that a panic never hangs foliolab.
 * Exit 4 (skip) when the kernel has no SysRq trigger (CONFIG_MAGIC_SYSRQ off). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    printf("{\"skip\":\"no /proc/sysrq-trigger (%s): CONFIG_MAGIC_SYSRQ is off\"}\n", strerror(errno));
    return 4;
  }
  fprintf(stderr, "selftest-panic: crashing the kernel via /proc/sysrq-trigger\n");
  sync();
  ssize_t n = write(fd, "c", 1);
  /* Only reached when the kernel refused or survived the crash request. */
  int e = errno;
  printf("{\"fail\":\"the kernel survived a write of 'c' to /proc/sysrq-trigger (write returned %zd: %s)\"}\n",
         n, n < 0 ? strerror(e) : "no error");
  return 1;
}
