#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "channel.h"
#include "counters.h"
#include "util.h"

/* Mounts fs at target; "already mounted" counts as success. */
static bool mount_fs(const char *source, const char *target, const char *type, unsigned long flags,
                     const char *data) {
  if (mount(source, target, type, flags, data) == 0 || errno == EBUSY) return true;
  say("note: mount %s on %s: %s", type, target, strerror(errno));
  return false;
}

void boot_mount_all(struct boot_features *f) {
  memset(f, 0, sizeof *f);
  mkdir("/proc", 0555);
  mkdir("/sys", 0555);
  mkdir("/dev", 0755);
  mkdir("/tmp", 01777);
  f->proc = mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  f->sysfs = mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  f->devtmpfs = mount_fs("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  if (!f->devtmpfs) {
    mknod("/dev/console", S_IFCHR | 0600, makedev(5, 1));
    mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3));
  }
  /* The mount points below exist in sysfs only when the kernel has the filesystem. */
  f->tracefs = mount_fs("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  f->debugfs = mount_fs("debugfs", "/sys/kernel/debug", "debugfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  f->cgroup2 = mount_fs("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

void boot_console_fds(void) {
  bool ok = true;
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0) ok = false;
  if (ok) return;
  int fd = open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return;  /* nowhere to speak: carry on silently, the data channel still works */
  for (int i = 0; i <= 2; i++)
    if (fcntl(i, F_GETFD) < 0) dup2(fd, i);
  if (fd > 2) close(fd);
}

const char *boot_normalise_arch(const char *machine) {
  if (strcmp(machine, "x86_64") == 0) return "x86_64";
  if (strcmp(machine, "aarch64") == 0 || strcmp(machine, "arm64") == 0) return "arm64";
  if (strcmp(machine, "riscv64") == 0) return "riscv64";
  return machine;
}

static bool vmstat_has(const char *name) {
  static char text[64 * 1024];
  if (read_text_file("/proc/vmstat", text, sizeof text) <= 0) return false;
  size_t n = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, name, n) == 0 && p[n] == ' ') return true;
  return false;
}

static bool userfaultfd_available(void) {
#ifdef SYS_userfaultfd
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  return errno != ENOSYS;  /* EPERM etc.: the syscall exists */
#else
  return false;
#endif
}

static bool numa_available(void) {
#ifdef SYS_get_mempolicy
  int mode;
  return syscall(SYS_get_mempolicy, &mode, NULL, 0UL, NULL, 0UL) == 0 || errno != ENOSYS;
#else
  return false;
#endif
}

/* MemTotal of /proc/meminfo, from sysinfo(2): the same number (totalram), without having the
 * kernel format all of meminfo, which costs milliseconds under TCG before hello. */
static long long mem_total_kb(void) {
  struct sysinfo si;
  if (sysinfo(&si) < 0) return 0;
  return (long long)si.totalram * (long long)(si.mem_unit ? si.mem_unit : 1) / 1024;
}

void boot_hello(const char *job_key, const struct boot_features *f) {
  struct utsname u;
  if (uname(&u) < 0) memset(&u, 0, sizeof u);
  long long pmd_bytes = 0;
  read_int_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", &pmd_bytes);
  long long sizes[32];
  size_t n_sizes = counters_thp_sizes(sizes, 32);
  long page = sysconf(_SC_PAGESIZE);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);

  struct jw *w = record_begin("hello");
  jw_kv_string(w, "job_key", job_key);
  jw_kv_string(w, "release", u.release);
  jw_kv_string(w, "version", u.version);
  jw_kv_string(w, "machine", u.machine);
  jw_kv_string(w, "arch", boot_normalise_arch(u.machine));
  jw_kv_int(w, "page_size", page);
  jw_kv_int(w, "pmd_kb", pmd_bytes / 1024);
  jw_key(w, "thp_sizes_kb");
  jw_array_begin(w);
  for (size_t i = 0; i < n_sizes; i++) jw_int(w, sizes[i]);
  jw_array_end(w);
  jw_kv_int(w, "mem_total_kb", mem_total_kb());
  jw_kv_int(w, "cpus", cpus);
  jw_key(w, "features");
  jw_object_begin(w);
  jw_kv_bool(w, "thp", path_exists("/sys/kernel/mm/transparent_hugepage/enabled"));
  jw_kv_bool(w, "vmstat_thp", vmstat_has("thp_fault_alloc"));
  jw_kv_bool(w, "zram", path_exists("/sys/block/zram0") || path_exists("/sys/class/zram-control"));
  jw_kv_bool(w, "tracefs", f->tracefs && path_exists("/sys/kernel/tracing/trace_pipe"));
  jw_kv_bool(w, "cgroup2", f->cgroup2);
  jw_kv_bool(w, "userfaultfd", userfaultfd_available());
  jw_kv_bool(w, "numa", numa_available());
  jw_kv_bool(w, "proc", f->proc);
  jw_kv_bool(w, "sysfs", f->sysfs);
  jw_kv_bool(w, "devtmpfs", f->devtmpfs);
  jw_kv_bool(w, "debugfs", f->debugfs);
  jw_kv_bool(w, "swap", path_exists("/proc/swaps"));
  jw_object_end(w);
  record_end();
  say("hello: Linux %s %s, page %ld, pmd %lld kB, %zu THP sizes, %ld cpus", u.release,
      boot_normalise_arch(u.machine), page, pmd_bytes / 1024, n_sizes, cpus);
}
