#pragma once
// What the HTML report reads from run folders besides the index: counter time series from
// records.jsonl, the console's last lines, the crash excerpt from manifest.json. All of it
// is guest output: read with bounds, parsed leniently (a bad line is skipped), never trusted.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace foliolab::report {

struct CounterSeries {
  std::string name;
  std::vector<double> t;       // seconds since the agent started
  std::vector<double> values;  // as sampled
};

// Series of the sample records' values. `preferred` names come first (those present and
// changing), then other changing names in name order, up to max_series. Reads at most
// max_bytes of the file; lines over 256 KiB are skipped.
std::vector<CounterSeries> read_counter_series(const std::filesystem::path& records_jsonl,
                                               const std::vector<std::string>& preferred, std::size_t max_series,
                                               std::size_t max_bytes = 64u << 20);

// The last `lines` lines of console.log (reading at most its last max_bytes).
std::string console_tail(const std::filesystem::path& console_log, std::size_t lines, std::size_t max_bytes = 64u << 10);

// crash.excerpt of a run's manifest.json, or "".
std::string crash_excerpt(const std::filesystem::path& manifest_json);

}  // namespace foliolab::report
