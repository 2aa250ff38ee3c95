#pragma once
// index.sqlite: a derived, rebuildable view of a results folder's run folders, for fast
// queries (compare reads it instead of parsing every manifest). SQLite in WAL mode so that a
// runner can add runs while a compare reads. Never the source of truth: deleting the file and
// calling ResultStore::reindex() gives the same content back.
//
// Tables (docs/report-json.md lists them for people who query the file):
//   runs(id, job_key UNIQUE, suite, baseline, variant, artifact_key, release, arch, ...)
//   metric_names(id, name UNIQUE)
//   run_values(run_id, data BLOB)   -- per metric: uint32 metric id, float64 value (12 bytes,
//                                      little-endian), so compare reads every value in one scan
//   metric_info(workload, name, unit, kind, direction, threshold, rate) -- from manifests (wl.*)
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "store/manifest.h"

namespace foliolab::store {

// Identity of a manifest.json on disk: a run folder whose stamp differs is indexed again.
struct FileStamp {
  std::int64_t mtime_ns = 0;
  std::int64_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

// One run as compare needs it (everything but the metric values).
struct IndexedRun {
  std::int64_t id = 0;
  std::string job_key, suite, baseline, variant, artifact_key, release, arch, machine_profile;
  std::string settings_id;
  std::map<std::string, std::string> settings;
  std::string workload_name, workload;
  std::map<std::string, std::string> params;
  int repetition = 0;
  std::string outcome, outcome_reason, crash_kind, crash_title, host;
  int oom_kills = 0;
  int samples_per_step = -1;  // RunManifest::samples_per_step
};

class Index {
 public:
  // Opens (creating if needed) the index at `file`; ":memory:" gives a private in-memory one.
  // A file that is not a current-schema index is deleted and recreated (it is derived data).
  // Throws common::InfraError when it cannot be opened at all.
  explicit Index(const std::filesystem::path& file);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Adds or replaces one run (one transaction).
  void upsert(const RunManifest& manifest, const FileStamp& stamp);
  void remove(const std::string& job_key);
  // Replaces the whole content in one transaction (readers see old or new, never a mix).
  // `load` is called once per key, in job_key order (so that the same folders give the same
  // index), and may answer nullopt to leave a run out; manifests are never all in memory.
  using RunLoader = std::function<std::optional<std::pair<RunManifest, FileStamp>>(const std::string& job_key)>;
  void rebuild(const std::vector<std::string>& job_keys, const RunLoader& load);
  // Applies several upserts and removals in one transaction.
  void update(const std::vector<std::pair<RunManifest, FileStamp>>& upserts, const std::vector<std::string>& removals);

  std::map<std::string, FileStamp> stamps() const;  // job_key -> stamp
  std::vector<IndexedRun> runs() const;             // ordered by id
  std::vector<std::string> metric_names() const;    // indexed by metric id (empty where unused)
  // workload (catalog name) -> metric -> what its descriptor says.
  std::map<std::string, std::map<std::string, metrics::MetricInfo>> metric_info() const;
  // Calls fn(run id, metric id, value) for every stored value, ordered by run id then metric id.
  void for_each_metric(const std::function<void(std::int64_t, std::int64_t, double)>& fn) const;
  // A canonical text dump of the content (runs and metrics by job_key and name) for tests and
  // for checking that two indexes hold the same thing.
  std::string dump() const;

 private:
  void exec(const char* sql) const;
  void create_schema();
  void insert_run(const RunManifest& manifest, const FileStamp& stamp);
  void delete_run(const std::string& job_key);
  std::int64_t metric_id(const std::string& name);

  sqlite3* db_ = nullptr;
  std::filesystem::path file_;
  std::map<std::string, std::int64_t> metric_ids_;  // cache of metric_names
};

}  // namespace foliolab::store
