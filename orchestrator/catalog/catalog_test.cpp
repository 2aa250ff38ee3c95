#include "catalog/catalog.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::catalog {
namespace {

namespace fs = std::filesystem;
using common::UsageError;

// The descriptor of docs/protocol.md section 4, plus a bool and a string parameter.
const char* kCollapse = R"(name: khugepaged-collapse
summary: Regions at a fill ratio, MADV_HUGEPAGE, wait for khugepaged to collapse them.
deadline: 180s
trace: [huge_memory/mm_khugepaged_scan_pmd]   # enabled when this workload runs
params:
  size:    {type: size, default: 64M, min: 2M, max: 1G, help: region size}
  fill:    {type: float, default: 1.0, min: 0, max: 1, help: fraction of pages touched}
  pattern: {type: enum, values: [contiguous, strided, random], default: contiguous}
  scans:   {type: int, default: 2, min: 1}
  shared:  {type: bool, default: no, help: share pages with a child}
  label:   {type: string, default: ""}
metrics:
  collapsed_fraction: {unit: ratio, kind: value, direction: higher}
  time_to_collapse_ms: {unit: ms, kind: value, direction: lower}
)";

class CatalogTest : public ::testing::Test {
 protected:
  CatalogTest() : dir_(fs::temp_directory_path(), "catalog-test") {}

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_.path() / name;
    std::ofstream(p) << text;
    return p;
  }

  // The UsageError message of loading `text` as <name>.yaml.
  std::string descriptor_error(const std::string& text, const std::string& name = "khugepaged-collapse") {
    fs::path p = write(name + ".yaml", text);
    try {
      load_descriptor(p);
    } catch (const UsageError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return {};
  }

  WorkloadSpec collapse() { return load_descriptor(write("khugepaged-collapse.yaml", kCollapse)); }

  std::string resolve_error(const std::map<std::string, std::string>& given) {
    WorkloadSpec spec = collapse();
    try {
      resolve(spec, given, "suite.yaml:14:7");
    } catch (const UsageError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
  }

  std::string path_of(const std::string& name) const { return (dir_.path() / name).string(); }

  common::TemporaryDirectory dir_;
};

TEST_F(CatalogTest, ReadsEveryFieldOfADescriptor) {
  WorkloadSpec spec = collapse();
  EXPECT_EQ(spec.name, "khugepaged-collapse");
  EXPECT_EQ(spec.summary, "Regions at a fill ratio, MADV_HUGEPAGE, wait for khugepaged to collapse them.");
  EXPECT_EQ(spec.deadline_ms, 180000);
  EXPECT_EQ(spec.trace, std::vector<std::string>{"huge_memory/mm_khugepaged_scan_pmd"});
  EXPECT_EQ(spec.descriptor, dir_.path() / "khugepaged-collapse.yaml");
  ASSERT_EQ(spec.params.size(), 6u);

  const ParamSpec& size = spec.params[0];
  EXPECT_EQ(size.name, "size");
  EXPECT_EQ(size.type, ParamType::kSize);
  EXPECT_EQ(size.default_value, "67108864");
  EXPECT_EQ(size.min, 2.0 * 1024 * 1024);
  EXPECT_EQ(size.max, 1024.0 * 1024 * 1024);
  EXPECT_EQ(size.help, "region size");

  const ParamSpec& fill = spec.params[1];
  EXPECT_EQ(fill.type, ParamType::kFloat);
  EXPECT_EQ(fill.default_value, "1");
  EXPECT_EQ(fill.min, 0.0);
  EXPECT_EQ(fill.max, 1.0);

  const ParamSpec& pattern = spec.params[2];
  EXPECT_EQ(pattern.type, ParamType::kEnum);
  EXPECT_EQ(pattern.values, (std::vector<std::string>{"contiguous", "strided", "random"}));
  EXPECT_EQ(pattern.default_value, "contiguous");
  EXPECT_FALSE(pattern.min);

  const ParamSpec& scans = spec.params[3];
  EXPECT_EQ(scans.type, ParamType::kInt);
  EXPECT_EQ(scans.min, 1.0);
  EXPECT_FALSE(scans.max);
  EXPECT_EQ(spec.params[4].default_value, "false");
  EXPECT_EQ(spec.params[5].default_value, "");
  EXPECT_EQ(spec.find_param("scans"), &spec.params[3]);
  EXPECT_EQ(spec.find_param("sise"), nullptr);

  ASSERT_EQ(spec.metrics.size(), 2u);
  EXPECT_EQ(spec.metrics[0].name, "collapsed_fraction");
  EXPECT_EQ(spec.metrics[0].unit, "ratio");
  EXPECT_EQ(spec.metrics[0].kind, "value");
  EXPECT_EQ(spec.metrics[0].direction, "higher");
  EXPECT_EQ(spec.metrics[1].direction, "lower");
}

TEST_F(CatalogTest, EmptyParamsAndMetricsAndNoTrace) {
  WorkloadSpec spec = load_descriptor(write("selftest-panic.yaml",
                                            "name: selftest-panic\nsummary: >-\n  Crashes the kernel\n  on purpose.\n"
                                            "deadline: 1m\nparams: {}\nmetrics: {}\n"));
  EXPECT_EQ(spec.summary, "Crashes the kernel on purpose.");
  EXPECT_EQ(spec.deadline_ms, 60000);
  EXPECT_TRUE(spec.params.empty());
  EXPECT_TRUE(spec.metrics.empty());
  EXPECT_TRUE(spec.trace.empty());
  ResolvedWorkload r = resolve(spec, {}, "here");
  EXPECT_EQ(r.argv, std::vector<std::string>{"/workloads/selftest-panic"});
}

TEST_F(CatalogTest, ResolveFillsDefaultsAndBuildsArgv) {
  WorkloadSpec spec = collapse();
  ResolvedWorkload r = resolve(spec, {{"fill", "0.50"}, {"size", "128M"}}, "suite.yaml:3:5");
  EXPECT_EQ(r.spec, &spec);
  EXPECT_EQ(r.params, (std::map<std::string, std::string>{{"fill", "0.5"},
                                                          {"label", ""},
                                                          {"pattern", "contiguous"},
                                                          {"scans", "2"},
                                                          {"shared", "false"},
                                                          {"size", "134217728"}}));
  EXPECT_EQ(r.argv, (std::vector<std::string>{"/workloads/khugepaged-collapse", "--fill=0.5", "--label=",
                                              "--pattern=contiguous", "--scans=2", "--shared=false",
                                              "--size=134217728"}));
}

TEST_F(CatalogTest, EquivalentSpellingsResolveIdentically) {
  WorkloadSpec spec = collapse();
  auto a = resolve(spec, {{"size", "64M"}, {"fill", "1.0"}, {"shared", "yes"}, {"scans", "007"}}, "a");
  auto b = resolve(spec, {{"size", "67108864"}, {"fill", "1"}, {"shared", "true"}, {"scans", "7"}}, "b");
  auto c = resolve(spec, {{"size", "65536K"}, {"fill", "1e0"}, {"shared", "ON"}, {"scans", "7"}}, "c");
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.argv, b.argv);
  EXPECT_EQ(a.params, c.params);
  // Giving the default explicitly is the same as not giving it.
  EXPECT_EQ(resolve(spec, {}, "d").params, resolve(spec, {{"size", "64M"}, {"fill", "1.0"}}, "e").params);
}

TEST_F(CatalogTest, UnknownParameterNamesTheKnownOnesAndTheNearMiss) {
  EXPECT_EQ(resolve_error({{"sise", "64M"}}),
            "suite.yaml:14:7: unknown parameter 'sise' for workload khugepaged-collapse "
            "(known: fill, label, pattern, scans, shared, size); did you mean 'size'?");
  const std::string far = resolve_error({{"threads", "4"}});
  EXPECT_NE(far.find("unknown parameter 'threads'"), std::string::npos);
  EXPECT_EQ(far.find("did you mean"), std::string::npos);
}

TEST_F(CatalogTest, ValuesOutOfRangeOrMalformedAreRefused) {
  EXPECT_EQ(resolve_error({{"fill", "1.5"}}), "suite.yaml:14:7: workload khugepaged-collapse: fill=1.5 above max 1");
  EXPECT_EQ(resolve_error({{"fill", "-0.1"}}), "suite.yaml:14:7: workload khugepaged-collapse: fill=-0.1 below min 0");
  EXPECT_EQ(resolve_error({{"size", "1M"}}), "suite.yaml:14:7: workload khugepaged-collapse: size=1M below min 2M");
  EXPECT_EQ(resolve_error({{"size", "2G"}}), "suite.yaml:14:7: workload khugepaged-collapse: size=2G above max 1G");
  EXPECT_NE(resolve_error({{"size", "64Q"}}).find("size=64Q is not a size"), std::string::npos);
  EXPECT_NE(resolve_error({{"size", "-1"}}).find("is not a size"), std::string::npos);
  EXPECT_NE(resolve_error({{"scans", "two"}}).find("scans=two is not an integer"), std::string::npos);
  EXPECT_NE(resolve_error({{"scans", "2.5"}}).find("scans=2.5 is not an integer"), std::string::npos);
  EXPECT_NE(resolve_error({{"scans", "0"}}).find("scans=0 below min 1"), std::string::npos);
  EXPECT_NE(resolve_error({{"scans", "99999999999999999999"}}).find("is not an integer"), std::string::npos);
  EXPECT_NE(resolve_error({{"fill", "nan"}}).find("fill=nan is not a number"), std::string::npos);
  EXPECT_NE(resolve_error({{"fill", "inf"}}).find("is not a number"), std::string::npos);
  EXPECT_NE(resolve_error({{"fill", "1e400"}}).find("is not a number"), std::string::npos);
  EXPECT_NE(resolve_error({{"fill", " 0.5"}}).find("is not a number"), std::string::npos);
  EXPECT_NE(resolve_error({{"shared", "maybe"}}).find("shared=maybe is not a bool"), std::string::npos);
  EXPECT_NE(resolve_error({{"pattern", "diagonal"}}).find("pattern=diagonal is not one of contiguous, strided, random"),
            std::string::npos);
}

TEST_F(CatalogTest, ControlCharactersAndOddKeysAreRefused) {
  const std::string newline = resolve_error({{"label", "a\nb"}});
  EXPECT_NE(newline.find("label=a\\x0ab contains control characters"), std::string::npos) << newline;
  EXPECT_NE(resolve_error({{"label", std::string("x\0y", 3)}}).find("contains control characters"), std::string::npos);
  EXPECT_NE(resolve_error({{"label", std::string(5000, 'x')}}).find("longer than 4096 bytes"), std::string::npos);
  EXPECT_NE(resolve_error({{"si=ze", "1"}}).find("unknown parameter 'si=ze'"), std::string::npos);
  EXPECT_NE(resolve_error({{"size\x1b", "1"}}).find("unknown parameter 'size\\x1b'"), std::string::npos);
  // A string with shell metacharacters is fine: it is one argv element, never a shell word.
  auto r = resolve(collapse(), {{"label", "$(reboot); `x` 'q' \"z\" a b"}}, "w");
  EXPECT_EQ(r.params.at("label"), "$(reboot); `x` 'q' \"z\" a b");
  EXPECT_NE(std::find(r.argv.begin(), r.argv.end(), "--label=$(reboot); `x` 'q' \"z\" a b"), r.argv.end());
}

struct DescriptorCase {
  const char* what;
  const char* text;
  const char* expected;  // exact message after "<file>:"
};

class DescriptorErrors : public CatalogTest, public ::testing::WithParamInterface<DescriptorCase> {};

TEST_P(DescriptorErrors, NameFileLineAndColumn) {
  const std::string message = descriptor_error(GetParam().text);
  EXPECT_EQ(message, path_of("khugepaged-collapse.yaml") + ":" + GetParam().expected) << GetParam().what;
}

const DescriptorCase kDescriptorCases[] = {
    {"unknown top-level key", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\ndeadlin: 2s\n",
     "4:1: unknown key 'deadlin' in descriptor (known: name, summary, deadline, trace, params, metrics)"},
    {"missing deadline", "name: khugepaged-collapse\nsummary: s\n", "1:1: missing key 'deadline'"},
    {"bad deadline", "name: khugepaged-collapse\nsummary: s\ndeadline: soon\n",
     "3:11: deadline must be a positive duration such as 90s, 5m or 1h"},
    {"zero deadline", "name: khugepaged-collapse\nsummary: s\ndeadline: 0s\n",
     "3:11: deadline must be a positive duration such as 90s, 5m or 1h"},
    {"name differs from file", "name: khugepaged\nsummary: s\ndeadline: 1s\n",
     "1:7: workload name 'khugepaged' differs from the file name 'khugepaged-collapse.yaml'"},
    {"name is a list", "name: [a]\nsummary: s\ndeadline: 1s\n", "1:7: 'name' must be a single value"},
    {"duplicate key", "name: khugepaged-collapse\nsummary: s\nsummary: t\ndeadline: 1s\n",
     "3:1: key 'summary' given twice"},
    {"unknown param key",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  size: {type: size, defualt: 64M}\n",
     "5:22: unknown key 'defualt' in parameter size (known: type, default, min, max, values, help)"},
    {"unknown type", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  size: {type: integer, default: 1}\n",
     "5:16: unknown type 'integer' (known: size, int, float, bool, enum, string)"},
    {"no default", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  size: {type: size}\n",
     "5:9: parameter 'size' has no default"},
    {"default above max",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  fill: {type: float, default: 2, max: 1}\n",
     "5:32: default fill=2 above max 1"},
    {"default not a size",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  size: {type: size, default: big}\n",
     "5:31: default size=big is not a size (e.g. 4096, 64K, 2M, 1G)"},
    {"min above max",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  n: {type: int, default: 1, min: 5, max: 2}\n",
     "5:43: max is below min"},
    {"min on a bool",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  b: {type: bool, default: true, min: 0}\n",
     "5:39: 'min' applies to size, int and float parameters only"},
    {"int min not an integer",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  n: {type: int, default: 1, min: 0.5}\n",
     "5:35: min '0.5' is not an integer"},
    {"enum without values",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  p: {type: enum, default: a}\n",
     "5:6: enum parameter 'p' has no values"},
    {"enum default not a value",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  p: {type: enum, values: [a, b], default: c}\n",
     "5:44: default p=c is not one of a, b"},
    {"values on an int",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  n: {type: int, default: 1, values: [1]}\n",
     "5:38: 'values' applies to enum parameters only"},
    {"bad metric name", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nmetrics:\n  wl.x..y: {unit: ms, kind: value, direction: lower}\n",
     "5:3: metric name 'wl.x..y' must be lowercase letters, digits and '_', with '.'-separated suffixes such as .64kB"},
    {"bad param name", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  Size: {type: int, default: 1}\n",
     "5:3: parameter name 'Size' must be lowercase letters, digits and '_'"},
    {"param not a mapping", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nparams:\n  size: 64M\n",
     "5:9: parameter size must be a mapping"},
    {"unknown metric kind",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nmetrics:\n  x: {unit: ms, kind: rate, direction: lower}\n",
     "5:23: unknown kind 'rate' (known: counter, gauge, value)"},
    {"unknown direction",
     "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nmetrics:\n  x: {unit: ms, kind: value, direction: up}\n",
     "5:41: unknown direction 'up' (known: higher, lower, neutral)"},
    {"metric without unit", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\nmetrics:\n  x: {kind: value, direction: up}\n",
     "5:6: metric 'x' has no unit"},
    {"bad tracepoint", "name: khugepaged-collapse\nsummary: s\ndeadline: 1s\ntrace: [mm_khugepaged_scan_pmd]\n",
     "4:9: tracepoint 'mm_khugepaged_scan_pmd' is not <subsystem>/<event>"},
    {"not a mapping", "- a\n- b\n", "1:1: a workload descriptor must be a mapping (name, summary, deadline, ...)"},
};

INSTANTIATE_TEST_SUITE_P(Descriptors, DescriptorErrors, ::testing::ValuesIn(kDescriptorCases));

TEST_F(CatalogTest, YamlSyntaxErrorsNameTheirPosition) {
  const std::string message = descriptor_error("name: khugepaged-collapse\nsummary: [unclosed\ndeadline: 1s\n");
  EXPECT_EQ(message.rfind(path_of("khugepaged-collapse.yaml") + ":", 0), 0u) << message;
  EXPECT_NE(message.find(":3:9: end of sequence flow not found"), std::string::npos) << message;
}

TEST_F(CatalogTest, EmptyFileIsAnError) {
  EXPECT_EQ(descriptor_error(""), path_of("khugepaged-collapse.yaml") +
                                      ": a workload descriptor must be a mapping (name, summary, deadline, ...)");
}

TEST_F(CatalogTest, LoadsADirectoryInNameOrder) {
  write("khugepaged-collapse.yaml", kCollapse);
  write("b-swap.yaml", "name: b-swap\nsummary: swap\ndeadline: 90s\n");
  write("README.md", "not a descriptor");
  fs::create_directory(dir_.path() / "lib");
  Catalog catalog = Catalog::load(dir_.path());
  EXPECT_EQ(catalog.names(), (std::vector<std::string>{"b-swap", "khugepaged-collapse"}));
  ASSERT_NE(catalog.find("b-swap"), nullptr);
  EXPECT_EQ(catalog.find("b-swap")->deadline_ms, 90000);
  EXPECT_EQ(catalog.find("nope"), nullptr);
  EXPECT_EQ(&catalog.require("khugepaged-collapse", "s:1:1"), catalog.find("khugepaged-collapse"));
  try {
    catalog.require("khugepaged", "suite.yaml:9:15");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "suite.yaml:9:15: unknown workload 'khugepaged' (known: b-swap, khugepaged-collapse)");
  }
}

TEST_F(CatalogTest, OneBadDescriptorFailsTheLoadNamingIt) {
  write("khugepaged-collapse.yaml", kCollapse);
  write("broken.yaml", "name: broken\nsummary: s\n");
  try {
    Catalog::load(dir_.path());
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), path_of("broken.yaml") + ":1:1: missing key 'deadline'");
  }
}

TEST_F(CatalogTest, MissingDirectoryIsAUsageError) {
  EXPECT_THROW(Catalog::load(dir_.path() / "absent"), UsageError);
}

TEST_F(CatalogTest, DuplicateNamesAreRefused) {
  WorkloadSpec a = collapse();
  WorkloadSpec b = a;
  EXPECT_THROW(Catalog::from_specs({a, b}), UsageError);
}

TEST(CatalogDefaults, WorkloadsDirFollowsFoliolabDataDir) {
  ::setenv("FOLIOLAB_DATA_DIR", "/opt/foliolab-data", 1);
  EXPECT_EQ(default_workloads_dir(), fs::path("/opt/foliolab-data/workloads"));
  ::unsetenv("FOLIOLAB_DATA_DIR");
  EXPECT_EQ(default_workloads_dir().filename(), "workloads");
  EXPECT_TRUE(default_workloads_dir().is_absolute());
}

TEST(CatalogDefaults, TypeNamesRoundTrip) {
  for (auto t : {ParamType::kSize, ParamType::kInt, ParamType::kFloat, ParamType::kBool, ParamType::kEnum,
                 ParamType::kString}) {
    EXPECT_EQ(param_type_from_string(to_string(t)), t);
  }
  EXPECT_FALSE(param_type_from_string("integer"));
}

// The descriptors shipped in workloads/ must all be valid, and every default must resolve.
TEST(ShippedDescriptors, AllLoadAndResolveWithTheirDefaults) {
  const fs::path dir = fs::path(FOLIOLAB_SOURCE_DIR) / "workloads";
  Catalog catalog = Catalog::load(dir);
  EXPECT_FALSE(catalog.all().empty());
  for (const auto& spec : catalog.all()) {
    SCOPED_TRACE(spec.name);
    EXPECT_GT(spec.deadline_ms, 0);
    EXPECT_FALSE(spec.summary.empty());
    ResolvedWorkload r = resolve(spec, {}, spec.descriptor.string());
    EXPECT_EQ(r.argv.size(), spec.params.size() + 1);
    EXPECT_EQ(r.argv.front(), "/workloads/" + spec.name);
  }
}

}  // namespace
}  // namespace foliolab::catalog
