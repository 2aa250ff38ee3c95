/* Typed workload parameters from argv (docs/protocol.md section 3: --key=value, values already
 * canonical: sizes in bytes). Sizes also accept K/M/G suffixes (powers of 1024) so a developer
 * can run a workload by hand. Every parameter has a default; an unknown key, a malformed value
 * or a value out of range is a failure (exit 1) naming the parameter. The table here and the
 * workload's descriptor (workloads/<name>.yaml) must agree: the descriptor is what the host
 * validates and documents, this table is what the guest enforces. */
#ifndef WL_PARAMS_H
#define WL_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

enum wl_param_type { WL_P_SIZE, WL_P_INT, WL_P_FLOAT, WL_P_BOOL, WL_P_ENUM, WL_P_STRING };

struct wl_param {
  const char *name;
  enum wl_param_type type;
  const char *def;             /* default, in argv syntax */
  void *out;                   /* uint64_t* | int64_t* | double* | bool* | const char** */
  double min, max;             /* inclusive range, checked when min < max */
  const char *const *values;   /* WL_P_ENUM: NULL-terminated list of accepted values */
  const char *help;
};

/* Parses argv[1..] into the table's outputs (defaults first). "--help" prints the table and
 * exits 0. On error prints {"fail":...} and exits 1. */
void wl_params_parse(int argc, char **argv, const struct wl_param *params, int count);

/* Pure parsers, exposed for unit tests. Return 0 on success, -1 on a malformed value. */
int wl_parse_size(const char *text, uint64_t *out);
int wl_parse_bool(const char *text, bool *out);

/* Prints every parameter's effective value as one stdout line ("params: size=... fill=..."). */
void wl_params_print(const struct wl_param *params, int count);

#endif
