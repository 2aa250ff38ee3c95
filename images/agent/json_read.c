#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "json_read.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_NODES 256

struct json_chunk {
  struct json_chunk *next;
  size_t used;
  struct json_value v[CHUNK_NODES];
};

struct parser {
  struct json_doc *doc;
  const char *s;
  size_t len;
  size_t pos;
  int depth;
  char *err;
  size_t errlen;
  bool failed;
};

static void fail(struct parser *p, const char *what) {
  if (p->failed) return;
  p->failed = true;
  if (p->errlen > 0) snprintf(p->err, p->errlen, "offset %zu: %s", p->pos, what);
}

static struct json_value *new_node(struct parser *p, enum json_type type) {
  struct json_doc *d = p->doc;
  if (d->nodes >= JSON_MAX_NODES) {
    fail(p, "too many values");
    return NULL;
  }
  if (!d->chunks || d->chunks->used == CHUNK_NODES) {
    struct json_chunk *c = calloc(1, sizeof *c);
    if (!c) {
      fail(p, "out of memory");
      return NULL;
    }
    c->next = d->chunks;
    d->chunks = c;
  }
  struct json_value *v = &d->chunks->v[d->chunks->used++];
  memset(v, 0, sizeof *v);
  v->type = type;
  d->nodes++;
  return v;
}

/* The string arena is sized up front (decoded text never outgrows its source), so pointers
 * into it stay valid. */
static char *arena_reserve(struct parser *p, size_t n) {
  struct json_doc *d = p->doc;
  if (d->strings_len + n > d->strings_cap) {
    fail(p, "string arena exhausted");
    return NULL;
  }
  return d->strings + d->strings_len;
}

static void skip_ws(struct parser *p) {
  while (p->pos < p->len) {
    char c = p->s[p->pos];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      p->pos++;
    else
      break;
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_hex4(struct parser *p, uint32_t *out) {
  if (p->len - p->pos < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(p->s[p->pos + (size_t)i]);
    if (h < 0) return false;
    v = (v << 4) | (uint32_t)h;
  }
  p->pos += 4;
  *out = v;
  return true;
}

static size_t put_utf8(char *out, uint32_t cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Validates one raw UTF-8 sequence at the current position; returns its length or 0. */
static size_t utf8_len_at(struct parser *p) {
  const unsigned char *s = (const unsigned char *)p->s + p->pos;
  size_t avail = p->len - p->pos;
  unsigned char c = s[0];
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (avail < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

/* Parses a string at p->pos (which holds '"'); returns the decoded, NUL-terminated text. */
static const char *parse_string(struct parser *p, size_t *out_len) {
  p->pos++;  /* opening quote */
  /* Decoded text is never longer than what remains of the input. */
  char *out = arena_reserve(p, 1);
  if (!out) return NULL;
  size_t o = 0;
  size_t room = p->doc->strings_cap - p->doc->strings_len;
  for (;;) {
    if (p->pos >= p->len) {
      fail(p, "unterminated string");
      return NULL;
    }
    unsigned char c = (unsigned char)p->s[p->pos];
    if (o + 5 > room) {
      fail(p, "string arena exhausted");
      return NULL;
    }
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) {
      fail(p, "control character in string");
      return NULL;
    }
    if (c == '\\') {
      p->pos++;
      if (p->pos >= p->len) {
        fail(p, "unterminated escape");
        return NULL;
      }
      char e = p->s[p->pos++];
      switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!read_hex4(p, &cp)) {
            fail(p, "bad \\u escape");
            return NULL;
          }
          if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(p, "lone low surrogate");
            return NULL;
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
              fail(p, "lone high surrogate");
              return NULL;
            }
            p->pos += 2;
            if (!read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
              fail(p, "bad surrogate pair");
              return NULL;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          if (cp == 0) {
            fail(p, "NUL in string");
            return NULL;
          }
          o += put_utf8(out + o, cp);
          break;
        }
        default:
          p->pos--;
          fail(p, "bad escape");
          return NULL;
      }
      continue;
    }
    if (c < 0x80) {
      out[o++] = (char)c;
      p->pos++;
      continue;
    }
    size_t n = utf8_len_at(p);
    if (n == 0) {
      fail(p, "invalid UTF-8 in string");
      return NULL;
    }
    memcpy(out + o, p->s + p->pos, n);
    o += n;
    p->pos += n;
  }
  out[o] = '\0';
  p->doc->strings_len += o + 1;
  *out_len = o;
  return out;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static struct json_value *parse_number(struct parser *p) {
  size_t start = p->pos;
  const char *s = p->s;
  size_t i = p->pos;
  bool integral = true;
  if (i < p->len && s[i] == '-') i++;
  if (i < p->len && s[i] == '0') {
    i++;
  } else if (i < p->len && s[i] >= '1' && s[i] <= '9') {
    while (i < p->len && is_digit(s[i])) i++;
  } else {
    fail(p, "bad number");
    return NULL;
  }
  if (i < p->len && s[i] == '.') {
    integral = false;
    i++;
    if (!(i < p->len && is_digit(s[i]))) {
      p->pos = i;
      fail(p, "bad number: digit expected after '.'");
      return NULL;
    }
    while (i < p->len && is_digit(s[i])) i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    integral = false;
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
    if (!(i < p->len && is_digit(s[i]))) {
      p->pos = i;
      fail(p, "bad number: digit expected in exponent");
      return NULL;
    }
    while (i < p->len && is_digit(s[i])) i++;
  }
  size_t n = i - start;
  if (n > 64) {
    fail(p, "number literal too long");
    return NULL;
  }
  char *text = arena_reserve(p, n + 1);
  if (!text) return NULL;
  memcpy(text, s + start, n);
  text[n] = '\0';
  p->doc->strings_len += n + 1;
  p->pos = i;
  struct json_value *v = new_node(p, JSON_NUMBER);
  if (!v) return NULL;
  v->text = text;
  v->number = strtod(text, NULL);
  if (integral) {
    errno = 0;
    long long ll = strtoll(text, NULL, 10);
    if (errno == 0) {
      v->is_int = true;
      v->integer = ll;
    }
  }
  return v;
}

static struct json_value *parse_value(struct parser *p);

static bool literal(struct parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return false;
  p->pos += n;
  return true;
}

static struct json_value *parse_container(struct parser *p, bool object) {
  if (++p->depth > JSON_MAX_DEPTH) {
    fail(p, "nesting too deep");
    return NULL;
  }
  struct json_value *v = new_node(p, object ? JSON_OBJECT : JSON_ARRAY);
  if (!v) return NULL;
  p->pos++;  /* '{' or '[' */
  char close = object ? '}' : ']';
  struct json_value *last = NULL;
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == close) {
    p->pos++;
    p->depth--;
    return v;
  }
  for (;;) {
    const char *key = NULL;
    skip_ws(p);
    if (object) {
      if (p->pos >= p->len || p->s[p->pos] != '"') {
        fail(p, "expected a string key");
        return NULL;
      }
      size_t klen;
      key = parse_string(p, &klen);
      if (!key) return NULL;
      for (const struct json_value *m = v->child; m; m = m->next) {
        if (strcmp(m->key, key) == 0) {
          fail(p, "duplicate key");
          return NULL;
        }
      }
      skip_ws(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') {
        fail(p, "expected ':'");
        return NULL;
      }
      p->pos++;
    }
    struct json_value *item = parse_value(p);
    if (!item) return NULL;
    item->key = key;
    if (last)
      last->next = item;
    else
      v->child = item;
    last = item;
    v->count++;
    skip_ws(p);
    if (p->pos >= p->len) {
      fail(p, object ? "unterminated object" : "unterminated array");
      return NULL;
    }
    char c = p->s[p->pos];
    if (c == ',') {
      p->pos++;
      continue;
    }
    if (c == close) {
      p->pos++;
      break;
    }
    fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
    return NULL;
  }
  p->depth--;
  return v;
}

static struct json_value *parse_value(struct parser *p) {
  skip_ws(p);
  if (p->pos >= p->len) {
    fail(p, "unexpected end of input");
    return NULL;
  }
  char c = p->s[p->pos];
  struct json_value *v;
  switch (c) {
    case '{': return parse_container(p, true);
    case '[': return parse_container(p, false);
    case '"': {
      size_t n;
      const char *text = parse_string(p, &n);
      if (!text) return NULL;
      v = new_node(p, JSON_STRING);
      if (!v) return NULL;
      v->text = text;
      v->len = n;
      return v;
    }
    case 't':
    case 'f':
      if (literal(p, "true") || literal(p, "false")) {
        v = new_node(p, JSON_BOOL);
        if (v) v->boolean = (c == 't');
        return v;
      }
      fail(p, "bad literal");
      return NULL;
    case 'n':
      if (literal(p, "null")) return new_node(p, JSON_NULL);
      fail(p, "bad literal");
      return NULL;
    default:
      if (c == '-' || is_digit(c)) return parse_number(p);
      fail(p, "unexpected character");
      return NULL;
  }
}

int json_parse(struct json_doc *doc, const char *text, size_t len, char *err, size_t errlen) {
  memset(doc, 0, sizeof *doc);
  if (errlen > 0) err[0] = '\0';
  struct parser p = {.doc = doc, .s = text, .len = len, .err = err, .errlen = errlen};
  /* every string or number needs at most its source length + 1 (quotes/delimiters pay for it) */
  doc->strings_cap = len + 16;
  doc->strings = malloc(doc->strings_cap);
  if (!doc->strings) {
    fail(&p, "out of memory");
    return -1;
  }
  struct json_value *root = parse_value(&p);
  if (root) {
    skip_ws(&p);
    if (p.pos != p.len) {
      fail(&p, "trailing characters after the value");
      root = NULL;
    }
  }
  if (!root || p.failed) return -1;
  doc->root = root;
  return 0;
}

void json_free(struct json_doc *doc) {
  struct json_chunk *c = doc->chunks;
  while (c) {
    struct json_chunk *next = c->next;
    free(c);
    c = next;
  }
  free(doc->strings);
  memset(doc, 0, sizeof *doc);
}

const struct json_value *json_get(const struct json_value *v, const char *key) {
  if (!v || v->type != JSON_OBJECT) return NULL;
  for (const struct json_value *m = v->child; m; m = m->next)
    if (strcmp(m->key, key) == 0) return m;
  return NULL;
}

const char *json_string(const struct json_value *v) {
  return v && v->type == JSON_STRING ? v->text : NULL;
}

const char *json_type_name(enum json_type type) {
  switch (type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
  }
  return "?";
}
