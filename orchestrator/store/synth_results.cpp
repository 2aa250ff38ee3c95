// foliolab-synth-results: writes synthetic runs into a results folder through ResultStore, for
// bench/compare (10,000 runs) and for the store's kill test (a writer killed mid-write).
// Not installed; not a user command.
//
//   foliolab-synth-results DIR [--arches N] [--workloads N] [--settings N] [--variants N]
//       [--repetitions N] [--metrics N] [--seed N] [--console-bytes N] [--fast] [--announce]
//       [--loop]
//
// The grid is arches x workloads x settings x variants x repetitions. Each run holds --metrics
// metrics named like a real run's (vmstat.*, vmstat.nr_* gauges with .min/.max, mthp.*,
// trace.*, wl.*), about half of them zero as in a real /proc/vmstat. Variant v shifts a few
// metrics by a known amount so that compare has something to find. --fast skips fsync and the
// per-run index update (run `foliolab reindex` afterwards). --announce prints each write stage
// on stdout ("<run number> <stage>"); with --step it then waits for one byte on stdin before
// going on (the kill test stops it at an exact point). --loop writes forever.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <random>
#include <string>
#include <vector>

#include "common/hash.h"
#include "store/result_store.h"

namespace {

using foliolab::store::ResultStore;
using foliolab::store::RunManifest;

struct Options {
  std::string dir;
  int arches = 3, workloads = 10, settings = 17, variants = 4, repetitions = 5, metrics = 300;
  unsigned long seed = 1;
  long console_bytes = 4096;
  bool fast = false, announce = false, step = false, loop = false;
};

int usage() {
  std::fprintf(stderr, "usage: foliolab-synth-results DIR [--arches N] [--workloads N] [--settings N] "
                       "[--variants N] [--repetitions N] [--metrics N] [--seed N] [--console-bytes N] "
                       "[--fast] [--announce] [--step] [--loop]\n");
  return 2;
}

std::vector<std::string> metric_names(int count) {
  // A realistic mix: zero-heavy vmstat counters, gauges (3 metrics each), mTHP, trace, wl.
  static const char* kKnown[] = {"vmstat.thp_fault_alloc", "vmstat.thp_fault_fallback", "vmstat.thp_collapse_alloc",
                                 "vmstat.thp_swpout", "vmstat.thp_swpout_fallback", "vmstat.pswpin",
                                 "vmstat.pswpout", "vmstat.pgfault", "vmstat.pgmajfault",
                                 "khugepaged.pages_collapsed", "trace.mm_khugepaged_scan_pmd.succeeded",
                                 "trace.mm_khugepaged_scan_pmd.exceed_swap_pte", "wl.collapsed_fraction",
                                 "wl.time_to_collapse_ms", "wl.throughput_mbps"};
  std::vector<std::string> out(std::begin(kKnown), std::end(kKnown));
  for (int i = 0; static_cast<int>(out.size()) < count; ++i) {
    switch (i % 4) {
      case 0: out.push_back(fmt::format("vmstat.counter_{}", i)); break;
      case 1: out.push_back(fmt::format("mthp.{}kB.stat_{}", 16 << (i % 8), i)); break;
      case 2:
        out.push_back(fmt::format("vmstat.nr_gauge_{}", i));
        out.push_back(fmt::format("vmstat.nr_gauge_{}.min", i));
        out.push_back(fmt::format("vmstat.nr_gauge_{}.max", i));
        break;
      default: out.push_back(fmt::format("meminfo.Level{}", i)); break;
    }
  }
  out.resize(static_cast<size_t>(count));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](auto& field) {
      if (i + 1 >= argc) std::exit(usage());
      field = static_cast<std::remove_reference_t<decltype(field)>>(std::strtol(argv[++i], nullptr, 10));
    };
    if (a == "--arches") number(o.arches);
    else if (a == "--workloads") number(o.workloads);
    else if (a == "--settings") number(o.settings);
    else if (a == "--variants") number(o.variants);
    else if (a == "--repetitions") number(o.repetitions);
    else if (a == "--metrics") number(o.metrics);
    else if (a == "--seed") number(o.seed);
    else if (a == "--console-bytes") number(o.console_bytes);
    else if (a == "--fast") o.fast = true;
    else if (a == "--announce") o.announce = true;
    else if (a == "--step") o.step = o.announce = true;
    else if (a == "--loop") o.loop = true;
    else if (!a.starts_with("--") && o.dir.empty()) o.dir = a;
    else return usage();
  }
  if (o.dir.empty() || o.arches < 1 || o.arches > 3 || o.variants < 1 || o.metrics < 1) return usage();

  foliolab::store::StoreOptions store_options;
  store_options.durable = !o.fast;
  store_options.update_index = !o.fast;
  ResultStore store(o.dir, store_options);
  long run_number = 0;
  if (o.announce) {
    store.set_write_observer([&](std::string_view stage) {
      std::printf("%ld %.*s\n", run_number, static_cast<int>(stage.size()), stage.data());
      std::fflush(stdout);
      char go = 0;
      if (o.step && ::read(0, &go, 1) != 1) std::exit(0);  // the test went away
    });
  }
  const std::vector<std::string> names = metric_names(o.metrics);
  const char* arches[] = {"x86_64", "arm64", "riscv64"};
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  const std::string console(static_cast<size_t>(std::max(0L, o.console_bytes)), 'x');

  for (long round = 0;; ++round) {
    for (int a = 0; a < o.arches; ++a)
      for (int w = 0; w < o.workloads; ++w)
        for (int s = 0; s < o.settings; ++s)
          for (int v = 0; v < o.variants; ++v)
            for (int r = 0; r < o.repetitions; ++r) {
              RunManifest m;
              m.suite = "synthetic";
              m.baseline = "v0";
              m.kernel.variant = fmt::format("v{}", v);
              m.kernel.artifact_key = foliolab::common::hash_string(fmt::format("kernel {} {}", v, a));
              m.kernel.release = "6.12.117";
              m.kernel.source = "debian:linux-source-6.12";
              m.arch = arches[a];
              m.machine = {fmt::format("{}-default", arches[a]), "tcg", "QEMU emulator version 7.2.19", "2G", 2};
              m.settings = {{"thp.enabled", "always"},
                            {"khugepaged.max_ptes_none", std::to_string(511 - s * 16)},
                            {"swap.zram", "512M"}};
              m.workload = {fmt::format("workload-{}", w), "khugepaged-collapse", {{"size", "64M"}}};
              m.repetition = r;
              m.job_key = foliolab::common::hash_string(
                  fmt::format("{} {} {} {} {} {}", round, a, w, s, v, r));
              m.host = {"synthetic-host", "0.1.0"};
              m.timing = {"2026-11-22T10:00:00Z", "2026-11-22T10:00:10Z", 1.4, 9.8};
              // One crash in every 97 runs of the last variant, so outcomes have something to show.
              const bool crash = v == o.variants - 1 && v > 0 && (run_number % 97) == 0;
              m.outcome = crash ? "kernel-crash" : "ok";
              if (crash) {
                m.outcome_reason = "kernel panic during the workload";
                m.crash = foliolab::store::CrashInfo{"kernel BUG at include/linux/swapops.h:511",
                                                     "kernel BUG at include/linux/swapops.h:511\n<script>x</script>", "bug"};
              }
              for (size_t k = 0; k < names.size(); ++k) {
                if (k >= 15 && k % 2 == 1) {
                  m.metrics[names[k]] = 0;  // the many vmstat lines that never move
                  continue;
                }
                const double base = 1000.0 * static_cast<double>(1 + (k * 7919 + static_cast<size_t>(w) * 31) % 97);
                // Variant v > 0 shifts every 10th metric by 10% per variant step.
                const double shift = (k % 10 == 0) ? 1.0 + 0.10 * v : 1.0;
                const double cov = 0.02;
                m.metrics[names[k]] = std::max(0.0, base * shift * (1.0 + cov * noise(rng)));
              }
              store.write_run(m, console, "{\"type\":\"done\",\"t\":1,\"steps\":1,\"errors\":0}\n");
              ++run_number;
            }
    if (!o.loop) break;
  }
  std::printf("wrote %ld runs into %s\n", run_number, o.dir.c_str());
  return 0;
}
