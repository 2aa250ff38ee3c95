/* selftest-segv: dereferences a NULL pointer. The expected outcome of a run is workload-failed
 * with "killed by signal 11"; it proves that a crashing workload is reported, not lost. */
#include <stdio.h>

int main(int argc, char **argv) {
  /* Both volatile: the pointer, so the compiler cannot see the NULL and turn the store into a
   * trap instruction (SIGILL instead of SIGSEGV); the target, so the store cannot be dropped as
   * a dead store (GCC 12 did exactly that with a non-volatile target). */
  volatile int *volatile target = NULL;
  fprintf(stderr, "selftest-segv: writing through a NULL pointer\n");
  *target = 42;
  printf("{\"fail\":\"a store through NULL did not fault\"}\n");
  return 1;
}
