/* selftest-hang: prints nothing and never exits. Every signal that can be ignored is ignored,
 * so only SIGKILL (the agent's deadline enforcement) ends it. The expected outcome of a run is
 * timeout: it proves that deadlines are enforced and that a silent workload never hangs a run. */
#include <signal.h>
#include <unistd.h>

int main(int argc, char **argv) {
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    signal(sig, SIG_IGN);
  }
  for (;;) pause();
}
