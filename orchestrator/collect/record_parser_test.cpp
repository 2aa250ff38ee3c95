#include "collect/record_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace foliolab::collect {
namespace {

// A complete, valid run as the agent sends it (docs/protocol.md section 2).
std::vector<std::string> valid_run() {
  return {
      R"({"type":"hello","t":0.01,"job_key":"3f2a9c","release":"6.12.117","version":"#1 SMP PREEMPT_DYNAMIC","machine":"x86_64","arch":"x86_64","page_size":4096,"pmd_kb":2048,"thp_sizes_kb":[16,32,64,128,256,512,1024,2048],"mem_total_kb":2013456,"cpus":2,"features":{"thp":true,"vmstat_thp":true,"zram":true,"tracefs":true,"cgroup2":true,"userfaultfd":false,"numa":false}})",
      R"({"type":"setting","t":0.02,"name":"thp.enabled","path":"/sys/kernel/mm/transparent_hugepage/enabled","requested":"always","actual":"always","ok":true})",
      R"({"type":"swap","t":0.05,"kind":"zram","device":"/dev/zram0","size_bytes":536870912,"priority":100})",
      R"({"type":"step-begin","t":0.06,"step":"collapse-full","workload":"khugepaged-collapse","argv":["/workloads/khugepaged-collapse","--size=67108864","--fill=1"],"deadline_s":180})",
      R"({"type":"sample","t":0.07,"step":"collapse-full","phase":"before","t_ms":0,"values":{"vmstat.thp_collapse_alloc":3,"vmstat.nr_anon_transparent_hugepages":0,"meminfo.AnonHugePages":0}})",
      R"({"type":"sample","t":0.32,"step":"collapse-full","phase":"during","t_ms":250,"values":{"vmstat.thp_collapse_alloc":20,"vmstat.nr_anon_transparent_hugepages":17,"meminfo.AnonHugePages":34816}})",
      R"({"type":"sample","t":1.40,"step":"collapse-full","phase":"after","t_ms":1330,"values":{"vmstat.thp_collapse_alloc":35,"vmstat.nr_anon_transparent_hugepages":32,"meminfo.AnonHugePages":65536}})",
      R"({"type":"metric","t":1.41,"step":"collapse-full","name":"wl.collapsed_fraction","value":0.98,"unit":"ratio"})",
      R"({"type":"trace","t":1.42,"step":"collapse-full","event":"huge_memory/mm_khugepaged_scan_pmd","field":"status","counts":{"succeeded":32,"page_pmd_mapped":112},"lost":0})",
      R"({"type":"step-end","t":1.43,"step":"collapse-full","status":"ok","exit_code":0,"signal":null,"reason":"","seconds":1.37})",
      R"({"type":"done","t":1.44,"steps":1,"errors":0})",
  };
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

RecordParser parse_all(const std::string& bytes, RecordParserLimits limits = {}) {
  RecordParser parser(limits);
  parser.feed(bytes);
  parser.finish();
  return parser;
}

// Feeds one line (after a valid hello + step-begin) and returns the parser.
RecordParser parse_after_step(const std::string& line) {
  auto lines = valid_run();
  return parse_all(lines[0] + "\n" + lines[3] + "\n" + line + "\n");
}

TEST(RecordParser, ParsesACompleteRun) {
  std::vector<std::pair<std::string, std::string>> seen;
  RecordParser parser;
  parser.on_record = [&](const std::string& type, const std::string& step) { seen.emplace_back(type, step); };
  parser.feed(join_lines(valid_run()));
  parser.finish();
  const RunRecords& r = parser.records();

  EXPECT_EQ(r.malformed_lines, 0);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_TRUE(r.hello);
  EXPECT_EQ(r.hello->job_key, "3f2a9c");
  EXPECT_EQ(r.hello->release, "6.12.117");
  EXPECT_EQ(r.hello->arch, "x86_64");
  EXPECT_EQ(r.hello->page_size, 4096);
  EXPECT_EQ(r.hello->pmd_kb, 2048);
  EXPECT_EQ(r.hello->thp_sizes_kb.size(), 8u);
  EXPECT_EQ(r.hello->thp_sizes_kb.back(), 2048);
  EXPECT_EQ(r.hello->mem_total_kb, 2013456);
  EXPECT_EQ(r.hello->cpus, 2);
  EXPECT_TRUE(r.hello->features.at("zram"));
  EXPECT_FALSE(r.hello->features.at("numa"));
  EXPECT_DOUBLE_EQ(r.hello->t, 0.01);

  ASSERT_EQ(r.settings.size(), 1u);
  EXPECT_EQ(r.settings[0].name, "thp.enabled");
  EXPECT_EQ(r.settings[0].actual, "always");
  ASSERT_EQ(r.swaps.size(), 1u);
  EXPECT_EQ(r.swaps[0].kind, "zram");
  EXPECT_EQ(r.swaps[0].size_bytes, 536870912);
  EXPECT_EQ(r.swaps[0].priority, 100);

  ASSERT_EQ(r.steps.size(), 1u);
  const StepRecords& s = r.steps[0];
  EXPECT_EQ(s.name, "collapse-full");
  EXPECT_EQ(s.workload, "khugepaged-collapse");
  ASSERT_EQ(s.argv.size(), 3u);
  EXPECT_EQ(s.argv[1], "--size=67108864");
  EXPECT_EQ(s.deadline_s, 180);
  ASSERT_EQ(s.samples.size(), 3u);
  EXPECT_EQ(s.samples[0].phase, SamplePhase::kBefore);
  EXPECT_EQ(s.samples[1].phase, SamplePhase::kDuring);
  EXPECT_EQ(s.samples[2].phase, SamplePhase::kAfter);
  EXPECT_EQ(s.samples[1].t_ms, 250);
  EXPECT_EQ(s.samples[2].values.at("vmstat.thp_collapse_alloc"), 35);
  EXPECT_EQ(s.samples[2].values.at("meminfo.AnonHugePages"), 65536);
  ASSERT_EQ(s.metrics.size(), 1u);
  EXPECT_EQ(s.metrics[0].name, "wl.collapsed_fraction");
  EXPECT_DOUBLE_EQ(s.metrics[0].value, 0.98);
  EXPECT_EQ(s.metrics[0].unit, "ratio");
  ASSERT_EQ(s.traces.size(), 1u);
  EXPECT_EQ(s.traces[0].event, "huge_memory/mm_khugepaged_scan_pmd");
  EXPECT_EQ(s.traces[0].counts.at("succeeded"), 32);
  EXPECT_EQ(s.traces[0].counts.at("page_pmd_mapped"), 112);
  EXPECT_EQ(s.status, StepStatus::kOk);
  ASSERT_TRUE(s.exit_code);
  EXPECT_EQ(*s.exit_code, 0);
  EXPECT_FALSE(s.signal);
  EXPECT_DOUBLE_EQ(s.seconds, 1.37);
  EXPECT_TRUE(r.done);

  EXPECT_EQ(parser.accepted_lines(), valid_run());
  ASSERT_EQ(seen.size(), valid_run().size());
  EXPECT_EQ(seen[0], (std::pair<std::string, std::string>{"hello", ""}));
  EXPECT_EQ(seen[4], (std::pair<std::string, std::string>{"sample", "collapse-full"}));
  EXPECT_EQ(seen.back(), (std::pair<std::string, std::string>{"done", ""}));
}

TEST(RecordParser, ByteByByteFeedingGivesTheSameRecords) {
  const std::string all = join_lines(valid_run());
  RecordParser parser;
  for (char c : all) parser.feed(std::string_view(&c, 1));
  parser.finish();
  EXPECT_EQ(parser.accepted_lines(), valid_run());
  EXPECT_EQ(parser.records().steps.at(0).samples.size(), 3u);
  EXPECT_EQ(parser.records().malformed_lines, 0);
}

TEST(RecordParser, CrlfAndBlankLinesAreTolerated) {
  std::string text;
  for (const auto& l : valid_run()) text += l + "\r\n\n";
  auto parser = parse_all(text);
  EXPECT_EQ(parser.records().malformed_lines, 0);
  EXPECT_TRUE(parser.records().done);
  EXPECT_EQ(parser.accepted_lines().size(), valid_run().size());
}

TEST(RecordParser, UnknownExtraFieldsAreIgnored) {
  auto parser = parse_after_step(
      R"({"type":"metric","t":1,"step":"collapse-full","name":"wl.x","value":1,"unit":"ms","future":{"a":[1,2]}})");
  EXPECT_EQ(parser.records().malformed_lines, 0);
  EXPECT_EQ(parser.records().steps[0].metrics.size(), 1u);
}

TEST(RecordParser, DeadlineSecondsMayBeWrittenAsADecimal) {
  // The agent writes every duration with three decimals.
  auto parser = parse_all(
      R"({"type":"step-begin","t":0.06,"step":"s","workload":"w","argv":["/workloads/w"],"deadline_s":120.000})"
      "\n"
      R"({"type":"step-begin","t":0.07,"step":"s2","workload":"w","argv":["/workloads/w"],"deadline_s":-1})"
      "\n"
      R"({"type":"step-begin","t":0.08,"step":"s3","workload":"w","argv":["/workloads/w"],"deadline_s":1e300})"
      "\n");
  ASSERT_EQ(parser.records().steps.size(), 1u);
  EXPECT_EQ(parser.records().steps[0].deadline_s, 120);
  EXPECT_EQ(parser.records().malformed_lines, 2);
  EXPECT_NE(parser.records().errors.at(0).message.find("field 'deadline_s' out of range"), std::string::npos);
  EXPECT_NE(parser.records().errors.at(1).message.find("field 'deadline_s' out of range"), std::string::npos);
}

TEST(RecordParser, RecordsStepEndWithSignalAndReason) {
  auto parser = parse_after_step(
      R"({"type":"step-end","t":9,"step":"collapse-full","status":"failed","exit_code":null,"signal":9,"reason":"killed after deadline","seconds":180.5})");
  const StepRecords& s = parser.records().steps[0];
  EXPECT_EQ(s.status, StepStatus::kFailed);
  EXPECT_FALSE(s.exit_code);
  ASSERT_TRUE(s.signal);
  EXPECT_EQ(*s.signal, 9);
  EXPECT_EQ(s.reason, "killed after deadline");
}

TEST(RecordParser, AgentErrorsAreKeptAsErrors) {
  auto parser = parse_all(valid_run()[0] + "\n" +
                          R"({"type":"error","t":0.1,"where":"setting","name":"thp.enabled","message":"wrote 'always', read back 'always madvise [never]'"})"
                          "\n");
  const RunRecords& r = parser.records();
  EXPECT_EQ(r.malformed_lines, 0);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where, "setting");
  EXPECT_EQ(r.errors[0].name, "thp.enabled");
  EXPECT_NE(r.errors[0].message.find("[never]"), std::string::npos);
}

TEST(RecordParser, SettingNotOkBecomesASettingError) {
  auto parser = parse_all(
      R"({"type":"setting","t":0.02,"name":"thp.enabled","path":"/sys/x","requested":"always","actual":"never","ok":false})"
      "\n");
  const RunRecords& r = parser.records();
  EXPECT_EQ(r.settings.size(), 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where, "setting");
  EXPECT_EQ(r.errors[0].name, "thp.enabled");
  EXPECT_NE(r.errors[0].message.find("never"), std::string::npos);
}

struct BadLine {
  const char* what;
  std::string line;
  const char* expected_in_message;
};

// Every schema violation of docs/protocol.md section 2 that the host must catch.
class RecordParserRejects : public ::testing::TestWithParam<BadLine> {};

TEST_P(RecordParserRejects, CountsAndDescribesTheLine) {
  const BadLine& bad = GetParam();
  auto parser = parse_after_step(bad.line);
  const RunRecords& r = parser.records();
  EXPECT_EQ(r.malformed_lines, 1) << bad.what;
  ASSERT_EQ(r.errors.size(), 1u) << bad.what;
  EXPECT_EQ(r.errors[0].where, "channel");
  EXPECT_NE(r.errors[0].message.find(bad.expected_in_message), std::string::npos)
      << bad.what << ": " << r.errors[0].message;
  EXPECT_NE(r.errors[0].message.find("line 3:"), std::string::npos) << r.errors[0].message;
  // The rejected line is neither applied nor kept for records.jsonl.
  EXPECT_EQ(parser.accepted_lines().size(), 2u);
  EXPECT_TRUE(r.steps[0].samples.empty());
  EXPECT_TRUE(r.steps[0].metrics.empty());
  EXPECT_EQ(r.steps[0].status, StepStatus::kUnfinished);
  EXPECT_FALSE(r.done);
}

const BadLine kBadLines[] = {
    {"not json", "hello world", "invalid JSON"},
    {"unterminated", R"({"type":"done","t":1,"steps":1)", "invalid JSON"},
    {"array", R"([1,2,3])", "not an object"},
    {"no type", R"({"t":1})", "field 'type' missing"},
    {"type not string", R"({"type":7,"t":1})", "field 'type' must be a string"},
    {"no t", R"({"type":"done","steps":1,"errors":0})", "field 't' missing"},
    {"t not number", R"({"type":"done","t":"1","steps":1,"errors":0})", "field 't' must be a number"},
    {"unknown type", R"({"type":"reboot","t":1})", "unknown record type 'reboot'"},
    {"second hello",
     R"({"type":"hello","t":0.01,"job_key":"k","release":"r","version":"v","machine":"m","arch":"arm64","page_size":4096,"pmd_kb":2048,"thp_sizes_kb":[],"mem_total_kb":1,"cpus":1,"features":{}})",
     "second 'hello'"},
    {"sample float value",
     R"({"type":"sample","t":1,"step":"collapse-full","phase":"during","t_ms":1,"values":{"vmstat.pswpin":1.5}})",
     "not a 64-bit integer"},
    {"sample string value",
     R"({"type":"sample","t":1,"step":"collapse-full","phase":"during","t_ms":1,"values":{"vmstat.pswpin":"12"}})",
     "not a 64-bit integer"},
    {"sample value overflow",
     R"({"type":"sample","t":1,"step":"collapse-full","phase":"during","t_ms":1,"values":{"vmstat.pswpin":18446744073709551615}})",
     "not a 64-bit integer"},
    {"sample bad phase",
     R"({"type":"sample","t":1,"step":"collapse-full","phase":"meanwhile","t_ms":1,"values":{}})",
     "field 'phase' has unknown value 'meanwhile'"},
    {"sample values not object",
     R"({"type":"sample","t":1,"step":"collapse-full","phase":"during","t_ms":1,"values":[1,2]})",
     "field 'values' must be an object"},
    {"sample for unknown step",
     R"({"type":"sample","t":1,"step":"ghost","phase":"during","t_ms":1,"values":{}})",
     "sample for step 'ghost' that never began"},
    {"metric for unknown step", R"({"type":"metric","t":1,"step":"ghost","name":"wl.x","value":1,"unit":"ms"})",
     "never began"},
    {"metric without wl.", R"({"type":"metric","t":1,"step":"collapse-full","name":"x","value":1,"unit":"ms"})",
     "does not start with 'wl.'"},
    {"metric value string",
     R"({"type":"metric","t":1,"step":"collapse-full","name":"wl.x","value":"1","unit":"ms"})",
     "field 'value' must be a number"},
    {"trace counts not integers",
     R"({"type":"trace","t":1,"step":"collapse-full","event":"e/f","field":"status","counts":{"ok":true},"lost":0})",
     "not a 64-bit integer"},
    {"trace for unknown step",
     R"({"type":"trace","t":1,"step":"ghost","event":"e/f","field":"status","counts":{},"lost":0})",
     "never began"},
    {"step-end unknown status",
     R"({"type":"step-end","t":1,"step":"collapse-full","status":"unfinished","exit_code":0,"signal":null,"reason":"","seconds":1})",
     "field 'status' has unknown value"},
    {"step-end exit_code string",
     R"({"type":"step-end","t":1,"step":"collapse-full","status":"ok","exit_code":"0","signal":null,"reason":"","seconds":1})",
     "field 'exit_code' must be an integer or null"},
    {"step-end exit_code huge",
     R"({"type":"step-end","t":1,"step":"collapse-full","status":"ok","exit_code":4294967296,"signal":null,"reason":"","seconds":1})",
     "field 'exit_code' must be an integer or null"},
    {"step-end missing signal",
     R"({"type":"step-end","t":1,"step":"collapse-full","status":"ok","exit_code":0,"reason":"","seconds":1})",
     "field 'signal' missing"},
    {"step-end for unknown step",
     R"({"type":"step-end","t":1,"step":"ghost","status":"ok","exit_code":0,"signal":null,"reason":"","seconds":1})",
     "step-end for step 'ghost' that never began"},
    {"step begun twice",
     R"({"type":"step-begin","t":0.06,"step":"collapse-full","workload":"w","argv":["/workloads/w"],"deadline_s":1})",
     "step 'collapse-full' began twice"},
    {"argv not strings",
     R"({"type":"step-begin","t":0.06,"step":"other","workload":"w","argv":["/workloads/w",3],"deadline_s":1})",
     "field 'argv' must be an array of strings"},
    {"empty step name",
     R"({"type":"step-begin","t":0.06,"step":"","workload":"w","argv":[],"deadline_s":1})",
     "field 'step' is empty"},
    {"error bad where", R"({"type":"error","t":1,"where":"kernel","name":"x","message":"y"})",
     "field 'where' has unknown value 'kernel'"},
    {"swap bad kind", R"({"type":"swap","t":1,"kind":"nvme","device":"d","size_bytes":1,"priority":1})",
     "field 'kind' has unknown value"},
    {"setting ok not bool",
     R"({"type":"setting","t":1,"name":"a","path":"p","requested":"1","actual":"1","ok":"yes"})",
     "field 'ok' must be true or false"},
    {"done steps float", R"({"type":"done","t":1,"steps":1.5,"errors":0})", "field 'steps' must be a 64-bit integer"},
    {"deep nesting", std::string(100, '[') + std::string(100, ']'), "nested too deeply"},
    {"invalid utf-8", "{\"type\":\"done\",\"t\":1,\"steps\":1,\"errors\":0,\"x\":\"\xc3\x28\"}", "not valid UTF-8"},
    {"overlong utf-8", "{\"type\":\"done\",\"t\":1,\"steps\":1,\"errors\":0,\"x\":\"\xc0\xaf\"}", "not valid UTF-8"},
    {"surrogate utf-8", "{\"type\":\"done\",\"t\":1,\"steps\":1,\"errors\":0,\"x\":\"\xed\xa0\x80\"}", "not valid UTF-8"},
    {"nul byte", std::string("{\"type\":\"done\",\"t\":1,") + '\0' + "\"steps\":1,\"errors\":0}", "invalid JSON"},
    {"number overflow", R"({"type":"done","t":1e999,"steps":1,"errors":0})", "invalid JSON"},
};

INSTANTIATE_TEST_SUITE_P(Schema, RecordParserRejects, ::testing::ValuesIn(kBadLines));

TEST(RecordParser, SecondStepEndIsRejected) {
  const std::string end =
      R"({"type":"step-end","t":1,"step":"collapse-full","status":"ok","exit_code":0,"signal":null,"reason":"","seconds":1})";
  const std::string end_again =
      R"({"type":"step-end","t":2,"step":"collapse-full","status":"failed","exit_code":1,"signal":null,"reason":"","seconds":2})";
  auto lines = valid_run();
  auto parser = parse_all(lines[0] + "\n" + lines[3] + "\n" + end + "\n" + end_again + "\n");
  EXPECT_EQ(parser.records().malformed_lines, 1);
  EXPECT_EQ(parser.records().steps[0].status, StepStatus::kOk);  // the first one stands
  EXPECT_NE(parser.records().errors.at(0).message.find("ended twice"), std::string::npos);
}

TEST(RecordParser, RecordsAfterDoneAreRejected) {
  auto lines = valid_run();
  auto parser = parse_all(join_lines(lines) + lines[7] + "\n");
  EXPECT_EQ(parser.records().malformed_lines, 1);
  EXPECT_EQ(parser.records().steps[0].metrics.size(), 1u);
  EXPECT_NE(parser.records().errors.at(0).message.find("after 'done'"), std::string::npos);
}

TEST(RecordParser, ExcerptsArePrintableAndBounded) {
  std::string garbage = "\x1b[31m\x01\xff";
  garbage += std::string(5000, 'A');
  auto parser = parse_all(garbage + "\n");
  ASSERT_EQ(parser.records().errors.size(), 1u);
  const std::string& message = parser.records().errors[0].message;
  EXPECT_LT(message.size(), 400u);
  for (char c : message) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    EXPECT_LE(static_cast<unsigned char>(c), 0x7e);
  }
  EXPECT_NE(message.find("\\x1b[31m\\x01\\xff"), std::string::npos) << message;
  EXPECT_NE(message.find("..."), std::string::npos);
}

TEST(RecordParser, OverlongLineIsDroppedWithItsLengthAndTheNextLineParses) {
  const std::size_t length = 300 * 1024;
  std::string big = R"({"type":"error","t":1,"where":"agent","name":"x","message":")" + std::string(length, 'x') + "\"}";
  RecordParser parser;
  // Stream it in pieces, as a real channel would.
  for (std::size_t i = 0; i < big.size(); i += 4000) parser.feed(std::string_view(big).substr(i, 4000));
  EXPECT_LE(parser.buffered_bytes(), 2 * 256 * 1024u);
  parser.feed("\n" + valid_run()[0] + "\n");
  parser.finish();
  const RunRecords& r = parser.records();
  EXPECT_EQ(r.malformed_lines, 1);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].where, "channel");
  EXPECT_EQ(r.errors[0].name, "over-long-line");
  EXPECT_NE(r.errors[0].message.find(std::to_string(big.size()) + " bytes"), std::string::npos) << r.errors[0].message;
  EXPECT_TRUE(r.hello);
  EXPECT_EQ(parser.accepted_lines().size(), 1u);
}

TEST(RecordParser, LineOfExactlyTheLimitIsAccepted) {
  const std::string head = R"({"type":"error","t":1,"where":"agent","name":"x","message":")";
  const std::string tail = "\"}";
  const std::size_t limit = 256 * 1024;
  std::string line = head + std::string(limit - head.size() - tail.size(), 'y') + tail;
  ASSERT_EQ(line.size(), limit);
  auto parser = parse_all(line + "\n");
  EXPECT_EQ(parser.records().malformed_lines, 0);
  EXPECT_EQ(parser.records().errors.size(), 1u);
  EXPECT_EQ(parser.records().errors[0].where, "agent");

  auto over = parse_all(head + std::string(limit - head.size() - tail.size() + 1, 'y') + tail + "\n");
  EXPECT_EQ(over.records().malformed_lines, 1);
  EXPECT_EQ(over.records().errors.at(0).name, "over-long-line");
}

TEST(RecordParser, TrailingPartialLineIsAnError) {
  auto lines = valid_run();
  auto parser = parse_all(lines[0] + "\n" + lines[1].substr(0, 30));
  EXPECT_EQ(parser.records().malformed_lines, 1);
  ASSERT_EQ(parser.records().errors.size(), 1u);
  EXPECT_EQ(parser.records().errors[0].name, "truncated-line");
  EXPECT_NE(parser.records().errors[0].message.find("30 bytes"), std::string::npos);
  EXPECT_TRUE(parser.records().settings.empty());

  // Even a complete record without its newline: the stream ended mid-line.
  auto whole = parse_all(lines[0]);
  EXPECT_FALSE(whole.records().hello);
  EXPECT_EQ(whole.records().malformed_lines, 1);
}

TEST(RecordParser, FinishIsIdempotentAndFeedAfterFinishIsIgnored) {
  RecordParser parser;
  parser.feed(valid_run()[0] + "\npartial");
  parser.finish();
  parser.finish();
  parser.feed("\n" + valid_run()[1] + "\n");
  EXPECT_EQ(parser.records().malformed_lines, 1);
  EXPECT_TRUE(parser.records().settings.empty());
}

TEST(RecordParser, StoredErrorsAreCappedButEveryLineIsCounted) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "garbage " + std::to_string(i) + "\n";
  text += valid_run()[0] + "\n";
  auto parser = parse_all(text);
  const RunRecords& r = parser.records();
  EXPECT_EQ(r.malformed_lines, 1000);
  EXPECT_EQ(r.errors.size(), 100u);
  EXPECT_EQ(r.errors_omitted, 900);
  EXPECT_NE(r.errors.front().message.find("garbage 0"), std::string::npos);
  EXPECT_TRUE(r.hello);
}

TEST(RecordParser, MemoryBudgetStopsAcceptingAndSaysSoOnce) {
  RecordParserLimits limits;
  limits.max_record_bytes = 64 * 1024;
  RecordParser parser(limits);
  auto lines = valid_run();
  parser.feed(lines[0] + "\n" + lines[3] + "\n");
  for (int i = 0; i < 2000; ++i) parser.feed(lines[5] + "\n");
  parser.finish();
  const RunRecords& r = parser.records();
  const auto kept = r.steps.at(0).samples.size();
  EXPECT_GT(kept, 10u);
  EXPECT_LT(kept, 2000u);
  EXPECT_EQ(r.malformed_lines, static_cast<std::int64_t>(2000 - kept));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].name, "over-budget");
  EXPECT_EQ(parser.accepted_lines().size(), 2 + kept);
}

TEST(RecordParser, TakeMovesTheRecordsOut) {
  RecordParser parser;
  parser.feed(join_lines(valid_run()));
  parser.finish();
  RunRecords taken = parser.take();
  EXPECT_TRUE(taken.done);
  EXPECT_EQ(taken.steps.size(), 1u);
}

TEST(Records, StatusAndPhaseNamesRoundTrip) {
  for (auto s : {StepStatus::kOk, StepStatus::kFailed, StepStatus::kIntegrityFailed, StepStatus::kSkipped,
                 StepStatus::kTimeout}) {
    EXPECT_EQ(step_status_from_string(to_string(s)), s);
  }
  EXPECT_STREQ(to_string(StepStatus::kUnfinished), "unfinished");
  EXPECT_FALSE(step_status_from_string("unfinished"));
  EXPECT_STREQ(to_string(StepStatus::kIntegrityFailed), "integrity-failed");
  for (auto p : {SamplePhase::kBefore, SamplePhase::kDuring, SamplePhase::kAfter}) {
    EXPECT_EQ(sample_phase_from_string(to_string(p)), p);
  }
  EXPECT_FALSE(sample_phase_from_string("During"));
}

}  // namespace
}  // namespace foliolab::collect
