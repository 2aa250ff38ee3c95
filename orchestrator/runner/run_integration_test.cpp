// End to end: the real `foliolab run` on a small suite (x86_64, the Debian 6.12 base kernel
// that ci/test builds before ctest with `foliolab build examples/multiarch.yaml --kernel
// base`, thp-fault swept over two max_ptes_none values, two repetitions: four jobs).
//   (a) --dry-run lists the four jobs, says the kernel is cached, builds and stores nothing;
//   (b) a run is killed with SIGKILL after its first run folder appears, then --resume
//       completes it: every job key of the dry run is stored exactly once (run folders and
//       index.sqlite), every stored folder is complete, and the comparison covers exactly them.
// Every foliolab invocation has an outer deadline, so a hang fails the test instead of CI.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/process.h"
#include "common/test_binary.h"
#include "store/index.h"

namespace foliolab::runner {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string foliolab_bin() { return common::foliolab_test_binary(); }

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    suite_ = tmp_.path() / "run-it.yaml";
    std::ofstream(suite_) << "name: run-it\n"
                             "kernels:\n  base: {}\n"
                             "arches: [x86_64]\n"
                             "guest:\n  memory: 512M\n  cpus: 1\n  thp: {enabled: always}\n  khugepaged: {max_ptes_none: [0, 511]}\n"
                             "workloads:\n  - {name: fault, workload: thp-fault, params: {size: 4M}}\n"
                             "repetitions: 2\nbaseline: base\n";
    results_ = tmp_.path() / "results";
    // Guests' scratch folders (sockets, initrd) go here, so that QEMU processes this test
    // orphans by killing foliolab can be found and ended.
    fs::create_directories(tmp_.path() / "tmp");
  }
  void TearDown() override { kill_orphaned_guests(); }

  std::map<std::string, std::string> env() const { return {{"TMPDIR", (tmp_.path() / "tmp").string()}}; }

  common::ProcessResult foliolab(std::vector<std::string> args, std::chrono::seconds deadline) {
    args.insert(args.begin(), foliolab_bin());
    common::ProcessOptions options;
    options.timeout = deadline;
    options.env = env();
    return common::run_process(args, options);
  }

  // Complete run folders (not an interrupted writer's .tmp-) and whether each has a manifest.
  std::vector<std::string> stored_runs() const {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(results_ / "runs", ec)) return out;
    for (const auto& e : fs::directory_iterator(results_ / "runs")) {
      std::string name = e.path().filename().string();
      if (name.rfind(".tmp-", 0) == 0) continue;
      out.push_back(name);
    }
    return out;
  }

  // QEMU processes of this test (their command lines name its scratch folder), zombies aside.
  std::vector<pid_t> guests_alive() const {
    const std::string marker = (tmp_.path() / "tmp").string();
    std::vector<pid_t> out;
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream f(e.path() / "cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (cmdline.find(marker) != std::string::npos) out.push_back(std::stoi(pid));
    }
    return out;
  }
  // `foliolab run -j JOBS` of the suite in the background; a thread reads its output until it
  // ends (join `drain` before reading `output`).
  struct Background {
    common::SpawnedProcess child;
    std::string output;
    std::thread drain;
    ~Background() {  // a test that stopped early: end foliolab so that the reader can finish
      if (!drain.joinable()) return;
      ::kill(child.pid, SIGKILL);
      ::waitpid(child.pid, nullptr, 0);
      drain.join();
    }
  };
  std::unique_ptr<Background> start_run(const std::string& jobs) const {
    common::SpawnOptions spawn;
    spawn.env = env();
    auto bg = std::make_unique<Background>();
    bg->child = common::spawn_process(
        {foliolab_bin(), "run", suite_.string(), "--results", results_.string(), "-j", jobs}, spawn);
    bg->drain = std::thread([b = bg.get()] {
      char buf[4096];
      for (ssize_t n; (n = ::read(b->child.stdout_fd, buf, sizeof buf)) > 0;) b->output.append(buf, static_cast<std::size_t>(n));
      ::close(b->child.stdout_fd);
    });
    return bg;
  }

  void kill_orphaned_guests() {
    for (pid_t pid : guests_alive()) ::kill(pid, SIGKILL);
  }

  common::TemporaryDirectory tmp_{fs::temp_directory_path(), "foliolab-run-it"};
  fs::path suite_, results_;
};

// The job keys (12-digit prefixes) and kernel lines of a dry run.
struct DryRun {
  std::vector<std::string> keys;
  std::vector<std::string> kernels;
};
DryRun parse_dry_run(const std::string& output) {
  DryRun d;
  std::istringstream in(output);
  std::string section;
  for (std::string line; std::getline(in, line);) {
    if (line == "kernels:" || line == "jobs:") {
      section = line;
      continue;
    }
    if (line.rfind("  ", 0) != 0) continue;
    if (section == "jobs:") d.keys.push_back(line.substr(2, 12));
    if (section == "kernels:") d.kernels.push_back(line.substr(2));
  }
  return d;
}

TEST_F(RunTest, KilledRunResumesToEveryJobExactlyOnce) {
  // (a) the dry run: four jobs, one cached kernel, nothing written.
  auto dry = foliolab({"run", suite_.string(), "--results", results_.string(), "--dry-run"}, 120s);
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  DryRun plan = parse_dry_run(dry.output);
  ASSERT_EQ(plan.keys.size(), 4u) << dry.output;
  EXPECT_EQ(std::set<std::string>(plan.keys.begin(), plan.keys.end()).size(), 4u);
  ASSERT_EQ(plan.kernels.size(), 1u) << dry.output;
  ASSERT_NE(plan.kernels[0].find("cached"), std::string::npos)
      << "the base kernel is not in the cache: run `foliolab build examples/multiarch.yaml --kernel base "
         "--arch x86_64` first (ci/test does)\n"
      << dry.output;
  EXPECT_FALSE(fs::exists(results_)) << "a dry run must not create the results folder";
  auto only = foliolab({"run", suite_.string(), "--results", results_.string(), "--dry-run", "--only", "*#2*"}, 120s);
  ASSERT_EQ(only.exit_code, 0) << only.output;
  EXPECT_EQ(parse_dry_run(only.output).keys.size(), 2u) << only.output;

  // (b) run one guest at a time; SIGKILL foliolab as soon as the first run is stored.
  auto bg = start_run("1");
  const auto& child = bg->child;
  const std::string& first_output = bg->output;
  auto deadline = std::chrono::steady_clock::now() + 900s;
  bool exited = false;
  int status = 0;
  while (stored_runs().empty() && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(child.pid, &status, WNOHANG) == child.pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  if (!exited) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, &status, 0);
  }
  // QEMU leads its own process group but gets SIGTERM when foliolab dies (PR_SET_PDEATHSIG).
  for (int i = 0; i < 50 && !guests_alive().empty(); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(guests_alive().empty()) << "QEMU outlived a SIGKILLed foliolab";
  kill_orphaned_guests();
  bg->drain.join();
  ASSERT_FALSE(exited) << "foliolab ended before the first run was stored:\n" << first_output;
  auto after_kill = stored_runs();
  ASSERT_GE(after_kill.size(), 1u) << "no run stored within the deadline:\n" << first_output;
  ASSERT_LT(after_kill.size(), 4u) << "the whole suite finished before the kill; the test proves nothing";
  std::map<std::string, std::string> manifests_before;
  for (const auto& key : after_kill) {
    ASSERT_TRUE(fs::exists(results_ / "runs" / key / "manifest.json")) << key;
    manifests_before[key] = common::read_file(results_ / "runs" / key / "manifest.json");
  }

  // Without --resume a second run refuses the non-empty results folder (exit 2).
  auto refused = foliolab({"run", suite_.string(), "--results", results_.string()}, 120s);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;

  auto resumed = foliolab({"run", suite_.string(), "--results", results_.string(), "--resume", "-j", "2"}, 1500s);
  ASSERT_FALSE(resumed.timed_out) << resumed.output;
  ASSERT_TRUE(resumed.exit_code == 0 || resumed.exit_code == 1) << resumed.output;
  EXPECT_NE(resumed.output.find(std::to_string(after_kill.size()) + " of 4 jobs already stored"), std::string::npos)
      << resumed.output;

  // Every planned key exactly once in the run folders, and nothing else.
  auto final_runs = stored_runs();
  std::multiset<std::string> prefixes;
  for (const auto& key : final_runs) prefixes.insert(key.substr(0, 12));
  EXPECT_EQ(final_runs.size(), 4u);
  for (const auto& key : plan.keys) EXPECT_EQ(prefixes.count(key), 1u) << key;
  // Runs stored before the kill were not run again: their manifests (timing included) are unchanged.
  for (const auto& [key, before] : manifests_before)
    EXPECT_EQ(common::read_file(results_ / "runs" / key / "manifest.json"), before) << key;
  for (const auto& key : final_runs) {
    auto manifest = nlohmann::json::parse(common::read_file(results_ / "runs" / key / "manifest.json"));
    EXPECT_EQ(manifest["job_key"], key);
    EXPECT_EQ(manifest["suite"], "run-it");
    EXPECT_EQ(manifest["arch"], "x86_64");
    EXPECT_FALSE(manifest["kernel"]["artifact_key"].get<std::string>().empty());
    EXPECT_TRUE(manifest["kernel"]["metadata"].is_object() && !manifest["kernel"]["metadata"].empty());
    EXPECT_NE(manifest["outcome"], "infra-error") << manifest.dump(2);
    EXPECT_TRUE(fs::exists(results_ / "runs" / key / "console.log"));
    EXPECT_TRUE(fs::exists(results_ / "runs" / key / "records.jsonl"));
  }

  // The index holds each key once.
  {
    store::Index index(results_ / "index.sqlite");
    std::multiset<std::string> indexed;
    for (const auto& run : index.runs()) indexed.insert(run.job_key);
    EXPECT_EQ(indexed.size(), 4u);
    for (const auto& key : final_runs) EXPECT_EQ(indexed.count(key), 1u) << key;
  }

  // The comparison covers exactly the planned jobs.
  auto compare = foliolab({"compare", results_.string(), "--format", "json"}, 120s);
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  std::set<std::string> compared;
  std::regex key_re("\"job_key\":\"([0-9a-f]{32})\"");
  for (std::sregex_iterator it(compare.output.begin(), compare.output.end(), key_re), end; it != end; ++it)
    compared.insert((*it)[1].str().substr(0, 12));
  EXPECT_EQ(compared, std::set<std::string>(plan.keys.begin(), plan.keys.end())) << compare.output;
  // The run printed the same comparison text `foliolab compare` prints.
  auto text = foliolab({"compare", results_.string()}, 120s);
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("thp-fault"), std::string::npos) << text.output;
}

// SIGTERM while guests run: the runner (the only owner of the signal) stops every guest through
// its backend's stop request, stores nothing half-done, says how far it got and exits 143; no
// QEMU outlives it, and --resume completes the suite.
TEST_F(RunTest, SigtermStopsTheRunningGuestsAndResumeCompletes) {
  auto bg = start_run("2");
  const auto& child = bg->child;
  const std::string& output = bg->output;
  auto deadline = std::chrono::steady_clock::now() + 600s;
  while (guests_alive().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(guests_alive().empty()) << "no guest started within the deadline";
  ::kill(child.pid, SIGTERM);
  int status = 0;
  bool reaped = false;
  for (int i = 0; i < 600 && !reaped; ++i) {
    reaped = ::waitpid(child.pid, &status, WNOHANG) == child.pid;
    if (!reaped) std::this_thread::sleep_for(100ms);
  }
  if (!reaped) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, &status, 0);
  }
  bg->drain.join();
  ASSERT_TRUE(reaped) << "foliolab did not exit within 60 s of SIGTERM:\n" << output;
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << output;
  EXPECT_NE(output.find("interrupted by SIGTERM"), std::string::npos) << output;
  EXPECT_TRUE(guests_alive().empty()) << "a guest outlived foliolab's SIGTERM";
  const std::size_t stored = stored_runs().size();
  EXPECT_LT(stored, 4u) << "the suite finished before the signal; the test proves nothing";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(results_ / "runs", ec))
    EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << "half-written run left: " << e.path();

  auto resumed = foliolab({"run", suite_.string(), "--results", results_.string(), "--resume", "-j", "2"}, 1500s);
  ASSERT_TRUE(resumed.exit_code == 0 || resumed.exit_code == 1) << resumed.output;
  EXPECT_EQ(stored_runs().size(), 4u) << resumed.output;
}

// An A/A suite: one kernel under two variant names, two workloads, two repetitions. Each of the
// eight jobs is stored once under its own variant (job keys name the variant: before, the twin's
// runs replaced base's and half the data was lost), and compare sees n = 2 on both sides of
// every group.
TEST_F(RunTest, AASuiteStoresEveryJobUnderItsOwnVariant) {
  fs::path aa = tmp_.path() / "aa.yaml";
  std::ofstream(aa) << "name: aa\n"
                       "kernels:\n  base: {}\n  twin: {base: base}\n"
                       "arches: [x86_64]\n"
                       "guest:\n  memory: 512M\n  cpus: 1\n  swap: {zram: 64M}\n  thp: {enabled: always}\n"
                       "workloads:\n  - {name: fault, workload: thp-fault, params: {size: 4M}}\n"
                       "  - {name: swap, workload: swap-roundtrip, params: {size: 4M, folio: 2M}}\n"
                       "repetitions: 2\nbaseline: base\n";
  auto run = foliolab({"run", aa.string(), "--results", results_.string(), "-j", "2"}, 1500s);
  ASSERT_FALSE(run.timed_out) << run.output;
  ASSERT_TRUE(run.exit_code == 0 || run.exit_code == 1) << run.output;
  ASSERT_EQ(stored_runs().size(), 8u) << run.output;
  std::map<std::pair<std::string, std::string>, int> per_cell;  // (variant, workload) -> runs
  for (const auto& key : stored_runs()) {
    auto m = nlohmann::json::parse(common::read_file(results_ / "runs" / key / "manifest.json"));
    per_cell[{m["kernel"]["variant"], m["workload"]["name"]}]++;
  }
  for (const auto* variant : {"base", "twin"})
    for (const auto* workload : {"fault", "swap"})
      EXPECT_EQ((per_cell[{variant, workload}]), 2) << variant << " " << workload;

  auto again = foliolab({"run", aa.string(), "--results", results_.string(), "--resume"}, 300s);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("8 of 8 jobs already stored"), std::string::npos) << again.output;

  auto compare = foliolab({"compare", results_.string(), "--format", "json"}, 120s);
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  std::set<std::string> compared;
  std::regex key_re("\"job_key\":\"([0-9a-f]{32})\"");
  for (std::sregex_iterator it(compare.output.begin(), compare.output.end(), key_re), end; it != end; ++it)
    compared.insert((*it)[1].str());
  EXPECT_EQ(compared.size(), 8u) << compare.output;
}

}  // namespace
}  // namespace foliolab::runner
