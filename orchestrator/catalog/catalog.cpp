#include "catalog/catalog.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <utility>

#include "common/errors.h"
#include "common/units.h"
#include "config/data_dir.h"

namespace foliolab::catalog {

namespace {

using common::UsageError;

constexpr std::array<std::pair<ParamType, const char*>, 6> kTypeNames{{
    {ParamType::kSize, "size"},
    {ParamType::kInt, "int"},
    {ParamType::kFloat, "float"},
    {ParamType::kBool, "bool"},
    {ParamType::kEnum, "enum"},
    {ParamType::kString, "string"},
}};

constexpr std::size_t kMaxValueBytes = 4096;

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// For messages: a user-supplied text, with control characters made visible.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  if (text.size() > 200) out += "...";
  return out;
}

// Identifiers: workload names "khugepaged-collapse", parameter and metric names "timeout_s".
bool is_identifier(std::string_view text, bool allow_dash) {
  if (text.empty() || !(std::islower(static_cast<unsigned char>(text.front())) ||
                        (allow_dash && std::isdigit(static_cast<unsigned char>(text.front()))))) {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
           c == '_' || (allow_dash && c == '-');
  });
}

// Metric names: "collapsed_fraction", or with '.'-separated qualifiers: "fault_p99_us.64kB".
bool is_metric_name(std::string_view text) {
  std::size_t dot = text.find('.');
  if (!is_identifier(text.substr(0, dot), false)) return false;
  while (dot != std::string_view::npos) {
    text.remove_prefix(dot + 1);
    dot = text.find('.');
    const std::string_view part = text.substr(0, dot);
    const bool ok = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!ok) return false;
  }
  return true;
}

// Shortest text that reads back as the same double: 1.0 -> "1", 0.25 -> "0.25".
std::string shortest(double value) {
  std::array<char, 64> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  (void)ec;  // 64 characters always suffice for a double
  return std::string(buffer.data(), end);
}

std::string show_bound(ParamType type, double bound) {
  if (type == ParamType::kSize && bound >= 0 && bound == std::floor(bound) && bound < 1.8e19) {
    return common::format_size(static_cast<std::uint64_t>(bound));
  }
  return shortest(bound);
}

std::optional<double> parse_float(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* yes : {"true", "yes", "on", "1"}) {
    if (lower == yes) return true;
  }
  for (const char* no : {"false", "no", "off", "0"}) {
    if (lower == no) return false;
  }
  return std::nullopt;
}

// The canonical text of `value` for `spec`, or a problem ("is not a size", "above max 1")
// phrased to follow "<name>=<value> ".
struct Canonical {
  std::string value;
  std::string problem;
};

Canonical canonicalize(const ParamSpec& spec, std::string_view value) {
  if (value.size() > kMaxValueBytes) return {{}, fmt::format("is longer than {} bytes", kMaxValueBytes)};
  if (has_control_characters(value)) return {{}, "contains control characters"};
  std::optional<double> number;
  std::string canonical;
  switch (spec.type) {
    case ParamType::kSize: {
      auto bytes = common::parse_size(value);
      if (!bytes) return {{}, "is not a size (e.g. 4096, 64K, 2M, 1G)"};
      number = static_cast<double>(*bytes);
      canonical = std::to_string(*bytes);
      break;
    }
    case ParamType::kInt: {
      auto i = common::parse_integer(value);
      if (!i) return {{}, "is not an integer"};
      number = static_cast<double>(*i);
      canonical = std::to_string(*i);
      break;
    }
    case ParamType::kFloat: {
      auto f = parse_float(value);
      if (!f) return {{}, "is not a number"};
      number = *f;
      canonical = shortest(*f);
      break;
    }
    case ParamType::kBool: {
      auto b = parse_bool(value);
      if (!b) return {{}, "is not a bool (true or false)"};
      canonical = *b ? "true" : "false";
      break;
    }
    case ParamType::kEnum: {
      if (std::find(spec.values.begin(), spec.values.end(), value) == spec.values.end()) {
        return {{}, fmt::format("is not one of {}", fmt::join(spec.values, ", "))};
      }
      canonical = std::string(value);
      break;
    }
    case ParamType::kString:
      canonical = std::string(value);
      break;
  }
  if (number && spec.min && *number < *spec.min) return {{}, "below min " + show_bound(spec.type, *spec.min)};
  if (number && spec.max && *number > *spec.max) return {{}, "above max " + show_bound(spec.type, *spec.max)};
  return {std::move(canonical), {}};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// ---------------------------------------------------------------------------------------------
// Descriptor reading

class DescriptorReader {
 public:
  explicit DescriptorReader(std::filesystem::path file) : file_(std::move(file)) {}

  WorkloadSpec read() {
    YAML::Node root;
    try {
      root = YAML::LoadFile(file_.string());
    } catch (const YAML::BadFile&) {
      throw UsageError(fmt::format("{}: cannot read workload descriptor", file_.string()));
    } catch (const YAML::Exception& e) {
      throw UsageError(fmt::format("{}: {}", where(e.mark), e.msg));
    }
    if (!root.IsMap()) fail(root, "a workload descriptor must be a mapping (name, summary, deadline, ...)");

    WorkloadSpec spec;
    spec.descriptor = file_;
    auto keys = mapping(root, {"name", "summary", "deadline", "trace", "params", "metrics"}, "descriptor");
    for (const char* required : {"name", "summary", "deadline"}) {
      if (!keys.count(required)) fail(root, fmt::format("missing key '{}'", required));
    }

    const YAML::Node name = root["name"];
    spec.name = scalar(name, "name");
    if (!is_identifier(spec.name, true)) {
      fail(name, fmt::format("workload name '{}' must be lowercase letters, digits and '-'", shown(spec.name)));
    }
    if (spec.name != file_.stem().string()) {
      fail(name, fmt::format("workload name '{}' differs from the file name '{}'", spec.name, file_.filename().string()));
    }

    const YAML::Node summary = root["summary"];
    spec.summary = scalar(summary, "summary");
    if (spec.summary.empty()) fail(summary, "summary is empty");

    const YAML::Node deadline = root["deadline"];
    auto ms = common::parse_duration(scalar(deadline, "deadline"));
    if (!ms || ms->count() <= 0) fail(deadline, "deadline must be a positive duration such as 90s, 5m or 1h");
    spec.deadline_ms = ms->count();

    if (keys.count("trace")) spec.trace = read_trace(root["trace"]);
    if (keys.count("params")) spec.params = read_params(root["params"]);
    if (keys.count("metrics")) spec.metrics = read_metrics(root["metrics"]);
    return spec;
  }

 private:
  std::string where(const YAML::Mark& mark) const {
    if (mark.is_null()) return file_.string();
    return fmt::format("{}:{}:{}", file_.string(), mark.line + 1, mark.column + 1);
  }

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    throw UsageError(fmt::format("{}: {}", where(node.Mark()), message));
  }

  std::string scalar(const YAML::Node& node, std::string_view what) const {
    if (!node.IsScalar()) fail(node, fmt::format("'{}' must be a single value", what));
    return node.Scalar();
  }

  // Checks a mapping's keys (known, not repeated) and returns them.
  std::set<std::string> mapping(const YAML::Node& node, std::initializer_list<std::string_view> known,
                                std::string_view what) const {
    if (!node.IsMap()) fail(node, fmt::format("{} must be a mapping", what));
    std::set<std::string> seen;
    for (const auto& item : node) {
      const std::string key = scalar(item.first, "key");
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        fail(item.first, fmt::format("unknown key '{}' in {} (known: {})", shown(key), what, fmt::join(known, ", ")));
      }
      if (!seen.insert(key).second) fail(item.first, fmt::format("key '{}' given twice", key));
    }
    return seen;
  }

  std::vector<std::string> read_trace(const YAML::Node& node) const {
    if (!node.IsSequence()) fail(node, "trace must be a list of tracepoints such as huge_memory/mm_khugepaged_scan_pmd");
    std::vector<std::string> events;
    for (const auto& item : node) {
      std::string event = scalar(item, "tracepoint");
      const auto slash = event.find('/');
      const bool ok = slash != std::string::npos && is_identifier(event.substr(0, slash), false) &&
                      is_identifier(event.substr(slash + 1), false);
      if (!ok) fail(item, fmt::format("tracepoint '{}' is not <subsystem>/<event>", shown(event)));
      if (std::find(events.begin(), events.end(), event) != events.end()) {
        fail(item, fmt::format("tracepoint '{}' listed twice", event));
      }
      events.push_back(std::move(event));
    }
    return events;
  }

  std::vector<ParamSpec> read_params(const YAML::Node& node) const {
    if (node.IsNull()) return {};
    if (!node.IsMap()) fail(node, "params must be a mapping of parameter name to {type, default, ...}");
    std::vector<ParamSpec> params;
    std::set<std::string> names;
    for (const auto& item : node) {
      ParamSpec p;
      p.name = scalar(item.first, "parameter name");
      if (!is_identifier(p.name, false)) {
        fail(item.first, fmt::format("parameter name '{}' must be lowercase letters, digits and '_'", shown(p.name)));
      }
      if (!names.insert(p.name).second) fail(item.first, fmt::format("parameter '{}' given twice", p.name));
      const YAML::Node& body = item.second;
      auto keys = mapping(body, {"type", "default", "min", "max", "values", "help"}, "parameter " + p.name);
      if (!keys.count("type")) fail(body, fmt::format("parameter '{}' has no type", p.name));
      if (!keys.count("default")) fail(body, fmt::format("parameter '{}' has no default", p.name));

      const YAML::Node type = body["type"];
      auto t = param_type_from_string(scalar(type, "type"));
      if (!t) fail(type, fmt::format("unknown type '{}' (known: size, int, float, bool, enum, string)", shown(type.Scalar())));
      p.type = *t;
      const bool numeric = p.type == ParamType::kSize || p.type == ParamType::kInt || p.type == ParamType::kFloat;

      for (const char* bound : {"min", "max"}) {
        if (!keys.count(bound)) continue;
        const YAML::Node b = body[bound];
        if (!numeric) fail(b, fmt::format("'{}' applies to size, int and float parameters only", bound));
        ParamSpec probe;
        probe.type = p.type;
        Canonical c = canonicalize(probe, scalar(b, bound));
        if (!c.problem.empty()) fail(b, fmt::format("{} '{}' {}", bound, shown(b.Scalar()), c.problem));
        (std::string_view(bound) == "min" ? p.min : p.max) = *parse_float(c.value);  // canonical: a number
      }
      if (p.min && p.max && *p.min > *p.max) fail(body["max"], "max is below min");

      if (keys.count("values")) {
        const YAML::Node values = body["values"];
        if (p.type != ParamType::kEnum) fail(values, "'values' applies to enum parameters only");
        if (!values.IsSequence() || values.size() == 0) fail(values, "values must be a non-empty list");
        for (const auto& v : values) {
          std::string text = scalar(v, "value");
          if (text.empty() || has_control_characters(text) || text.size() > 200) {
            fail(v, fmt::format("enum value '{}' must be 1 to 200 printable characters", shown(text)));
          }
          if (std::find(p.values.begin(), p.values.end(), text) != p.values.end()) {
            fail(v, fmt::format("enum value '{}' listed twice", text));
          }
          p.values.push_back(std::move(text));
        }
      } else if (p.type == ParamType::kEnum) {
        fail(body, fmt::format("enum parameter '{}' has no values", p.name));
      }

      const YAML::Node def = body["default"];
      Canonical c = canonicalize(p, scalar(def, "default"));
      if (!c.problem.empty()) fail(def, fmt::format("default {}={} {}", p.name, shown(def.Scalar()), c.problem));
      p.default_value = std::move(c.value);

      if (keys.count("help")) p.help = scalar(body["help"], "help");
      params.push_back(std::move(p));
    }
    return params;
  }

  std::vector<MetricSpec> read_metrics(const YAML::Node& node) const {
    if (node.IsNull()) return {};
    if (!node.IsMap()) fail(node, "metrics must be a mapping of metric name to {unit, kind, direction}");
    std::vector<MetricSpec> metrics;
    std::set<std::string> names;
    for (const auto& item : node) {
      MetricSpec m;
      m.name = scalar(item.first, "metric name");
      if (!is_metric_name(m.name)) {
        fail(item.first, fmt::format("metric name '{}' must be lowercase letters, digits and '_', with "
                                     "'.'-separated suffixes such as .64kB",
                                     shown(m.name)));
      }
      if (!names.insert(m.name).second) fail(item.first, fmt::format("metric '{}' given twice", m.name));
      const YAML::Node& body = item.second;
      auto keys = mapping(body, {"unit", "kind", "direction"}, "metric " + m.name);
      for (const char* required : {"unit", "kind", "direction"}) {
        if (!keys.count(required)) fail(body, fmt::format("metric '{}' has no {}", m.name, required));
      }
      m.unit = scalar(body["unit"], "unit");
      if (m.unit.empty() || has_control_characters(m.unit)) fail(body["unit"], "unit must be printable and non-empty");
      m.kind = scalar(body["kind"], "kind");
      if (m.kind != "counter" && m.kind != "gauge" && m.kind != "value") {
        fail(body["kind"], fmt::format("unknown kind '{}' (known: counter, gauge, value)", shown(m.kind)));
      }
      m.direction = scalar(body["direction"], "direction");
      if (m.direction != "higher" && m.direction != "lower" && m.direction != "neutral") {
        fail(body["direction"], fmt::format("unknown direction '{}' (known: higher, lower, neutral)", shown(m.direction)));
      }
      metrics.push_back(std::move(m));
    }
    return metrics;
  }

  std::filesystem::path file_;
};

}  // namespace

const char* to_string(ParamType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "string";
}

std::optional<ParamType> param_type_from_string(std::string_view text) {
  for (const auto& [t, name] : kTypeNames) {
    if (text == name) return t;
  }
  return std::nullopt;
}

const ParamSpec* WorkloadSpec::find_param(std::string_view param) const {
  for (const auto& p : params) {
    if (p.name == param) return &p;
  }
  return nullptr;
}

WorkloadSpec load_descriptor(const std::filesystem::path& file) { return DescriptorReader(file).read(); }

Catalog Catalog::load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw UsageError(fmt::format("workload descriptor directory {} does not exist", dir.string()));
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml" && entry.is_regular_file()) files.push_back(entry.path());
  }
  if (ec) throw UsageError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  std::vector<WorkloadSpec> specs;
  for (const auto& f : files) specs.push_back(load_descriptor(f));
  return from_specs(std::move(specs));
}

Catalog Catalog::from_specs(std::vector<WorkloadSpec> specs) {
  std::sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < specs.size(); ++i) {
    if (specs[i].name == specs[i - 1].name) {
      throw UsageError(fmt::format("workload '{}' is described twice ({} and {})", specs[i].name,
                                   specs[i - 1].descriptor.string(), specs[i].descriptor.string()));
    }
  }
  Catalog catalog;
  catalog.specs_ = std::move(specs);
  return catalog;
}

const WorkloadSpec* Catalog::find(const std::string& name) const {
  auto it = std::lower_bound(specs_.begin(), specs_.end(), name,
                             [](const WorkloadSpec& s, const std::string& n) { return s.name < n; });
  return it != specs_.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string> Catalog::names() const {
  std::vector<std::string> out;
  for (const auto& s : specs_) out.push_back(s.name);
  return out;
}

const WorkloadSpec& Catalog::require(const std::string& name, const std::string& where) const {
  if (const WorkloadSpec* spec = find(name)) return *spec;
  throw UsageError(fmt::format("{}: unknown workload '{}' (known: {})", where, shown(name), fmt::join(names(), ", ")));
}

ResolvedWorkload resolve(const WorkloadSpec& spec, const std::map<std::string, std::string>& given,
                         const std::string& where) {
  ResolvedWorkload resolved;
  resolved.spec = &spec;
  for (const auto& [key, value] : given) {
    const ParamSpec* param = spec.find_param(key);
    if (!param) {
      std::vector<std::string> known;
      const ParamSpec* closest = nullptr;
      std::size_t best = 3;  // suggest only near misses
      for (const auto& p : spec.params) {
        known.push_back(p.name);
        const std::size_t d = edit_distance(key, p.name);
        if (d < best) best = d, closest = &p;
      }
      std::sort(known.begin(), known.end());
      std::string message = fmt::format("{}: unknown parameter '{}' for workload {} ({})", where, shown(key), spec.name,
                                        known.empty() ? std::string("it takes no parameters")
                                                      : fmt::format("known: {}", fmt::join(known, ", ")));
      if (closest) message += fmt::format("; did you mean '{}'?", closest->name);
      throw UsageError(message);
    }
    Canonical c = canonicalize(*param, value);
    if (!c.problem.empty()) {
      throw UsageError(fmt::format("{}: workload {}: {}={} {}", where, spec.name, key, shown(value), c.problem));
    }
    resolved.params[key] = std::move(c.value);
  }
  for (const auto& p : spec.params) resolved.params.emplace(p.name, p.default_value);
  resolved.argv.push_back("/workloads/" + spec.name);
  for (const auto& [key, value] : resolved.params) resolved.argv.push_back("--" + key + "=" + value);
  return resolved;
}

std::filesystem::path default_workloads_dir() { return config::data_dir() / "workloads"; }

}  // namespace foliolab::catalog
