/* Small helpers shared by every part of the guest agent: console messages, the agent's clock,
 * and bounded reads/writes of kernel files (procfs, sysfs, tracefs). Single-threaded. */
#ifndef FOLIOLAB_AGENT_UTIL_H
#define FOLIOLAB_AGENT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_PREFIX "foliolab-agent: "

/* One console line "foliolab-agent: <text>\n", written with a single write() to fd 1. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds since agent_clock_start() (CLOCK_MONOTONIC). */
void agent_clock_start(void);
double agent_seconds(void);
/* Milliseconds on CLOCK_MONOTONIC (absolute, for deadlines and sampling). */
int64_t monotonic_ms(void);

/* Reads at most cap-1 bytes of path into buf and NUL-terminates. Returns the length, or -1 with
 * errno set. Kernel attribute files are read in a loop until EOF or the buffer is full. */
ssize_t read_text_file(const char *path, char *buf, size_t cap);

/* Writes text to an existing file with one write() call. Returns 0, or -1 with errno set
 * (the errno of open or write: the kernel's answer to the value). */
int write_text_file(const char *path, const char *text);

/* Reads a file holding one integer (e.g. "2097152\n"). Returns 0 on success. */
int read_int_file(const char *path, long long *value);

/* Copies s without leading/trailing whitespace into out (bounded, always terminated). */
void trim_copy(const char *s, size_t len, char *out, size_t outlen);

/* Moves fd to a number >= 10 with FD_CLOEXEC set, so that fds 0..9 stay free for children.
 * Returns the new fd (the old one is closed) or -1. */
int fd_move_high(int fd);

bool path_exists(const char *path);

/* Makes sure a device node exists at dev_path, creating it from a sysfs "dev" file ("MAJ:MIN")
 * when devtmpfs did not. Returns 0 or -1 with errno set. */
int ensure_device_node(const char *dev_path, const char *sysfs_dev_file, bool is_block);

/* Formats into buf like snprintf and always terminates; truncation is not an error. */
void fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));

#endif
