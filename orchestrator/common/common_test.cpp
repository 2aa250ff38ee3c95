#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/process.h"
#include "common/units.h"

namespace foliolab::common {
namespace {
namespace fs = std::filesystem;

TEST(Units, ParsesSizesAndRejectsJunk) {
  EXPECT_EQ(parse_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_size("64k"), 64ull << 10);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size(" 1GiB "), 1ull << 30);
  EXPECT_FALSE(parse_size("lots"));
  EXPECT_FALSE(parse_size("-1M"));
  EXPECT_FALSE(parse_size("1.5G")) << "fractions would silently truncate";
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_EQ(format_size(512ull << 20), "512M");
  EXPECT_EQ(format_size(1000), "1000");
}

TEST(Units, ParsesDurations) {
  EXPECT_EQ(parse_duration("90s")->count(), 90000);
  EXPECT_EQ(parse_duration("2m")->count(), 120000);
  EXPECT_EQ(parse_duration("500ms")->count(), 500);
  EXPECT_EQ(parse_duration("1.5s")->count(), 1500);
  EXPECT_FALSE(parse_duration("soon"));
  EXPECT_FALSE(parse_duration("5 parsecs"));
}

TEST(Hash, FieldsAreDelimited) {
  Hasher a, b, c;
  a.field("x", "ab").field("y", "c");
  b.field("x", "a").field("y", "bc");
  c.field("x", "ab").field("y", "c");
  EXPECT_NE(a.hex(), b.hex());
  EXPECT_EQ(a.hex(), c.hex());
  EXPECT_EQ(a.hex().size(), 32u);
}

TEST(Process, CapturesOutputAndExitCodeWithoutAShell) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.output, ::testing::HasSubstr("out"));
  EXPECT_THAT(r.output, ::testing::HasSubstr("err"));
  // An argument with shell metacharacters reaches the program verbatim.
  auto e = run_process({"printf", "%s", "$(rm -rf /); `x` | y"});
  EXPECT_EQ(e.output, "$(rm -rf /); `x` | y");
}

TEST(Process, TimeoutKillsTheWholeGroup) {
  auto r = run_process({"sh", "-c", "sleep 30 & sleep 30"}, {.timeout = std::chrono::milliseconds(300)});
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
}

TEST(Process, MissingProgramIsAnInfraError) {
  EXPECT_THROW(run_process({"foliolab-no-such-program"}), InfraError);
}

TEST(Fs, AtomicWriteReplacesWholeFile) {
  TemporaryDirectory dir(fs::temp_directory_path(), "foliolab-fs-test");
  auto p = dir.path() / "f";
  write_file_atomic(p, "first");
  write_file_atomic(p, "second");
  EXPECT_EQ(read_file(p), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Fs, TailLines) {
  TemporaryDirectory dir(fs::temp_directory_path(), "foliolab-fs-test");
  auto p = dir.path() / "log";
  std::ofstream(p) << "1\n2\n3\n4\n";
  EXPECT_EQ(tail_lines(p, 2), "3\n4\n");
}

}  // namespace
}  // namespace foliolab::common
