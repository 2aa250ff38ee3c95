// Unit tests of the guest helper library (workloads/lib), compiled natively for the host: the
// page pattern and its mismatch explanations, parameter parsing, page selection, percentiles,
// list parsing, and the pagemap census on real memory of this process.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

// The library's headers are C: silence the C++-only warnings they would raise.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wcast-align"
extern "C" {
#include "latency.h"
#include "pagemap.h"
#include "params.h"
#include "pattern.h"
#include "region.h"
#include "report.h"
#include "sysfs.h"
}
#pragma GCC diagnostic pop

namespace {

constexpr size_t kPage = 4096;

struct Pages {
  std::vector<uint64_t> words;
  explicit Pages(size_t n) : words(n * kPage / sizeof(uint64_t)) {}
  char* page(size_t i) { return reinterpret_cast<char*>(words.data()) + i * kPage; }
};

// memcg-pressure's throughput over passes of equal work: total over total time, the harmonic
// mean of the passes' rates, as compare averages higher-is-better rates (not the arithmetic
// mean the workload used to report).
TEST(EqualWorkRate, IsTheHarmonicMeanOfThePasses) {
  const double rates[] = {1.0, 3.0};
  EXPECT_DOUBLE_EQ(wl_equal_work_rate(rates, 2), 1.5);  // 2 MiB in 1 + 1/3 s
  const double same[] = {200.0, 200.0, 200.0};
  EXPECT_DOUBLE_EQ(wl_equal_work_rate(same, 3), 200.0);
  const double stalled[] = {100.0, 0.0};
  EXPECT_EQ(wl_equal_work_rate(stalled, 2), 0.0);
  EXPECT_EQ(wl_equal_work_rate(rates, 0), 0.0);
}

TEST(Pattern, RoundTripsAndIsNeverAllZero) {
  wl_pattern pat;
  wl_pattern_init(&pat, kPage, 42);
  Pages p(4);
  wl_fill_pages(&pat, p.page(0), 100, 4, 7);
  wl_mismatch m;
  EXPECT_EQ(wl_verify_pages(&pat, p.page(0), 100, 4, nullptr, 7, &m), 0u);
  EXPECT_EQ(m.checked_pages, 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_FALSE(wl_page_is_zero(p.page(i), kPage));
}

TEST(Pattern, NamesAMisplacedPage) {
  wl_pattern pat;
  wl_pattern_init(&pat, kPage, 42);
  Pages p(8);
  wl_fill_pages(&pat, p.page(0), 0, 8, 1);
  std::memcpy(p.page(5), p.page(3), kPage);
  wl_mismatch m;
  EXPECT_EQ(wl_verify_pages(&pat, p.page(0), 0, 8, nullptr, 1, &m), 1u);
  EXPECT_EQ(m.first_index, 5u);
  EXPECT_NE(std::string(m.why).find("holds the data of page 3"), std::string::npos) << m.why;
}

TEST(Pattern, NamesAStaleGenerationZerosAndACorruptWord) {
  wl_pattern pat;
  wl_pattern_init(&pat, kPage, 9);
  Pages p(3);
  wl_fill_page(&pat, p.page(0), 0, 1);  // expected 2: stale
  std::memset(p.page(1), 0, kPage);     // lost page
  wl_fill_page(&pat, p.page(2), 2, 2);
  reinterpret_cast<uint64_t*>(p.page(2))[17] ^= 1;  // one flipped bit
  char why[256];
  EXPECT_EQ(wl_check_page(&pat, p.page(0), 0, 2, why, sizeof why), 1);
  EXPECT_NE(std::string(why).find("stale generation 1"), std::string::npos) << why;
  EXPECT_EQ(wl_check_page(&pat, p.page(1), 1, 2, why, sizeof why), 1);
  EXPECT_NE(std::string(why).find("reads as zeros"), std::string::npos) << why;
  EXPECT_EQ(wl_check_page(&pat, p.page(2), 2, 2, why, sizeof why), 1);
  EXPECT_NE(std::string(why).find("word 17"), std::string::npos) << why;
}

TEST(Pattern, ExpectationsZeroAndSkip) {
  wl_pattern pat;
  wl_pattern_init(&pat, kPage, 5);
  Pages p(3);
  std::memset(p.page(0), 0, kPage);
  wl_fill_page(&pat, p.page(1), 1, 3);
  std::memset(p.page(2), 0xab, kPage);
  uint8_t expect[3] = {WL_GEN_ZERO, 3, WL_GEN_SKIP};
  wl_mismatch m;
  EXPECT_EQ(wl_verify_pages(&pat, p.page(0), 0, 3, expect, 0, &m), 0u);
  EXPECT_EQ(m.checked_pages, 2u);
  expect[0] = 3;  // a zero page where data was expected
  EXPECT_EQ(wl_verify_pages(&pat, p.page(0), 0, 3, expect, 0, &m), 1u);
  // Data where zeros were expected is reported too.
  uint8_t zeros[1] = {WL_GEN_ZERO};
  EXPECT_EQ(wl_verify_pages(&pat, p.page(1), 1, 1, zeros, 0, &m), 1u);
  EXPECT_NE(std::string(m.why).find("should read as zeros"), std::string::npos) << m.why;
}

TEST(Pattern, DifferentSeedsDiffer) {
  wl_pattern a, b;
  wl_pattern_init(&a, kPage, 1);
  wl_pattern_init(&b, kPage, 2);
  Pages p(1);
  wl_fill_page(&a, p.page(0), 0, 1);
  EXPECT_EQ(wl_check_page(&b, p.page(0), 0, 1, nullptr, 0), 1);
}

// A workload process in a forked child: wl_report_init, then body(), then exit(0) as when
// main() returns. Returns what it printed on stdout; its exit code goes to *code.
std::string workload_stdout(const std::function<void()>& body, int* code) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    wl_report_init("checked-pages-test");
    body();
    std::exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The tally before a test's workload runs (it is shared with every child forked after the
// first wl_pattern_init of this test process).
uint64_t checked_so_far() {
  wl_pattern pat;
  wl_pattern_init(&pat, kPage, 1);
  uint64_t n = 0;
  EXPECT_EQ(wl_checked_pages(&n), 1);
  return n;
}

std::string checked_line(uint64_t n) {
  return "{\"metric\":\"checked_pages\",\"value\":" + std::to_string(n) + ",\"unit\":\"pages\"}\n";
}

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(CheckedPages, ReportedAtExitCountingForkedChildrenNotSkippedPages) {
  const uint64_t before = checked_so_far();
  int code = -1;
  std::string out = workload_stdout(
      [] {
        wl_pattern pat;
        wl_pattern_init(&pat, kPage, 3);
        Pages p(5);
        wl_fill_pages(&pat, p.page(0), 0, 5, 1);
        wl_mismatch m;
        wl_verify_pages(&pat, p.page(0), 0, 5, nullptr, 1, &m);  // 5
        uint8_t expect[3] = {1, WL_GEN_SKIP, 1};
        pid_t child = fork();  // a forked child's checks count for the workload too
        if (child == 0) {
          wl_verify_pages(&pat, p.page(0), 0, 3, expect, 0, &m);  // 2: the skipped page is not
          _exit(0);
        }
        waitpid(child, nullptr, 0);
      },
      &code);
  EXPECT_EQ(code, WL_EXIT_OK);
  EXPECT_EQ(out, checked_line(before + 7));
}

TEST(CheckedPages, PrecedeAnIntegrityLineOnce) {
  const uint64_t before = checked_so_far();
  int code = -1;
  std::string out = workload_stdout(
      [] {
        wl_pattern pat;
        wl_pattern_init(&pat, kPage, 3);
        Pages p(4);
        wl_fill_pages(&pat, p.page(0), 0, 4, 1);
        std::memset(p.page(2), 0, kPage);
        wl_mismatch m;
        if (wl_verify_pages(&pat, p.page(0), 0, 4, nullptr, 1, &m))
          wl_integrity("%zu of %zu pages differ; first: %s", m.bad_pages, m.checked_pages, m.why);
      },
      &code);
  EXPECT_EQ(code, WL_EXIT_INTEGRITY);
  EXPECT_EQ(out.rfind(checked_line(before + 4), 0), 0u) << out;
  EXPECT_EQ(occurrences(out, "checked_pages"), 1u) << out;
  EXPECT_NE(out.find("{\"integrity\":\"1 of 4 pages differ; first: page 2 reads as zeros"), std::string::npos)
      << out;
}

TEST(CheckedPages, NotReportedWithASkip) {
  int code = -1;
  std::string out = workload_stdout(
      [] {
        wl_pattern pat;
        wl_pattern_init(&pat, kPage, 3);
        wl_skip("no swap");
      },
      &code);
  EXPECT_EQ(code, WL_EXIT_SKIPPED);
  EXPECT_EQ(out, "{\"skip\":\"no swap\"}\n");
}

TEST(Params, ParsesSizes) {
  uint64_t v = 0;
  EXPECT_EQ(wl_parse_size("4096", &v), 0);
  EXPECT_EQ(v, 4096u);
  EXPECT_EQ(wl_parse_size("64K", &v), 0);
  EXPECT_EQ(v, 65536u);
  EXPECT_EQ(wl_parse_size("2M", &v), 0);
  EXPECT_EQ(v, 2u << 20);
  EXPECT_EQ(wl_parse_size("1GiB", &v), 0);
  EXPECT_EQ(v, 1u << 30);
  EXPECT_EQ(wl_parse_size("-1", &v), -1);
  EXPECT_EQ(wl_parse_size("12X", &v), -1);
  EXPECT_EQ(wl_parse_size("", &v), -1);
}

uint64_t g_size;
int64_t g_count;
double g_fill;
bool g_flag;
const char* g_mode;
const char* const g_modes[] = {"a", "b", nullptr};
const wl_param g_params[] = {
    {"size", WL_P_SIZE, "16M", &g_size, 0, 0, nullptr, ""},
    {"count", WL_P_INT, "3", &g_count, 1, 10, nullptr, ""},
    {"fill", WL_P_FLOAT, "0.5", &g_fill, 0, 1, nullptr, ""},
    {"flag", WL_P_BOOL, "false", &g_flag, 0, 0, nullptr, ""},
    {"mode", WL_P_ENUM, "a", &g_mode, 0, 0, g_modes, ""},
};

void parse(std::vector<std::string> args) {
  std::vector<char*> argv;
  static std::string prog = "test";
  argv.push_back(prog.data());
  for (auto& a : args) argv.push_back(a.data());
  wl_params_parse(static_cast<int>(argv.size()), argv.data(), g_params, 5);
}

TEST(Params, DefaultsThenArguments) {
  parse({});
  EXPECT_EQ(g_size, 16u << 20);
  EXPECT_EQ(g_count, 3);
  EXPECT_EQ(g_fill, 0.5);
  EXPECT_FALSE(g_flag);
  EXPECT_STREQ(g_mode, "a");
  parse({"--size=33554432", "--count=7", "--fill=1.0", "--flag=true", "--mode=b"});
  EXPECT_EQ(g_size, 32u << 20);
  EXPECT_EQ(g_count, 7);
  EXPECT_EQ(g_fill, 1.0);
  EXPECT_TRUE(g_flag);
  EXPECT_STREQ(g_mode, "b");
}

TEST(ParamsDeathTest, RejectsUnknownMalformedAndOutOfRange) {
  wl_report_init("test");
  EXPECT_EXIT(parse({"--nope=1"}), ::testing::ExitedWithCode(WL_EXIT_FAILED), "unknown parameter");
  EXPECT_EXIT(parse({"--count=11"}), ::testing::ExitedWithCode(WL_EXIT_FAILED), "out of range");
  EXPECT_EXIT(parse({"--fill=half"}), ::testing::ExitedWithCode(WL_EXIT_FAILED), "not a number");
  EXPECT_EXIT(parse({"--mode=c"}), ::testing::ExitedWithCode(WL_EXIT_FAILED), "accepted values");
  EXPECT_EXIT(parse({"size=1"}), ::testing::ExitedWithCode(WL_EXIT_FAILED), "expected --key=value");
}

TEST(Select, ExactCountsPerPattern) {
  uint64_t rng = 1;
  std::vector<uint8_t> sel(512);
  for (auto pattern : {WL_FILL_CONTIGUOUS, WL_FILL_STRIDED, WL_FILL_RANDOM}) {
    for (double fill : {0.0, 0.1, 0.5, 0.999, 1.0}) {
      size_t want = static_cast<size_t>(fill * 512 + 0.5);
      EXPECT_EQ(wl_select_pages(pattern, fill, 512, sel.data(), &rng), want);
      size_t got = 0;
      for (auto s : sel) got += s;
      EXPECT_EQ(got, want) << "pattern " << pattern << " fill " << fill;
    }
  }
  wl_select_pages(WL_FILL_CONTIGUOUS, 0.25, 512, sel.data(), &rng);
  EXPECT_EQ(sel[127], 1);
  EXPECT_EQ(sel[128], 0);
  wl_select_pages(WL_FILL_STRIDED, 0.5, 512, sel.data(), &rng);
  for (size_t i = 0; i + 1 < 512; ++i) EXPECT_NE(sel[i], sel[i + 1]) << i;  // alternate
}

TEST(Latency, NearestRankPercentiles) {
  wl_samples s;
  wl_samples_init(&s, 100, false);
  for (uint64_t v = 100; v >= 1; --v) wl_samples_add(&s, v);
  EXPECT_EQ(wl_samples_pct(&s, 50), 50u);
  EXPECT_EQ(wl_samples_pct(&s, 99), 99u);
  EXPECT_EQ(wl_samples_pct(&s, 100), 100u);
  EXPECT_EQ(wl_samples_pct(&s, 0), 1u);
  EXPECT_EQ(wl_samples_max(&s), 100u);
  wl_samples_add(&s, 7);  // past capacity: dropped
  EXPECT_EQ(s.n, 100u);
  wl_samples_free(&s);
}

TEST(Sysfs, ParsesKernelLists) {
  int out[8];
  ASSERT_EQ(wl_parse_list("0-1,3", out, 8), 3);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 1);
  EXPECT_EQ(out[2], 3);
  ASSERT_EQ(wl_parse_list("0", out, 8), 1);
  EXPECT_EQ(wl_parse_list("", out, 8), 0);
}

TEST(Pagemap, CensusOfOwnMemory) {
  if (wl_pagemap_unavailable()) GTEST_SKIP() << wl_pagemap_unavailable();  // needs root for PFNs
  const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* region = static_cast<char*>(wl_map_aligned(16 * ps, ps));
  ASSERT_EQ(wl_madvise(region, 16 * ps, MADV_NOHUGEPAGE), 0);
  for (size_t i = 0; i < 16; i += 2) region[i * ps] = 1;
  struct wl_census c;
  ASSERT_EQ(wl_census_range(region, 16, &c), 0);
  EXPECT_EQ(c.pages, 16u);
  EXPECT_EQ(c.present, 8u);
  EXPECT_EQ(c.none, 8u);
  EXPECT_EQ(c.by_order[0], 8u);
  int8_t orders[16];
  ASSERT_EQ(wl_page_orders(region, 16, orders), 0);
  EXPECT_EQ(orders[0], 0);
  EXPECT_EQ(orders[1], -1);
  wl_unmap(region, 16 * ps);
}

}  // namespace
