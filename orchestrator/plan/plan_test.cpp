#include "plan/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::plan {
namespace {
namespace fs = std::filesystem;

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<common::TemporaryDirectory>(fs::temp_directory_path(), "foliolab-plan");
    fs::create_directories(dir_->path() / "workloads");
    std::ofstream(dir_->path() / "workloads" / "probe.yaml")
        << "name: probe\nsummary: test\ndeadline: 60s\nparams:\n  size: {type: size, default: 16M}\n"
           "metrics:\n  ok: {unit: count, kind: value, direction: higher}\n";
    catalog_ = catalog::Catalog::load(dir_->path() / "workloads");
    inputs_.artifact_key = [](const config::KernelVariant& k, config::Arch a) {
      return k.name + "-" + config::to_string(a);
    };
    inputs_.machine = [](config::Arch a) { return std::string("qemu-") + config::to_string(a); };
  }
  config::Suite suite(const std::string& extra_guest, int reps = 2) {
    return config::parse_suite("name: s\nkernels: {a: {}, b: {base: a}}\narches: [x86_64, arm64]\n"
                               "guest: {" + extra_guest + "}\nworkloads: [{workload: probe, params: {size: 8M}}]\n"
                               "repetitions: " + std::to_string(reps) + "\n",
                               dir_->path() / "s.yaml");
  }
  std::unique_ptr<common::TemporaryDirectory> dir_;
  catalog::Catalog catalog_;
  Inputs inputs_;
};

TEST_F(PlanTest, ListsExpandAsACartesianProduct) {
  auto s = suite("khugepaged: {max_ptes_none: [0, 511]}, thp: {enabled: [always, madvise, never]}");
  auto points = expand_settings(s.guest);
  ASSERT_EQ(points.size(), 6u);
  std::set<std::string> ids, labels;
  for (const auto& p : points) {
    ids.insert(p.id);
    labels.insert(p.label);
    EXPECT_EQ(p.guest.khugepaged.at("max_ptes_none").size(), 1u);
    EXPECT_EQ(p.guest.thp.at("enabled").size(), 1u);
  }
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_TRUE(labels.count("thp.enabled=always,khugepaged.max_ptes_none=0"));
  EXPECT_TRUE(labels.count("thp.enabled=never,khugepaged.max_ptes_none=511"));
}

TEST_F(PlanTest, NoSweepGivesOnePointWithoutLabel) {
  auto points = expand_settings(suite("cpus: 1").guest);
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].label, "");
}

TEST_F(PlanTest, MatrixSizeKeysAndInterleaving) {
  auto s = suite("khugepaged: {max_ptes_none: [0, 511]}", 3);
  auto jobs = make_plan(s, catalog_, inputs_);
  ASSERT_EQ(jobs.size(), 2u * 2u * 2u * 3u);  // kernels x arches x settings x repetitions
  std::set<std::string> keys;
  for (const auto& j : jobs) keys.insert(j.key);
  EXPECT_EQ(keys.size(), jobs.size()) << "every job has its own key";
  for (size_t i = 0; i + 1 < jobs.size(); i += 2) {
    EXPECT_EQ(jobs[i].kernel->name, "a");
    EXPECT_EQ(jobs[i + 1].kernel->name, "b") << "variants alternate";
  }
  EXPECT_EQ(jobs[0].repetition, 0);
  EXPECT_EQ(jobs.back().repetition, 2);
  EXPECT_EQ(jobs[0].resolved.argv.at(0), "/workloads/probe");
  EXPECT_EQ(jobs[0].step.deadline_s, 60);
  EXPECT_EQ(jobs[0].step.argv, jobs[0].resolved.argv);
}

TEST_F(PlanTest, SameInputsSameKeysAndEveryInputMatters) {
  auto s = suite("cpus: 2");
  auto a = make_plan(s, catalog_, inputs_);
  auto b = make_plan(s, catalog_, inputs_);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].key, b[i].key);
  auto other = make_plan(suite("cpus: 1"), catalog_, inputs_);
  EXPECT_NE(a[0].key, other[0].key) << "guest settings";
  Inputs changed = inputs_;
  changed.artifact_key = [](const config::KernelVariant& k, config::Arch) { return k.name + "-rebuilt"; };
  EXPECT_NE(a[0].key, make_plan(s, catalog_, changed)[0].key) << "kernel artifact";
  changed = inputs_;
  changed.machine = [](config::Arch) { return std::string("other-machine"); };
  EXPECT_NE(a[0].key, make_plan(s, catalog_, changed)[0].key) << "machine profile";
}

// An A/A suite: one kernel under two names. Every job keeps its own key (the variant is part
// of it), while recipe 1, which omitted the variant, gave both variants the same keys.
TEST_F(PlanTest, VariantsThatBuildTheSameKernelHaveDistinctKeys) {
  Inputs same_kernel = inputs_;
  same_kernel.artifact_key = [](const config::KernelVariant&, config::Arch a) {
    return std::string("one-kernel-") + config::to_string(a);
  };
  const auto aa = suite("cpus: 2", 5);  // jobs point into the suite: it must outlive them
  auto jobs = make_plan(aa, catalog_, same_kernel);
  ASSERT_EQ(jobs.size(), 2u * 2u * 5u);
  std::set<std::string> keys, legacy;
  for (const auto& j : jobs) {
    keys.insert(j.key);
    legacy.insert(job_key(j, 1));
    EXPECT_EQ(j.key, job_key(j, kJobKeyRecipe));
  }
  EXPECT_EQ(keys.size(), jobs.size());
  EXPECT_EQ(legacy.size(), jobs.size() / 2) << "recipe 1 collided exactly for the twin variant";
}

// A swap measurement keeps khugepaged asleep while the collapse workload beside it scans every
// 10 ms and sweeps max_ptes_none: the override replaces the sweep for its own jobs only.
TEST_F(PlanTest, WorkloadKnobsReplaceTheSuitesForThatWorkloadOnly) {
  auto s = config::parse_suite(
      "name: s\nkernels: {a: {}}\narches: [x86_64]\n"
      "guest: {khugepaged: {scan_sleep_millisecs: 10, max_ptes_none: [0, 511]}}\n"
      "workloads:\n  - {name: collapse, workload: probe}\n"
      "  - {name: swap, workload: probe, guest: {khugepaged: {scan_sleep_millisecs: 60000, max_ptes_none: 511}}}\n"
      "repetitions: 1\n",
      dir_->path() / "s.yaml");
  auto jobs = make_plan(s, catalog_, inputs_);
  ASSERT_EQ(jobs.size(), 3u);  // collapse at two points, swap at one
  std::set<std::string> keys;
  for (const auto& j : jobs) {
    keys.insert(j.key);
    const auto& k = j.settings.guest.khugepaged;
    if (j.workload->name == "swap") {
      EXPECT_EQ(k.at("scan_sleep_millisecs"), config::SettingValues{"60000"});
      EXPECT_EQ(k.at("max_ptes_none"), config::SettingValues{"511"});
      EXPECT_EQ(j.settings.label, "");
    } else {
      EXPECT_EQ(k.at("scan_sleep_millisecs"), config::SettingValues{"10"});
      EXPECT_EQ(j.settings.label.rfind("khugepaged.max_ptes_none=", 0), 0u) << j.settings.label;
    }
  }
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(jobs[0].workload->name, "collapse");
  EXPECT_EQ(jobs[1].workload->name, "swap");  // points interleave with workloads as before
  EXPECT_EQ(jobs[2].workload->name, "collapse");
}

TEST_F(PlanTest, UnknownWorkloadNamesTheSuiteLocation) {
  auto s = config::parse_suite("name: s\nkernels: {a: {}}\narches: [x86_64]\nworkloads:\n  - {workload: nope}\n",
                               dir_->path() / "s.yaml");
  try {
    make_plan(s, catalog_, inputs_);
    FAIL();
  } catch (const common::UsageError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("s.yaml:5:5: workloads[].workload: no workload named 'nope' (known: probe)"));
  }
}

}  // namespace
}  // namespace foliolab::plan
