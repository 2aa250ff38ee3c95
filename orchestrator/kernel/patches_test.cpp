#include "kernel/patches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::kernel {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

const char* kPatchA = R"(Subject: [PATCH 1/2] mm: change a

---
 mm/a.c | 2 +-
diff --git a/mm/a.c b/mm/a.c
--- a/mm/a.c
+++ b/mm/a.c
@@ -1,3 +1,3 @@ int a(void)
 one
-two
+TWO
 three
)";

const char* kPatchNewFile = R"(diff --git a/mm/new.c b/mm/new.c
new file mode 100644
--- /dev/null
+++ b/mm/new.c
@@ -0,0 +1 @@
+fresh
)";

const char* kPatchBad = R"(--- a/mm/a.c
+++ b/mm/a.c
@@ -1,3 +1,3 @@ int a(void)
 one
-two
+TWO
 three
@@ -10,3 +10,3 @@ static int hpage_collapse_scan_pmd(struct mm_struct *mm)
 nine
-ten
+TEN
 eleven
)";

class PatchesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::make_unique<common::TemporaryDirectory>(fs::temp_directory_path(), "foliolab-patches");
    pristine_ = root_->path() / "pristine";
    tree_ = root_->path() / "tree";
    fs::create_directories(pristine_ / "mm");
    write(pristine_ / "mm/a.c", "one\ntwo\nthree\n");
    write(pristine_ / "mm/b.c", "bee\n");
    fs::create_directories(tree_ / "mm");
    fs::create_hard_link(pristine_ / "mm/a.c", tree_ / "mm/a.c");
    fs::create_hard_link(pristine_ / "mm/b.c", tree_ / "mm/b.c");
  }
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  fs::path patch_file(const std::string& name, const std::string& text) {
    auto p = root_->path() / name;
    write(p, text);
    return p;
  }
  std::unique_ptr<common::TemporaryDirectory> root_;
  fs::path pristine_, tree_;
};

TEST_F(PatchesTest, QuiltSeriesKeepsOrderAndStripLevel) {
  fs::create_directories(root_->path() / "q");
  write(root_->path() / "q/series", "# comment\n0002-b.patch -p1\n\n0001-a.patch\n");
  write(root_->path() / "q/0001-a.patch", kPatchA);
  write(root_->path() / "q/0002-b.patch", kPatchNewFile);
  auto s = load_series(root_->path() / "q");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "0002-b.patch");
  EXPECT_EQ(s[1].name, "0001-a.patch");
}

TEST_F(PatchesTest, SeriesNamingAMissingPatchNamesTheLine) {
  fs::create_directories(root_->path() / "q");
  write(root_->path() / "q/series", "0001-a.patch\nghost.patch\n");
  write(root_->path() / "q/0001-a.patch", kPatchA);
  try {
    load_series(root_->path() / "q");
    FAIL();
  } catch (const common::UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("series:2: patch ghost.patch does not exist"));
  }
}

TEST_F(PatchesTest, FolderWithoutSeriesUsesNameOrderAndMboxIsSplit) {
  fs::create_directories(root_->path() / "d");
  write(root_->path() / "d/b.patch", kPatchNewFile);
  write(root_->path() / "d/a.patch", kPatchA);
  auto s = load_series(root_->path() / "d");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "a.patch");
  std::string mbox = std::string("From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\n") + kPatchA +
                     "From abcdefabcdefabcdefabcdefabcdefabcdefabcd Mon Sep 17 00:00:00 2001\nSubject: [PATCH 2/2] add new\n\n---\n" +
                     kPatchNewFile;
  auto m = load_series(patch_file("series.mbox", mbox));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_THAT(m[0].name, HasSubstr("mm: change a"));
  EXPECT_THAT(m[1].name, HasSubstr("add new"));
}

TEST_F(PatchesTest, TouchedFilesCoverModifiedAndCreatedFiles) {
  Patch a{"a", "a", kPatchA, 1};
  Patch n{"n", "n", kPatchNewFile, 1};
  EXPECT_EQ(touched_files(a), std::set<std::string>{"mm/a.c"});
  EXPECT_EQ(touched_files(n), std::set<std::string>{"mm/new.c"});
}

TEST_F(PatchesTest, ApplyChangesOnlyTheTreeAndNeverThePristineSource) {
  std::vector<Patch> series = {{"a", "a", kPatchA, 1}, {"n", "n", kPatchNewFile, 1}};
  auto r = apply_series(series, pristine_, tree_, {}, root_->path());
  EXPECT_EQ(r.files_written, 2u);
  EXPECT_EQ(common::read_file(tree_ / "mm/a.c"), "one\nTWO\nthree\n");
  EXPECT_EQ(common::read_file(tree_ / "mm/new.c"), "fresh\n");
  EXPECT_EQ(common::read_file(pristine_ / "mm/a.c"), "one\ntwo\nthree\n") << "hard link written through";
  // Re-applying the same series changes nothing (incremental builds keep mtimes).
  struct stat before {};
  ::stat((tree_ / "mm/a.c").c_str(), &before);
  auto again = apply_series(series, pristine_, tree_, r.touched, root_->path());
  EXPECT_EQ(again.files_written, 0u);
  struct stat after {};
  ::stat((tree_ / "mm/a.c").c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino);
  // Switching to an empty series restores pristine content and removes created files.
  auto reset = apply_series({}, pristine_, tree_, r.touched, root_->path());
  EXPECT_EQ(reset.files_written, 2u);
  EXPECT_EQ(common::read_file(tree_ / "mm/a.c"), "one\ntwo\nthree\n");
  EXPECT_FALSE(fs::exists(tree_ / "mm/new.c"));
}

TEST_F(PatchesTest, FailingPatchNamesPatchFileAndHunkAndLeavesTreeUntouched) {
  std::vector<Patch> series = {{"0001-good.patch", "/s/0001-good.patch", kPatchNewFile, 1},
                               {"0002-bad.patch", "/s/0002-bad.patch", kPatchBad, 1}};
  try {
    apply_series(series, pristine_, tree_, {}, root_->path());
    FAIL() << "expected the second patch to fail";
  } catch (const common::UsageError& e) {
    std::string msg = e.what();
    EXPECT_THAT(msg, HasSubstr("patch 0002-bad.patch does not apply"));
    EXPECT_THAT(msg, HasSubstr("mm/a.c: hunk #2 FAILED"));
    EXPECT_THAT(msg, HasSubstr("@@ -10,3 +10,3 @@ static int hpage_collapse_scan_pmd"));
  }
  EXPECT_FALSE(fs::exists(tree_ / "mm/new.c")) << "the good patch must not be half-applied";
  EXPECT_EQ(common::read_file(tree_ / "mm/a.c"), "one\ntwo\nthree\n");
}

TEST_F(PatchesTest, PatchForAMissingFileSaysSo) {
  std::string p = "--- a/mm/ghost.c\n+++ b/mm/ghost.c\n@@ -1 +1 @@\n-x\n+y\n";
  try {
    apply_series({{"ghost.patch", "ghost.patch", p, 1}}, pristine_, tree_, {}, root_->path());
    FAIL();
  } catch (const common::UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("patch ghost.patch does not apply"));
    EXPECT_THAT(e.what(), HasSubstr("mm/ghost.c"));
  }
}

}  // namespace
}  // namespace foliolab::kernel
