#include "kernel/kconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::kernel {
namespace {
using ::testing::HasSubstr;

TEST(Kconfig, ParsesAssignmentsUnsetLinesAndRequiredMarks) {
  auto f = parse_fragment_text(
      "# comment\n\nCONFIG_SWAP=y # required\n# CONFIG_SLUB_TINY is not set\nCONFIG_NR_CPUS=8\n"
      "CONFIG_CMDLINE=\"a # b\"\nCONFIG_PANIC_ON_OOPS=n\n",
      "common.config");
  ASSERT_EQ(f.requests.size(), 5u);
  EXPECT_EQ(f.requests[0].symbol, "SWAP");
  EXPECT_EQ(f.requests[0].value, "y");
  EXPECT_TRUE(f.requests[0].required);
  EXPECT_EQ(f.requests[0].where, "common.config:3");
  EXPECT_EQ(f.requests[1].symbol, "SLUB_TINY");
  EXPECT_EQ(f.requests[1].value, "n");
  EXPECT_FALSE(f.requests[1].required);
  EXPECT_EQ(f.requests[3].value, "\"a # b\"") << "a '#' inside a string is not our annotation";
  EXPECT_EQ(f.requests[4].value, "n");
}

TEST(Kconfig, RejectsLinesThatAreNotAssignmentsWithFileAndLine) {
  try {
    parse_fragment_text("CONFIG_A=y\nSWAP=y\n", "/x/user.config");
    FAIL() << "expected an error";
  } catch (const common::UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/x/user.config:2: not a kconfig assignment"));
  }
}

TEST(Kconfig, LaterFragmentsWinAndOverridesAreReported) {
  auto a = parse_fragment_text("CONFIG_A=y\nCONFIG_B=y\n", "a.config");
  auto b = parse_fragment_text("# CONFIG_A is not set\nCONFIG_C=m\n", "b.config");
  std::vector<std::string> overrides;
  std::string merged = merge_fragments({{"B", "n"}, {"D", "y"}}, {a, b}, &overrides);
  auto values = parse_dot_config(merged);
  EXPECT_EQ(values["A"], "n");
  EXPECT_EQ(values["B"], "y");
  EXPECT_EQ(values["C"], "m");
  EXPECT_EQ(values["D"], "y") << "base symbols no fragment mentions are kept";
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_THAT(overrides[0], HasSubstr("CONFIG_A: y (a.config:1) -> n (b.config:1)"));
}

// Kconfig keeps the last y it reads among a choice's members; tinyconfig leaves 6.12's default
// (ARM64_VA_BITS_52=y) in the base, so the fragment's pick must come after it in the text.
TEST(Kconfig, FragmentChoicePicksComeAfterTheBasesDefaults) {
  auto f = parse_fragment_text("CONFIG_ARM64_VA_BITS_48=y\nCONFIG_ZZ=y\n", "arm64.config");
  std::string merged = merge_fragments({{"ARM64_VA_BITS_52", "y"}, {"ARM64_VA_BITS_39", "n"}, {"ZZ", "n"}}, {f}, nullptr);
  auto pick = merged.find("CONFIG_ARM64_VA_BITS_48=y\n");
  auto base_default = merged.find("CONFIG_ARM64_VA_BITS_52=y\n");
  ASSERT_NE(pick, std::string::npos);
  ASSERT_NE(base_default, std::string::npos);
  EXPECT_LT(base_default, pick);
  EXPECT_LT(pick, merged.find("CONFIG_ZZ=y\n")) << "requests keep the fragment's order";
  EXPECT_EQ(merged.find("# CONFIG_ZZ is not set"), std::string::npos) << "a requested symbol is written once";
}

TEST(Kconfig, CheckReportsDroppedSymbolsAndSeparatesRequiredOnes) {
  auto f = parse_fragment_text(
      "CONFIG_VM_EVENT_COUNTERS=y # required\nCONFIG_THP_SWAP=y\nCONFIG_SWAP=y # required\n# CONFIG_X is not set\n",
      "common.config");
  ConfigValues final_config = {{"SWAP", "y"}, {"THP_SWAP", "n"}};
  auto check = check_config(final_config, {f});
  ASSERT_EQ(check.dropped_required.size(), 1u);
  EXPECT_THAT(check.dropped_required[0], HasSubstr("CONFIG_VM_EVENT_COUNTERS=y (common.config:1) is absent"));
  ASSERT_EQ(check.dropped.size(), 1u);
  EXPECT_THAT(check.dropped[0], HasSubstr("CONFIG_THP_SWAP=y (common.config:2) is =n"));
}

// One set of fragments serves several versions: 7.3 has no PROC_SYSCTL (sysctl comes with
// PROC_FS there). A symbol the tree does not define is "not defined by Linux <version>", not
// "dropped"; a required one is an error whatever the reason.
TEST(Kconfig, SymbolsAVersionDoesNotDefineAreNamedWithTheVersion) {
  common::TemporaryDirectory tree(std::filesystem::temp_directory_path(), "foliolab-kconfig");
  std::filesystem::create_directories(tree.path() / "fs" / "proc");
  std::filesystem::create_directories(tree.path() / "Documentation");
  common::write_file_atomic(tree.path() / "Makefile", "# SPDX\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n");
  common::write_file_atomic(tree.path() / "fs" / "proc" / "Kconfig",
                            "config PROC_FS\n\tbool \"/proc\"\n\thelp\n\t  config files live here\n"
                            "menuconfig SWAP\n\tbool\n");
  common::write_file_atomic(tree.path() / "Kconfig.debug", "  config MAGIC_SYSRQ\n");
  common::write_file_atomic(tree.path() / "Documentation" / "Kconfig", "config NOT_A_SYMBOL\n");
  auto kt = scan_kconfig_tree(tree.path());
  EXPECT_EQ(kt.version, "7.3.4");
  EXPECT_EQ(kt.symbols, (std::set<std::string>{"PROC_FS", "SWAP", "MAGIC_SYSRQ"}));

  auto f = parse_fragment_text("CONFIG_PROC_FS=y # required\nCONFIG_PROC_SYSCTL=y\nCONFIG_SWAP=y\n"
                               "CONFIG_VM_EVENT_COUNTERS=y # required\n",
                               "common.config");
  auto check = check_config({{"PROC_FS", "y"}}, {f}, &kt);
  ASSERT_EQ(check.undefined.size(), 1u);
  EXPECT_THAT(check.undefined[0], HasSubstr("CONFIG_PROC_SYSCTL (common.config:2) is not defined by Linux 7.3.4"));
  ASSERT_EQ(check.dropped.size(), 1u);
  EXPECT_THAT(check.dropped[0], HasSubstr("CONFIG_SWAP=y (common.config:3) is absent"));
  ASSERT_EQ(check.dropped_required.size(), 1u) << "required and undefined is still an error";
  EXPECT_THAT(check.dropped_required[0], HasSubstr("CONFIG_VM_EVENT_COUNTERS"));
  EXPECT_EQ(kernel_version_of_makefile("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\n"), "6.12.117");
  EXPECT_EQ(kernel_version_of_makefile("all:\n"), "");
}

TEST(Kconfig, ShippedFragmentsParseAndMarkTheTrapsRequired) {
  const std::string dir = std::string(FOLIOLAB_SOURCE_DIR) + "/images/kconfig/";
  auto common = parse_fragment(dir + "common.config");
  auto riscv = parse_fragment(dir + "riscv64.config");
  auto required = [](const Fragment& f, const std::string& sym) {
    for (const auto& r : f.requests)
      if (r.symbol == sym) return r.required;
    return false;
  };
  for (const char* sym : {"ADVISE_SYSCALLS", "VM_EVENT_COUNTERS", "TRANSPARENT_HUGEPAGE", "SWAP", "ZRAM",
                          "PROC_PAGE_MONITOR", "MAGIC_SYSRQ", "VIRTIO_CONSOLE", "USERFAULTFD", "MEMCG"})
    EXPECT_TRUE(required(common, sym)) << sym;
  EXPECT_TRUE(required(riscv, "RISCV_ISA_FALLBACK"));
  for (const char* arch : {"x86_64", "arm64", "debug"}) EXPECT_NO_THROW(parse_fragment(dir + arch + ".config"));
  // The data channel's transport is per arch (virtio-serial-pci on q35, -device on the virt
  // machines): each arch fragment must require the one its machine uses.
  EXPECT_TRUE(required(parse_fragment(dir + "x86_64.config"), "VIRTIO_PCI"));
  EXPECT_TRUE(required(parse_fragment(dir + "arm64.config"), "VIRTIO_MMIO"));
  EXPECT_TRUE(required(riscv, "VIRTIO_MMIO"));
}

TEST(KernelHz, ReadFromTheConfigBesideTheImage) {
  common::TemporaryDirectory dir(std::filesystem::temp_directory_path(), "hz");
  auto image = dir.path() / "image";
  common::write_file_atomic(image, "not a kernel");
  EXPECT_EQ(hz_beside_image(image), std::nullopt);  // no config
  common::write_file_atomic(dir.path() / "config", "CONFIG_HZ_250=y\n# CONFIG_HZ_1000 is not set\nCONFIG_HZ=250\nCONFIG_X=1\n");
  EXPECT_EQ(hz_beside_image(image), 250);
  common::write_file_atomic(dir.path() / "config", "CONFIG_HZ_PERIODIC=y\nCONFIG_HZ=1000");
  EXPECT_EQ(hz_beside_image(image), 1000);
  common::write_file_atomic(dir.path() / "config", "CONFIG_HZ=25x\n");
  EXPECT_EQ(hz_beside_image(image), std::nullopt);
  common::write_file_atomic(dir.path() / "config", "CONFIG_HZ=99999999999999\n");
  EXPECT_EQ(hz_beside_image(image), std::nullopt);
  common::write_file_atomic(dir.path() / "config", "# CONFIG_HZ=250\n");
  EXPECT_EQ(hz_beside_image(image), std::nullopt);
}

}  // namespace
}  // namespace foliolab::kernel
