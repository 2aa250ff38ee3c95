#include "store/index.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <nlohmann/json.hpp>

#include "common/errors.h"

namespace foliolab::store {

namespace {

constexpr const char* kIndexSchema = "4";  // 3: metric_info per workload; 4: samples_per_step

// Thin RAII wrapper over a prepared statement; errors become InfraError naming the SQL.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw common::InfraError(fmt::format("index: cannot prepare '{}': {}", sql, sqlite3_errmsg(db)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, const std::string& text) {
    check(sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int i, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  Statement& bind(int i, int value) { return bind(i, static_cast<std::int64_t>(value)); }
  Statement& bind(int i, double value) {
    check(sqlite3_bind_double(stmt_, i, value));
    return *this;
  }
  // True while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw common::InfraError(fmt::format("index: {}", sqlite3_errmsg(db_)));
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  Statement& bind_blob(int i, std::string_view data) {
    check(sqlite3_bind_blob(stmt_, i, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT));
    return *this;
  }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw common::InfraError(fmt::format("index: bind: {}", sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if an exception leaves the scope.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) { exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec("COMMIT");
    committed_ = true;
  }

 private:
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string message = err ? err : "?";
      sqlite3_free(err);
      throw common::InfraError(fmt::format("index: {}: {}", sql, message));
    }
  }
  sqlite3* db_;
  bool committed_ = false;
};

// run_values.data: per metric a little-endian uint32 metric id then a little-endian IEEE 754
// double (12 bytes), in the order of the manifest's metric names.
constexpr std::size_t kValueRecordSize = 12;

void append_value(std::string& blob, std::uint32_t metric, double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  char record[kValueRecordSize];
  for (int i = 0; i < 4; ++i) record[i] = static_cast<char>((metric >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i) record[4 + i] = static_cast<char>((bits >> (8 * i)) & 0xff);
  blob.append(record, kValueRecordSize);
}

template <typename F>
void for_each_value(std::string_view blob, F&& fn) {
  for (std::size_t at = 0; at + kValueRecordSize <= blob.size(); at += kValueRecordSize) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + at);
    std::uint32_t metric = 0;
    std::uint64_t bits = 0;
    for (int i = 0; i < 4; ++i) metric |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(p[4 + i]) << (8 * i);
    double value = 0;
    std::memcpy(&value, &bits, sizeof value);
    fn(metric, value);
  }
}

std::map<std::string, std::string> parse_string_map(const std::string& text) {
  std::map<std::string, std::string> out;
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return out;
  for (const auto& [k, v] : json.items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

std::string dump_map(const std::map<std::string, std::string>& map) {
  return nlohmann::json(map).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Index::Index(const std::filesystem::path& file) : file_(file) {
  const bool in_memory = file.string() == ":memory:";
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw common::InfraError(fmt::format("cannot open index {}: {}", file.string(), message));
    }
    sqlite3_busy_timeout(db_, 30'000);
    try {
      if (!in_memory) exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
      create_schema();
      return;
    } catch (const common::InfraError& e) {
      // Not a database, or a corrupt one: it is derived data, so start again from nothing.
      sqlite3_close(db_);
      db_ = nullptr;
      if (in_memory || attempt == 1) throw;
      spdlog::warn("index {} is unreadable ({}); recreating it", file.string(), e.what());
      std::error_code ec;
      std::filesystem::remove(file, ec);
      std::filesystem::remove(file.string() + "-wal", ec);
      std::filesystem::remove(file.string() + "-shm", ec);
    }
  }
}

Index::~Index() { sqlite3_close(db_); }

void Index::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw common::InfraError(fmt::format("index {}: {}", file_.string(), message));
  }
}

void Index::create_schema() {
  exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  std::string schema;
  {
    Statement q(db_, "SELECT value FROM meta WHERE key = 'schema'");
    if (q.step()) schema = q.text(0);
  }
  if (schema == kIndexSchema) return;
  Transaction tx(db_);
  exec("DROP VIEW IF EXISTS run_metrics");
  exec("DROP TABLE IF EXISTS metrics");
  exec("DROP TABLE IF EXISTS run_values");
  exec("DROP TABLE IF EXISTS metric_names");
  exec("DROP TABLE IF EXISTS metric_info");
  exec("DROP TABLE IF EXISTS runs");
  exec(R"(CREATE TABLE runs(
      id INTEGER PRIMARY KEY,
      job_key TEXT NOT NULL UNIQUE,
      suite TEXT NOT NULL, baseline TEXT NOT NULL,
      variant TEXT NOT NULL, artifact_key TEXT NOT NULL, release TEXT NOT NULL,
      arch TEXT NOT NULL, machine_profile TEXT NOT NULL, qemu TEXT NOT NULL,
      settings_id TEXT NOT NULL, settings TEXT NOT NULL,
      workload_name TEXT NOT NULL, workload TEXT NOT NULL, params TEXT NOT NULL,
      repetition INTEGER NOT NULL,
      outcome TEXT NOT NULL, outcome_reason TEXT NOT NULL,
      crash_kind TEXT NOT NULL, crash_title TEXT NOT NULL,
      oom_kills INTEGER NOT NULL, samples_per_step INTEGER NOT NULL, host TEXT NOT NULL,
      started TEXT NOT NULL, finished TEXT NOT NULL,
      boot_seconds REAL NOT NULL, total_seconds REAL NOT NULL,
      manifest_mtime_ns INTEGER NOT NULL, manifest_size INTEGER NOT NULL))");
  exec("CREATE TABLE metric_names(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
  // One packed blob per run (see index.h): compare reads 10,000 runs' values in one scan.
  exec("CREATE TABLE run_values(run_id INTEGER PRIMARY KEY, data BLOB NOT NULL)");
  // Per workload: two workloads may give one metric name different meanings (collapsed_fraction
  // is better higher for khugepaged-collapse, neutral for collapse-nonpresent).
  exec(R"(CREATE TABLE metric_info(workload TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL,
      kind TEXT NOT NULL, direction TEXT NOT NULL, threshold REAL NOT NULL, rate INTEGER NOT NULL,
      PRIMARY KEY(workload, name)))");
  Statement set(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?)");
  set.bind(1, std::string(kIndexSchema)).run();
  tx.commit();
}

std::int64_t Index::metric_id(const std::string& name) {
  if (auto it = metric_ids_.find(name); it != metric_ids_.end()) return it->second;
  {
    Statement ins(db_, "INSERT OR IGNORE INTO metric_names(name) VALUES(?)");
    ins.bind(1, name).run();
  }
  Statement q(db_, "SELECT id FROM metric_names WHERE name = ?");
  q.bind(1, name);
  if (!q.step()) throw common::InfraError("index: metric name vanished");
  const auto id = q.integer(0);
  metric_ids_[name] = id;
  return id;
}

void Index::delete_run(const std::string& job_key) {
  Statement del_metrics(db_, "DELETE FROM run_values WHERE run_id = (SELECT id FROM runs WHERE job_key = ?)");
  del_metrics.bind(1, job_key).run();
  Statement del_run(db_, "DELETE FROM runs WHERE job_key = ?");
  del_run.bind(1, job_key).run();
}

void Index::insert_run(const RunManifest& m, const FileStamp& stamp) {
  delete_run(m.job_key);
  Statement ins(db_, R"(INSERT INTO runs(job_key, suite, baseline, variant, artifact_key, release, arch,
      machine_profile, qemu, settings_id, settings, workload_name, workload, params, repetition, outcome,
      outcome_reason, crash_kind, crash_title, oom_kills, samples_per_step, host, started, finished, boot_seconds,
      total_seconds, manifest_mtime_ns, manifest_size)
      VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?))");
  int column = 0;
  auto bind = [&](const auto& value) { ins.bind(++column, value); };
  bind(m.job_key);
  bind(m.suite);
  bind(m.baseline);
  bind(m.kernel.variant);
  bind(m.kernel.artifact_key);
  bind(m.kernel.release);
  bind(m.arch);
  bind(m.machine.profile);
  bind(m.machine.qemu);
  bind(m.settings_id.empty() ? settings_id(m.settings) : m.settings_id);
  bind(dump_map(m.settings));
  bind(m.workload.name);
  bind(m.workload.workload);
  bind(dump_map(m.workload.params));
  bind(m.repetition);
  bind(m.outcome);
  bind(m.outcome_reason);
  bind(m.crash ? m.crash->kind : std::string());
  bind(m.crash ? m.crash->title : std::string());
  bind(m.oom_kills);
  bind(m.samples_per_step);
  bind(m.host.hostname);
  bind(m.timing.started);
  bind(m.timing.finished);
  bind(m.timing.boot_seconds);
  bind(m.timing.total_seconds);
  bind(stamp.mtime_ns);
  bind(stamp.size);
  ins.run();
  const std::int64_t run_id = sqlite3_last_insert_rowid(db_);
  std::string blob;
  blob.reserve(m.metrics.size() * kValueRecordSize);
  for (const auto& [name, value] : m.metrics) append_value(blob, static_cast<std::uint32_t>(metric_id(name)), value);
  Statement values(db_, "INSERT INTO run_values(run_id, data) VALUES(?, ?)");
  values.bind(1, run_id);
  values.bind_blob(2, blob);
  values.run();
  Statement info(db_, R"(INSERT OR REPLACE INTO metric_info(workload, name, unit, kind, direction, threshold, rate)
      VALUES(?,?,?,?,?,?,?))");
  for (const auto& [name, mi] : m.metric_info) {
    info.bind(1, m.workload.workload);
    info.bind(2, name);
    info.bind(3, mi.unit);
    info.bind(4, std::string(metrics::to_string(mi.kind)));
    info.bind(5, std::string(metrics::to_string(mi.direction)));
    info.bind(6, mi.threshold_pct);
    info.bind(7, mi.rate ? 1 : 0);
    info.run();
  }
}

void Index::upsert(const RunManifest& manifest, const FileStamp& stamp) { update({{manifest, stamp}}, {}); }

void Index::remove(const std::string& job_key) { update({}, {job_key}); }

void Index::update(const std::vector<std::pair<RunManifest, FileStamp>>& upserts,
                   const std::vector<std::string>& removals) {
  Transaction tx(db_);
  metric_ids_.clear();  // another process may have rebuilt the index since our last write
  for (const auto& key : removals) delete_run(key);
  for (const auto& [manifest, stamp] : upserts) insert_run(manifest, stamp);
  tx.commit();
}

void Index::rebuild(const std::vector<std::string>& job_keys, const RunLoader& load) {
  std::vector<std::string> keys = job_keys;
  std::sort(keys.begin(), keys.end());
  Transaction tx(db_);
  metric_ids_.clear();
  exec("DELETE FROM run_values");
  exec("DELETE FROM runs");
  exec("DELETE FROM metric_names");
  exec("DELETE FROM metric_info");
  // Runs in job_key order, names numbered as first met: equal folders give equal tables.
  for (const auto& key : keys) {
    if (auto run = load(key)) insert_run(run->first, run->second);
  }
  tx.commit();
}

std::map<std::string, FileStamp> Index::stamps() const {
  std::map<std::string, FileStamp> out;
  Statement q(db_, "SELECT job_key, manifest_mtime_ns, manifest_size FROM runs");
  while (q.step()) out[q.text(0)] = FileStamp{q.integer(1), q.integer(2)};
  return out;
}

std::vector<IndexedRun> Index::runs() const {
  std::vector<IndexedRun> out;
  Statement q(db_, R"(SELECT id, job_key, suite, baseline, variant, artifact_key, release, arch, machine_profile,
      settings_id, settings, workload_name, workload, params, repetition, outcome, outcome_reason, crash_kind,
      crash_title, host, oom_kills, samples_per_step FROM runs ORDER BY id)");
  while (q.step()) {
    IndexedRun r;
    int c = 0;
    r.id = q.integer(c++);
    r.job_key = q.text(c++);
    r.suite = q.text(c++);
    r.baseline = q.text(c++);
    r.variant = q.text(c++);
    r.artifact_key = q.text(c++);
    r.release = q.text(c++);
    r.arch = q.text(c++);
    r.machine_profile = q.text(c++);
    r.settings_id = q.text(c++);
    r.settings = parse_string_map(q.text(c++));
    r.workload_name = q.text(c++);
    r.workload = q.text(c++);
    r.params = parse_string_map(q.text(c++));
    r.repetition = static_cast<int>(q.integer(c++));
    r.outcome = q.text(c++);
    r.outcome_reason = q.text(c++);
    r.crash_kind = q.text(c++);
    r.crash_title = q.text(c++);
    r.host = q.text(c++);
    r.oom_kills = static_cast<int>(q.integer(c++));
    r.samples_per_step = static_cast<int>(q.integer(c++));
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> Index::metric_names() const {
  std::vector<std::string> out;
  Statement q(db_, "SELECT id, name FROM metric_names ORDER BY id");
  while (q.step()) {
    const auto id = static_cast<size_t>(q.integer(0));
    if (id >= out.size()) out.resize(id + 1);
    out[id] = q.text(1);
  }
  return out;
}

std::map<std::string, std::map<std::string, metrics::MetricInfo>> Index::metric_info() const {
  std::map<std::string, std::map<std::string, metrics::MetricInfo>> out;
  Statement q(db_, "SELECT workload, name, unit, kind, direction, threshold, rate FROM metric_info");
  while (q.step()) {
    metrics::MetricInfo info;
    info.unit = q.text(2);
    info.kind = metrics::kind_from_string(q.text(3)).value_or(metrics::Kind::kValue);
    info.direction = metrics::direction_from_string(q.text(4)).value_or(metrics::Direction::kNeutral);
    info.threshold_pct = q.real(5);
    info.rate = q.integer(6) != 0;
    info.known = true;
    out[q.text(0)][q.text(1)] = info;
  }
  return out;
}

void Index::for_each_metric(const std::function<void(std::int64_t, std::int64_t, double)>& fn) const {
  Statement q(db_, "SELECT run_id, data FROM run_values ORDER BY run_id");
  while (q.step()) {
    const std::int64_t run_id = q.integer(0);
    for_each_value(q.blob(1), [&](std::uint32_t metric, double value) { fn(run_id, metric, value); });
  }
}

std::string Index::dump() const {
  std::string out;
  {
    Statement q(db_, R"(SELECT job_key, suite, baseline, variant, artifact_key, release, arch, machine_profile, qemu,
        settings_id, settings, workload_name, workload, params, repetition, outcome, outcome_reason, crash_kind,
        crash_title, oom_kills, samples_per_step, host, started, finished, boot_seconds, total_seconds,
        manifest_mtime_ns, manifest_size FROM runs ORDER BY job_key)");
    while (q.step()) {
      out += "run";
      for (int c = 0; c < 28; ++c) {
        out += '|';
        out += q.text(c);
      }
      out += "\n";
    }
  }
  {
    const auto names = metric_names();
    Statement q(db_, "SELECT r.job_key, v.data FROM run_values v JOIN runs r ON r.id = v.run_id ORDER BY r.job_key");
    while (q.step()) {
      std::vector<std::pair<std::string, double>> values;
      for_each_value(q.blob(1), [&](std::uint32_t metric, double value) {
        values.emplace_back(metric < names.size() ? names[metric] : "?", value);
      });
      std::sort(values.begin(), values.end());
      const std::string key = q.text(0);
      for (const auto& [name, value] : values) out += fmt::format("metric|{}|{}|{}\n", key, name, value);
    }
  }
  {
    Statement q(db_, "SELECT workload, name, unit, kind, direction, threshold, rate FROM metric_info ORDER BY workload, name");
    while (q.step()) out += fmt::format("info|{}|{}|{}|{}|{}|{}|{}\n", q.text(0), q.text(1), q.text(2), q.text(3),
                                        q.text(4), q.real(5), q.integer(6));
  }
  return out;
}

}  // namespace foliolab::store
