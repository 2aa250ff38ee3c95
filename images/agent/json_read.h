/* A small, bounded JSON reader for /job.json and the workloads' stdout lines.
 * Input is untrusted: the reader enforces RFC 8259 grammar, valid UTF-8, a nesting limit and a
 * node limit, rejects duplicate object keys and strings containing NUL, and never reads past
 * the given length. The parsed tree lives in the json_doc until json_free(). */
#ifndef FOLIOLAB_AGENT_JSON_READ_H
#define FOLIOLAB_AGENT_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_NODES 100000

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
  enum json_type type;
  const char *key;          /* member name when the value sits in an object, else NULL */
  struct json_value *next;  /* next element / member of the parent */
  struct json_value *child; /* first element / member (arrays, objects) */
  size_t count;             /* number of elements / members (arrays, objects) */
  const char *text;         /* STRING: decoded UTF-8; NUMBER: the literal as written */
  size_t len;               /* STRING: byte length of text */
  double number;            /* NUMBER */
  bool is_int;              /* NUMBER: integral literal that fits in long long */
  long long integer;        /* NUMBER when is_int */
  bool boolean;             /* BOOL */
};

struct json_chunk;

struct json_doc {
  struct json_value *root;
  struct json_chunk *chunks;
  size_t nodes;
  char *strings;  /* decoded strings and number literals */
  size_t strings_len, strings_cap;
};

/* Parses text[0..len). Returns 0 and fills doc, or -1 with a message ("offset 12: expected ':'")
 * in err. doc must be released with json_free() in both cases. */
int json_parse(struct json_doc *doc, const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json_doc *doc);

/* Member of an object by key (NULL when absent or when v is not an object). */
const struct json_value *json_get(const struct json_value *v, const char *key);
/* String content, or NULL when v is not a string. */
const char *json_string(const struct json_value *v);
const char *json_type_name(enum json_type type);

#endif
