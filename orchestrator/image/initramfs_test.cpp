#include "image/initramfs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>

#include "common/errors.h"
#include "common/fs.h"
#include "image/cpio.h"

namespace foliolab::image {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& content, fs::perms perms) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
  fs::permissions(p, perms);
}

const auto kExec = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec;
const auto kData = fs::perms::owner_read | fs::perms::owner_write;

class GuestTree : public ::testing::Test {
 protected:
  void SetUp() override {
    guest = tmp.path() / "guest";
    write(guest / "x86_64/init", "agent-x86", kExec);
    write(guest / "x86_64/workloads/thp-fault", "wl-thp", kExec);
    write(guest / "x86_64/workloads/swap-roundtrip", "wl-swap", kExec);
    write(guest / "arm64/init", "agent-arm", kExec);
  }
  common::TemporaryDirectory tmp{fs::temp_directory_path(), "image-test"};
  fs::path guest;
};

const CpioEntry* find(const std::vector<CpioEntry>& entries, const std::string& path) {
  for (const auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
}

TEST_F(GuestTree, BaseArchiveHoldsAgentWorkloadsMountPointsAndConsole) {
  auto entries = read_cpio(build_base_archive(guest / "x86_64"));
  const auto* init = find(entries, "init");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->content, "agent-x86");
  EXPECT_EQ(init->mode, 0755u);
  const auto* wl = find(entries, "workloads/thp-fault");
  ASSERT_NE(wl, nullptr);
  EXPECT_EQ(wl->content, "wl-thp");
  EXPECT_EQ(wl->mode & 0111u, 0111u);
  ASSERT_NE(find(entries, "workloads/swap-roundtrip"), nullptr);
  const auto* console = find(entries, "dev/console");
  ASSERT_NE(console, nullptr);
  EXPECT_EQ(console->type, CpioEntry::Type::kCharDevice);
  EXPECT_EQ(console->rdev_major, 5u);
  EXPECT_EQ(console->rdev_minor, 1u);
  for (const char* dir : {"proc", "sys", "dev", "tmp", "sys/kernel/tracing", "sys/fs/cgroup", "workloads"}) {
    const auto* d = find(entries, dir);
    ASSERT_NE(d, nullptr) << dir;
    EXPECT_EQ(d->type, CpioEntry::Type::kDirectory) << dir;
  }
  // Every entry's parent directory comes before it (the kernel does not create parents).
  for (size_t i = 0; i < entries.size(); ++i) {
    auto slash = entries[i].path.rfind('/');
    if (slash == std::string::npos) continue;
    std::string parent = entries[i].path.substr(0, slash);
    bool seen = false;
    for (size_t j = 0; j < i; ++j) seen = seen || entries[j].path == parent;
    EXPECT_TRUE(seen) << entries[i].path << " before its parent";
  }
  // Each path once.
  for (size_t i = 0; i < entries.size(); ++i)
    for (size_t j = i + 1; j < entries.size(); ++j) EXPECT_NE(entries[i].path, entries[j].path);
}

TEST_F(GuestTree, MissingAgentIsAnInfraErrorNamingThePath) {
  fs::remove(guest / "x86_64/init");
  try {
    build_base_archive(guest / "x86_64");
    FAIL() << "expected InfraError";
  } catch (const common::InfraError& e) {
    EXPECT_NE(std::string(e.what()).find("x86_64/init"), std::string::npos) << e.what();
  }
}

TEST_F(GuestTree, BaseImageIsCachedByContent) {
  auto cache = tmp.path() / "cache";
  auto first = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_FALSE(first.reused);
  EXPECT_TRUE(fs::exists(first.path));
  EXPECT_EQ(first.path, cache / "images" / (first.hash + ".cpio"));
  auto again = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_TRUE(again.reused);
  EXPECT_EQ(again.hash, first.hash);

  write(guest / "x86_64/workloads/thp-fault", "wl-thp-v2", kExec);
  auto changed = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_FALSE(changed.reused);
  EXPECT_NE(changed.hash, first.hash);

  auto arm = base_image(config::Arch::kArm64, cache, guest);
  EXPECT_NE(arm.hash, first.hash);
  auto entries = read_cpio(common::read_file(arm.path));
  ASSERT_NE(find(entries, "init"), nullptr);
  EXPECT_EQ(find(entries, "init")->content, "agent-arm");
}

TEST_F(GuestTree, SettledGuestFilesFindTheirImageWithoutBeingRead) {
  auto cache = tmp.path() / "cache";
  auto age = [&](const fs::path& p) { fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(1)); };
  // Fresh files (just written, as in SetUp): built, and not indexed (they may still change
  // within the same timestamp tick).
  auto fresh = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_FALSE(base_image(config::Arch::kX86_64, cache, guest).indexed);
  // ctime cannot be set back: files whose ctime is fresh are never indexed, so this test
  // checks the index on a copy made with old times, then waits out the 2 s.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  for (const char* f : {"x86_64/init", "x86_64/workloads/thp-fault", "x86_64/workloads/swap-roundtrip"}) age(guest / f);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto built = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_FALSE(built.indexed);
  EXPECT_EQ(built.hash, fresh.hash);
  auto found = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_TRUE(found.indexed);
  EXPECT_TRUE(found.reused);
  EXPECT_EQ(found.hash, built.hash);
  EXPECT_EQ(found.path, built.path);

  // Same size, same inode, rewritten: the new mtime and ctime miss the index.
  write(guest / "x86_64/workloads/thp-fault", "wl-THP", kExec);
  auto rewritten = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_FALSE(rewritten.indexed);
  EXPECT_NE(rewritten.hash, built.hash);
  auto entries = read_cpio(common::read_file(rewritten.path));
  ASSERT_NE(find(entries, "workloads/thp-fault"), nullptr);
  EXPECT_EQ(find(entries, "workloads/thp-fault")->content, "wl-THP");

  // An indexed archive that has gone from the cache is built again.
  fs::remove(built.path);
  write(guest / "x86_64/workloads/thp-fault", "wl-thp", kExec);
  auto rebuilt = base_image(config::Arch::kX86_64, cache, guest);
  EXPECT_FALSE(rebuilt.indexed);
  EXPECT_EQ(rebuilt.hash, built.hash);
  EXPECT_TRUE(fs::exists(rebuilt.path));
}

TEST_F(GuestTree, WorkloadLinksToTheMultiCallBinaryStayLinks) {
  write(guest / "x86_64/bin/foliolab-workloads", "multi", kExec);
  fs::remove(guest / "x86_64/workloads/thp-fault");
  fs::create_symlink("../bin/foliolab-workloads", guest / "x86_64/workloads/thp-fault");
  auto entries = read_cpio(build_base_archive(guest / "x86_64"));
  const auto* link = find(entries, "workloads/thp-fault");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->type, CpioEntry::Type::kSymlink);
  EXPECT_EQ(link->target, "../bin/foliolab-workloads");
  ASSERT_NE(find(entries, "bin/foliolab-workloads"), nullptr);
  EXPECT_EQ(find(entries, "bin/foliolab-workloads")->content, "multi");

  // A link the guest could not follow is an error naming it.
  for (const char* bad : {"/bin/sh", "../../outside", "../bin/missing"}) {
    fs::remove(guest / "x86_64/workloads/swap-roundtrip");
    fs::create_symlink(bad, guest / "x86_64/workloads/swap-roundtrip");
    try {
      build_base_archive(guest / "x86_64");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const common::InfraError& e) {
      EXPECT_NE(std::string(e.what()).find("workloads/swap-roundtrip"), std::string::npos) << e.what();
    }
  }
}

TEST_F(GuestTree, RunInitrdIsBaseFollowedByJob) {
  auto base = base_image(config::Arch::kX86_64, tmp.path() / "cache", guest);
  auto initrd = write_run_initrd(base.path, R"({"version":1,"steps":[]})", tmp.path() / "initrd.cpio");
  std::string bytes = common::read_file(initrd);
  std::string base_bytes = common::read_file(base.path);
  ASSERT_GT(bytes.size(), base_bytes.size());
  EXPECT_EQ(bytes.substr(0, base_bytes.size()), base_bytes);  // the cached image is reused verbatim
  auto entries = read_cpio(bytes);
  ASSERT_NE(find(entries, "init"), nullptr);
  const auto* job = find(entries, "job.json");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->content, R"({"version":1,"steps":[]})");
  EXPECT_EQ(entries.back().path, "job.json");
}

TEST_F(GuestTree, GuestDirComesFromTheEnvironment) {
  ::setenv("FOLIOLAB_GUEST_DIR", guest.c_str(), 1);
  EXPECT_EQ(guest_programs_dir(), guest);
  ::unsetenv("FOLIOLAB_GUEST_DIR");
  EXPECT_EQ(guest_programs_dir(), fs::path(FOLIOLAB_BINARY_DIR) / "guest");
}

}  // namespace
}  // namespace foliolab::image
