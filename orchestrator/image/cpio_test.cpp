#include "image/cpio.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace foliolab::image {
namespace {

const CpioEntry* find(const std::vector<CpioEntry>& entries, const std::string& path) {
  for (const auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
}

TEST(Cpio, EntriesReadBackWithTypeModeAndContent) {
  CpioWriter w;
  w.add_directory("dev", 0755);
  w.add_char_device("/dev/console", 5, 1, 0600);
  w.add_directory("workloads");
  w.add_file("init", std::string("\x7f" "ELF\0binary", 10), 0755);
  w.add_file("workloads/empty", "", 0644);
  w.add_symlink("workloads/thp-fault", "../bin/foliolab-workloads");
  auto bytes = w.finish();

  auto entries = read_cpio(bytes);
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[0].path, "dev");
  EXPECT_EQ(entries[0].type, CpioEntry::Type::kDirectory);
  const auto* console = find(entries, "dev/console");
  ASSERT_NE(console, nullptr);
  EXPECT_EQ(console->type, CpioEntry::Type::kCharDevice);
  EXPECT_EQ(console->rdev_major, 5u);
  EXPECT_EQ(console->rdev_minor, 1u);
  EXPECT_EQ(console->mode, 0600u);
  const auto* init = find(entries, "init");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->type, CpioEntry::Type::kFile);
  EXPECT_EQ(init->mode, 0755u);
  EXPECT_EQ(init->content, std::string("\x7f" "ELF\0binary", 10));
  const auto* empty = find(entries, "workloads/empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->content, "");
  EXPECT_EQ(empty->mode, 0644u);
  const auto* link = find(entries, "workloads/thp-fault");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->type, CpioEntry::Type::kSymlink);
  EXPECT_EQ(link->target, "../bin/foliolab-workloads");
  EXPECT_EQ(link->content, "");
}

TEST(Cpio, IsNewcAndEndsAlignedWithoutBlockPadding) {
  CpioWriter w;
  w.add_file("job.json", "{}", 0644);
  auto bytes = w.finish();
  ASSERT_GE(bytes.size(), 6u);
  EXPECT_EQ(bytes.substr(0, 6), "070701");  // the only format the kernel unpacks
  EXPECT_EQ(bytes.size() % 4, 0u);          // so a second archive can follow directly
  EXPECT_LT(bytes.size(), 512u);            // no 10 KiB block padding
  EXPECT_NE(bytes.find("TRAILER!!!"), std::string::npos);
}

TEST(Cpio, SameEntriesGiveSameBytes) {
  auto make = [] {
    CpioWriter w;
    w.add_directory("a");
    w.add_file("a/b", "content", 0755);
    return w.finish();
  };
  EXPECT_EQ(make(), make());
}

TEST(Cpio, ConcatenatedArchivesReadAsOne) {
  CpioWriter base;
  base.add_file("init", "agent", 0755);
  CpioWriter job;
  job.add_file("job.json", R"({"version":1})", 0644);
  std::string both = base.finish() + job.finish();
  auto entries = read_cpio(both);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].path, "init");
  EXPECT_EQ(entries[1].path, "job.json");
  EXPECT_EQ(entries[1].content, R"({"version":1})");
}

TEST(Cpio, ZeroPaddingBetweenArchivesIsSkipped) {
  CpioWriter a;
  a.add_file("x", "1");
  CpioWriter b;
  b.add_file("y", "2");
  std::string both = a.finish() + std::string(512, '\0') + b.finish();
  auto entries = read_cpio(both);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].path, "y");
}

TEST(Cpio, GarbageIsAnError) {
  EXPECT_THROW(read_cpio("this is not an archive at all, not even close"), common::InfraError);
}

TEST(Cpio, FinishTwiceIsAnError) {
  CpioWriter w;
  w.add_file("x", "1");
  w.finish();
  EXPECT_THROW(w.finish(), common::InfraError);
  EXPECT_THROW(w.add_file("y", "2"), common::InfraError);
}

}  // namespace
}  // namespace foliolab::image
