#include "store/result_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <spdlog/spdlog.h>
#include <vector>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::store {

namespace {

[[noreturn]] void io_error(const std::string& what, const std::filesystem::path& path, int err) {
  throw common::InfraError(fmt::format("{} {}: {}", what, path.string(), std::strerror(err)));
}

// Writes a new file (it must not exist) and, if durable, fsyncs it before closing.
void write_new_file(const std::filesystem::path& path, std::string_view content, bool durable) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) io_error("cannot create", path, errno);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      io_error("cannot write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    io_error("cannot sync", path, err);
  }
  if (::close(fd) != 0) io_error("cannot close", path, errno);
}

void sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_error("cannot open", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) io_error("cannot sync", dir, err);
}

std::optional<FileStamp> stamp_of(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStamp{static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   static_cast<std::int64_t>(st.st_size)};
}

RunManifest parse_manifest_file(const std::filesystem::path& file) {
  const std::string text = common::read_file(file);
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) throw common::UsageError(fmt::format("{}: not valid JSON", file.string()));
  return manifest_from_json(json, file.string());
}

std::string manifest_text(const RunManifest& manifest) {
  // Guest text may hold invalid UTF-8: replaced, never a reason to lose the run.
  return to_json(manifest).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

bool is_valid_job_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool is_result_store(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_directory(dir / "runs", ec) || std::filesystem::is_regular_file(dir / "index.sqlite", ec);
}

struct ResultStore::Scan {
  std::map<std::string, FileStamp> complete;  // job_key -> manifest stamp
  std::size_t incomplete = 0;
  std::size_t invalid = 0;
};

ResultStore::ResultStore(std::filesystem::path dir, StoreOptions options)
    : dir_(std::move(dir)), options_(options) {}

ResultStore::~ResultStore() = default;

bool ResultStore::has_run(const std::string& job_key) const {
  if (!is_valid_job_key(job_key)) return false;
  std::error_code ec;
  return std::filesystem::is_regular_file(run_dir(job_key) / "manifest.json", ec);
}

std::optional<RunManifest> ResultStore::read_manifest(const std::string& job_key) const {
  if (!has_run(job_key)) return std::nullopt;
  return parse_manifest_file(run_dir(job_key) / "manifest.json");
}

void ResultStore::write_run(const RunManifest& manifest, std::string_view console_log, std::string_view records_jsonl) {
  const std::string& key = manifest.job_key;
  if (!is_valid_job_key(key)) throw common::UsageError(fmt::format("job key '{}' is not a plain name", key));
  const auto runs = runs_dir();
  std::error_code ec;
  std::filesystem::create_directories(runs, ec);
  if (ec) throw common::InfraError(fmt::format("cannot create {}: {}", runs.string(), ec.message()));

  // Leftovers of an earlier, interrupted write of this key are never complete: drop them.
  const std::string stale_prefix = fmt::format(".tmp-{}-", key);
  for (const auto& entry : std::filesystem::directory_iterator(runs, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(stale_prefix)) std::filesystem::remove_all(entry.path(), ec);
  }

  const auto tmp = runs / fmt::format(".tmp-{}-{}-{}", key, ::getpid(), write_counter_++);
  std::filesystem::create_directory(tmp, ec);
  if (ec) throw common::InfraError(fmt::format("cannot create {}: {}", tmp.string(), ec.message()));
  try {
    write_new_file(tmp / "console.log", console_log, options_.durable);
    notify("console.log");
    write_new_file(tmp / "records.jsonl", records_jsonl, options_.durable);
    notify("records.jsonl");
    write_new_file(tmp / "manifest.json", manifest_text(manifest), options_.durable);
    notify("manifest.json");
    if (options_.durable) sync_dir(tmp);
    notify("synced");

    const auto final_dir = run_dir(key);
    std::optional<std::filesystem::path> old;
    if (std::filesystem::exists(final_dir, ec)) {
      old = runs / fmt::format(".old-{}-{}-{}", key, ::getpid(), write_counter_++);
      std::filesystem::rename(final_dir, *old, ec);
      if (ec) throw common::InfraError(fmt::format("cannot move {} aside: {}", final_dir.string(), ec.message()));
    }
    std::filesystem::rename(tmp, final_dir, ec);
    if (ec) throw common::InfraError(fmt::format("cannot rename {} to {}: {}", tmp.string(), final_dir.string(), ec.message()));
    if (options_.durable) sync_dir(runs);
    notify("renamed");
    if (old) std::filesystem::remove_all(*old, ec);
  } catch (...) {
    std::filesystem::remove_all(tmp, ec);
    throw;
  }

  if (options_.update_index) {
    // The run is stored; the index is derived, so a failure here only costs a later sync.
    try {
      const auto manifest_file = run_dir(key) / "manifest.json";
      if (auto stamp = stamp_of(manifest_file)) index().upsert(parse_manifest_file(manifest_file), *stamp);
    } catch (const std::exception& e) {
      spdlog::warn("run {} stored but not indexed ({}); `foliolab reindex {}` repairs it", key, e.what(), dir_.string());
    }
  }
  notify("indexed");
}

void ResultStore::rekey_run(const std::string& old_key, const std::string& new_key) {
  if (!is_valid_job_key(new_key)) throw common::UsageError(fmt::format("job key '{}' is not a plain name", new_key));
  RunManifest manifest = read_manifest(old_key).value();  // throws for a missing run: a caller's bug
  manifest.job_key = new_key;
  std::error_code ec;
  const auto moving = runs_dir() / fmt::format(".tmp-{}-{}-{}", new_key, ::getpid(), write_counter_++);
  std::filesystem::rename(run_dir(old_key), moving, ec);
  if (ec) throw common::InfraError(fmt::format("cannot move {}: {}", run_dir(old_key).string(), ec.message()));
  std::filesystem::remove(moving / "manifest.json", ec);
  write_new_file(moving / "manifest.json", manifest_text(manifest), options_.durable);
  if (options_.durable) sync_dir(moving);
  std::filesystem::rename(moving, run_dir(new_key), ec);
  if (ec) throw common::InfraError(fmt::format("cannot rename {} to {}: {}", moving.string(), run_dir(new_key).string(), ec.message()));
  if (options_.durable) sync_dir(runs_dir());
}

ResultStore::Scan ResultStore::scan() const {
  Scan out;
  std::error_code ec;
  const auto runs = runs_dir();
  if (!std::filesystem::is_directory(runs, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(runs, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".tmp-")) {
      ++out.incomplete;
      continue;
    }
    if (name.starts_with(".")) continue;  // .old- folders of a replace in progress
    if (!entry.is_directory(ec)) continue;
    auto stamp = stamp_of(entry.path() / "manifest.json");
    if (!is_valid_job_key(name) || !stamp) {
      ++out.invalid;
      spdlog::warn("{}: not a run folder (no manifest.json or not a job key); ignored", entry.path().string());
      continue;
    }
    out.complete[name] = *stamp;
  }
  if (ec) throw common::InfraError(fmt::format("cannot list {}: {}", runs.string(), ec.message()));
  return out;
}

Index& ResultStore::index() {
  if (!index_) {
    std::error_code ec;
    try {
      if (std::filesystem::is_directory(dir_, ec) && ::access(dir_.c_str(), W_OK) == 0) {
        index_ = std::make_unique<Index>(index_file());
      } else if (std::filesystem::is_directory(dir_, ec)) {
        spdlog::info("{} is read-only: using an in-memory index", dir_.string());
        index_ = std::make_unique<Index>(":memory:");
      } else {
        std::filesystem::create_directories(dir_, ec);
        index_ = std::make_unique<Index>(index_file());
      }
    } catch (const common::InfraError& e) {
      spdlog::warn("{}; using an in-memory index", e.what());
      index_ = std::make_unique<Index>(":memory:");
    }
  }
  return *index_;
}

IndexReport ResultStore::sync_index() {
  const Scan found = scan();
  Index& idx = index();
  const auto indexed = idx.stamps();
  IndexReport report;
  report.incomplete = found.incomplete;
  report.invalid = found.invalid;
  std::vector<std::pair<RunManifest, FileStamp>> upserts;
  std::vector<std::string> removals;
  for (const auto& [key, stamp] : found.complete) {
    auto it = indexed.find(key);
    if (it != indexed.end() && it->second == stamp) continue;
    try {
      RunManifest manifest = parse_manifest_file(run_dir(key) / "manifest.json");
      if (manifest.job_key != key)
        throw common::UsageError(fmt::format("manifest names job {}, folder is {}", manifest.job_key, key));
      upserts.emplace_back(std::move(manifest), stamp);
      ++report.parsed;
    } catch (const std::exception& e) {
      spdlog::warn("{}: {}; run ignored", run_dir(key).string(), e.what());
      ++report.invalid;
      if (it != indexed.end()) removals.push_back(key);
    }
  }
  for (const auto& [key, stamp] : indexed) {
    if (!found.complete.contains(key)) removals.push_back(key);
  }
  report.removed = removals.size();
  if (!upserts.empty() || !removals.empty()) idx.update(upserts, removals);
  report.runs = idx.stamps().size();
  return report;
}

IndexReport ResultStore::reindex() {
  const Scan found = scan();
  IndexReport report;
  report.incomplete = found.incomplete;
  report.invalid = found.invalid;
  std::vector<std::string> keys;
  keys.reserve(found.complete.size());
  for (const auto& [key, stamp] : found.complete) keys.push_back(key);
  index().rebuild(keys, [&](const std::string& key) -> std::optional<std::pair<RunManifest, FileStamp>> {
    try {
      RunManifest manifest = parse_manifest_file(run_dir(key) / "manifest.json");
      if (manifest.job_key != key)
        throw common::UsageError(fmt::format("manifest names job {}, folder is {}", manifest.job_key, key));
      ++report.parsed;
      ++report.runs;
      return std::make_pair(std::move(manifest), found.complete.at(key));
    } catch (const std::exception& e) {
      spdlog::warn("{}: {}; run ignored", run_dir(key).string(), e.what());
      ++report.invalid;
      return std::nullopt;
    }
  });
  return report;
}

}  // namespace foliolab::store
