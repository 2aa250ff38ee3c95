#include <gtest/gtest.h>

#include <fstream>

#include "common/fs.h"
#include "kernel/builder.h"
#include "kernel/source.h"

namespace foliolab::kernel {
namespace {
namespace fs = std::filesystem;

// Keys from fixed inputs: no compiler or tarball needed.
class KeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<common::TemporaryDirectory>(fs::temp_directory_path(), "foliolab-key");
    std::ofstream(dir_->path() / "frag.config") << "CONFIG_A=y\n";
    std::ofstream(dir_->path() / "p.patch") << "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n";
    inputs_.source_id = "tar-1";
    inputs_.compiler = "gcc 12.2.0";
    inputs_.fragments = {dir_->path() / "frag.config"};
    variant_.name = "base";
  }
  std::unique_ptr<common::TemporaryDirectory> dir_;
  BuildInputs inputs_;
  config::KernelVariant variant_;
};

// A tarball's identity is its hash, memoised in the cache unless the caller writes nothing (a
// dry run: docs/run.md).
TEST_F(KeyTest, TarballIdentityIsMemoisedOnlyWhenAskedTo) {
  const fs::path tarball = dir_->path() / "linux-9.9.tar.xz";
  std::ofstream(tarball) << "not really a tarball, but bytes to hash";
  config::KernelSource source;
  source.kind = config::KernelSource::Kind::kTarball;
  source.path = tarball;
  const fs::path cache = dir_->path() / "cache";
  const std::string dry = source_identity(source, cache, /*remember=*/false);
  EXPECT_FALSE(fs::exists(cache)) << "a dry run wrote into the cache";
  const std::string id = source_identity(source, cache);
  EXPECT_EQ(id, dry);
  EXPECT_TRUE(fs::exists(cache / "sources" / "tarball-ids.json"));
  EXPECT_EQ(source_identity(source, cache, false), id) << "the memo is read either way";
}

TEST_F(KeyTest, SameInputsSameKey) {
  EXPECT_EQ(artifact_key(variant_, config::Arch::kX86_64, inputs_), artifact_key(variant_, config::Arch::kX86_64, inputs_));
}

TEST_F(KeyTest, EveryInputChangesTheKey) {
  const auto base = artifact_key(variant_, config::Arch::kX86_64, inputs_);
  EXPECT_NE(base, artifact_key(variant_, config::Arch::kArm64, inputs_));
  auto v = variant_;
  v.patches = {dir_->path() / "p.patch"};
  const auto patched = artifact_key(v, config::Arch::kX86_64, inputs_);
  EXPECT_NE(base, patched);
  std::ofstream(dir_->path() / "p.patch") << "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+c\n";
  EXPECT_NE(patched, artifact_key(v, config::Arch::kX86_64, inputs_)) << "patch content, not its name";
  auto in = inputs_;
  in.compiler = "gcc 13";
  EXPECT_NE(base, artifact_key(variant_, config::Arch::kX86_64, in));
  in = inputs_;
  in.source_id = "tar-2";
  EXPECT_NE(base, artifact_key(variant_, config::Arch::kX86_64, in));
  std::ofstream(dir_->path() / "frag.config") << "CONFIG_A=n\n";
  EXPECT_NE(base, artifact_key(variant_, config::Arch::kX86_64, inputs_));
  v = variant_;
  v.base_config = "defconfig";
  std::ofstream(dir_->path() / "frag.config") << "CONFIG_A=y\n";
  EXPECT_NE(base, artifact_key(v, config::Arch::kX86_64, inputs_));
  EXPECT_EQ(base, artifact_key(variant_, config::Arch::kX86_64, inputs_));
}

TEST(Toolchain, EveryArchHasATableEntry) {
  for (auto arch : config::all_arches()) {
    const auto& tc = toolchain(arch);
    EXPECT_EQ(tc.arch, arch);
    EXPECT_FALSE(tc.cross_compile.empty());
    EXPECT_FALSE(tc.debian_package.empty());
  }
  EXPECT_EQ(toolchain(config::Arch::kRiscv64).kernel_arch, "riscv");
}

}  // namespace
}  // namespace foliolab::kernel
