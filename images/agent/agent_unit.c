/* Host-native checks of the guest agent's pure parts. Prints every failed check and
 * "N passed, M failed"; exits nonzero when any check failed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/swap.h>
#include <sys/wait.h>

#include "boot.h"
#include "counters.h"
#include "job.h"
#include "json_read.h"
#include "json_write.h"
#include "settings.h"
#include "steps.h"
#include "swap.h"
#include "trace.h"

static int passed, failed;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
#define CHECK_STR(a, b) check_str((a), (b), #a, __FILE__, __LINE__)
#define CHECK_INT(a, b) check_int((long long)(a), (long long)(b), #a, __FILE__, __LINE__)

static void check(int ok, const char *what, const char *file, int line) {
  if (ok) {
    passed++;
  } else {
    failed++;
    printf("FAIL %s:%d: %s\n", file, line, what);
  }
}

static void check_str(const char *got, const char *want, const char *what, const char *file, int line) {
  if (got && want && strcmp(got, want) == 0) {
    passed++;
  } else {
    failed++;
    printf("FAIL %s:%d: %s\n  got:  %s\n  want: %s\n", file, line, what, got ? got : "(null)",
           want ? want : "(null)");
  }
}

static void check_int(long long got, long long want, const char *what, const char *file, int line) {
  if (got == want) {
    passed++;
  } else {
    failed++;
    printf("FAIL %s:%d: %s: got %lld, want %lld\n", file, line, what, got, want);
  }
}

/* ---- JSON writer ---- */

static char out[4096];

static const char *escaped(const char *s, size_t n) {
  json_escape(s, n, out, sizeof out);
  return out;
}

static void test_json_escape(void) {
  CHECK_STR(escaped("plain", 5), "plain");
  CHECK_STR(escaped("a\"b\\c", 5), "a\\\"b\\\\c");
  CHECK_STR(escaped("l1\nl2\tx\r", 8), "l1\\nl2\\tx\\r");
  CHECK_STR(escaped("\x01\x1f\x7f", 3), "\\u0001\\u001f\\u007f");
  CHECK_STR(escaped("nul\0x", 5), "nul\\u0000x");
  CHECK_STR(escaped("caf\xc3\xa9", 5), "caf\xc3\xa9");             /* valid UTF-8 kept */
  CHECK_STR(escaped("\xf0\x9f\x98\x80", 4), "\xf0\x9f\x98\x80");   /* 4-byte sequence kept */
  CHECK_STR(escaped("\xff", 1), "\\ufffd");                        /* invalid byte */
  CHECK_STR(escaped("\xc0\xaf", 2), "\\ufffd\\ufffd");             /* overlong '/' */
  CHECK_STR(escaped("\xed\xa0\x80", 3), "\\ufffd\\ufffd\\ufffd");  /* encoded surrogate */
  CHECK_STR(escaped("\xe2\x82", 2), "\\ufffd\\ufffd");             /* truncated sequence */
  CHECK_STR(escaped("\xf4\x90\x80\x80", 4), "\\ufffd\\ufffd\\ufffd\\ufffd"); /* > U+10FFFF */
  /* the size needed is reported even when the output buffer is too small */
  char tiny[4];
  CHECK_INT(json_escape("\"\"\"", 3, tiny, sizeof tiny), 6);
  CHECK_STR(tiny, "\\\"");  /* cut after a whole escape, never inside one */
}

static void test_json_writer(void) {
  char buf[512];
  struct jw w;
  jw_init(&w, buf, sizeof buf);
  jw_object_begin(&w);
  jw_kv_string(&w, "type", "sample");
  jw_key(&w, "t");
  jw_seconds(&w, 1.23456);
  jw_key(&w, "argv");
  jw_array_begin(&w);
  jw_string(&w, "/workloads/x");
  jw_string(&w, "--a=\"b\"");
  jw_array_end(&w);
  jw_key(&w, "values");
  jw_object_begin(&w);
  jw_kv_int(&w, "vmstat.nr_free_pages", -1);
  jw_kv_int(&w, "big", 9223372036854775807LL);
  jw_object_end(&w);
  jw_kv_null(&w, "signal");
  jw_kv_bool(&w, "ok", true);
  jw_key(&w, "value");
  jw_number_text(&w, "0.98");
  jw_key(&w, "bad");
  jw_number_text(&w, "0x10");
  jw_key(&w, "empty");
  jw_array_begin(&w);
  jw_array_end(&w);
  jw_object_end(&w);
  CHECK(jw_finish(&w));
  CHECK_STR(buf, "{\"type\":\"sample\",\"t\":1.235,\"argv\":[\"/workloads/x\",\"--a=\\\"b\\\"\"],"
                 "\"values\":{\"vmstat.nr_free_pages\":-1,\"big\":9223372036854775807},"
                 "\"signal\":null,\"ok\":true,\"value\":0.98,\"bad\":null,\"empty\":[]}\n");

  /* overflow: the writer refuses to finish rather than emit a cut line */
  char small[32];
  jw_init(&w, small, sizeof small);
  jw_object_begin(&w);
  jw_kv_string(&w, "message", "this text does not fit into thirty-two bytes");
  jw_object_end(&w);
  CHECK(!jw_finish(&w));
  CHECK(w.overflow);
  CHECK(strlen(small) < sizeof small);

  /* an exact fit is accepted, one byte less is not */
  for (size_t cap = 8; cap < 40; cap++) {
    char b[64];
    jw_init(&w, b, cap);
    jw_object_begin(&w);
    jw_kv_string(&w, "k", "0123456789");
    jw_object_end(&w);
    bool ok = jw_finish(&w);
    /* {"k":"0123456789"}\n + NUL = 20 bytes */
    if (cap >= 20)
      CHECK(ok && strcmp(b, "{\"k\":\"0123456789\"}\n") == 0);
    else
      CHECK(!ok);
  }

  /* misuse is caught */
  jw_init(&w, buf, sizeof buf);
  jw_object_begin(&w);
  jw_int(&w, 1);  /* value without a key */
  jw_object_end(&w);
  CHECK(!jw_finish(&w));
  jw_init(&w, buf, sizeof buf);
  jw_object_begin(&w);
  jw_key(&w, "dangling");
  jw_object_end(&w);
  CHECK(!jw_finish(&w));
  jw_init(&w, buf, sizeof buf);
  jw_object_begin(&w);
  CHECK(!jw_finish(&w));  /* unbalanced */
  jw_init(&w, buf, sizeof buf);
  CHECK(!jw_finish(&w));  /* empty */

  CHECK(json_is_number_text("0"));
  CHECK(json_is_number_text("-12.5e+3"));
  CHECK(!json_is_number_text("01"));
  CHECK(!json_is_number_text("1."));
  CHECK(!json_is_number_text(".5"));
  CHECK(!json_is_number_text("NaN"));
  CHECK(!json_is_number_text("1e"));
  CHECK(!json_is_number_text(""));
}

/* Every byte string, once written by the writer, parses back with the reader, and valid UTF-8
 * comes back unchanged. */
static void test_json_roundtrip(void) {
  uint32_t seed = 12345;
  int ok = 0, total = 0;
  for (int iter = 0; iter < 3000; iter++) {
    char raw[64];
    size_t n = (size_t)(iter % 60) + 1;
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      raw[i] = (char)(seed >> 16);
      if (raw[i] == 0) raw[i] = 1;  /* the reader rejects NUL in strings on purpose */
    }
    char buf[1024];
    struct jw w;
    jw_init(&w, buf, sizeof buf);
    jw_object_begin(&w);
    jw_key(&w, "s");
    jw_string_n(&w, raw, n);
    jw_object_end(&w);
    total++;
    if (!jw_finish(&w)) continue;
    struct json_doc doc;
    char err[128];
    if (json_parse(&doc, buf, w.len, err, sizeof err) == 0 && json_string(json_get(doc.root, "s")))
      ok++;
    json_free(&doc);
  }
  CHECK_INT(ok, total);

  const char *valid = "tab\there \"quoted\" back\\slash caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x01";
  char buf[512];
  struct jw w;
  jw_init(&w, buf, sizeof buf);
  jw_array_begin(&w);
  jw_string(&w, valid);
  jw_array_end(&w);
  CHECK(jw_finish(&w));
  struct json_doc doc;
  char err[128];
  CHECK(json_parse(&doc, buf, w.len, err, sizeof err) == 0);
  CHECK_STR(json_string(doc.root->child), valid);
  json_free(&doc);
}

/* ---- JSON reader ---- */

static int parses(const char *text) {
  struct json_doc doc;
  char err[160];
  int r = json_parse(&doc, text, strlen(text), err, sizeof err);
  json_free(&doc);
  return r == 0;
}

static void test_json_reader(void) {
  const char *text = "{\"a\": [1, -2.5, true, false, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\","
                     " \"o\": {\"k\": \"v\"}, \"big\": 9223372036854775807, \"bigger\": 9223372036854775808,"
                     " \"e\": 1e3, \"neg\": -0}";
  struct json_doc doc;
  char err[160];
  CHECK(json_parse(&doc, text, strlen(text), err, sizeof err) == 0);
  const struct json_value *a = json_get(doc.root, "a");
  CHECK(a && a->type == JSON_ARRAY && a->count == 5);
  CHECK(a && a->child->is_int && a->child->integer == 1);
  CHECK(a && a->child->next->type == JSON_NUMBER && !a->child->next->is_int &&
        a->child->next->number == -2.5);
  CHECK_STR(a ? a->child->next->text : NULL, "-2.5");
  CHECK(a && a->child->next->next->type == JSON_BOOL && a->child->next->next->boolean);
  CHECK(a && a->child->next->next->next->next->type == JSON_NULL);
  CHECK_STR(json_string(json_get(doc.root, "s")), "x\xc3\xa9\xf0\x9f\x98\x80\n");
  CHECK_STR(json_string(json_get(json_get(doc.root, "o"), "k")), "v");
  const struct json_value *big = json_get(doc.root, "big");
  CHECK(big && big->is_int && big->integer == 9223372036854775807LL);
  const struct json_value *bigger = json_get(doc.root, "bigger");
  CHECK(bigger && !bigger->is_int);
  const struct json_value *e = json_get(doc.root, "e");
  CHECK(e && !e->is_int && e->number == 1000.0);
  CHECK(json_get(doc.root, "missing") == NULL);
  CHECK(json_get(a, "a") == NULL);  /* not an object */
  json_free(&doc);

  /* rejected inputs */
  static const char *const bad[] = {
      "", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]",
      "{\"a\":1} x", "01", "1.", ".5", "-", "+1", "1e", "0x10", "NaN", "Infinity", "tru",
      "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"",
      "\"\\ud800\\u0041\"", "\"\\u0000\"", "\"a\tb\"", "\"a\nb\"", "\"\xff\"",
      "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{\"k\":1,\"k\":2}", "[1]]", "'x'",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (parses(bad[i])) {
      failed++;
      printf("FAIL: accepted invalid JSON %s\n", bad[i]);
    } else {
      passed++;
    }
  }
  static const char *const good[] = {"0", "-0", "[]", "{}", "\"\"", " [ 1 , { } ] ",
                                     "\"\\/\\b\\f\\r\"", "1E+2", "-1.5e-3", "[[[]]]"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    if (!parses(good[i])) {
      failed++;
      printf("FAIL: rejected valid JSON %s\n", good[i]);
    } else {
      passed++;
    }
  }

  /* nesting limit */
  char deep[200];
  for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
    size_t o = 0;
    for (int i = 0; i < depth; i++) deep[o++] = '[';
    for (int i = 0; i < depth; i++) deep[o++] = ']';
    deep[o] = '\0';
    CHECK(parses(deep) == (depth <= JSON_MAX_DEPTH));
  }

  /* the length bound is honoured: bytes past len are never read */
  CHECK(json_parse(&doc, "[1]garbage", 3, err, sizeof err) == 0);
  json_free(&doc);
  CHECK(json_parse(&doc, "\"abc\"", 4, err, sizeof err) != 0);
  CHECK(strstr(err, "unterminated") != NULL);
  json_free(&doc);

  /* random and mutated inputs never crash and errors carry an offset */
  uint32_t seed = 777;
  const char *base = "{\"steps\":[{\"name\":\"a\",\"argv\":[\"/x\",\"--s=1\"],\"deadline_s\":1.5}],\"k\":null}";
  size_t blen = strlen(base);
  int errors_with_offset = 0, rejected = 0;
  for (int iter = 0; iter < 5000; iter++) {
    char mut[128];
    memcpy(mut, base, blen);
    int edits = iter % 4 + 1;
    for (int k = 0; k < edits; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t pos = (seed >> 8) % blen;
      seed = seed * 1103515245u + 12345u;
      mut[pos] = (char)(seed >> 16);
    }
    if (json_parse(&doc, mut, blen, err, sizeof err) != 0) {
      rejected++;
      if (strncmp(err, "offset ", 7) == 0) errors_with_offset++;
    }
    json_free(&doc);
  }
  CHECK(rejected > 0);
  CHECK_INT(errors_with_offset, rejected);
}

/* ---- job.json ---- */

static const char *example_job =
    "{\n"
    "  \"version\": 1,\n"
    "  \"job_key\": \"3f2a\",\n"
    "  \"sample_ms\": 250,\n"
    "  \"settings\": [\n"
    "    {\"name\": \"thp.enabled\", \"path\": \"/sys/kernel/mm/transparent_hugepage/enabled\", \"value\": \"always\"},\n"
    "    {\"name\": \"khugepaged.max_ptes_none\",\n"
    "     \"path\": \"/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none\", \"value\": \"511\"},\n"
    "    {\"name\": \"sysctl.vm.swappiness\", \"path\": \"/proc/sys/vm/swappiness\", \"value\": \"100\"},\n"
    "    {\"name\": \"zswap.enabled\", \"path\": \"/sys/module/zswap/parameters/enabled\", \"value\": \"N\",\n"
    "     \"absent_ok\": true}\n"
    "  ],\n"
    "  \"swap\": {\n"
    "    \"zram\": {\"size\": 536870912, \"algorithm\": \"lzo-rle\", \"priority\": 100},\n"
    "    \"disk\": {\"serial\": \"foliolab-swap\", \"priority\": 50}\n"
    "  },\n"
    "  \"trace\": [{\"event\": \"huge_memory/mm_khugepaged_scan_pmd\", \"field\": \"status\"}],\n"
    "  \"steps\": [\n"
    "    {\"name\": \"collapse-full\", \"workload\": \"khugepaged-collapse\",\n"
    "     \"argv\": [\"/workloads/khugepaged-collapse\", \"--size=67108864\", \"--fill=1.0\"],\n"
    "     \"deadline_s\": 120,\n"
    "     \"memcg\": {\"memory.max\": \"268435456\", \"memory.swap.max\": \"max\"},\n"
    "     \"cpus\": \"0-1\", \"mem_node\": null}\n"
    "  ]\n"
    "}\n";

static void test_job_example(void) {
  struct job job;
  char err[300];
  int r = job_parse(&job, example_job, strlen(example_job), err, sizeof err);
  CHECK(r == 0);
  if (r != 0) {
    printf("  job error: %s\n", err);
    job_free(&job);
    return;
  }
  CHECK_STR(job.job_key, "3f2a");
  CHECK_INT(job.sample_ms, 250);
  CHECK_INT(job.n_settings, 4);
  CHECK_STR(job.settings[1].path, "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none");
  CHECK(!job.settings[0].absent_ok && job.settings[3].absent_ok);
  CHECK(job.zram.present && job.zram.size == 536870912 && job.zram.priority == 100);
  CHECK_STR(job.zram.algorithm, "lzo-rle");
  CHECK(job.disk.present && job.disk.priority == 50);
  CHECK_STR(job.disk.serial, "foliolab-swap");
  CHECK_INT(job.n_trace, 1);
  CHECK_STR(job.trace[0].name, "mm_khugepaged_scan_pmd");
  CHECK_STR(job.trace[0].field, "status");
  CHECK_INT(job.n_steps, 1);
  const struct job_step *st = &job.steps[0];
  CHECK_STR(st->name, "collapse-full");
  CHECK_INT(st->argc, 3);
  CHECK_STR(st->argv[2], "--fill=1.0");
  CHECK(st->argv[3] == NULL);
  CHECK(st->deadline_s == 120.0);
  CHECK(st->has_memcg && st->n_memcg == 2);
  CHECK_STR(st->memcg[1].file, "memory.swap.max");
  CHECK_STR(st->memcg[1].value, "max");
  CHECK_STR(st->cpus, "0-1");
  CHECK_INT(st->mem_node, -1);
  job_free(&job);

  /* the minimal job */
  const char *minimal = "{\"version\":1,\"job_key\":\"k\"}";
  CHECK(job_parse(&job, minimal, strlen(minimal), err, sizeof err) == 0);
  CHECK(job.n_steps == 0 && !job.zram.present && job.sample_ms == 250);
  job_free(&job);
}

/* Replaces the first occurrence of from in the example job with to, parses, and checks that the
 * job is rejected with a message containing want. */
static void job_rejected(const char *from, const char *to, const char *want) {
  char text[4096];
  const char *at = strstr(example_job, from);
  if (!at) {
    failed++;
    printf("FAIL: test setup: '%s' not in the example job\n", from);
    return;
  }
  snprintf(text, sizeof text, "%.*s%s%s", (int)(at - example_job), example_job, to, at + strlen(from));
  struct job job;
  char err[300];
  int r = job_parse(&job, text, strlen(text), err, sizeof err);
  job_free(&job);
  if (r == 0) {
    failed++;
    printf("FAIL: job accepted with '%s' -> '%s'\n", from, to);
  } else if (!strstr(err, want)) {
    failed++;
    printf("FAIL: job error for '%s' -> '%s' is '%s', expected it to mention '%s'\n", from, to, err, want);
  } else {
    passed++;
  }
}

static void test_job_rejects(void) {
  job_rejected("\"version\": 1", "\"version\": 2", "unsupported version 2");
  job_rejected("\"version\": 1,", "", "version: missing");
  job_rejected("\"job_key\": \"3f2a\"", "\"job_key\": 7", "job_key: expected a string");
  job_rejected("\"/workloads/khugepaged-collapse\"", "\"workloads/khugepaged-collapse\"",
               "argv[0]: must be an absolute path");
  job_rejected("\"argv\": [", "\"argv\": [1, ", "argv[0]: expected a string");
  job_rejected("\"/proc/sys/vm/swappiness\"", "\"/etc/passwd\"", "settings[2]");
  job_rejected("\"/proc/sys/vm/swappiness\"", "\"/proc/sys/../../etc/x\"", "not a knob");
  job_rejected("\"sample_ms\"", "\"sample_msec\"", "unknown key 'sample_msec'");
  job_rejected("\"deadline_s\": 120", "\"deadline_s\": 0", "deadline_s");
  job_rejected("\"mem_node\": null", "\"mem_node\": 63", "mem_node");
  job_rejected("\"memory.max\"", "\"../memory.max\"", "not a cgroup file name");
  job_rejected("\"huge_memory/mm_khugepaged_scan_pmd\"", "\"mm_khugepaged_scan_pmd\"",
               "<subsystem>/<name>");
  job_rejected("\"value\": \"100\"", "\"value\": \"100\\n1\"", "newline");
  job_rejected("\"size\": 536870912", "\"size\": -1", "swap.zram.size");
  job_rejected("\"priority\": 100", "\"priority\": 40000", "swap.zram.priority");
  job_rejected("\"cpus\": \"0-1\"", "\"cpus\": 5", "cpus");
  job_rejected("\"trace\": [{\"event\": \"huge_memory/mm_khugepaged_scan_pmd\", \"field\": \"status\"}]",
               "\"trace\": 5", "trace: expected an array");
  job_rejected("\"trace\": [{\"event\": \"huge_memory/mm_khugepaged_scan_pmd\", \"field\": \"status\"}]",
               "\"trace\": [{\"event\": \"huge_memory/x\"}]", "trace[0].field: missing");
  job_rejected("\"steps\": [\n", "\"steps\": [{\"name\": \"collapse-full\", \"workload\": \"w\", "
               "\"argv\": [\"/a\"], \"deadline_s\": 1},\n", "duplicate step name");
  job_rejected("{\n  \"version\"", "[{\"version\"", "not valid JSON");
}

/* ---- settings ---- */

static void selected(const char *readback, const char *want) {
  char got[128];
  setting_selected_value(readback, got, sizeof got);
  check_str(got, want, readback, __FILE__, __LINE__);
}

static void test_settings(void) {
  selected("always [madvise] never\n", "madvise");
  selected("[always] inherit madvise never\n", "always");
  selected("always within_size advise [never] deny force\n", "never");
  selected("511\n", "511");
  selected("  Y \n", "Y");
  selected("lzo [lzo-rle] lz4 zstd\n", "lzo-rle");
  selected("[ spaced ] x", "spaced");
  selected("half [open", "half [open");  /* no closing bracket: the whole text */
  selected("", "");
  CHECK(setting_value_means_off("N"));
  CHECK(setting_value_means_off("0"));
  CHECK(setting_value_means_off("never"));
  CHECK(!setting_value_means_off("Y"));
  CHECK(!setting_value_means_off("always"));
  CHECK(!setting_value_means_off(""));
  CHECK(setting_matches("madvise", "madvise", false));
  CHECK(!setting_matches("7", "4", false));
  CHECK(setting_matches("7", "4", true));  /* buffer_size_kb: two pages at least */
  CHECK(setting_matches("1410", "1408", true));
  CHECK(setting_matches("7 (expanded: 1408)", "4", true));
  CHECK(!setting_matches("3", "4", true));
  CHECK(!setting_matches("lots", "4", true));
  CHECK(!setting_matches("7", "4k", true));
  CHECK(!setting_matches("7x", "4", true));
}

/* ---- swap header ---- */

static uint32_t u32_at(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void test_swap_header(void) {
  static unsigned char page[65536];
  CHECK(swap_header_build(page, 4096, 536870912ull) == 0);
  CHECK_INT(u32_at(page + 1024), 1);
  CHECK_INT(u32_at(page + 1028), 131071);  /* 512 MiB / 4 KiB - 1 */
  CHECK_INT(u32_at(page + 1032), 0);       /* no bad pages */
  CHECK(memcmp(page + 4086, "SWAPSPACE2", 10) == 0);
  /* little-endian byte order on every guest arch */
  CHECK(page[1024] == 1 && page[1025] == 0 && page[1028] == 0xff && page[1029] == 0xff &&
        page[1030] == 0x01 && page[1031] == 0);
  int nonzero_elsewhere = 0;
  for (size_t i = 0; i < 4096; i++) {
    bool known = (i >= 1024 && i < 1032) || i >= 4086;
    if (!known && page[i]) nonzero_elsewhere++;
  }
  CHECK_INT(nonzero_elsewhere, 0);

  /* 64 KiB pages (arm64 option): magic in the last 10 bytes of the larger page */
  memset(page, 0xAA, sizeof page);
  CHECK(swap_header_build(page, 65536, 1ull << 30) == 0);
  CHECK_INT(u32_at(page + 1028), 16383);
  CHECK(memcmp(page + 65526, "SWAPSPACE2", 10) == 0);
  CHECK(page[4086] == 0 && page[0] == 0);

  /* partial last page is not counted */
  CHECK(swap_header_build(page, 4096, 10 * 4096 + 100) == 0);
  CHECK_INT(u32_at(page + 1028), 9);
  CHECK(swap_header_build(page, 4096, 9 * 4096) != 0);  /* too small */
  CHECK(swap_header_build(page, 3000, 1 << 20) != 0);   /* not a page size */
  CHECK(swap_header_build(page, 4096, 1ull << 50) == 0);
  CHECK_INT(u32_at(page + 1028), 0xffffffffu);         /* capped at the field's range */

  CHECK_INT(swap_flags_for_priority(-1), 0);
  CHECK_INT(swap_flags_for_priority(100), SWAP_FLAG_PREFER | 100);
  CHECK_INT(swap_flags_for_priority(0), SWAP_FLAG_PREFER);
  CHECK_INT(swap_flags_for_priority(32767), SWAP_FLAG_PREFER | 32767);
}

/* ---- trace lines ---- */

static const char *scan_line =
    "      khugepaged-35      [001] .....   123.456789: mm_khugepaged_scan_pmd: "
    "mm=00000000c0ffee00, scan_pfn=0x12345, writable=1, referenced=512, none_or_zero=0, "
    "status=exceed_swap_pte, unmapped=65";

static void test_trace(void) {
  size_t n = strlen(scan_line);
  CHECK(trace_line_is_event(scan_line, n, "mm_khugepaged_scan_pmd"));
  CHECK(!trace_line_is_event(scan_line, n, "mm_khugepaged_scan"));  /* prefix of the name */
  CHECK(!trace_line_is_event(scan_line, n, "mm_collapse_huge_page"));
  const char *v;
  size_t vlen;
  CHECK(trace_line_field(scan_line, n, "status", &v, &vlen) && vlen == 15 &&
        memcmp(v, "exceed_swap_pte", 15) == 0);
  CHECK(trace_line_field(scan_line, n, "unmapped", &v, &vlen) && vlen == 2 && memcmp(v, "65", 2) == 0);
  CHECK(trace_line_field(scan_line, n, "mm", &v, &vlen) && vlen == 16);
  CHECK(!trace_line_field(scan_line, n, "none", &v, &vlen));   /* only a part of none_or_zero */
  CHECK(!trace_line_field(scan_line, n, "map", &v, &vlen));
  const char *tricky = "x-1 [000] ..... 1.0: ev: xstatus=bad, status=good";
  CHECK(trace_line_field(tricky, strlen(tricky), "status", &v, &vlen) && vlen == 4 &&
        memcmp(v, "good", 4) == 0);
  /* a task whose name contains the event name is not the event column */
  const char *comm = "mm_khugepaged_scan_pmd-9 [000] ..... 1.0: other_event: status=x";
  CHECK(!trace_line_is_event(comm, strlen(comm), "mm_khugepaged_scan_pmd"));

  long long lost;
  CHECK(trace_line_lost("CPU:1 [LOST 123 EVENTS]", 23, &lost) && lost == 123);
  CHECK(trace_line_lost("CPU:0 [LOST EVENTS]", 19, &lost) && lost == 1);
  CHECK(!trace_line_lost(scan_line, n, &lost));

  struct trace_histogram h[2];
  memset(h, 0, sizeof h);
  h[0].event = "huge_memory/mm_khugepaged_scan_pmd";
  h[0].name = "mm_khugepaged_scan_pmd";
  h[0].field = "status";
  h[1].event = "huge_memory/mm_collapse_huge_page_swapin";
  h[1].name = "mm_collapse_huge_page_swapin";
  h[1].field = "ret";
  const char *lines[] = {
      scan_line,
      "  khugepaged-35 [000] ..... 2.0: mm_khugepaged_scan_pmd: mm=0, status=succeeded, unmapped=0",
      "  khugepaged-35 [000] ..... 2.1: mm_khugepaged_scan_pmd: mm=0, status=succeeded, unmapped=0",
      "  khugepaged-35 [000] ..... 2.2: mm_khugepaged_scan_pmd: mm=0, unmapped=0",  /* no field */
      "  khugepaged-35 [000] ..... 2.3: mm_collapse_huge_page_swapin: mm=0, swapped_in=3, referenced=1, ret=1",
      "  khugepaged-35 [000] ..... 2.4: mm_collapse_huge_page: mm=0, isolated=1, status=succeeded",
      "CPU:0 [LOST 7 EVENTS]",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
    trace_count_line(h, 2, lines[i], strlen(lines[i]));
  CHECK_INT(h[0].n_buckets, 2);
  CHECK_STR(h[0].buckets[0].value, "exceed_swap_pte");
  CHECK_INT(h[0].buckets[0].count, 1);
  CHECK_STR(h[0].buckets[1].value, "succeeded");
  CHECK_INT(h[0].buckets[1].count, 2);
  CHECK_INT(h[0].lost, 1);
  CHECK_INT(h[0].ring_lost, 7);
  CHECK_INT(h[1].n_buckets, 1);
  CHECK_STR(h[1].buckets[0].value, "1");
  CHECK_INT(h[1].lost, 0);
  CHECK_INT(h[1].ring_lost, 7);
  /* The ring buffer's loss is the larger of the markers and the per-CPU counters, never both. */
  CHECK_INT(trace_histogram_lost(&h[0], 0), 1 + 7);
  CHECK_INT(trace_histogram_lost(&h[0], 5), 1 + 7);
  CHECK_INT(trace_histogram_lost(&h[0], 40), 1 + 40);
  CHECK_INT(trace_histogram_lost(&h[1], 40), 40);

  /* per_cpu/cpuN/stats as 6.12 and 7.3 print it */
  const char *stats = "entries: 12\noverrun: 3051\ncommit overrun: 0\nbytes: 4032\n"
                      "oldest event ts:    41.806170\nnow ts:    42.101220\ndropped events: 4\n"
                      "read events: 210\n";
  CHECK_INT(trace_stats_dropped(stats, strlen(stats)), 3051 + 4);
  CHECK_INT(trace_stats_dropped("entries: 0\n", 11), 0);
  CHECK_INT(trace_stats_dropped("", 0), 0);

  /* distinct values are bounded; the excess counts as lost */
  struct trace_histogram one;
  memset(&one, 0, sizeof one);
  one.name = "ev";
  one.field = "v";
  for (int i = 0; i < TRACE_MAX_VALUES + 5; i++) {
    char line[96];
    snprintf(line, sizeof line, "t-1 [000] . 1.0: ev: v=value%d", i);
    trace_count_line(&one, 1, line, strlen(line));
  }
  CHECK_INT(one.n_buckets, TRACE_MAX_VALUES);
  CHECK_INT(one.lost, 5);
  trace_histogram_reset(&one);
  one.ring_lost = 3;
  trace_histogram_reset(&one);
  CHECK(one.n_buckets == 0 && one.lost == 0 && one.ring_lost == 0);
}

/* ---- counters ---- */

struct collected {
  char names[32][96];
  long long values[32];
  int n;
};

static void collect(void *ctx, const char *name, long long value) {
  struct collected *c = ctx;
  if (c->n >= 32) return;
  snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
  c->values[c->n++] = value;
}

static void test_counters(void) {
  struct collected c;
  memset(&c, 0, sizeof c);
  const char *vmstat = "nr_free_pages 12345\nthp_fault_alloc 32\nbroken line here\n"
                       "nr_weird 18446744073709551615\nno_value \n\nlast 7";
  CHECK_INT(counters_parse_vmstat(vmstat, "vmstat.", collect, &c), 4);
  CHECK_STR(c.names[0], "vmstat.nr_free_pages");
  CHECK_INT(c.values[0], 12345);
  CHECK_STR(c.names[1], "vmstat.thp_fault_alloc");
  CHECK_STR(c.names[2], "vmstat.nr_weird");
  CHECK_INT(c.values[2], -1);  /* an unsigned print of a transiently negative sum */
  CHECK_STR(c.names[3], "vmstat.last");
  CHECK_INT(c.values[3], 7);

  memset(&c, 0, sizeof c);
  const char *meminfo = "MemTotal:        2014628 kB\nMemFree:         1843220 kB\n"
                        "Active(anon):          4 kB\nHugePages_Total:       0\n"
                        "AnonHugePages:     65536 kB\nGarbage: 12 MB\nNoColon 5 kB\n";
  CHECK_INT(counters_parse_meminfo(meminfo, "meminfo.", collect, &c), 5);
  CHECK_STR(c.names[0], "meminfo.MemTotal");
  CHECK_INT(c.values[0], 2014628);
  CHECK_STR(c.names[2], "meminfo.Active(anon)");
  CHECK_STR(c.names[3], "meminfo.HugePages_Total");
  CHECK_STR(c.names[4], "meminfo.AnonHugePages");
  CHECK_INT(c.values[4], 65536);

  memset(&c, 0, sizeof c);
  static const char *const mm_stat[] = {"orig_data_size", "compr_data_size", "mem_used_total",
                                        "mem_limit", "mem_used_max", "same_pages",
                                        "pages_compacted", "huge_pages", "huge_pages_since"};
  const char *mm = "67108864  1234567  2000000        0  2100000     1024        0        3        3\n";
  CHECK_INT(counters_parse_fields(mm, "zram.", mm_stat, 9, collect, &c), 9);
  CHECK_STR(c.names[0], "zram.orig_data_size");
  CHECK_INT(c.values[0], 67108864);
  CHECK_STR(c.names[8], "zram.huge_pages_since");
  CHECK_INT(c.values[8], 3);
  memset(&c, 0, sizeof c);
  /* an older kernel printing fewer fields: the present ones are reported */
  CHECK_INT(counters_parse_fields("1 2 3\n", "zram.", mm_stat, 9, collect, &c), 3);
  memset(&c, 0, sizeof c);
  CHECK_INT(counters_parse_fields("1 x 3\n", "zram.", mm_stat, 9, collect, &c), 1);

  long long v;
  CHECK(counters_parse_single("2097152\n", &v) == 0 && v == 2097152);
  CHECK(counters_parse_single("  -3 \n", &v) == 0 && v == -3);
  CHECK(counters_parse_single("12abc", &v) != 0);
  CHECK(counters_parse_single("", &v) != 0);
}

/* ---- workload lines and step status ---- */

static void test_workload_lines(void) {
  struct wl_line l;
  const char *m = "{\"metric\":\"collapsed_fraction\",\"value\":0.98,\"unit\":\"ratio\"}";
  CHECK(workload_parse_line(m, strlen(m), &l) == WL_METRIC);
  CHECK_STR(l.metric, "collapsed_fraction");
  CHECK_STR(l.value, "0.98");
  CHECK_STR(l.unit, "ratio");
  const char *nounit = "  {\"value\": 12, \"metric\": \"pages\"}";
  CHECK(workload_parse_line(nounit, strlen(nounit), &l) == WL_METRIC);
  CHECK_STR(l.unit, "");
  const char *skip = "{\"skip\":\"no MADV_COLLAPSE (EINVAL): CONFIG_TRANSPARENT_HUGEPAGE?\"}";
  CHECK(workload_parse_line(skip, strlen(skip), &l) == WL_SKIP);
  CHECK_STR(l.reason, "no MADV_COLLAPSE (EINVAL): CONFIG_TRANSPARENT_HUGEPAGE?");
  const char *integ = "{\"integrity\":\"page 7 word 3: 0x0 != 0xdead\"}";
  CHECK(workload_parse_line(integ, strlen(integ), &l) == WL_INTEGRITY);
  const char *fail = "{\"fail\":\"mmap: Cannot allocate memory\"}";
  CHECK(workload_parse_line(fail, strlen(fail), &l) == WL_FAIL);
  static const char *const other[] = {
      "plain text", "", "{", "{\"metric\":\"x\"}", "{\"metric\":\"x\",\"value\":\"1\"}",
      "{\"metric\":\"bad name\",\"value\":1}", "{\"metric\":\"x\",\"value\":1,\"extra\":2}",
      "{\"skip\":1}", "{\"skip\":\"a\",\"fail\":\"b\"}", "[\"metric\"]", "{\"other\":\"x\"}",
      "{\"metric\":\"x\",\"value\":1,\"unit\":\"a\\\"b\"}",
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    if (workload_parse_line(other[i], strlen(other[i]), &l) != WL_OTHER) {
      failed++;
      printf("FAIL: workload line classified as special: %s\n", other[i]);
    } else {
      passed++;
    }
  }
}

static void outcome(int wait_status, bool timed_out, enum wl_line_kind stated_kind,
                    const char *stated_reason, enum step_status want, const char *want_reason) {
  struct wl_line stated;
  memset(&stated, 0, sizeof stated);
  stated.kind = stated_kind;
  snprintf(stated.reason, sizeof stated.reason, "%s", stated_reason);
  struct step_outcome o;
  step_outcome_from(wait_status, timed_out, 30, &stated, &o);
  char what[160];
  snprintf(what, sizeof what, "status for wait status %#x timed_out %d", wait_status, timed_out);
  check_str(step_status_name(o.status), step_status_name(want), what, __FILE__, __LINE__);
  if (want_reason) check(strstr(o.reason, want_reason) != NULL, o.reason, __FILE__, __LINE__);
}

static void test_step_status(void) {
  outcome(W_EXITCODE(0, 0), false, WL_OTHER, "", STEP_OK, "");
  outcome(W_EXITCODE(1, 0), false, WL_FAIL, "mmap failed", STEP_FAILED, "mmap failed");
  outcome(W_EXITCODE(1, 0), false, WL_OTHER, "", STEP_FAILED, "exit code 1");
  outcome(W_EXITCODE(3, 0), false, WL_INTEGRITY, "page 3 differs", STEP_INTEGRITY_FAILED, "page 3");
  outcome(W_EXITCODE(4, 0), false, WL_SKIP, "no userfaultfd", STEP_SKIPPED, "no userfaultfd");
  outcome(W_EXITCODE(4, 0), false, WL_OTHER, "", STEP_SKIPPED, "no reason");
  outcome(W_EXITCODE(2, 0), false, WL_OTHER, "", STEP_FAILED, "exit code 2");
  outcome(W_EXITCODE(127, 0), false, WL_OTHER, "", STEP_FAILED, "exit code 127");
  outcome(W_EXITCODE(0, 11), false, WL_OTHER, "", STEP_FAILED, "signal 11");
  outcome(W_EXITCODE(0, 9), false, WL_OTHER, "", STEP_FAILED, "signal 9");
  outcome(W_EXITCODE(0, 9), true, WL_OTHER, "", STEP_TIMEOUT, "deadline of 30 s");
  /* exit 0 never hides a stated failure */
  outcome(W_EXITCODE(0, 0), false, WL_INTEGRITY, "word differs", STEP_INTEGRITY_FAILED, "word differs");
  outcome(W_EXITCODE(0, 0), false, WL_FAIL, "oops", STEP_FAILED, "oops");

  struct step_outcome o;
  step_outcome_from(W_EXITCODE(0, 11), false, 30, NULL, &o);
  CHECK(o.has_signal && o.signal == 11 && !o.has_exit_code);
  step_outcome_from(W_EXITCODE(3, 0), false, 30, NULL, &o);
  CHECK(o.has_exit_code && o.exit_code == 3 && !o.has_signal);
}

static void test_misc(void) {
  cpu_set_t set;
  CHECK(parse_cpu_list("0-1,3", &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set) &&
        !CPU_ISSET(2, &set) && CPU_ISSET(3, &set) && CPU_COUNT(&set) == 3);
  CHECK(parse_cpu_list("5", &set) == 0 && CPU_COUNT(&set) == 1 && CPU_ISSET(5, &set));
  CHECK(parse_cpu_list("", &set) != 0);
  CHECK(parse_cpu_list("1-0", &set) != 0);
  CHECK(parse_cpu_list("a", &set) != 0);
  CHECK(parse_cpu_list("1,", &set) != 0);
  CHECK(parse_cpu_list("-1", &set) != 0);
  CHECK(parse_cpu_list("0-99999", &set) != 0);

  char name[64];
  memcg_dir_name("collapse-full", name, sizeof name);
  CHECK_STR(name, "foliolab-collapse-full");
  memcg_dir_name("a/../b c", name, sizeof name);
  CHECK_STR(name, "foliolab-a_.._b_c");
  memcg_dir_name("x", name, 12);
  CHECK_STR(name, "foliolab-x");

  CHECK_STR(boot_normalise_arch("aarch64"), "arm64");
  CHECK_STR(boot_normalise_arch("x86_64"), "x86_64");
  CHECK_STR(boot_normalise_arch("riscv64"), "riscv64");
  CHECK_STR(boot_normalise_arch("s390x"), "s390x");
}

int main(void) {
  test_json_escape();
  test_json_writer();
  test_json_roundtrip();
  test_json_reader();
  test_job_example();
  test_job_rejects();
  test_settings();
  test_swap_header();
  test_trace();
  test_counters();
  test_workload_lines();
  test_step_status();
  test_misc();
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
