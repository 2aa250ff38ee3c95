/* What the agent does before it can report anything: mount the kernel filesystems, make sure
 * fds 0-2 are the console, and describe the guest in the `hello` record. */
#ifndef FOLIOLAB_AGENT_BOOT_H
#define FOLIOLAB_AGENT_BOOT_H

#include <stdbool.h>

/* Filesystems and features found while booting, reported in hello.features. */
struct boot_features {
  bool proc, sysfs, devtmpfs, tracefs, debugfs, cgroup2;
};

/* Mounts proc, sysfs, devtmpfs, tracefs, debugfs and cgroup2. A missing filesystem is recorded,
 * never fatal. Also creates /tmp and the device nodes that are needed without devtmpfs. */
void boot_mount_all(struct boot_features *f);

/* Reopens /dev/console as fds 0, 1 and 2 when the kernel could not give init a console. */
void boot_console_fds(void);

/* "x86_64" | "arm64" | "riscv64" for a uname machine ("aarch64" -> "arm64"); else machine. */
const char *boot_normalise_arch(const char *machine);

/* Emits the hello record (docs/protocol.md section 2). job_key may be "". */
void boot_hello(const char *job_key, const struct boot_features *f);

#endif
