#include "store/result_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>

#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"

namespace foliolab::store {
namespace {

namespace fs = std::filesystem;

RunManifest manifest(const std::string& key, const std::string& variant, int repetition, double value) {
  RunManifest m;
  m.suite = "s";
  m.job_key = key;
  m.baseline = "base";
  m.kernel.variant = variant;
  m.arch = "x86_64";
  m.settings = {{"thp.enabled", "always"}};
  m.workload = {"w", "khugepaged-collapse", {}};
  m.repetition = repetition;
  m.outcome = "ok";
  m.metrics = {{"vmstat.thp_fault_alloc", value}, {"wl.x", value / 2}};
  return m;
}

class ResultStoreTest : public ::testing::Test {
 protected:
  common::TemporaryDirectory tmp_{fs::temp_directory_path(), "foliolab-store-test"};
  fs::path dir() const { return tmp_.path() / "results" / "s"; }
};

TEST_F(ResultStoreTest, WritesCompleteRunFoldersAndIndexesThem) {
  ResultStore store(dir());
  EXPECT_FALSE(store.has_run("k1"));
  store.write_run(manifest("k1", "base", 0, 32), "console <script>\n", "{\"type\":\"done\"}\n");
  EXPECT_TRUE(store.has_run("k1"));
  EXPECT_EQ(common::read_file(store.run_dir("k1") / "console.log"), "console <script>\n");
  EXPECT_EQ(common::read_file(store.run_dir("k1") / "records.jsonl"), "{\"type\":\"done\"}\n");
  const auto back = store.read_manifest("k1");
  ASSERT_TRUE(back);
  EXPECT_DOUBLE_EQ(back->metrics.at("vmstat.thp_fault_alloc"), 32);
  // Nothing temporary is left, and the index already knows the run.
  for (const auto& e : fs::directory_iterator(store.runs_dir())) EXPECT_FALSE(e.path().filename().string().starts_with("."));
  const auto runs = store.index().runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].job_key, "k1");
  EXPECT_EQ(runs[0].variant, "base");
  EXPECT_EQ(runs[0].settings.at("thp.enabled"), "always");
}

TEST_F(ResultStoreTest, RekeyedRunMovesWholeWithItsManifestAndTheIndexFollows) {
  ResultStore store(dir());
  store.write_run(manifest("old1", "twin", 3, 7), "console\n", "{\"type\":\"done\"}\n");
  store.rekey_run("old1", "new1");
  EXPECT_FALSE(store.has_run("old1"));
  ASSERT_TRUE(store.has_run("new1"));
  const auto back = store.read_manifest("new1");
  EXPECT_EQ(back->job_key, "new1");
  EXPECT_EQ(back->kernel.variant, "twin");
  EXPECT_EQ(back->repetition, 3);
  EXPECT_EQ(common::read_file(store.run_dir("new1") / "console.log"), "console\n");
  for (const auto& e : fs::directory_iterator(store.runs_dir())) EXPECT_FALSE(e.path().filename().string().starts_with("."));
  store.sync_index();
  const auto runs = store.index().runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].job_key, "new1");
}

TEST_F(ResultStoreTest, RejectsJobKeysThatAreNotPlainNames) {
  ResultStore store(dir());
  EXPECT_THROW(store.write_run(manifest("../escape", "base", 0, 1), "", ""), common::UsageError);
  EXPECT_THROW(store.write_run(manifest("", "base", 0, 1), "", ""), common::UsageError);
  EXPECT_FALSE(fs::exists(dir() / "escape"));
}

TEST_F(ResultStoreTest, ReplacingARunKeepsOneCompleteFolder) {
  ResultStore store(dir());
  auto m = manifest("k1", "base", 0, 1);
  m.outcome = "infra-error";
  store.write_run(m, "first", "");
  store.write_run(manifest("k1", "base", 0, 2), "second", "");
  EXPECT_EQ(common::read_file(store.run_dir("k1") / "console.log"), "second");
  const auto runs = store.index().runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].outcome, "ok");
}

TEST_F(ResultStoreTest, IndexIsDerivedAndTreesMergeByCopyingRunFolders) {
  const fs::path other = tmp_.path() / "other-machine" / "s";
  {
    ResultStore a(dir());
    a.write_run(manifest("a1", "base", 0, 10), "", "");
    a.write_run(manifest("a2", "base", 1, 11), "", "");
    ResultStore b(other);
    b.write_run(manifest("b1", "patched", 0, 20), "", "");
  }
  // Copy b's run folder in, as a user merging two machines' results would.
  fs::copy(other / "runs" / "b1", dir() / "runs" / "b1", fs::copy_options::recursive);
  ResultStore merged(dir());
  const auto synced = merged.sync_index();
  EXPECT_EQ(synced.parsed, 1u);
  EXPECT_EQ(synced.runs, 3u);
  const std::string after_sync = merged.index().dump();
  // A full rebuild gives the same content, and so does deleting the index altogether.
  merged.reindex();
  EXPECT_EQ(merged.index().dump(), after_sync);
  {
    ResultStore fresh_store(dir());
    fresh_store.index();
  }
  fs::remove(dir() / "index.sqlite");
  fs::remove(dir() / "index.sqlite-wal");
  fs::remove(dir() / "index.sqlite-shm");
  ResultStore fresh(dir());
  fresh.reindex();
  EXPECT_EQ(fresh.index().dump(), after_sync);
  // A folder removed by hand disappears from the index at the next sync.
  fs::remove_all(dir() / "runs" / "a2");
  const auto report = fresh.sync_index();
  EXPECT_EQ(report.removed, 1u);
  EXPECT_EQ(fresh.index().runs().size(), 2u);
}

TEST_F(ResultStoreTest, CorruptIndexIsRecreatedAndInvalidRunsSkipped) {
  {
    ResultStore store(dir());
    store.write_run(manifest("k1", "base", 0, 1), "", "");
  }
  fs::remove(dir() / "index.sqlite-wal");
  fs::remove(dir() / "index.sqlite-shm");
  common::write_file_atomic(dir() / "index.sqlite", "this is not a database, it is garbage of some length");
  fs::create_directories(dir() / "runs" / "broken");
  common::write_file_atomic(dir() / "runs" / "broken" / "manifest.json", "{not json");
  ResultStore store(dir());
  const auto report = store.sync_index();
  EXPECT_EQ(report.runs, 1u);
  EXPECT_EQ(report.invalid, 1u);
}

// Reads one line from the child's stdout (blocking); empty at end of file.
std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return line;
}

// The writer is stopped inside write_run after each of its stages (it waits for a byte on
// stdin after announcing one) and killed with SIGKILL there, and once more at a random point
// while it writes a 4 MB console.log. Afterwards no incomplete run may be counted, and two
// reindexes must give the same index.
TEST_F(ResultStoreTest, KilledWriterLeavesOnlyCompleteRuns) {
  const long console_bytes = 4 << 20;
  const std::vector<std::string> stages = {"console.log", "records.jsonl", "manifest.json", "synced", "renamed",
                                           "indexed", "mid-console"};
  for (size_t round = 0; round < stages.size(); ++round) {
    SCOPED_TRACE("killed at " + stages[round]);
    const bool timed = stages[round] == "mid-console";
    const fs::path results = dir() / std::to_string(round);
    auto child = common::spawn_process({FOLIOLAB_SYNTH_RESULTS, results.string(), "--arches", "1", "--workloads", "1",
                                        "--settings", "1", "--variants", "2", "--repetitions", "3", "--metrics", "40",
                                        "--seed", std::to_string(round), "--console-bytes", std::to_string(console_bytes),
                                        "--step", "--loop"},
                                       common::SpawnOptions{.pipe_stdin = true});
    const long target_run = 2 + static_cast<long>(round);
    bool killed = false;
    for (std::string line = read_line(child.stdout_fd); !line.empty(); line = read_line(child.stdout_fd)) {
      const auto space = line.find(' ');
      const long run = std::stol(line.substr(0, space));
      const std::string stage = line.substr(space + 1);
      const bool target = run == target_run && stage == (timed ? "indexed" : stages[round]);
      if (!target || timed) {
        ASSERT_EQ(::write(child.stdin_fd, "g", 1), 1);
      }
      if (!target) continue;
      if (timed) ::usleep(2000);  // somewhere in the next run's 4 MB console.log
      ::kill(child.pid, SIGKILL);
      killed = true;
      break;
    }
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ::close(child.stdout_fd);
    ::close(child.stdin_fd);
    ASSERT_TRUE(killed) << "writer ended early";
    ASSERT_TRUE(WIFSIGNALED(status));

    // What the killed writer's own index holds is complete, before any repair.
    ResultStore store(results);
    for (const auto& run : store.index().runs()) {
      EXPECT_EQ(fs::file_size(store.run_dir(run.job_key) / "console.log"), static_cast<uintmax_t>(console_bytes))
          << run.job_key;
    }
    const auto synced = store.sync_index();
    const std::string after_sync = store.index().dump();
    const auto first = store.reindex();
    const std::string once = store.index().dump();
    store.reindex();
    EXPECT_EQ(store.index().dump(), once);
    EXPECT_EQ(after_sync, once);
    EXPECT_EQ(first.invalid, 0u);
    // Killed before the rename, the run's folder exists only under its temporary name.
    if (round < 4) {
      EXPECT_GE(first.incomplete, 1u);
    }
    // Every folder under its final name is complete, and every complete folder is indexed.
    size_t complete = 0;
    for (const auto& e : fs::directory_iterator(store.runs_dir())) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(".")) continue;
      ++complete;
      EXPECT_EQ(fs::file_size(e.path() / "console.log"), static_cast<uintmax_t>(console_bytes)) << name;
      EXPECT_TRUE(fs::exists(e.path() / "records.jsonl")) << name;
      EXPECT_NO_THROW(store.read_manifest(name)) << name;
    }
    EXPECT_EQ(store.index().runs().size(), complete);
    EXPECT_EQ(first.runs, complete);
    EXPECT_EQ(synced.runs, complete);
    // Runs 0..target-1 are complete; the target is complete only if killed after its rename.
    const size_t expected = static_cast<size_t>(target_run) + (stages[round] == "renamed" || stages[round] == "indexed" || timed);
    if (timed) {
      EXPECT_GE(complete, expected);
    } else {
      EXPECT_EQ(complete, expected);
    }
  }
}

}  // namespace
}  // namespace foliolab::store
