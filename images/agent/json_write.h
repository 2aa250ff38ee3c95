/* Builds one JSON document (a data-channel record, docs/protocol.md section 2) in a caller's
 * bounded buffer. Every string is escaped and made valid UTF-8 (invalid bytes become U+FFFD),
 * so a finished document is always one valid JSON line. Commas are placed automatically.
 * When the document would not fit, the writer is marked overflowed and stops appending:
 * jw_finish() then returns false and the caller must not send the buffer. */
#ifndef FOLIOLAB_AGENT_JSON_WRITE_H
#define FOLIOLAB_AGENT_JSON_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#define JW_MAX_DEPTH 16

struct jw {
  char *buf;
  size_t len;
  size_t cap;
  bool overflow;
  bool error;  /* misuse: unbalanced nesting, value where a key was expected, ... */
  int depth;
  bool first[JW_MAX_DEPTH];
  bool in_object[JW_MAX_DEPTH];
  bool after_key;
};

void jw_init(struct jw *w, char *buf, size_t cap);

void jw_object_begin(struct jw *w);
void jw_object_end(struct jw *w);
void jw_array_begin(struct jw *w);
void jw_array_end(struct jw *w);
void jw_key(struct jw *w, const char *key);

void jw_string(struct jw *w, const char *s);
void jw_string_n(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, long long v);
/* A number with exactly three decimals ("12.345"), for the record's "t" and durations. */
void jw_seconds(struct jw *w, double v);
/* A number given as text that is already a valid JSON number (e.g. forwarded from a parsed
 * workload line). Text that is not a JSON number is written as null. */
void jw_number_text(struct jw *w, const char *text);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);

/* Key + value shorthands. */
void jw_kv_string(struct jw *w, const char *key, const char *s);
void jw_kv_int(struct jw *w, const char *key, long long v);
void jw_kv_bool(struct jw *w, const char *key, bool v);
void jw_kv_null(struct jw *w, const char *key);

/* Appends the final '\n'. True when the buffer holds one complete, balanced JSON line. */
bool jw_finish(struct jw *w);

/* Appends the JSON escaping of s[0..n) without quotes to out (bounded); returns the number of
 * bytes it needed (like snprintf). Exposed for tests and for bounded console text. */
size_t json_escape(const char *s, size_t n, char *out, size_t outcap);

/* True when text is exactly one JSON number (RFC 8259 grammar). */
bool json_is_number_text(const char *text);

#endif
