#include "image/job.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace foliolab::image {
namespace {

config::GuestSettings sample_guest() {
  config::GuestSettings g;
  g.thp["enabled"] = {"always"};
  g.thp["defrag"] = {"madvise"};
  g.thp_sizes["64kB"] = {"inherit"};
  g.thp_sizes["1024kB"] = {"never"};
  g.thp_sizes["16kB"] = {"always"};
  g.khugepaged["max_ptes_none"] = {"511"};
  g.khugepaged["scan_sleep_millisecs"] = {"10"};
  g.sysctl["vm.swappiness"] = {"100"};
  g.swap.zram_bytes = 512ull << 20;
  g.swap.zram_algorithm = "lz4";
  g.trace = {"huge_memory/mm_khugepaged_scan_pmd"};
  g.sample_ms = 100;
  return g;
}

const KnobSetting* find(const std::vector<KnobSetting>& settings, const std::string& name) {
  for (const auto& s : settings)
    if (s.name == name) return &s;
  return nullptr;
}

size_t index_of(const std::vector<KnobSetting>& settings, const std::string& name) {
  for (size_t i = 0; i < settings.size(); ++i)
    if (settings[i].name == name) return i;
  return settings.size();
}

TEST(KnobSettings, EachKnobGoesToItsKernelFile) {
  auto s = knob_settings(sample_guest());
  ASSERT_NE(find(s, "thp.enabled"), nullptr);
  EXPECT_EQ(find(s, "thp.enabled")->path, "/sys/kernel/mm/transparent_hugepage/enabled");
  EXPECT_EQ(find(s, "thp.enabled")->value, "always");
  EXPECT_EQ(find(s, "thp.defrag")->path, "/sys/kernel/mm/transparent_hugepage/defrag");
  ASSERT_NE(find(s, "thp.hugepages-64kB.enabled"), nullptr);
  EXPECT_EQ(find(s, "thp.hugepages-64kB.enabled")->path,
            "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled");
  EXPECT_EQ(find(s, "thp.hugepages-64kB.enabled")->value, "inherit");
  EXPECT_EQ(find(s, "khugepaged.max_ptes_none")->path,
            "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none");
  EXPECT_EQ(find(s, "khugepaged.scan_sleep_millisecs")->value, "10");
  EXPECT_EQ(find(s, "sysctl.vm.swappiness")->path, "/proc/sys/vm/swappiness");
  for (const auto& k : s) EXPECT_FALSE(k.absent_ok && k.name != "zswap.enabled") << k.name;
}

TEST(KnobSettings, ZswapIsOffFirstAndMayBeAbsent) {
  auto s = knob_settings(sample_guest());
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[0].name, "zswap.enabled");
  EXPECT_EQ(s[0].path, "/sys/module/zswap/parameters/enabled");
  EXPECT_EQ(s[0].value, "N");
  EXPECT_TRUE(s[0].absent_ok);
  auto g = sample_guest();
  g.zswap = true;
  auto on = knob_settings(g);
  EXPECT_EQ(on[0].value, "Y");
  EXPECT_FALSE(on[0].absent_ok);  // asked for and missing is an error
}

TEST(KnobSettings, OrderIsGlobalThenSizesBySizeThenKhugepagedThenSysctl) {
  auto s = knob_settings(sample_guest());
  EXPECT_LT(index_of(s, "thp.enabled"), index_of(s, "thp.hugepages-16kB.enabled"));
  EXPECT_LT(index_of(s, "thp.hugepages-16kB.enabled"), index_of(s, "thp.hugepages-64kB.enabled"));
  EXPECT_LT(index_of(s, "thp.hugepages-64kB.enabled"), index_of(s, "thp.hugepages-1024kB.enabled"));
  EXPECT_LT(index_of(s, "thp.hugepages-1024kB.enabled"), index_of(s, "khugepaged.max_ptes_none"));
  EXPECT_LT(index_of(s, "khugepaged.max_ptes_none"), index_of(s, "sysctl.vm.swappiness"));
  EXPECT_EQ(s.size(), 9u);
}

TEST(KnobSettings, UnknownKnobIsAUsageErrorNamingIt) {
  auto g = sample_guest();
  g.khugepaged["max_ptes_huge"] = {"1"};
  try {
    knob_settings(g);
    FAIL();
  } catch (const common::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("khugepaged.max_ptes_huge"), std::string::npos) << e.what();
  }
  auto t = sample_guest();
  t.thp["hpage_pmd_size"] = {"2097152"};  // read-only: never a setting
  EXPECT_THROW(knob_settings(t), common::UsageError);
}

TEST(KnobSettings, SysctlNamesCannotEscapeProcSys) {
  for (const char* bad : {"vm..swappiness", "../etc/passwd", "vm/swappiness", "vm.", ".vm", "vm.a b"}) {
    auto g = sample_guest();
    g.sysctl.clear();
    g.sysctl[bad] = {"1"};
    EXPECT_THROW(knob_settings(g), common::UsageError) << bad;
  }
  auto g = sample_guest();
  g.sysctl.clear();
  g.sysctl["vm.dirty_ratio"] = {"5"};
  EXPECT_EQ(find(knob_settings(g), "sysctl.vm.dirty_ratio")->path, "/proc/sys/vm/dirty_ratio");
}

TEST(KnobSettings, ValuesAreOneLine) {
  auto g = sample_guest();
  g.thp["enabled"] = {"always\nnever"};
  EXPECT_THROW(knob_settings(g), common::UsageError);
}

TEST(KnobSettings, SeveralValuesForOneKnobIsAnInternalError) {
  auto g = sample_guest();
  g.thp["enabled"] = {"always", "never"};
  EXPECT_THROW(knob_settings(g), common::InfraError);
}

TEST(KnobSettings, LocationPrefixesErrors) {
  auto g = sample_guest();
  g.where = {"suite.yaml", 12, 5};
  g.thp["nonsense"] = {"1"};
  try {
    knob_settings(g);
    FAIL();
  } catch (const common::UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("suite.yaml:12:5: ", 0), 0u) << e.what();
  }
}

TEST(ThpSizeDirName, AcceptsKernelAndHumanSpellings) {
  EXPECT_EQ(thp_size_dir_name("64kB"), "64kB");
  EXPECT_EQ(thp_size_dir_name("64K"), "64kB");
  EXPECT_EQ(thp_size_dir_name("2M"), "2048kB");
  EXPECT_EQ(thp_size_dir_name("2048kB"), "2048kB");
  EXPECT_THROW(thp_size_dir_name("huge"), common::UsageError);
  EXPECT_THROW(thp_size_dir_name("0kB"), common::UsageError);
  EXPECT_THROW(thp_size_dir_name("1000"), common::UsageError);  // not whole kB
}

TEST(TraceEvent, DefaultFieldIsWhereTheEventPrintsItsOutcome) {
  EXPECT_EQ(parse_trace_event("huge_memory/mm_khugepaged_scan_pmd").field, "status");
  EXPECT_EQ(parse_trace_event("huge_memory/mm_collapse_huge_page_swapin").field, "ret");
  EXPECT_EQ(parse_trace_event("huge_memory/mm_khugepaged_scan_file").field, "result");
  EXPECT_EQ(parse_trace_event("kmem/mm_page_alloc").field, "status");
  auto explicit_field = parse_trace_event("kmem/mm_page_alloc:order");
  EXPECT_EQ(explicit_field.event, "kmem/mm_page_alloc");
  EXPECT_EQ(explicit_field.field, "order");
  for (const char* bad : {"mm_khugepaged_scan_pmd", "huge_memory/", "/x", "a/b/c", "a/b:", "a/b:c d", "../x/y"})
    EXPECT_THROW(parse_trace_event(bad), common::UsageError) << bad;
}

Job sample_job() {
  Job job;
  job.job_key = "3f2a";
  job.guest = sample_guest();
  JobStep collapse;
  collapse.name = "collapse-full";
  collapse.workload = "khugepaged-collapse";
  collapse.argv = {"/workloads/khugepaged-collapse", "--size=67108864", "--fill=1.0"};
  collapse.deadline_s = 120;
  collapse.trace = {"huge_memory/mm_khugepaged_scan_pmd", "huge_memory/mm_collapse_huge_page"};
  config::WorkloadEntry entry;
  entry.memcg_max = 256ull << 20;
  collapse.memcg = memcg_files(entry);
  collapse.cpus = "0-1";
  JobStep fault;
  fault.name = "fault";
  fault.workload = "thp-fault";
  fault.argv = {"/workloads/thp-fault"};
  fault.deadline_s = 30;
  job.steps = {collapse, fault};
  return job;
}

TEST(JobJson, FollowsProtocolSectionOne) {
  auto doc = job_json(sample_job());
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["job_key"], "3f2a");
  EXPECT_EQ(doc["sample_ms"], 100);
  ASSERT_TRUE(doc["settings"].is_array());
  EXPECT_EQ(doc["settings"][0]["name"], "zswap.enabled");
  EXPECT_EQ(doc["settings"][0]["absent_ok"], true);
  bool found = false;
  for (const auto& s : doc["settings"]) {
    if (s["name"] == "khugepaged.max_ptes_none") {
      found = true;
      EXPECT_EQ(s["path"], "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none");
      EXPECT_EQ(s["value"], "511");
      EXPECT_FALSE(s.contains("absent_ok"));
    }
  }
  EXPECT_TRUE(found);

  EXPECT_EQ(doc["swap"]["zram"]["size"], 536870912);
  EXPECT_EQ(doc["swap"]["zram"]["algorithm"], "lz4");
  EXPECT_EQ(doc["swap"]["zram"]["priority"], 100);
  EXPECT_TRUE(doc["swap"]["disk"].is_null());

  // Union of guest and step events, each once, in first-seen order.
  ASSERT_EQ(doc["trace"].size(), 2u);
  EXPECT_EQ(doc["trace"][0]["event"], "huge_memory/mm_khugepaged_scan_pmd");
  EXPECT_EQ(doc["trace"][0]["field"], "status");
  EXPECT_EQ(doc["trace"][1]["event"], "huge_memory/mm_collapse_huge_page");

  ASSERT_EQ(doc["steps"].size(), 2u);
  const auto& s0 = doc["steps"][0];
  EXPECT_EQ(s0["name"], "collapse-full");
  EXPECT_EQ(s0["workload"], "khugepaged-collapse");
  EXPECT_EQ(s0["argv"][0], "/workloads/khugepaged-collapse");
  EXPECT_EQ(s0["argv"][1], "--size=67108864");
  EXPECT_EQ(s0["deadline_s"], 120);
  EXPECT_EQ(s0["memcg"]["memory.max"], "268435456");
  EXPECT_EQ(s0["memcg"]["memory.swap.max"], "max");
  EXPECT_EQ(s0["cpus"], "0-1");
  EXPECT_TRUE(s0["mem_node"].is_null());
  const auto& s1 = doc["steps"][1];
  EXPECT_TRUE(s1["memcg"].is_null());
  EXPECT_TRUE(s1["cpus"].is_null());
}

TEST(JobJson, DiskSwapAndNoZram) {
  auto job = sample_job();
  job.guest.swap.zram_bytes.reset();
  job.guest.swap.disk_bytes = 1ull << 30;
  auto doc = job_json(job);
  EXPECT_TRUE(doc["swap"]["zram"].is_null());
  EXPECT_EQ(doc["swap"]["disk"]["serial"], "foliolab-swap");
  EXPECT_EQ(doc["swap"]["disk"]["priority"], 50);
}

TEST(JobJson, StepNamesAreSafeAndUnique) {
  auto job = sample_job();
  job.steps[1].name = "collapse-full";
  EXPECT_THROW(job_json(job), common::UsageError);
  job = sample_job();
  job.steps[1].name = "../escape";
  EXPECT_THROW(job_json(job), common::UsageError);
  job = sample_job();
  job.steps[1].argv = {"thp-fault"};  // not absolute
  EXPECT_THROW(job_json(job), common::InfraError);
}

TEST(JobJson, SameInputsSameText) {
  EXPECT_EQ(job_json(sample_job()).dump(), job_json(sample_job()).dump());
}

}  // namespace
}  // namespace foliolab::image

namespace foliolab::image {
namespace {

TEST(ApplySetting, CommandLineNamesReachTheSameKnobs) {
  config::GuestSettings g;
  apply_setting(g, "thp.enabled", "always");
  apply_setting(g, "thp.hugepages-64kB.enabled", "inherit");
  apply_setting(g, "thp.sizes.16K", "always");
  apply_setting(g, "khugepaged.max_ptes_none", "600");
  apply_setting(g, "sysctl.vm.swappiness", "100");
  apply_setting(g, "swap.zram", "512M");
  apply_setting(g, "swap.disk", "1G");
  apply_setting(g, "zswap", "off");
  apply_setting(g, "trace", "huge_memory/mm_collapse_huge_page");
  apply_setting(g, "sample_ms", "100");
  EXPECT_EQ(find(knob_settings(g), "trace_buffer_kb"), nullptr) << "the kernel's default unless asked";
  apply_setting(g, "trace_buffer_kb", "4");
  auto s = knob_settings(g);
  EXPECT_EQ(find(s, "trace_buffer_kb")->path, "/sys/kernel/tracing/buffer_size_kb");
  EXPECT_EQ(find(s, "trace_buffer_kb")->value, "4");
  EXPECT_TRUE(find(s, "trace_buffer_kb")->rounds_up) << "the kernel keeps whole pages: 4 reads back 7";
  EXPECT_FALSE(find(s, "thp.enabled")->rounds_up);
  EXPECT_EQ(find(s, "thp.enabled")->value, "always");
  EXPECT_EQ(find(s, "thp.hugepages-64kB.enabled")->value, "inherit");
  EXPECT_EQ(find(s, "thp.hugepages-16kB.enabled")->value, "always");
  EXPECT_EQ(find(s, "khugepaged.max_ptes_none")->value, "600");
  EXPECT_EQ(find(s, "sysctl.vm.swappiness")->value, "100");
  EXPECT_EQ(g.swap.zram_bytes, 512ull << 20);
  EXPECT_EQ(g.swap.disk_bytes, 1ull << 30);
  EXPECT_FALSE(g.zswap);
  EXPECT_EQ(g.trace.size(), 1u);
  EXPECT_EQ(g.sample_ms, 100);
  apply_setting(g, "thp.enabled", "never");  // replaces
  EXPECT_EQ(find(knob_settings(g), "thp.enabled")->value, "never");
}

TEST(ApplySetting, UnknownOrMalformedIsAUsageError) {
  config::GuestSettings g;
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"thp.bogus", "1"}, {"khugepaged.pages_collapsed", "1"}, {"sysctl.", "1"}, {"sysctl.../x", "1"},
           {"swap.zram", "lots"}, {"zswap", "maybe"}, {"trace", "nonsense"}, {"sample_ms", "1"}, {"trace_buffer_kb", "2"}, {"trace_buffer_kb", "4k"},
           {"thp.sizes.huge", "always"}, {"memory", "2G"}}) {
    EXPECT_THROW(apply_setting(g, name, value), common::UsageError) << name << "=" << value;
  }
}

}  // namespace
}  // namespace foliolab::image

namespace foliolab::image {
namespace {

catalog::Catalog test_catalog() {
  catalog::WorkloadSpec spec;
  spec.name = "khugepaged-collapse";
  spec.deadline_ms = 90'500;
  spec.trace = {"huge_memory/mm_khugepaged_scan_pmd"};
  catalog::ParamSpec size;
  size.name = "size";
  size.type = catalog::ParamType::kSize;
  size.default_value = "67108864";
  spec.params.push_back(size);
  return catalog::Catalog::from_specs({spec});
}

TEST(JobStep, ArgvFromTheCatalogDeadlineRoundedUpMemcgAndTrace) {
  config::WorkloadEntry entry;
  entry.name = "collapse-small";
  entry.workload = "khugepaged-collapse";
  entry.params = {{"size", "2M"}};
  entry.memcg_max = 128ull << 20;
  auto step = job_step(test_catalog(), entry);
  EXPECT_EQ(step.name, "collapse-small");
  EXPECT_EQ(step.workload, "khugepaged-collapse");
  ASSERT_EQ(step.argv.size(), 2u);
  EXPECT_EQ(step.argv[0], "/workloads/khugepaged-collapse");
  EXPECT_EQ(step.argv[1], "--size=2097152");  // canonical bytes
  EXPECT_EQ(step.deadline_s, 91);
  EXPECT_EQ(step.memcg.at("memory.max"), "134217728");
  EXPECT_EQ(step.trace, std::vector<std::string>{"huge_memory/mm_khugepaged_scan_pmd"});
  entry.deadline_ms = 5'000;
  EXPECT_EQ(job_step(test_catalog(), entry).deadline_s, 5);
}

TEST(JobStep, UnknownWorkloadOrParameterIsAUsageError) {
  config::WorkloadEntry entry;
  entry.name = "x";
  entry.workload = "no-such-workload";
  EXPECT_THROW(job_step(test_catalog(), entry), common::UsageError);
  entry.workload = "khugepaged-collapse";
  entry.params = {{"colour", "blue"}};
  EXPECT_THROW(job_step(test_catalog(), entry), common::UsageError);
}

}  // namespace
}  // namespace foliolab::image
