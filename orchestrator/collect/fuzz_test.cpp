// Deterministic fuzz-style tests: random bytes, random chunking, valid records interleaved with
// garbage. Seeds are fixed so that a failure reproduces; each seed is reported on failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "collect/console.h"
#include "collect/record_parser.h"

namespace foliolab::collect {
namespace {

using Rng = std::mt19937_64;

std::size_t uniform(Rng& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

std::string random_bytes(Rng& rng, std::size_t n, bool allow_newline) {
  std::string s(n, '\0');
  for (auto& c : s) {
    c = static_cast<char>(uniform(rng, 0, 255));
    if (!allow_newline && c == '\n') c = 'n';
  }
  return s;
}

// Splits `data` at random points (sometimes one byte, sometimes large pieces).
template <typename Sink>
void feed_in_random_chunks(Rng& rng, const std::string& data, Sink&& sink) {
  std::size_t i = 0;
  while (i < data.size()) {
    std::size_t n = uniform(rng, 0, 3) == 0 ? 1 : uniform(rng, 1, 9000);
    n = std::min(n, data.size() - i);
    sink(std::string_view(data).substr(i, n));
    i += n;
  }
}

// ---------------------------------------------------------------------------------------------
// RecordParser

struct GeneratedRun {
  std::string stream;
  std::vector<std::string> valid_lines;
  std::vector<std::size_t> samples_per_step;
  std::int64_t garbage_lines = 0;
};

std::string sample_line(Rng& rng, int step, int k) {
  std::string values;
  const std::size_t n = uniform(rng, 0, 40);
  for (std::size_t v = 0; v < n; ++v) {
    if (v) values += ",";
    values += "\"vmstat.counter_" + std::to_string(v) + "\":" +
              std::to_string(static_cast<std::int64_t>(rng() >> 2) - (1ll << 60));
  }
  static const char* phases[] = {"before", "during", "after"};
  return R"({"type":"sample","t":)" + std::to_string(k) + R"(.5,"step":"step-)" + std::to_string(step) +
         R"(","phase":")" + phases[uniform(rng, 0, 2)] + R"(","t_ms":)" + std::to_string(k * 250) +
         R"(,"values":{)" + values + "}}";
}

// A garbage line that is certainly not a valid record (and contains no '\n').
std::string garbage_line(Rng& rng, const std::vector<std::string>& valid_so_far) {
  switch (uniform(rng, 0, 5)) {
    case 0:
      return "#" + random_bytes(rng, uniform(rng, 0, 300), false);
    case 1: {  // a valid line cut short: the object is never closed
      if (valid_so_far.empty()) return "{";
      const std::string& v = valid_so_far[uniform(rng, 0, valid_so_far.size() - 1)];
      return v.substr(0, uniform(rng, 1, v.size() - 1));
    }
    case 2: {  // a valid line with one byte replaced by 0xff: never UTF-8
      if (valid_so_far.empty()) return "\xff";
      std::string v = valid_so_far[uniform(rng, 0, valid_so_far.size() - 1)];
      v[uniform(rng, 0, v.size() - 1)] = '\xff';
      return v;
    }
    case 3:  // schema-valid JSON for a step that never began
      return R"({"type":"metric","t":1,"step":"ghost-)" + std::to_string(rng() % 1000) +
             R"(","name":"wl.x","value":1,"unit":"ms"})";
    case 4:  // well-formed JSON, wrong types
      return R"({"type":"sample","t":1,"step":"step-0","phase":"during","t_ms":"soon","values":{}})";
    default:  // over-long
      return "{\"type\":\"error\",\"t\":1,\"message\":\"" + std::string(uniform(rng, 256 * 1024, 300 * 1024), 'z') +
             "\"}";
  }
}

GeneratedRun generate_run(Rng& rng) {
  GeneratedRun run;
  auto valid = [&](std::string line) {
    run.valid_lines.push_back(line);
    run.stream += line + "\n";
  };
  auto maybe_garbage = [&] {
    while (uniform(rng, 0, 2) == 0) {
      run.stream += garbage_line(rng, run.valid_lines) + "\n";
      ++run.garbage_lines;
    }
  };
  maybe_garbage();
  valid(R"({"type":"hello","t":0.01,"job_key":"k","release":"6.12.117","version":"#1","machine":"aarch64","arch":"arm64","page_size":4096,"pmd_kb":2048,"thp_sizes_kb":[64,2048],"mem_total_kb":2000000,"cpus":2,"features":{"thp":true}})");
  const int steps = static_cast<int>(uniform(rng, 1, 4));
  for (int s = 0; s < steps; ++s) {
    maybe_garbage();
    valid(R"({"type":"step-begin","t":1,"step":"step-)" + std::to_string(s) +
          R"(","workload":"w","argv":["/workloads/w","--size=4096"],"deadline_s":60})");
    const std::size_t samples = uniform(rng, 0, 30);
    for (std::size_t k = 0; k < samples; ++k) {
      maybe_garbage();
      valid(sample_line(rng, s, static_cast<int>(k)));
    }
    run.samples_per_step.push_back(samples);
    maybe_garbage();
    valid(R"({"type":"step-end","t":2,"step":"step-)" + std::to_string(s) +
          R"(","status":"ok","exit_code":0,"signal":null,"reason":"","seconds":1.0})");
  }
  maybe_garbage();
  valid(R"({"type":"done","t":3,"steps":)" + std::to_string(steps) + R"(,"errors":0})");
  return run;
}

TEST(RecordParserFuzz, ValidLinesSurviveInterleavedGarbageAndAnyChunking) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    GeneratedRun run = generate_run(rng);
    RecordParser parser;
    feed_in_random_chunks(rng, run.stream, [&](std::string_view piece) {
      parser.feed(piece);
      ASSERT_LE(parser.buffered_bytes(), 2 * 256 * 1024u);
    });
    parser.finish();
    const RunRecords& r = parser.records();
    EXPECT_EQ(parser.accepted_lines(), run.valid_lines);
    EXPECT_EQ(r.malformed_lines, run.garbage_lines);
    EXPECT_EQ(static_cast<std::int64_t>(r.errors.size()) + r.errors_omitted, run.garbage_lines);
    EXPECT_LE(r.errors.size(), 100u);
    for (const auto& e : r.errors) EXPECT_EQ(e.where, "channel");
    ASSERT_TRUE(r.hello);
    EXPECT_TRUE(r.done);
    ASSERT_EQ(r.steps.size(), run.samples_per_step.size());
    for (std::size_t s = 0; s < r.steps.size(); ++s) {
      EXPECT_EQ(r.steps[s].samples.size(), run.samples_per_step[s]);
      EXPECT_EQ(r.steps[s].status, StepStatus::kOk);
    }
  }
}

TEST(RecordParserFuzz, RandomBytesNeverEscapeTheBounds) {
  for (std::uint64_t seed = 100; seed < 140; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    // Bytes biased towards JSON punctuation and newlines, so that lines are short and varied.
    std::string data;
    const std::string alphabet = "{}[]\":,0123456789.-eE tfnrue\\\n\xff\xc3";
    const std::size_t n = uniform(rng, 1000, 200000);
    for (std::size_t i = 0; i < n; ++i) {
      data += uniform(rng, 0, 3) == 0 ? static_cast<char>(uniform(rng, 0, 255))
                                      : alphabet[uniform(rng, 0, alphabet.size() - 1)];
    }
    RecordParser whole;
    whole.feed(data);
    whole.finish();
    RecordParser chunked;
    feed_in_random_chunks(rng, data, [&](std::string_view piece) { chunked.feed(piece); });
    chunked.finish();

    EXPECT_LE(whole.records().errors.size(), 100u);
    for (const auto& e : whole.records().errors) {
      EXPECT_LT(e.message.size(), 700u);
      for (char c : e.message) ASSERT_TRUE(c >= 0x20 && c <= 0x7e) << e.message;
    }
    // Chunking never changes the result.
    EXPECT_EQ(whole.accepted_lines(), chunked.accepted_lines());
    EXPECT_EQ(whole.records().malformed_lines, chunked.records().malformed_lines);
    ASSERT_EQ(whole.records().errors.size(), chunked.records().errors.size());
    for (std::size_t i = 0; i < whole.records().errors.size(); ++i) {
      EXPECT_EQ(whole.records().errors[i].message, chunked.records().errors[i].message);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ConsoleAnalyzer

struct PlantedReport {
  const char* text;
  const char* title;
};

const PlantedReport kPlanted[] = {
    {"[    8.100000] ------------[ cut here ]------------\n"
     "[    8.100100] WARNING: CPU: 0 PID: 35 at mm/khugepaged.c:1234 collapse_huge_page+0x5e2/0x7a0\n"
     "[    8.101000] Call Trace:\n"
     "[    8.101100]  <TASK>\n"
     "[    8.101300]  hpage_collapse_scan_pmd+0x8b4/0xe50\n"
     "[    8.101800]  </TASK>\n"
     "[    8.101900] ---[ end trace 0000000000000000 ]---\n",
     "WARNING at mm/khugepaged.c:1234 collapse_huge_page"},
    {"[    3.211031] Unable to handle kernel paging request at virtual address ffff800080000000\n"
     "[    3.212580] Internal error: Oops: 0000000096000007 [#1] PREEMPT SMP\n"
     "[    3.213227] pc : zram_write_page+0x1c4/0x6e0\n"
     "[    3.213744] Call trace:\n"
     "[    3.213810]  zram_write_page+0x1c4/0x6e0\n"
     "[    3.214450] ---[ end trace 0000000000000000 ]---\n",
     "Unable to handle kernel paging request in zram_write_page"},
    {"[   30.000000] BUG: Bad rss-counter state mm:00000000b5f8c1e3 type:MM_SWAPENTS val:-1\n",
     "BUG: Bad rss-counter state"},
    {"[    5.100200] Kernel panic - not syncing: sysrq triggered crash\n"
     "[    5.100800] Call Trace:\n"
     "[    5.101000] [<ffffffff80006f3c>] dump_backtrace+0x1c/0x24\n"
     "[    5.102000] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n",
     "Kernel panic - not syncing: sysrq triggered crash"},
};

// Kernel-looking noise: a timestamp and random bytes (no newline).
std::string noise_line(Rng& rng) {
  std::string line = "[   " + std::to_string(uniform(rng, 1, 999)) + ".000000] ";
  line += random_bytes(rng, uniform(rng, 0, 200), false);
  return line;
}

void check_invariants(const ConsoleAnalyzer& c, const ConsoleLimits& limits) {
  EXPECT_LE(c.reports().size(), limits.max_reports);
  EXPECT_LE(c.buffered_bytes(), limits.max_line_bytes);
  for (const auto& r : c.reports()) {
    EXPECT_FALSE(r.title.empty());
    EXPECT_LE(r.title.size(), limits.max_title_bytes);
    for (char ch : r.title) ASSERT_TRUE(ch >= 0x20 && ch <= 0x7e) << r.title;
    EXPECT_LE(static_cast<std::size_t>(std::count(r.excerpt.begin(), r.excerpt.end(), '\n')),
              limits.max_excerpt_lines);
    EXPECT_LE(r.excerpt.size(), (limits.max_excerpt_lines + 1) * (limits.max_excerpt_line_bytes + 1));
    for (char ch : r.excerpt) ASSERT_TRUE((ch >= 0x20 && ch <= 0x7e) || ch == '\n');
  }
}

TEST(ConsoleFuzz, PlantedReportsAreFoundAmongNoiseWithAnyChunking) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    std::string console = "[    0.000000] Linux version 6.12.117 (gcc 12.2.0) #1 SMP\n";
    std::vector<std::string> expected;
    const std::size_t count = uniform(rng, 1, 8);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t noise = uniform(rng, 0, 80);
      for (std::size_t k = 0; k < noise; ++k) console += noise_line(rng) + (uniform(rng, 0, 4) ? "\n" : "\r\n");
      // Something the agent prints: no timestamp, so never part of a kernel report.
      if (uniform(rng, 0, 1)) console += "WARNING: workload stderr says hello\n";
      const PlantedReport& p = kPlanted[uniform(rng, 0, std::size(kPlanted) - 1)];
      console += p.text;
      expected.push_back(p.title);
    }
    ConsoleLimits limits;
    ConsoleAnalyzer c(limits);
    feed_in_random_chunks(rng, console, [&](std::string_view piece) { c.feed(piece); });
    c.finish();
    check_invariants(c, limits);
    std::vector<std::string> titles;
    for (const auto& r : c.reports()) titles.push_back(r.title);
    EXPECT_EQ(titles, expected);
  }
}

TEST(ConsoleFuzz, RandomBytesKeepEveryBoundAndChunkingChangesNothing) {
  const std::vector<std::string> fragments = {
      "Kernel panic - not syncing: ", "BUG: ", "kernel BUG at ", "WARNING: CPU: 0 PID: 1 at ", "Oops: ",
      "------------[ cut here ]------------", "---[ end trace ", "Call Trace:", " <TASK>", " </TASK>",
      "RIP: 0010:f+0x1/0x2", "pc : g+0x3/0x4", "Internal error: ", "Unable to handle kernel ", "INFO: task ",
      " blocked for more than", "rcu: INFO: rcu_preempt detected stall", "Out of memory: Killed process",
      "oom-kill:", "[    1.000000] ", "\x1b[31m", "\r", "\n", "\n", "\n"};
  for (std::uint64_t seed = 200; seed < 240; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    std::string data;
    const std::size_t pieces = uniform(rng, 100, 20000);
    for (std::size_t i = 0; i < pieces; ++i) {
      if (uniform(rng, 0, 2) == 0) data += random_bytes(rng, uniform(rng, 1, 40), true);
      else data += fragments[uniform(rng, 0, fragments.size() - 1)];
    }
    ConsoleLimits limits;
    limits.max_reports = 8;
    ConsoleAnalyzer whole(limits);
    whole.feed(data);
    whole.finish();
    ConsoleAnalyzer chunked(limits);
    feed_in_random_chunks(rng, data, [&](std::string_view piece) { chunked.feed(piece); });
    chunked.finish();

    check_invariants(whole, limits);
    ASSERT_EQ(whole.reports().size(), chunked.reports().size());
    for (std::size_t i = 0; i < whole.reports().size(); ++i) {
      EXPECT_EQ(whole.reports()[i].title, chunked.reports()[i].title);
      EXPECT_EQ(whole.reports()[i].excerpt, chunked.reports()[i].excerpt);
      EXPECT_EQ(whole.reports()[i].fatal, chunked.reports()[i].fatal);
    }
    EXPECT_EQ(whole.oom_kills(), chunked.oom_kills());
    EXPECT_EQ(whole.saw_fatal(), chunked.saw_fatal());
    EXPECT_EQ(whole.reports_omitted(), chunked.reports_omitted());
  }
}

}  // namespace
}  // namespace foliolab::collect
