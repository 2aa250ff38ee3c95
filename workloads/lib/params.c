#include "params.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int wl_parse_size(const char *text, uint64_t *out) {
  char *end = NULL;
  if (!text || !*text || *text == '-') return -1;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno || end == text) return -1;
  uint64_t mult = 1;
  switch (*end) {
    case 'k': case 'K': mult = 1ull << 10; ++end; break;
    case 'm': case 'M': mult = 1ull << 20; ++end; break;
    case 'g': case 'G': mult = 1ull << 30; ++end; break;
    default: break;
  }
  if (mult > 1 && (*end == 'i' || *end == 'I')) ++end;
  if (*end == 'b' || *end == 'B') ++end;
  if (*end) return -1;
  if (value > UINT64_MAX / mult) return -1;
  *out = (uint64_t)value * mult;
  return 0;
}

int wl_parse_bool(const char *text, bool *out) {
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  for (unsigned i = 0; i < 4; ++i) {
    if (strcmp(text, yes[i]) == 0) { *out = true; return 0; }
    if (strcmp(text, no[i]) == 0) { *out = false; return 0; }
  }
  return -1;
}

static const char *type_name(enum wl_param_type type) {
  switch (type) {
    case WL_P_SIZE: return "size";
    case WL_P_INT: return "int";
    case WL_P_FLOAT: return "float";
    case WL_P_BOOL: return "bool";
    case WL_P_ENUM: return "enum";
    case WL_P_STRING: return "string";
  }
  return "?";
}

static void check_range(const struct wl_param *p, double value, const char *text) {
  if (p->min < p->max && (value < p->min || value > p->max))
    wl_fail("parameter %s=%s out of range [%g, %g]", p->name, text, p->min, p->max);
}

static void assign(const struct wl_param *p, const char *text) {
  switch (p->type) {
    case WL_P_SIZE: {
      uint64_t v;
      if (wl_parse_size(text, &v)) wl_fail("parameter %s=%s: not a size", p->name, text);
      check_range(p, (double)v, text);
      *(uint64_t *)p->out = v;
      return;
    }
    case WL_P_INT: {
      char *end = NULL;
      errno = 0;
      long long v = strtoll(text, &end, 10);
      if (errno || end == text || *end) wl_fail("parameter %s=%s: not an integer", p->name, text);
      check_range(p, (double)v, text);
      *(int64_t *)p->out = v;
      return;
    }
    case WL_P_FLOAT: {
      char *end = NULL;
      errno = 0;
      double v = strtod(text, &end);
      if (errno || end == text || *end || v != v) wl_fail("parameter %s=%s: not a number", p->name, text);
      check_range(p, v, text);
      *(double *)p->out = v;
      return;
    }
    case WL_P_BOOL: {
      bool v;
      if (wl_parse_bool(text, &v)) wl_fail("parameter %s=%s: not a bool", p->name, text);
      *(bool *)p->out = v;
      return;
    }
    case WL_P_ENUM: {
      for (const char *const *v = p->values; v && *v; ++v) {
        if (strcmp(*v, text) == 0) {
          *(const char **)p->out = *v;
          return;
        }
      }
      wl_fail("parameter %s=%s: not one of the accepted values", p->name, text);
    }
    case WL_P_STRING:
      *(const char **)p->out = text;
      return;
  }
}

static void usage(const char *program, const struct wl_param *params, int count) {
  printf("usage: %s [--key=value ...]\n", program);
  for (int i = 0; i < count; ++i) {
    const struct wl_param *p = &params[i];
    printf("  --%s=<%s> (default %s)", p->name, type_name(p->type), p->def);
    if (p->type == WL_P_ENUM) {
      printf(" one of");
      for (const char *const *v = p->values; *v; ++v) printf(" %s", *v);
    }
    if (p->min < p->max) printf(" range [%g, %g]", p->min, p->max);
    printf(": %s\n", p->help ? p->help : "");
  }
}

void wl_params_parse(int argc, char **argv, const struct wl_param *params, int count) {
  for (int i = 0; i < count; ++i) assign(&params[i], params[i].def);
  for (int a = 1; a < argc; ++a) {
    const char *arg = argv[a];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(argv[0], params, count);
      exit(0);
    }
    if (strncmp(arg, "--", 2) != 0) wl_fail("argument %s: expected --key=value", arg);
    const char *eq = strchr(arg, '=');
    if (!eq) wl_fail("argument %s: expected --key=value", arg);
    size_t keylen = (size_t)(eq - arg - 2);
    int found = 0;
    for (int i = 0; i < count; ++i) {
      if (strlen(params[i].name) == keylen && strncmp(params[i].name, arg + 2, keylen) == 0) {
        assign(&params[i], eq + 1);
        found = 1;
        break;
      }
    }
    if (!found) wl_fail("argument %s: unknown parameter", arg);
  }
}

void wl_params_print(const struct wl_param *params, int count) {
  char line[1024];
  int n = snprintf(line, sizeof line, "params:");
  for (int i = 0; i < count && n > 0 && (size_t)n < sizeof line; ++i) {
    const struct wl_param *p = &params[i];
    size_t room = sizeof line - (size_t)n;
    switch (p->type) {
      case WL_P_SIZE: n += snprintf(line + n, room, " %s=%" PRIu64, p->name, *(uint64_t *)p->out); break;
      case WL_P_INT: n += snprintf(line + n, room, " %s=%" PRId64, p->name, *(int64_t *)p->out); break;
      case WL_P_FLOAT: n += snprintf(line + n, room, " %s=%g", p->name, *(double *)p->out); break;
      case WL_P_BOOL: n += snprintf(line + n, room, " %s=%s", p->name, *(bool *)p->out ? "true" : "false"); break;
      case WL_P_ENUM:
      case WL_P_STRING: n += snprintf(line + n, room, " %s=%s", p->name, *(const char **)p->out); break;
    }
  }
  wl_note("%s", line);
}
