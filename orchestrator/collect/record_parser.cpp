#include "collect/record_parser.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "collect/untrusted_text.h"

namespace foliolab::collect {

namespace {

using nlohmann::json;

// No record of the protocol nests deeper than 2 (a record holding an object or an array).
// Rejecting deeper input before parsing keeps a hostile "[[[[..." line cheap.
constexpr int kMaxNesting = 8;

// Per-entry and per-record overheads used to estimate the memory a record holds once parsed
// (map nodes, small strings): deliberately generous so that the budget is an upper bound.
constexpr std::size_t kCostPerEntry = 96;
constexpr std::size_t kCostPerRecord = 256;

bool nested_too_deeply(std::string_view line) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxNesting) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

std::optional<std::int64_t> as_int64(const json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned()) {
    auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  return value.get<std::int64_t>();
}

// Short, printable rendering of a guest-supplied name inside a problem description.
std::string quote_name(std::string_view name) { return "'" + printable_excerpt(name, 60) + "'"; }

// Reads the fields of one record and remembers the first problem, so that a record is
// either taken whole or rejected whole with one clear reason.
class FieldReader {
 public:
  explicit FieldReader(const json& record) : record_(record) {}

  bool ok() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }
  void fail(std::string problem) {
    if (problem_.empty()) problem_ = std::move(problem);
  }

  std::string string(const char* key) {
    const json* v = get(key);
    if (!v) return {};
    if (!v->is_string()) return mistyped(key, "a string"), std::string();
    return v->get<std::string>();
  }

  std::string nonempty_string(const char* key) {
    std::string s = string(key);
    if (ok() && s.empty()) fail(fmt::format("field '{}' is empty", key));
    return s;
  }

  std::int64_t integer(const char* key) {
    const json* v = get(key);
    if (!v) return 0;
    auto i = as_int64(*v);
    if (!i) return mistyped(key, "a 64-bit integer"), 0;
    return *i;
  }

  double number(const char* key) {
    const json* v = get(key);
    if (!v) return 0;
    if (!v->is_number()) return mistyped(key, "a number"), 0.0;
    double d = v->get<double>();
    if (!std::isfinite(d)) return mistyped(key, "a finite number"), 0.0;
    return d;
  }

  bool boolean(const char* key) {
    const json* v = get(key);
    if (!v) return false;
    if (!v->is_boolean()) return mistyped(key, "true or false"), false;
    return v->get<bool>();
  }

  // Present, and an integer in int range or null.
  std::optional<int> nullable_int(const char* key) {
    const json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    auto i = as_int64(*v);
    if (!i || *i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max()) {
      mistyped(key, "an integer or null");
      return std::nullopt;
    }
    return static_cast<int>(*i);
  }

  // An object whose values are all integers.
  std::map<std::string, std::int64_t> integer_map(const char* key) {
    std::map<std::string, std::int64_t> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_object()) return mistyped(key, "an object"), out;
    for (const auto& [name, value] : v->items()) {
      auto i = as_int64(value);
      if (!i) {
        fail(fmt::format("field '{}': value of {} is not a 64-bit integer", key, quote_name(name)));
        return {};
      }
      out.emplace(name, *i);
    }
    return out;
  }

  std::map<std::string, bool> boolean_map(const char* key) {
    std::map<std::string, bool> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_object()) return mistyped(key, "an object"), out;
    for (const auto& [name, value] : v->items()) {
      if (!value.is_boolean()) {
        fail(fmt::format("field '{}': value of {} is not true or false", key, quote_name(name)));
        return {};
      }
      out.emplace(name, value.get<bool>());
    }
    return out;
  }

  std::vector<std::int64_t> integer_array(const char* key) {
    std::vector<std::int64_t> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_array()) return mistyped(key, "an array"), out;
    for (const auto& item : *v) {
      auto i = as_int64(item);
      if (!i) return mistyped(key, "an array of integers"), std::vector<std::int64_t>();
      out.push_back(*i);
    }
    return out;
  }

  std::vector<std::string> string_array(const char* key) {
    std::vector<std::string> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_array()) return mistyped(key, "an array"), out;
    for (const auto& item : *v) {
      if (!item.is_string()) return mistyped(key, "an array of strings"), std::vector<std::string>();
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // A string that must be one of `allowed`.
  std::string one_of(const char* key, std::initializer_list<std::string_view> allowed) {
    std::string s = string(key);
    if (!ok()) return s;
    for (auto a : allowed) {
      if (s == a) return s;
    }
    fail(fmt::format("field '{}' has unknown value {}", key, quote_name(s)));
    return s;
  }

 private:
  const json* get(const char* key) {
    if (!ok()) return nullptr;
    auto it = record_.find(key);
    if (it == record_.end()) {
      fail(fmt::format("field '{}' missing", key));
      return nullptr;
    }
    return &*it;
  }

  void mistyped(const char* key, const char* what) { fail(fmt::format("field '{}' must be {}", key, what)); }

  const json& record_;
  std::string problem_;
};

}  // namespace

RecordParser::RecordParser(RecordParserLimits limits) : limits_(limits) {}

void RecordParser::feed(std::string_view bytes) {
  if (finished_) return;
  while (!bytes.empty()) {
    const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
    const std::size_t segment =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - bytes.data()) : bytes.size();
    if (overlong_bytes_ > 0) {
      overlong_bytes_ += segment;
    } else if (partial_.size() + segment > limits_.max_line_bytes) {
      // Too long: forget what we have and only count the rest of this line.
      overlong_bytes_ = partial_.size() + segment;
      partial_.clear();
      partial_.shrink_to_fit();
    } else {
      partial_.append(bytes.data(), segment);
    }
    if (!nl) break;
    end_line();
    bytes.remove_prefix(segment + 1);
  }
}

void RecordParser::finish() {
  if (finished_) return;
  if (overlong_bytes_ > 0 || !partial_.empty()) {
    ++line_number_;
    ++records_.malformed_lines;
    if (overlong_bytes_ > 0) {
      add_error({"channel", "over-long-line",
                 fmt::format("line {}: {} bytes without end of line when the channel closed "
                             "(limit {} per line); dropped",
                             line_number_, overlong_bytes_, limits_.max_line_bytes)});
    } else {
      add_error({"channel", "truncated-line",
                 fmt::format("line {}: channel closed in the middle of a line ({} bytes): {}", line_number_,
                             partial_.size(), printable_excerpt(partial_, limits_.excerpt_bytes))});
    }
  }
  partial_.clear();
  partial_.shrink_to_fit();
  overlong_bytes_ = 0;
  finished_ = true;
}

void RecordParser::end_line() {
  ++line_number_;
  if (overlong_bytes_ > 0) {
    ++records_.malformed_lines;
    add_error({"channel", "over-long-line",
               fmt::format("line {}: {} bytes, over the limit of {} per line; dropped", line_number_,
                           overlong_bytes_, limits_.max_line_bytes)});
    overlong_bytes_ = 0;
    return;
  }
  std::string line = std::move(partial_);
  partial_.clear();
  handle_line(line);
}

void RecordParser::handle_line(std::string_view line) {
  if (is_blank(line)) return;
  if (over_budget_) {
    ++records_.malformed_lines;  // already described by the one "budget" error
    return;
  }
  if (records_.done) return reject("after-done", "record after 'done'", line);
  if (!is_valid_utf8(line)) return reject("invalid-utf8", "not valid UTF-8", line);
  if (nested_too_deeply(line)) return reject("invalid-json", "nested too deeply", line);

  std::string type, step, problem;
  std::size_t entries = 0;
  try {
    problem = apply(line, type, step, entries);
  } catch (const std::exception& e) {
    // nlohmann::json is used without exceptions for parsing; this is only a safety net.
    problem = fmt::format("cannot be read ({})", e.what());
  }
  if (!problem.empty()) {
    const bool json_error = problem.rfind("invalid JSON", 0) == 0;
    return reject(json_error ? "invalid-json" : "schema", problem, line);
  }
  accepted_lines_.emplace_back(line);
  if (on_record) on_record(type, step);
}

std::string RecordParser::apply(std::string_view line, std::string& type, std::string& step,
                                std::size_t& entries) {
  json doc = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return "invalid JSON";
  if (!doc.is_object()) return "invalid JSON record: not an object";

  FieldReader r(doc);
  type = r.string("type");
  const double t = r.number("t");
  if (!r.ok()) return r.problem();

  // Charges the memory budget for a record about to be kept; false when over budget.
  auto admit = [&](std::size_t n_entries) {
    entries = n_entries;
    const std::size_t cost = 2 * line.size() + kCostPerEntry * n_entries + kCostPerRecord;
    if (cost_ + cost > limits_.max_record_bytes) return false;
    cost_ += cost;
    return true;
  };
  const std::string over_budget = "over budget";

  if (type == "hello") {
    Hello h;
    h.job_key = r.string("job_key");
    h.release = r.string("release");
    h.version = r.string("version");
    h.machine = r.string("machine");
    h.arch = r.one_of("arch", {"x86_64", "arm64", "riscv64"});
    h.page_size = r.integer("page_size");
    h.pmd_kb = r.integer("pmd_kb");
    h.thp_sizes_kb = r.integer_array("thp_sizes_kb");
    h.mem_total_kb = r.integer("mem_total_kb");
    h.cpus = r.integer("cpus");
    h.features = r.boolean_map("features");
    h.t = t;
    if (!r.ok()) return r.problem();
    if (records_.hello) return "second 'hello'";
    if (!admit(h.thp_sizes_kb.size() + h.features.size())) return over_budget;
    records_.hello = std::move(h);
    return {};
  }
  if (type == "setting") {
    SettingRecord s;
    s.name = r.nonempty_string("name");
    s.path = r.string("path");
    s.requested = r.string("requested");
    s.actual = r.string("actual");
    const bool ok = r.boolean("ok");
    if (!r.ok()) return r.problem();
    if (!admit(0)) return over_budget;
    if (!ok) {
      // The protocol reports refused settings as error records; an agent that says ok:false
      // instead still refused the setting, and the run must say so.
      add_error({"setting", s.name,
                 fmt::format("requested '{}', kernel reports '{}'", s.requested, s.actual)});
    }
    records_.settings.push_back(std::move(s));
    return {};
  }
  if (type == "swap") {
    SwapRecord s;
    s.kind = r.one_of("kind", {"zram", "disk"});
    s.device = r.string("device");
    s.size_bytes = r.integer("size_bytes");
    s.priority = r.integer("priority");
    if (!r.ok()) return r.problem();
    if (!admit(0)) return over_budget;
    records_.swaps.push_back(std::move(s));
    return {};
  }
  if (type == "error") {
    RunError e;
    e.where = r.one_of("where", {"setting", "swap", "trace", "step", "agent"});
    e.name = r.string("name");
    e.message = r.string("message");
    if (!r.ok()) return r.problem();
    if (!admit(0)) return over_budget;
    add_error(std::move(e));
    return {};
  }
  if (type == "done") {
    r.integer("steps");
    r.integer("errors");
    if (!r.ok()) return r.problem();
    if (!admit(0)) return over_budget;
    records_.done = true;
    return {};
  }

  // Step records: all name a step.
  const bool is_step_record = type == "step-begin" || type == "sample" || type == "metric" ||
                              type == "trace" || type == "step-end";
  if (!is_step_record) return fmt::format("unknown record type {}", quote_name(type));
  step = r.nonempty_string("step");
  if (!r.ok()) return r.problem();

  if (type == "step-begin") {
    StepRecords s;
    s.name = step;
    s.workload = r.nonempty_string("workload");
    s.argv = r.string_array("argv");
    // The agent writes seconds with a fraction ("60.000"): accept any number, keep whole
    // seconds. Bounded first: converting an out-of-range double to an integer is undefined.
    const double deadline = r.number("deadline_s");
    if (r.ok() && (deadline < 0 || deadline > 1e9)) r.fail("field 'deadline_s' out of range");
    s.deadline_s = r.ok() ? static_cast<std::int64_t>(std::llround(deadline)) : 0;
    if (!r.ok()) return r.problem();
    if (find_step(step)) return fmt::format("step {} began twice", quote_name(step));
    if (!admit(s.argv.size())) return over_budget;
    step_index_.emplace(step, records_.steps.size());
    records_.steps.push_back(std::move(s));
    return {};
  }

  if (type == "sample") {
    Sample s;
    const std::string phase = r.one_of("phase", {"before", "during", "after"});
    s.t_ms = r.integer("t_ms");
    s.values = r.integer_map("values");
    if (!r.ok()) return r.problem();
    s.phase = *sample_phase_from_string(phase);
    StepRecords* target = find_step(step);
    if (!target) return fmt::format("sample for step {} that never began", quote_name(step));
    if (!admit(s.values.size())) return over_budget;
    target->samples.push_back(std::move(s));
    return {};
  }

  if (type == "metric") {
    WorkloadMetric m;
    m.name = r.string("name");
    m.value = r.number("value");
    m.unit = r.string("unit");
    if (!r.ok()) return r.problem();
    if (m.name.size() <= 3 || m.name.compare(0, 3, "wl.") != 0)
      return fmt::format("metric name {} does not start with 'wl.'", quote_name(m.name));
    StepRecords* target = find_step(step);
    if (!target) return fmt::format("metric for step {} that never began", quote_name(step));
    if (!admit(0)) return over_budget;
    target->metrics.push_back(std::move(m));
    return {};
  }

  if (type == "trace") {
    TraceHistogram h;
    h.event = r.nonempty_string("event");
    h.field = r.string("field");
    h.counts = r.integer_map("counts");
    h.lost = r.integer("lost");
    if (!r.ok()) return r.problem();
    StepRecords* target = find_step(step);
    if (!target) return fmt::format("trace for step {} that never began", quote_name(step));
    if (!admit(h.counts.size())) return over_budget;
    target->traces.push_back(std::move(h));
    return {};
  }

  // step-end
  const std::string status = r.one_of("status", {"ok", "failed", "integrity-failed", "skipped", "timeout"});
  auto exit_code = r.nullable_int("exit_code");
  auto signal = r.nullable_int("signal");
  std::string reason = r.string("reason");
  const double seconds = r.number("seconds");
  if (!r.ok()) return r.problem();
  StepRecords* target = find_step(step);
  if (!target) return fmt::format("step-end for step {} that never began", quote_name(step));
  if (step_ended_[step]) return fmt::format("step {} ended twice", quote_name(step));
  if (!admit(0)) return over_budget;
  step_ended_[step] = true;
  target->status = *step_status_from_string(status);
  target->exit_code = exit_code;
  target->signal = signal;
  target->reason = std::move(reason);
  target->seconds = seconds;
  return {};
}

void RecordParser::reject(std::string_view category, std::string_view problem, std::string_view line) {
  ++records_.malformed_lines;
  if (problem == "over budget") {
    over_budget_ = true;
    add_error({"channel", "over-budget",
               fmt::format("line {}: the run's records exceed {} bytes held in memory; this and "
                           "every later line dropped",
                           line_number_, limits_.max_record_bytes)});
    return;
  }
  add_error({"channel", std::string(category),
             fmt::format("line {}: {}: {}", line_number_, problem,
                         printable_excerpt(line, limits_.excerpt_bytes))});
}

void RecordParser::add_error(RunError error) {
  if (records_.errors.size() < limits_.max_stored_errors) {
    records_.errors.push_back(std::move(error));
  } else {
    ++records_.errors_omitted;
  }
}

StepRecords* RecordParser::find_step(const std::string& name) {
  auto it = step_index_.find(name);
  return it == step_index_.end() ? nullptr : &records_.steps[it->second];
}

}  // namespace foliolab::collect
