// Integration tests of `foliolab build`: real kernels from linux-source-6.12, the real cache.
// They use the default artifact cache so that CI's earlier `foliolab build` makes them cheap;
// the incremental test makes a unique one-file patch so it always really rebuilds.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "common/process.h"

namespace foliolab::kernel {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::string foliolab_bin() {
  const char* b = std::getenv("FOLIOLAB_BIN");
  return b ? b : "";
}

struct Cli {
  int exit_code;
  std::string out;
  std::vector<nlohmann::json> objects;  // JSON lines on stdout
};

Cli run_foliolab(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  common::TemporaryDirectory tmp(fs::temp_directory_path(), "foliolab-cli");
  std::vector<std::string> argv = {foliolab_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  // stdout to a file so JSON lines are not mixed with the log on stderr.
  auto r = common::run_process(argv, {.env = env, .stdout_file = tmp.path() / "stdout",
                                      .timeout = std::chrono::minutes(25)});
  Cli c{r.exit_code, r.output, {}};
  std::istringstream in(common::read_file(tmp.path() / "stdout"));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) c.objects.push_back(nlohmann::json::parse(line));
  return c;
}

class BuildIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(foliolab_bin().empty()) << "FOLIOLAB_BIN is not set (ctest sets it)";
    dir_ = std::make_unique<common::TemporaryDirectory>(fs::temp_directory_path(), "foliolab-build-it");
  }
  fs::path write(const std::string& name, const std::string& text) {
    fs::create_directories((dir_->path() / name).parent_path());
    std::ofstream(dir_->path() / name) << text;
    return dir_->path() / name;
  }
  std::unique_ptr<common::TemporaryDirectory> dir_;
};

const std::string kExample = std::string(FOLIOLAB_SOURCE_DIR) + "/examples/multiarch.yaml";

TEST_F(BuildIntegration, BundledExampleBuildsThreeArchesAndTheSecondRunIsACacheHit) {
  auto first = run_foliolab({"build", kExample, "--kernel", "base", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.out;
  auto second = run_foliolab({"build", kExample, "--kernel", "base", "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.out;
  ASSERT_EQ(second.objects.size(), 3u);
  std::set<std::string> arches;
  for (size_t i = 0; i < 3; ++i) {
    const auto& j = second.objects[i];
    arches.insert(j["arch"]);
    EXPECT_TRUE(j["cached"].get<bool>()) << j.dump();
    EXPECT_EQ(j["key"], first.objects[i]["key"]);
    EXPECT_THAT(j["release"].get<std::string>(), ::testing::StartsWith("6.12"));
    ASSERT_TRUE(fs::exists(j["image"].get<std::string>()));
    ASSERT_TRUE(fs::exists(j["vmlinux"].get<std::string>()));
    // The traps of reference.md: a kernel without these boots and silently measures nothing.
    std::string config = common::read_file(j["config"].get<std::string>());
    for (const char* sym : {"CONFIG_ADVISE_SYSCALLS=y", "CONFIG_VM_EVENT_COUNTERS=y", "CONFIG_TRANSPARENT_HUGEPAGE=y",
                            "CONFIG_SWAP=y", "CONFIG_ZRAM=y", "CONFIG_MAGIC_SYSRQ=y", "CONFIG_VIRTIO_CONSOLE=y",
                            "CONFIG_PROC_PAGE_MONITOR=y", "CONFIG_TRACING=y"})
      EXPECT_THAT(config, HasSubstr(sym)) << j["arch"];
    fs::path meta = fs::path(j["image"].get<std::string>()).parent_path() / "metadata.json";
    auto m = nlohmann::json::parse(common::read_file(meta));
    EXPECT_EQ(m["key"], j["key"]);
    EXPECT_THAT(m["compiler"].get<std::string>(), HasSubstr("gcc"));
  }
  EXPECT_EQ(arches, (std::set<std::string>{"x86_64", "arm64", "riscv64"}));
  EXPECT_THAT(common::read_file(second.objects[2]["config"].get<std::string>()),
              HasSubstr("CONFIG_RISCV_ISA_FALLBACK=y"));
}

TEST_F(BuildIntegration, OneFilePatchGivesANewKeyAndAnIncrementalRebuild) {
  // A unique comment in mm/khugepaged.c: a key never seen before, so this really builds.
  std::random_device rd;
  std::string token = std::to_string(rd()) + std::to_string(rd());
  write("p/0001-probe.patch", "--- a/mm/khugepaged.c\n+++ b/mm/khugepaged.c\n@@ -1,3 +1,4 @@\n+/* foliolab incremental probe " +
                                 token + " */\n // SPDX-License-Identifier: GPL-2.0\n #define pr_fmt(fmt) KBUILD_MODNAME \": \" fmt\n \n");
  write("p/series", "0001-probe.patch\n");
  auto suite = write("s.yaml", "name: it\nkernels:\n  base: {}\n  probe: {base: base, patches: [p]}\narches: [x86_64]\n"
                               "workloads: [{workload: thp-fault}]\n");
  auto base = run_foliolab({"build", suite.string(), "--kernel", "base", "--json"});
  ASSERT_EQ(base.exit_code, 0) << base.out;
  auto probe = run_foliolab({"build", suite.string(), "--kernel", "probe", "--json"});
  ASSERT_EQ(probe.exit_code, 0) << probe.out;
  ASSERT_EQ(probe.objects.size(), 1u);
  EXPECT_NE(probe.objects[0]["key"], base.objects[0]["key"]);
  EXPECT_FALSE(probe.objects[0]["cached"].get<bool>());
  fs::path dir = fs::path(probe.objects[0]["image"].get<std::string>()).parent_path();
  std::string log = common::read_file(dir / "build.log");
  EXPECT_THAT(log, HasSubstr("mm/khugepaged.o")) << "the patched file is recompiled";
  EXPECT_THAT(log, Not(HasSubstr("mm/memory.o"))) << "an untouched file is not: the rebuild is incremental";
  auto meta = nlohmann::json::parse(common::read_file(dir / "metadata.json"));
  EXPECT_EQ(meta["files_changed_by_patches"], 1);
  // The tree may have held another series before (a bisect's, the quickstart's): moving it
  // here rewrote this file and put back what that series had changed, nothing else.
  EXPECT_GE(meta["files_rewritten"].get<int>(), 1);
  EXPECT_LE(meta["files_rewritten"].get<int>(), 6);
  ASSERT_EQ(meta["patches"].size(), 1u);
  fs::remove_all(dir);  // a unique artifact per run: do not let them pile up in the cache
}

TEST_F(BuildIntegration, PatchThatDoesNotApplyExits2NamingPatchFileAndHunk) {
  write("bad/0001-bad.patch",
        "--- a/mm/khugepaged.c\n+++ b/mm/khugepaged.c\n@@ -1290,3 +1290,3 @@ static int hpage_collapse_scan_pmd(struct mm_struct *mm,\n"
        " this line is not in the file\n-nor is this one\n+so the hunk fails\n and this\n");
  write("bad/series", "0001-bad.patch\n");
  auto suite = write("s.yaml", "name: it\nkernels:\n  bad: {patches: [bad]}\narches: [x86_64]\n"
                               "workloads: [{workload: thp-fault}]\n");
  auto r = run_foliolab({"build", suite.string(), "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("patch 0001-bad.patch does not apply: mm/khugepaged.c: hunk #1 FAILED"));
  EXPECT_THAT(r.out, HasSubstr("@@ -1290,3 +1290,3 @@ static int hpage_collapse_scan_pmd"));
  EXPECT_TRUE(r.objects.empty());
}

TEST_F(BuildIntegration, TypoInSuiteExits2WithFileLineColumn) {
  auto suite = write("typo.yaml", "name: it\nkernels:\n  base: {}\narches: [x86_64]\nguest:\n  memroy: 2G\n"
                                  "workloads: [{workload: thp-fault}]\n");
  auto r = run_foliolab({"build", suite.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("typo.yaml:6:3: guest.memroy: unknown key"));
}

TEST_F(BuildIntegration, MissingCrossCompilerExits3NamingTheDebianPackage) {
  auto suite = write("s.yaml", "name: it\nkernels:\n  base: {}\narches: [arm64]\nworkloads: [{workload: thp-fault}]\n");
  fs::create_directories(dir_->path() / "emptybin");
  auto r = run_foliolab({"build", suite.string()}, {{"PATH", (dir_->path() / "emptybin").string()}});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.out, HasSubstr("aarch64-linux-gnu-gcc not found: install the Debian package gcc-aarch64-linux-gnu"));
}

// Process groups of every process whose parent is `pid` (make, for foliolab build).
std::vector<pid_t> child_groups(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid, pgrp;
    if (rest >> state >> ppid >> pgrp && ppid == pid) out.push_back(pgrp);
  }
  return out;
}

bool group_alive(pid_t pgrp) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid, group;
    if (rest >> state >> ppid >> group && group == pgrp && state != 'Z') return true;
  }
  return false;
}

// SIGTERM while make runs: foliolab stops make and its compilers, exits 128 + 15, and leaves
// neither an artifact nor a staging folder for the unfinished key.
TEST_F(BuildIntegration, SigtermStopsMakeAndLeavesNoHalfArtifact) {
  std::random_device rd;
  std::string token = std::to_string(rd()) + std::to_string(rd());
  write("p/0001-probe.patch", "--- a/mm/khugepaged.c\n+++ b/mm/khugepaged.c\n@@ -1,3 +1,4 @@\n+/* foliolab sigterm probe " +
                                 token + " */\n // SPDX-License-Identifier: GPL-2.0\n #define pr_fmt(fmt) KBUILD_MODNAME \": \" fmt\n \n");
  write("p/series", "0001-probe.patch\n");
  auto suite = write("s.yaml", "name: it\nkernels:\n  base: {}\n  probe: {base: base, patches: [p]}\narches: [x86_64]\n"
                               "workloads: [{workload: thp-fault}]\n");
  ASSERT_EQ(run_foliolab({"build", suite.string(), "--kernel", "base"}).exit_code, 0);
  const auto cache = common::default_cache_dir() / "kernels";
  auto entries = [&] {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(cache)) names.insert(entry.path().filename().string());
    return names;
  };
  const std::set<std::string> before = entries();
  auto child = common::spawn_process({foliolab_bin(), "build", suite.string(), "--kernel", "probe", "--no-ccache"});
  FILE* out = ::fdopen(child.stdout_fd, "r");
  ASSERT_NE(out, nullptr);
  std::string log;
  char* line = nullptr;
  size_t cap = 0;
  while (::getline(&line, &cap, out) > 0) {
    log += line;
    if (log.find("] building ") != std::string::npos) break;
  }
  ASSERT_THAT(log, HasSubstr("] building ")) << "the build never started";
  std::vector<pid_t> groups;
  for (int i = 0; i < 100 && groups.empty(); ++i) {
    groups = child_groups(child.pid);
    if (groups.empty()) ::usleep(20000);
  }
  ASSERT_FALSE(groups.empty()) << "no make under foliolab";
  ::kill(child.pid, SIGTERM);
  while (::getline(&line, &cap, out) > 0) log += line;
  ::free(line);
  ::fclose(out);
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << log;
  EXPECT_THAT(log, HasSubstr("interrupted by SIGTERM"));
  for (pid_t g : groups) EXPECT_FALSE(group_alive(g)) << "process group " << g << " (make) outlived foliolab";
  // Nothing of the unfinished key in the cache: no artifact, no staging folder.
  EXPECT_EQ(entries(), before);
}

TEST_F(BuildIntegration, MissingDebianPackageExits3NamingTheCommandThatGetsIt) {
  auto suite = write("s.yaml", "name: it\nkernels:\n  future: {source: {debian: linux-source-9.9}}\narches: [x86_64]\n"
                               "workloads: [{workload: thp-fault}]\n");
  auto r = run_foliolab({"build", suite.string()});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_THAT(r.out, HasSubstr("/usr/src/linux-source-9.9.tar.xz is missing"));
  EXPECT_THAT(r.out, HasSubstr("bash ci/get-debian-source linux-source-9.9"));
}

// One set of fragments for 6.12 and 7.3: every arch's final .config of both versions keeps the
// symbols without which a kernel measures nothing, and a symbol 7.3 does not define is a warning
// naming it and the version (6.12 has it: no such warning there). --config-only builds nothing.
const std::string kCurrentExample = std::string(FOLIOLAB_SOURCE_DIR) + "/examples/lts-vs-current.yaml";

TEST_F(BuildIntegration, FinalConfigOfEveryArchOn612And73KeepsTheRequiredSymbols) {
  for (const char* variant : {"lts", "current"}) {
    auto r = run_foliolab({"build", kCurrentExample, "--kernel", variant, "--config-only", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.out;
    ASSERT_EQ(r.objects.size(), 3u) << r.out;
    for (const auto& j : r.objects) {
      const std::string label = std::string(variant) + " " + j["arch"].get<std::string>();
      std::string config = common::read_file(j["config"].get<std::string>());
      for (const char* sym : {"CONFIG_ADVISE_SYSCALLS=y", "CONFIG_VM_EVENT_COUNTERS=y", "CONFIG_TRANSPARENT_HUGEPAGE=y",
                              "CONFIG_SWAP=y", "CONFIG_ZRAM=y", "CONFIG_MAGIC_SYSRQ=y", "CONFIG_VIRTIO_CONSOLE=y",
                              "CONFIG_PROC_PAGE_MONITOR=y", "CONFIG_TRACING=y", "CONFIG_USERFAULTFD=y",
                              "CONFIG_MEMCG=y"})
        EXPECT_THAT(config, HasSubstr(sym)) << label;
      const std::string warnings = j["warnings"].dump();
      if (std::string(variant) == "current") {
        EXPECT_THAT(j["release"].get<std::string>(), ::testing::StartsWith("7.3")) << label;
        EXPECT_THAT(warnings, HasSubstr("CONFIG_PROC_SYSCTL (common.config:")) << label;
        EXPECT_THAT(warnings, HasSubstr("is not defined by Linux 7.3.4")) << label;
      } else {
        EXPECT_THAT(config, HasSubstr("CONFIG_PROC_SYSCTL=y")) << label;
        EXPECT_THAT(warnings, Not(HasSubstr("is not defined by Linux"))) << label;
      }
    }
  }
}

// The sources a user points foliolab at besides Debian's packages, on a real 7.3 tree: a git
// history made from the released tarball plus a commit on top (how mm-new or a branch of their
// own looks), built for x86_64 (with the ccache of the linux-source-7.3 build that ci/test made,
// most objects are cache hits), and a kernel.org-style linux-X.Y.tar.gz, configured. The commit
// is fixed, so a rerun with the artifact cache is a cache hit.
TEST_F(BuildIntegration, Linux73FromAGitHistoryAndFromATarball) {
  const fs::path work = dir_->path();
  auto sh = [&](std::vector<std::string> argv, std::map<std::string, std::string> env = {}) {
    auto r = common::run_process(argv, {.cwd = work, .env = env, .timeout = std::chrono::minutes(10)});
    EXPECT_TRUE(r.ok()) << r.describe() << "\n" << r.output;
    return r.output;
  };
  sh({"tar", "-xf", "/usr/src/linux-source-7.3.tar.xz"});
  fs::rename(work / "linux-source-7.3", work / "linux-7.3.4");
  sh({"tar", "--use-compress-program=gzip -1", "--sort=name", "--mtime=2026-01-01", "--owner=0", "--group=0",
      "-cf", "linux-7.3.4.tar.gz", "linux-7.3.4"});

  const fs::path repo = work / "linux-7.3.4";
  const std::map<std::string, std::string> who = {
      {"GIT_AUTHOR_NAME", "foliolab"}, {"GIT_AUTHOR_EMAIL", "ci@foliolab"}, {"GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z"},
      {"GIT_COMMITTER_NAME", "foliolab"}, {"GIT_COMMITTER_EMAIL", "ci@foliolab"},
      {"GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z"}};
  sh({"git", "-C", repo.string(), "init", "-q", "-b", "mm-work"});
  // Debian's tarball carries a .gitignore that ignores its whole top level: add -f.
  sh({"git", "-C", repo.string(), "add", "-f", "."});
  sh({"git", "-C", repo.string(), "commit", "-q", "-m", "Linux 7.3.4"}, who);
  std::string khugepaged = common::read_file(repo / "mm" / "khugepaged.c");
  common::write_file_atomic(repo / "mm" / "khugepaged.c", "/* foliolab: a commit on top of 7.3.4 */\n" + khugepaged);
  sh({"git", "-C", repo.string(), "commit", "-q", "-a", "-m", "mm: a change on top"}, who);
  const std::string head_before = sh({"git", "-C", repo.string(), "rev-parse", "HEAD"});

  auto suite = write("s.yaml", "name: it\nkernels:\n"
                               "  branch: {source: {git: linux-7.3.4, ref: mm-work}}\n"
                               "  released: {source: {tarball: linux-7.3.4.tar.gz}}\n"
                               "arches: [x86_64]\nworkloads: [{workload: thp-fault}]\n");
  // The branch is built; the tarball, whose tree is the release itself, is extracted, configured
  // and checked (--config-only): a second full build would prove nothing more about the source.
  auto branch = run_foliolab({"build", suite.string(), "--kernel", "branch", "--json"});
  ASSERT_EQ(branch.exit_code, 0) << branch.out;
  ASSERT_EQ(branch.objects.size(), 1u) << branch.out;
  const auto& built = branch.objects[0];
  EXPECT_THAT(built["release"].get<std::string>(), ::testing::StartsWith("7.3.4")) << built.dump();
  ASSERT_TRUE(fs::exists(built["image"].get<std::string>())) << built.dump();
  auto meta = nlohmann::json::parse(common::read_file(fs::path(built["image"].get<std::string>()).parent_path() / "metadata.json"));
  EXPECT_THAT(meta["source"]["description"].get<std::string>(), HasSubstr("git:")) << meta.dump();
  auto released = run_foliolab({"build", suite.string(), "--kernel", "released", "--config-only", "--json"});
  ASSERT_EQ(released.exit_code, 0) << released.out;
  ASSERT_EQ(released.objects.size(), 1u) << released.out;
  EXPECT_EQ(released.objects[0]["release"], "7.3.4");
  EXPECT_THAT(common::read_file(released.objects[0]["config"].get<std::string>()), HasSubstr("CONFIG_TRANSPARENT_HUGEPAGE=y"));
  const std::vector<nlohmann::json> objects = {built, released.objects[0]};
  EXPECT_NE(objects[0]["key"], objects[1]["key"]) << "the commit on top is part of the git source's identity";
  // The user's checkout and branch are untouched.
  EXPECT_EQ(sh({"git", "-C", repo.string(), "rev-parse", "HEAD"}), head_before);
  EXPECT_EQ(sh({"git", "-C", repo.string(), "symbolic-ref", "--short", "HEAD"}), "mm-work\n");
  EXPECT_EQ(sh({"git", "-C", repo.string(), "status", "--porcelain"}), "");
  EXPECT_EQ(sh({"git", "-C", repo.string(), "branch", "--format=%(refname:short)"}), "mm-work\n");
}

}  // namespace
}  // namespace foliolab::kernel
