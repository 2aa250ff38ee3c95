#pragma once
// The results of one suite: results/<suite>/runs/<job-key>/{manifest.json, console.log,
// records.jsonl} plus index.sqlite derived from them (docs/protocol.md section 5).
//
// Contract: a run folder under its final name is complete. write_run() fills
// runs/.tmp-<job-key>-<pid>-<n>/ (fsynced when durable), renames it into place and only then
// updates the index; a process killed at any point leaves either no run or a complete one,
// plus at most a .tmp- folder that nothing counts and the next write of that key removes.
// The index is never the source of truth: sync_index() brings it up to date with the run
// folders (new, changed, removed, e.g. after copying run folders in from another machine) and
// reindex() rebuilds it from nothing. Safe to use from several processes at once; one object
// must not be used from several threads at once.
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/index.h"
#include "store/manifest.h"

namespace foliolab::store {

struct StoreOptions {
  // fsync files and folders before and after the rename (a power cut keeps complete runs
  // complete). Off only for synthetic data (benchmarks).
  bool durable = true;
  // Update index.sqlite after each write_run (off: call sync_index() later).
  bool update_index = true;
};

struct IndexReport {
  std::size_t runs = 0;        // runs in the index afterwards
  std::size_t parsed = 0;      // manifests read
  std::size_t removed = 0;     // index entries whose folder is gone
  std::size_t invalid = 0;     // run folders skipped: unreadable or invalid manifest
  std::size_t incomplete = 0;  // .tmp- folders left by an interrupted writer (ignored)
};

class ResultStore {
 public:
  // `dir` is results/<suite>. Creates nothing until the first write or index access.
  explicit ResultStore(std::filesystem::path dir, StoreOptions options = {});
  ~ResultStore();
  ResultStore(const ResultStore&) = delete;
  ResultStore& operator=(const ResultStore&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path runs_dir() const { return dir_ / "runs"; }
  std::filesystem::path run_dir(const std::string& job_key) const { return runs_dir() / job_key; }
  std::filesystem::path index_file() const { return dir_ / "index.sqlite"; }

  // A complete run with this key exists (its folder holds a manifest.json).
  bool has_run(const std::string& job_key) const;
  std::optional<RunManifest> read_manifest(const std::string& job_key) const;

  // Stores one run atomically; replaces an earlier run of the same key (a retried
  // infra-error). Throws common::UsageError for a job key that is not a plain name and
  // common::InfraError when the disk refuses.
  void write_run(const RunManifest& manifest, std::string_view console_log, std::string_view records_jsonl);

  // Moves the complete run stored under `old_key` to `new_key` (its manifest's job_key
  // rewritten), for results stored under an older job-key recipe. The folder first leaves its
  // final name for a .tmp- one, so a process killed midway loses that run (it runs again)
  // but never leaves it counted twice. Call sync_index() afterwards.
  void rekey_run(const std::string& old_key, const std::string& new_key);

  IndexReport sync_index();
  IndexReport reindex();
  // The index, opened on first use. If the results folder is read-only, an in-memory index
  // built from the run folders.
  Index& index();

  // Test hook: called with a stage name ("console.log", "records.jsonl", "manifest.json",
  // "synced", "renamed", "indexed") as write_run progresses.
  void set_write_observer(std::function<void(std::string_view)> observer) { observer_ = std::move(observer); }

 private:
  struct Scan;
  Scan scan() const;
  void notify(std::string_view stage) const {
    if (observer_) observer_(stage);
  }

  std::filesystem::path dir_;
  StoreOptions options_;
  std::unique_ptr<Index> index_;
  std::function<void(std::string_view)> observer_;
  unsigned write_counter_ = 0;
};

// True if `dir` looks like a results folder of one suite (it has runs/ or index.sqlite).
bool is_result_store(const std::filesystem::path& dir);

// A job key is a plain file name: letters, digits, '-', '_' (1..128 characters).
bool is_valid_job_key(std::string_view key);

}  // namespace foliolab::store
