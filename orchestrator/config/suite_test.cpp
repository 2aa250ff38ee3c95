#include "config/suite.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"

namespace foliolab::config {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("foliolab-suite-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "patches");
    std::ofstream(dir_ / "patches" / "series") << "0001-x.patch\n";
    std::ofstream(dir_ / "extra.config") << "CONFIG_DEBUG_VM=y\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Suite parse(const std::string& text) { return parse_suite(text, dir_ / "suite.yaml"); }

  // Returns the UsageError message, or fails the test if parsing succeeded.
  std::string error_of(const std::string& text) {
    try {
      parse(text);
    } catch (const common::UsageError& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a UsageError for:\n" << text;
    return "";
  }

  fs::path dir_;
};

const char* kExample = R"(name: quickstart
kernels:
  base:
    source: {debian: linux-source-6.12}
  nonswap-abort:
    base: base
    patches: [patches]
    config: [extra.config]
arches: [x86_64, arm64, riscv64]
guest: {memory: 2G, cpus: 2, swap: {zram: 512M}, thp: {enabled: always, sizes: {64K: [inherit, never]}},
        khugepaged: {max_ptes_none: [0, 511], scan_sleep_millisecs: 10}}
workloads:
  - {name: collapse-full, workload: khugepaged-collapse, params: {size: 64M, fill: 1.0}}
repetitions: 5
baseline: base
)";

TEST_F(SuiteTest, ParsesTheDocumentedShape) {
  Suite s = parse(kExample);
  EXPECT_EQ(s.name, "quickstart");
  ASSERT_EQ(s.kernels.size(), 2u);
  EXPECT_EQ(s.kernels[0].name, "base");
  EXPECT_EQ(s.kernels[0].source.kind, KernelSource::Kind::kDebian);
  EXPECT_EQ(s.kernels[0].source.debian_package, "linux-source-6.12");
  EXPECT_EQ(s.arches, all_arches());
  EXPECT_EQ(s.guest.memory_bytes, 2ull << 30);
  EXPECT_EQ(s.guest.cpus, 2);
  EXPECT_EQ(*s.guest.swap.zram_bytes, 512ull << 20);
  EXPECT_EQ(s.guest.thp.at("enabled"), SettingValues{"always"});
  EXPECT_EQ(s.guest.thp_sizes.at("64kB"), (SettingValues{"inherit", "never"}));
  EXPECT_EQ(s.guest.khugepaged.at("max_ptes_none"), (SettingValues{"0", "511"}));
  ASSERT_EQ(s.workloads.size(), 1u);
  EXPECT_EQ(s.workloads[0].workload, "khugepaged-collapse");
  EXPECT_EQ(s.workloads[0].params.at("size"), "64M");
  EXPECT_EQ(s.repetitions, 5);
  EXPECT_EQ(s.baseline, "base");
}

TEST_F(SuiteTest, VariantInheritsSourceAndResolvesPathsAgainstTheSuiteFolder) {
  Suite s = parse(kExample);
  const KernelVariant* v = s.find_kernel("nonswap-abort");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->source.describe(), "debian:linux-source-6.12");
  ASSERT_EQ(v->patches.size(), 1u);
  EXPECT_EQ(v->patches[0], fs::weakly_canonical(dir_ / "patches"));
  ASSERT_EQ(v->config.size(), 1u);
  EXPECT_EQ(v->config[0], fs::weakly_canonical(dir_ / "extra.config"));
}

TEST_F(SuiteTest, ChildPatchesComeAfterInheritedOnes) {
  fs::create_directories(dir_ / "more");
  Suite s = parse(R"(name: s
kernels:
  a: {patches: [patches]}
  b: {base: a, patches: [more]}
arches: [x86_64]
workloads: [{workload: thp-fault}]
)");
  const auto* b = s.find_kernel("b");
  ASSERT_EQ(b->patches.size(), 2u);
  EXPECT_EQ(b->patches[0].filename(), "patches");
  EXPECT_EQ(b->patches[1].filename(), "more");
  EXPECT_EQ(s.baseline, "a") << "the first kernel is the baseline when none is named";
}

TEST_F(SuiteTest, UnknownKeyNamesFileLineColumnAndKey) {
  std::string text = kExample;
  text.replace(text.find("cpus: 2"), 7, "cpuz: 2");
  std::string err = error_of(text);
  EXPECT_THAT(err, HasSubstr("suite.yaml:10:21: guest.cpuz: unknown key"));
}

TEST_F(SuiteTest, TypoInNestedKnobIsAnErrorNotADefault) {
  std::string err = error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
guest:
  thp:
    enabeld: always
workloads: [{workload: thp-fault}]
)");
  EXPECT_THAT(err, HasSubstr("suite.yaml:6:5: guest.thp.enabeld: unknown key (known: enabled"));
}

TEST_F(SuiteTest, WorkloadGuestKnobsAreCheckedLikeTheSuites) {
  auto s = parse(R"(name: s
kernels: {a: {}}
arches: [x86_64]
workloads:
  - {workload: thp-fault, guest: {khugepaged: {scan_sleep_millisecs: 60000}, thp: {sizes: {64K: always}}}}
)");
  ASSERT_EQ(s.workloads.size(), 1u);
  EXPECT_EQ(s.workloads[0].guest.khugepaged.at("scan_sleep_millisecs"), SettingValues{"60000"});
  EXPECT_EQ(s.workloads[0].guest.thp_sizes.at("64kB"), SettingValues{"always"});
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
workloads:
  - {workload: thp-fault, guest: {memory: 1G}}
)"), HasSubstr("suite.yaml:5:35: workloads[].guest.memory: unknown key (known: thp, khugepaged, sysctl)"));
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
workloads:
  - {workload: thp-fault, guest: {thp: {enabled: sometimes}}}
)"), HasSubstr("suite.yaml:5:50: workloads[].guest.thp.enabled"));
}

TEST_F(SuiteTest, BadValuesNameTheirPosition) {
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64, sparc]
workloads: [{workload: w}]
)"), HasSubstr("suite.yaml:3:18: arches: unknown arch 'sparc'"));
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
guest: {memory: lots}
workloads: [{workload: w}]
)"), HasSubstr("suite.yaml:4:17: guest.memory: 'lots' is not a size"));
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
guest: {thp: {enabled: sometimes}}
workloads: [{workload: w}]
)"), HasSubstr("guest.thp.enabled: 'sometimes' is not one of: always, madvise, never"));
}

// guest.trace takes subsystem/event or subsystem/event:field; trace_buffer_kb sizes the ring
// buffer per CPU (a small one makes losses likely, docs/protocol.md `trace`).
TEST_F(SuiteTest, TraceEventsWithFieldsAndTheTraceBufferSize) {
  const Suite s = parse(R"(name: s
kernels: {a: {}}
arches: [x86_64]
guest: {trace: [huge_memory/mm_khugepaged_scan_pmd, kmem/mm_page_alloc:order], trace_buffer_kb: 4}
workloads: [{workload: w}]
)");
  EXPECT_EQ(s.guest.trace, (std::vector<std::string>{"huge_memory/mm_khugepaged_scan_pmd", "kmem/mm_page_alloc:order"}));
  EXPECT_EQ(s.guest.trace_buffer_kb, 4);
  EXPECT_FALSE(parse(kExample).guest.trace_buffer_kb) << "the kernel's default unless set";
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
guest: {trace_buffer_kb: 2}
workloads: [{workload: w}]
)"), HasSubstr("suite.yaml:4:26: guest.trace_buffer_kb"));
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
guest: {trace: ["kmem/mm_page_alloc:"]}
workloads: [{workload: w}]
)"), HasSubstr("'kmem/mm_page_alloc:' is not subsystem/event or subsystem/event:field"));
}

TEST_F(SuiteTest, MissingPatchAndMissingBaseAreErrors) {
  EXPECT_THAT(error_of(R"(name: s
kernels:
  a: {patches: [nope]}
arches: [x86_64]
workloads: [{workload: w}]
)"), HasSubstr("suite.yaml:3:17: kernels.a.patches: nope not found"));
  EXPECT_THAT(error_of(R"(name: s
kernels:
  a: {base: ghost}
arches: [x86_64]
workloads: [{workload: w}]
)"), HasSubstr("kernels.a.base: no kernel named 'ghost'"));
  EXPECT_THAT(error_of(R"(name: s
kernels:
  a: {base: b}
  b: {base: a}
arches: [x86_64]
workloads: [{workload: w}]
)"), HasSubstr("inheritance cycle"));
  EXPECT_THAT(error_of(R"(name: s
kernels: {a: {}}
arches: [x86_64]
workloads: [{workload: w}]
baseline: z
)"), HasSubstr("suite.yaml:5:11: baseline: no kernel named 'z'"));
}

TEST_F(SuiteTest, RequiredSectionsAndDuplicateWorkloadNames) {
  EXPECT_THAT(error_of("name: s\nkernels: {a: {}}\nworkloads: [{workload: w}]\n"), HasSubstr("arches: missing"));
  EXPECT_THAT(error_of("name: s\nkernels: {a: {}}\narches: [x86_64]\nworkloads:\n  - {workload: w}\n  - {workload: w}\n"),
              HasSubstr("two workloads are named 'w'"));
  EXPECT_THAT(error_of("name: s\nkernels: {a: {source: {git: .}}}\narches: [x86_64]\nworkloads: [{workload: w}]\n"),
              HasSubstr("git sources need a ref"));
}

TEST_F(SuiteTest, TarballSourceIsAFileNamedRelativeToTheSuite) {
  std::ofstream(dir_ / "linux-7.3.4.tar.xz") << "not really";
  auto s = parse("name: s\nkernels: {a: {source: {tarball: linux-7.3.4.tar.xz}}}\narches: [x86_64]\n"
                 "workloads: [{workload: w}]\n");
  EXPECT_EQ(s.kernels[0].source.kind, KernelSource::Kind::kTarball);
  EXPECT_EQ(s.kernels[0].source.path, dir_ / "linux-7.3.4.tar.xz");
  EXPECT_EQ(s.kernels[0].source.describe(), "tarball:" + (dir_ / "linux-7.3.4.tar.xz").string());
  EXPECT_THAT(error_of("name: s\nkernels: {a: {source: {tarball: patches}}}\narches: [x86_64]\n"
                       "workloads: [{workload: w}]\n"),
              HasSubstr("is not a file"));
  EXPECT_THAT(error_of("name: s\nkernels: {a: {source: {tarball: linux-7.3.4.tar.xz, debian: linux-source-7.3}}}\n"
                       "arches: [x86_64]\nworkloads: [{workload: w}]\n"),
              HasSubstr("exactly one of debian, path, git, tarball"));
}

TEST_F(SuiteTest, YamlSyntaxErrorHasPosition) {
  EXPECT_THAT(error_of("name: s\nkernels: {a: {}\narches: [x86_64]\n"), HasSubstr("suite.yaml:"));
  EXPECT_THAT(error_of("name: s\nkernels: {a: {}\narches: [x86_64]\n"), HasSubstr("YAML syntax error"));
}

TEST_F(SuiteTest, ShippedAssetsResolveFromTheDataDir) {
  Suite s = parse(R"(name: s
kernels:
  a: {config: [images/kconfig/debug.config]}
arches: [x86_64]
workloads: [{workload: w}]
)");
  EXPECT_TRUE(fs::exists(s.kernels[0].config.at(0)));
  EXPECT_EQ(s.kernels[0].config.at(0).filename(), "debug.config");
}

}  // namespace
}  // namespace foliolab::config
