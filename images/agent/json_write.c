#define _GNU_SOURCE  /* pipe2, sched_setaffinity, CPU_* and friends */
#include "json_write.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void jw_init(struct jw *w, char *buf, size_t cap) {
  memset(w, 0, sizeof *w);
  w->buf = buf;
  w->cap = cap;
  w->depth = 0;
  w->first[0] = true;
  if (cap > 0) buf[0] = '\0';
}

static void put(struct jw *w, const char *s, size_t n) {
  if (w->overflow) return;
  /* keep one byte for the final newline and one for a terminating NUL */
  if (w->len + n + 2 > w->cap) {
    w->overflow = true;
    return;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void put_str(struct jw *w, const char *s) { put(w, s, strlen(s)); }

/* Called before every value: places the comma and checks that a value is allowed here. */
static void before_value(struct jw *w) {
  if (w->after_key) {
    w->after_key = false;
    return;
  }
  if (w->depth > 0 && w->in_object[w->depth]) {
    w->error = true;  /* a value inside an object needs a key first */
    return;
  }
  if (w->depth == 0 && !w->first[0]) {
    w->error = true;  /* only one top-level value */
    return;
  }
  if (!w->first[w->depth]) put(w, ",", 1);
  w->first[w->depth] = false;
}

static void open_container(struct jw *w, char c, bool object) {
  before_value(w);
  if (w->depth + 1 >= JW_MAX_DEPTH) {
    w->error = true;
    return;
  }
  put(w, &c, 1);
  w->depth++;
  w->first[w->depth] = true;
  w->in_object[w->depth] = object;
}

static void close_container(struct jw *w, char c, bool object) {
  if (w->depth == 0 || w->in_object[w->depth] != object || w->after_key) {
    w->error = true;
    return;
  }
  put(w, &c, 1);
  w->depth--;
}

void jw_object_begin(struct jw *w) { open_container(w, '{', true); }
void jw_object_end(struct jw *w) { close_container(w, '}', true); }
void jw_array_begin(struct jw *w) { open_container(w, '[', false); }
void jw_array_end(struct jw *w) { close_container(w, ']', false); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

size_t json_escape(const char *s, size_t n, char *out, size_t outcap) {
  size_t need = 0, copied = 0;
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    char tmp[8];
    const char *piece;
    size_t plen;
    unsigned char c = p[i];
    size_t adv = 1;
    if (c == '"') {
      piece = "\\\"";
      plen = 2;
    } else if (c == '\\') {
      piece = "\\\\";
      plen = 2;
    } else if (c == '\n') {
      piece = "\\n";
      plen = 2;
    } else if (c == '\r') {
      piece = "\\r";
      plen = 2;
    } else if (c == '\t') {
      piece = "\\t";
      plen = 2;
    } else if (c < 0x20 || c == 0x7F) {
      snprintf(tmp, sizeof tmp, "\\u%04x", c);
      piece = tmp;
      plen = 6;
    } else if (c < 0x80) {
      piece = (const char *)p + i;
      plen = 1;
    } else {
      size_t seq = utf8_sequence(p + i, n - i);
      if (seq == 0) {
        piece = "\\ufffd";
        plen = 6;
      } else {
        piece = (const char *)p + i;
        plen = seq;
        adv = seq;
      }
    }
    if (outcap > 0 && need + plen < outcap) {
      memcpy(out + need, piece, plen);
      copied = need + plen;
    }
    need += plen;
    i += adv;
  }
  /* A cut output ends on a whole escape or character, never inside one. */
  if (outcap > 0) out[copied] = '\0';
  return need;
}

void jw_string_n(struct jw *w, const char *s, size_t n) {
  before_value(w);
  put(w, "\"", 1);
  if (!w->overflow) {
    /* put() keeps 2 bytes spare (newline, NUL); json_escape copies only when need < outcap */
    size_t room = w->cap - w->len;
    size_t outcap = room > 2 ? room - 2 : 0;
    size_t need = json_escape(s, n, w->buf + w->len, outcap);
    if (outcap == 0 || need >= outcap) {
      w->overflow = true;
      if (w->len < w->cap) w->buf[w->len] = '\0';
    } else {
      w->len += need;
    }
  }
  put(w, "\"", 1);
}

void jw_string(struct jw *w, const char *s) { jw_string_n(w, s ? s : "", s ? strlen(s) : 0); }

void jw_key(struct jw *w, const char *key) {
  if (w->depth == 0 || !w->in_object[w->depth] || w->after_key) {
    w->error = true;
    return;
  }
  if (!w->first[w->depth]) put(w, ",", 1);
  w->first[w->depth] = false;
  put(w, "\"", 1);
  char esc[512];
  size_t need = json_escape(key, strlen(key), esc, sizeof esc);
  if (need >= sizeof esc) {
    w->error = true;  /* keys are names we chose or kernel names: never this long */
    return;
  }
  put(w, esc, need);
  put(w, "\":", 2);
  w->after_key = true;
}

void jw_int(struct jw *w, long long v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%lld", v);
  before_value(w);
  put(w, tmp, (size_t)n);
}

void jw_seconds(struct jw *w, double v) {
  char tmp[48];
  if (!isfinite(v)) v = 0;
  int n = snprintf(tmp, sizeof tmp, "%.3f", v);
  before_value(w);
  put(w, tmp, (size_t)n);
}

bool json_is_number_text(const char *t) {
  const char *p = t;
  if (*p == '-') p++;
  if (*p == '0') {
    p++;
  } else if (*p >= '1' && *p <= '9') {
    while (*p >= '0' && *p <= '9') p++;
  } else {
    return false;
  }
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9')) return false;
    while (*p >= '0' && *p <= '9') p++;
  }
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(*p >= '0' && *p <= '9')) return false;
    while (*p >= '0' && *p <= '9') p++;
  }
  return *p == '\0';
}

void jw_number_text(struct jw *w, const char *text) {
  before_value(w);
  if (text && json_is_number_text(text) && strlen(text) < 64)
    put_str(w, text);
  else
    put_str(w, "null");
}

void jw_bool(struct jw *w, bool v) {
  before_value(w);
  put_str(w, v ? "true" : "false");
}

void jw_null(struct jw *w) {
  before_value(w);
  put_str(w, "null");
}

void jw_kv_string(struct jw *w, const char *key, const char *s) {
  jw_key(w, key);
  jw_string(w, s);
}
void jw_kv_int(struct jw *w, const char *key, long long v) {
  jw_key(w, key);
  jw_int(w, v);
}
void jw_kv_bool(struct jw *w, const char *key, bool v) {
  jw_key(w, key);
  jw_bool(w, v);
}
void jw_kv_null(struct jw *w, const char *key) {
  jw_key(w, key);
  jw_null(w);
}

bool jw_finish(struct jw *w) {
  if (w->overflow || w->error || w->depth != 0 || w->after_key || w->first[0]) return false;
  /* put() always leaves room for this byte */
  w->buf[w->len++] = '\n';
  w->buf[w->len] = '\0';
  return true;
}
