// Loads an HTML report in headless Chromium and reads the DOM it built: text from a guest that
// looks like markup must arrive as text, and no script of its own may run.
#include <gtest/gtest.h>

#include <fstream>

#include "common/fs.h"
#include "common/process.h"
#include "report/compare_command.h"
#include "store/result_store.h"

namespace foliolab::report {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConsoleAttack = "<script>document.title='pwned-console'</script>";
constexpr const char* kExcerptAttack = "<img src=x onerror=\"document.title='pwned-excerpt'\">";

void write_runs(const fs::path& dir) {
  store::ResultStore s(dir);
  for (const std::string variant : {"base", "patched"}) {
    for (int rep = 0; rep < 3; ++rep) {
      store::RunManifest m;
      m.suite = "html";
      m.baseline = "base";
      m.job_key = variant + "-" + std::to_string(rep);
      m.kernel.variant = variant;
      m.arch = "riscv64";
      m.workload = {"swap-roundtrip", "swap-roundtrip", {}};
      m.repetition = rep;
      m.outcome = "ok";
      m.metrics = {{"vmstat.pswpout", 16384.0 + rep + (variant == "patched" ? 4000 : 0)},
                   {"vmstat.thp_swpout", 32.0 + rep}};
      std::string records;
      for (int i = 0; i < 5; ++i)
        records += "{\"type\":\"sample\",\"t\":" + std::to_string(i * 0.25) +
                   ",\"step\":\"s\",\"phase\":\"during\",\"t_ms\":" + std::to_string(i * 250) +
                   ",\"values\":{\"vmstat.pswpout\":" + std::to_string(i * 4096) + "}}\n";
      std::string console = "boot ok\n";
      if (variant == "patched" && rep == 2) {
        m.outcome = "kernel-crash";
        m.crash = store::CrashInfo{"kernel BUG at mm/swapfile.c:1 <b>bold</b>", std::string("excerpt ") + kExcerptAttack,
                                   "bug"};
        console += std::string("[   1.0] ") + kConsoleAttack + "\n";
      }
      s.write_run(m, console, records);
    }
  }
}

TEST(HtmlReport, GuestMarkupIsTextInTheRenderedPage) {
  const auto chromium = common::find_executable("chromium");
  if (!chromium) {
    ADD_FAILURE() << "chromium is not installed (ci/install-deps installs it)";
    return;
  }
  common::TemporaryDirectory tmp(fs::temp_directory_path(), "foliolab-html-test");
  write_runs(tmp.path() / "results");
  CompareCommand command;
  command.input.dirs = {tmp.path() / "results"};
  command.format = Format::kHtml;
  command.output = tmp.path() / "report.html";
  std::ostringstream unused;
  run_compare(command, unused);
  const std::string html = common::read_file(*command.output);
  // Self-contained: nothing is fetched.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);

  const auto result = common::run_process(
      {chromium->string(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
       "--disable-component-update", "--disable-sync", "--no-first-run",
       "--user-data-dir=" + (tmp.path() / "profile").string(), "--dump-dom", "file://" + command.output->string()},
      common::ProcessOptions{.timeout = std::chrono::seconds(120)});
  ASSERT_TRUE(result.ok()) << result.describe() << "\n" << result.output;
  const std::string& dom = result.output;
  // Scripts did run (our own marks the document), so the checks below mean something.
  EXPECT_NE(dom.find("data-scripts=\"on\""), std::string::npos) << dom.substr(0, 2000);
  // The guest's markup is text: serialised escaped, and it did not act.
  EXPECT_NE(dom.find("&lt;script&gt;document.title='pwned-console'&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(dom.find("&lt;img src=x onerror=\"document.title='pwned-excerpt'\"&gt;"), std::string::npos);
  EXPECT_NE(dom.find("kernel BUG at mm/swapfile.c:1 &lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(dom.find("<title>foliolab compare: baseline base</title>"), std::string::npos);
  EXPECT_EQ(dom.find("pwned-console</title>"), std::string::npos);
  EXPECT_EQ(dom.find("pwned-excerpt</title>"), std::string::npos);
  EXPECT_EQ(dom.find("<img src=\"x\""), std::string::npos);
  // Charts are there: a per-metric interval chart and a per-run counter series.
  EXPECT_NE(dom.find("<circle"), std::string::npos);
  EXPECT_NE(dom.find("<polyline"), std::string::npos);
}

}  // namespace
}  // namespace foliolab::report
