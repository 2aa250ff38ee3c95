#include "runner/schedule.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <set>

#include "common/fs.h"
#include "store/result_store.h"

namespace foliolab::runner {
namespace {
namespace fs = std::filesystem;

constexpr std::uint64_t GiB = 1ull << 30;
constexpr std::uint64_t MiB = 1ull << 20;

TEST(PoolSize, DefaultsToOneGuestPerCore) {
  EXPECT_EQ(pool_size({.requested = 0, .cores = 8, .mem_available = 0, .guest_memory = 2 * GiB, .jobs = 100}).workers, 8);
}

TEST(PoolSize, ExplicitJobsWinOverCores) {
  auto p = pool_size({.requested = 3, .cores = 8, .mem_available = 64 * GiB, .guest_memory = 2 * GiB, .jobs = 100});
  EXPECT_EQ(p.workers, 3);
  EXPECT_EQ(p.why, "-j 3");
}

TEST(PoolSize, BoundedByAvailableMemoryWithOverheadPerGuest) {
  // 2 GiB guest + 300 MiB overhead = 2348 MiB; 7 GiB available fits 3, not 4 (which 2 GiB alone would).
  auto p = pool_size({.requested = 8, .cores = 8, .mem_available = 7 * GiB, .guest_memory = 2 * GiB, .jobs = 100});
  EXPECT_EQ(p.workers, 3);
  EXPECT_NE(p.why.find("memory"), std::string::npos);
  // Exactly enough for two guests with their overhead.
  EXPECT_EQ(pool_size({.requested = 8, .cores = 8, .mem_available = 2 * (2 * GiB + 300 * MiB),
                       .guest_memory = 2 * GiB, .jobs = 100})
                .workers,
            2);
}

TEST(PoolSize, AtLeastOneGuestEvenWhenNoneFits) {
  EXPECT_EQ(pool_size({.requested = 4, .cores = 4, .mem_available = GiB, .guest_memory = 2 * GiB, .jobs = 10}).workers, 1);
}

TEST(PoolSize, NeverMoreWorkersThanJobs) {
  EXPECT_EQ(pool_size({.requested = 0, .cores = 16, .mem_available = 0, .guest_memory = 2 * GiB, .jobs = 2}).workers, 2);
  EXPECT_EQ(pool_size({.requested = 0, .cores = 0, .mem_available = 0, .guest_memory = 0, .jobs = 0}).workers, 1);
}

TEST(PoolSize, HostMemAvailableReadsProcMeminfo) {
  auto avail = host_mem_available();
  ASSERT_TRUE(avail.has_value());
  EXPECT_GT(*avail, 16 * MiB);
}

class JobSelection : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<common::TemporaryDirectory>(fs::temp_directory_path(), "foliolab-runner");
    fs::create_directories(dir_->path() / "workloads");
    std::ofstream(dir_->path() / "workloads" / "probe.yaml")
        << "name: probe\nsummary: test\ndeadline: 60s\nparams:\n  size: {type: size, default: 16M}\n"
           "metrics:\n  ok: {unit: count, kind: value, direction: higher}\n";
    catalog_ = catalog::Catalog::load(dir_->path() / "workloads");
    suite_ = config::parse_suite(
        "name: s\nkernels: {base: {}, patched: {base: base}}\narches: [x86_64, arm64]\n"
        "guest: {khugepaged: {max_ptes_none: [0, 511]}}\n"
        "workloads: [{name: small, workload: probe, params: {size: 8M}}, {name: big, workload: probe}]\n"
        "repetitions: 2\n",
        dir_->path() / "s.yaml");
    plan::Inputs inputs;
    inputs.artifact_key = [](const config::KernelVariant& k, config::Arch a) { return k.name + config::to_string(a); };
    inputs.machine = [](config::Arch a) { return std::string("m-") + config::to_string(a); };
    jobs_ = plan::make_plan(suite_, catalog_, inputs);
  }
  std::unique_ptr<common::TemporaryDirectory> dir_;
  catalog::Catalog catalog_;
  config::Suite suite_;
  std::vector<plan::Job> jobs_;
};

TEST_F(JobSelection, NoGlobSelectsEveryJobInPlanOrder) {
  ASSERT_EQ(jobs_.size(), 2u * 2 * 2 * 2 * 2);
  auto all = filter_jobs(jobs_, {});
  ASSERT_EQ(all.size(), jobs_.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], &jobs_[i]);
}

TEST_F(JobSelection, GlobMatchesDescribeText) {
  auto sel = filter_jobs(jobs_, {"patched arm64 *"});
  ASSERT_EQ(sel.size(), 8u);
  for (const auto* j : sel) {
    EXPECT_EQ(j->kernel->name, "patched");
    EXPECT_EQ(j->arch, config::Arch::kArm64);
  }
  // The swept knob is part of the text; several globs select the union, order kept.
  auto swept = filter_jobs(jobs_, {"*max_ptes_none=0*", "base x86_64 big #1*"});
  std::size_t zero = 0;
  for (const auto* j : swept) zero += j->settings.label == "khugepaged.max_ptes_none=0";
  EXPECT_EQ(zero, 16u);
  EXPECT_EQ(swept.size(), 17u);  // + base x86_64 big #1 with max_ptes_none=511
  for (std::size_t i = 1; i < swept.size(); ++i) EXPECT_LT(swept[i - 1], swept[i]);
  EXPECT_TRUE(filter_jobs(jobs_, {"nothing*"}).empty());
}

TEST_F(JobSelection, ResumeSkipsExactlyTheStoredKeys) {
  // A real store with some runs in it: pending is everything else, in plan order.
  common::TemporaryDirectory results(fs::temp_directory_path(), "foliolab-runner-store");
  store::ResultStore store(results.path() / "s");
  std::set<std::string> stored;
  for (std::size_t i = 0; i < jobs_.size(); i += 3) {
    store::RunManifest m;
    m.suite = "s";
    m.job_key = jobs_[i].key;
    m.outcome = "ok";
    m.arch = "x86_64";
    store.write_run(m, "", "");
    stored.insert(jobs_[i].key);
  }
  // An interrupted writer's temporary folder does not count as a run.
  fs::create_directories(store.runs_dir() / (".tmp-" + jobs_[1].key + "-1-0"));
  auto all = filter_jobs(jobs_, {});
  auto pending = pending_jobs(all, [&](const std::string& key) { return store.has_run(key); });
  EXPECT_EQ(pending.size(), jobs_.size() - stored.size());
  std::set<std::string> seen;
  for (const auto* j : pending) {
    EXPECT_FALSE(stored.count(j->key)) << j->describe();
    EXPECT_TRUE(seen.insert(j->key).second);
  }
  EXPECT_EQ(pending.front()->key, jobs_[1].key);
  for (std::size_t i = 1; i < pending.size(); ++i) EXPECT_LT(pending[i - 1], pending[i]);
  // Stored and pending together are the whole plan, each key once.
  EXPECT_EQ(seen.size() + stored.size(), jobs_.size());
}

// A results folder written before job keys named the variant, for an A/A suite (one kernel under
// two names): each recipe-1 key held the run of whichever variant wrote last. Resume moves each
// such run to its own variant's key and leaves the overwritten variant's job pending.
TEST_F(JobSelection, ResumeAdoptsRunsStoredUnderTheOldKeyRecipe) {
  auto aa = config::parse_suite(
      "name: aa\nkernels: {base: {}, twin: {base: base}}\narches: [x86_64]\n"
      "workloads: [{workload: probe}]\nrepetitions: 2\n",
      dir_->path() / "aa.yaml");
  plan::Inputs inputs;
  inputs.artifact_key = [](const config::KernelVariant&, config::Arch) { return std::string("one-kernel"); };
  inputs.machine = [](config::Arch) { return std::string("m"); };
  const auto jobs = plan::make_plan(aa, catalog_, inputs);
  ASSERT_EQ(jobs.size(), 4u);  // (base, twin) x 2 repetitions
  common::TemporaryDirectory results(fs::temp_directory_path(), "foliolab-runner-store");
  store::ResultStore store(results.path() / "aa");
  // Repetition 0: twin wrote last; repetition 1: base did.
  for (const auto& j : jobs) {
    const bool last_writer = (j.repetition == 0) == (j.kernel->name == "twin");
    if (!last_writer) continue;
    store::RunManifest m;
    m.suite = "aa";
    m.job_key = plan::job_key(j, 1);
    m.kernel.variant = j.kernel->name;
    m.repetition = j.repetition;
    m.outcome = "ok";
    m.arch = "x86_64";
    store.write_run(m, "", "");
  }
  auto all = filter_jobs(jobs, {});
  EXPECT_EQ(adopt_recipe1_runs(store, all), 2u);
  for (const auto& j : jobs) {
    const bool last_writer = (j.repetition == 0) == (j.kernel->name == "twin");
    EXPECT_EQ(store.has_run(j.key), last_writer) << j.describe();
    EXPECT_FALSE(store.has_run(plan::job_key(j, 1))) << j.describe();
    if (last_writer) {
      EXPECT_EQ(store.read_manifest(j.key)->kernel.variant, j.kernel->name);
    }
  }
  EXPECT_EQ(pending_jobs(all, [&](const std::string& key) { return store.has_run(key); }).size(), 2u);
  EXPECT_EQ(adopt_recipe1_runs(store, all), 0u) << "a second resume moves nothing";
}

}  // namespace
}  // namespace foliolab::runner
