#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <thread>

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/process.h"
#include "common/units.h"

namespace foliolab::common {
namespace {
namespace fs = std::filesystem;

TEST(Units, ParseIntegerTakesWholeNumbersOnly) {
  EXPECT_EQ(parse_integer("0"), 0);
  EXPECT_EQ(parse_integer("1408"), 1408);
  EXPECT_EQ(parse_integer("-3"), -3);
  for (const char* bad : {"", "4k", " 7", "7 ", "+4", "1e3", "2.5", "0x10", "99999999999999999999"})
    EXPECT_FALSE(parse_integer(bad)) << bad;
}

TEST(Units, ParsesSizesAndRejectsJunk) {
  EXPECT_EQ(parse_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_EQ(parse_size("64k"), 64ull << 10);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size(" 1GiB "), 1ull << 30);
  EXPECT_FALSE(parse_size("lots"));
  EXPECT_FALSE(parse_size("-1M"));
  EXPECT_FALSE(parse_size("1.5G")) << "fractions would silently truncate";
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_EQ(format_size(512ull << 20), "512M");
  EXPECT_EQ(format_size(1000), "1000");
}

TEST(Units, ParsesDurations) {
  EXPECT_EQ(parse_duration("90s")->count(), 90000);
  EXPECT_EQ(parse_duration("2m")->count(), 120000);
  EXPECT_EQ(parse_duration("500ms")->count(), 500);
  EXPECT_EQ(parse_duration("1.5s")->count(), 1500);
  EXPECT_FALSE(parse_duration("soon"));
  EXPECT_FALSE(parse_duration("5 parsecs"));
}

TEST(Hash, FieldsAreDelimited) {
  Hasher a, b, c;
  a.field("x", "ab").field("y", "c");
  b.field("x", "a").field("y", "bc");
  c.field("x", "ab").field("y", "c");
  EXPECT_NE(a.hex(), b.hex());
  EXPECT_EQ(a.hex(), c.hex());
  EXPECT_EQ(a.hex().size(), 32u);
}

TEST(Process, CapturesOutputAndExitCodeWithoutAShell) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.output, ::testing::HasSubstr("out"));
  EXPECT_THAT(r.output, ::testing::HasSubstr("err"));
  // An argument with shell metacharacters reaches the program verbatim.
  auto e = run_process({"printf", "%s", "$(rm -rf /); `x` | y"});
  EXPECT_EQ(e.output, "$(rm -rf /); `x` | y");
}

TEST(Process, TimeoutKillsTheWholeGroup) {
  auto r = run_process({"sh", "-c", "sleep 30 & sleep 30"}, {.timeout = std::chrono::milliseconds(300)});
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
}

TEST(Process, MissingProgramIsAnInfraError) {
  EXPECT_THROW(run_process({"foliolab-no-such-program"}), InfraError);
}

// Runs `body` in a forked copy of this test process and returns its exit code: the
// interrupt state is process-wide and must not leak into the other tests.
int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits (bounded) for a pid written by a child shell into `file`.
pid_t read_pid_file(const fs::path& file) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    ::usleep(10000);
  }
  return 0;
}

// True once `pid` is gone or a zombie nobody reaps (a container's init may not).
bool gone_within(pid_t pid, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    if (!(stat >> pid_field >> comm >> state) || state == "Z" || state == "X") return true;
    ::usleep(20000);
  }
  return false;
}

TEST(Process, ChildDoesNotOutliveAKilledFoliolab) {
  TemporaryDirectory dir(fs::temp_directory_path(), "foliolab-proc-test");
  const auto pid_file = dir.path() / "pid";
  // The "foliolab" here is a forked copy of the test that runs a long child and is SIGKILLed.
  pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    run_process({"sh", "-c", "echo $$ > \"$0\"; exec sleep 300", pid_file.string()});
    ::_exit(0);
  }
  pid_t child = read_pid_file(pid_file);
  ASSERT_GT(child, 0);
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  EXPECT_TRUE(gone_within(child, std::chrono::seconds(5))) << "sleep " << child << " outlived its parent";
  if (!gone_within(child, std::chrono::seconds(0))) ::kill(child, SIGKILL);
}

TEST(Process, InterruptStopsTheWholeGroupAndThrowsInterrupted) {
  TemporaryDirectory dir(fs::temp_directory_path(), "foliolab-proc-test");
  const auto pid_file = dir.path() / "pid";
  int code = in_child([&] {
    int caught = 0;
    std::thread worker([&] {
      try {
        // The shell's own child (a grandchild of ours) must be stopped too.
        run_process({"sh", "-c", "sleep 300 & echo $! > \"$0\"; wait", pid_file.string()});
      } catch (const Interrupted& e) {
        caught = e.signal();
      }
    });
    pid_t grandchild = read_pid_file(pid_file);
    if (grandchild <= 0) return 10;
    interrupt_children(SIGTERM);
    worker.join();
    if (caught != SIGTERM) return 11;
    if (!gone_within(grandchild, std::chrono::seconds(5))) return 12;
    if (interrupted_by() != SIGTERM) return 13;
    // Nothing new starts after an interrupt.
    try {
      run_process({"true"});
      return 14;
    } catch (const Interrupted&) {
    }
    return 0;
  });
  EXPECT_EQ(code, 0) << "10 no pid, 11 no Interrupted, 12 grandchild survived, 13 flag, 14 started after interrupt";
}

TEST(Process, UnusableWorkingDirectoryIsAnInfraErrorNamingIt) {
  try {
    run_process({"true"}, {.cwd = fs::path("/nonexistent/foliolab-dir")});
    FAIL() << "expected InfraError";
  } catch (const InfraError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("/nonexistent/foliolab-dir"));
  }
}

TEST(Fs, AtomicWriteReplacesWholeFile) {
  TemporaryDirectory dir(fs::temp_directory_path(), "foliolab-fs-test");
  auto p = dir.path() / "f";
  write_file_atomic(p, "first");
  write_file_atomic(p, "second");
  EXPECT_EQ(read_file(p), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Fs, AtomicWriteNeverFollowsAPlantedLinkAtAPredictableName) {
  TemporaryDirectory tmp(std::filesystem::temp_directory_path(), "fs-test");
  auto p = tmp.path() / "manifest.json";
  auto victim = tmp.path() / "victim";
  write_file_atomic(victim, "victim");
  // The name the old implementation used: path + ".tmp-<pid>".
  std::filesystem::create_symlink(victim, std::filesystem::path(p.string() + ".tmp-" + std::to_string(::getpid())));
  write_file_atomic(p, "content");
  EXPECT_EQ(read_file(p), "content");
  EXPECT_EQ(read_file(victim), "victim") << "the write went through the link";
  EXPECT_TRUE(std::filesystem::is_regular_file(std::filesystem::symlink_status(p)));
}

TEST(Fs, AtomicWritesOfOnePathFromManyThreadsEachLandWhole) {
  TemporaryDirectory tmp(std::filesystem::temp_directory_path(), "fs-test");
  auto p = tmp.path() / "state.json";
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) write_file_atomic(p, std::string(1000 + static_cast<std::size_t>(t), 'a' + static_cast<char>(t)));
    });
  for (auto& t : threads) t.join();
  const std::string final = read_file(p);
  ASSERT_GE(final.size(), 1000u);
  EXPECT_EQ(final, std::string(final.size(), final[0])) << "a write was interleaved with another";
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmp.path())) ++files;
  EXPECT_EQ(files, 1u) << "temporary files left behind";
}

TEST(Fs, TailLines) {
  TemporaryDirectory dir(fs::temp_directory_path(), "foliolab-fs-test");
  auto p = dir.path() / "log";
  std::ofstream(p) << "1\n2\n3\n4\n";
  EXPECT_EQ(tail_lines(p, 2), "3\n4\n");
}

}  // namespace
}  // namespace foliolab::common
