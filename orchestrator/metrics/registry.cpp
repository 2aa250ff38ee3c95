#include "metrics/registry.h"

#include <fmt/format.h>
#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::metrics {

// Defined in the generated registry_data.cpp: the text of registry.yaml.
extern const char* const kEmbeddedRegistry;

const char* to_string(Kind kind) {
  switch (kind) {
    case Kind::kCounter: return "counter";
    case Kind::kGauge: return "gauge";
    case Kind::kValue: return "value";
  }
  return "counter";
}

const char* to_string(Direction direction) {
  switch (direction) {
    case Direction::kHigher: return "higher";
    case Direction::kLower: return "lower";
    case Direction::kNeutral: return "neutral";
  }
  return "neutral";
}

std::optional<Kind> kind_from_string(std::string_view text) {
  if (text == "counter") return Kind::kCounter;
  if (text == "gauge") return Kind::kGauge;
  if (text == "value") return Kind::kValue;
  return std::nullopt;
}

std::optional<Direction> direction_from_string(std::string_view text) {
  if (text == "higher") return Direction::kHigher;
  if (text == "lower") return Direction::kLower;
  if (text == "neutral") return Direction::kNeutral;
  return std::nullopt;
}

namespace {

[[noreturn]] void fail(const std::string& origin, const YAML::Node& node, const std::string& what) {
  const auto mark = node.Mark();
  throw common::UsageError(fmt::format("{}:{}:{}: {}", origin, mark.line + 1, mark.column + 1, what));
}

std::string scalar(const std::string& origin, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) fail(origin, node, fmt::format("{}: expected a single value", key));
  return node.Scalar();
}

// One entry: {unit, kind, direction, threshold, rate, summary}; `allow_match` for defaults.
MetricInfo parse_info(const std::string& origin, const YAML::Node& node, bool allow_match) {
  if (!node.IsMap()) fail(origin, node, "expected a map of unit, kind, direction, threshold, rate, summary");
  MetricInfo info;
  bool kind_given = false;
  bool rate_given = false;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& value = kv.second;
    if (key == "unit") {
      info.unit = value.IsNull() ? "" : scalar(origin, value, key);
    } else if (key == "kind") {
      auto kind = kind_from_string(scalar(origin, value, key));
      if (!kind) fail(origin, value, "kind: expected counter, gauge or value");
      info.kind = *kind;
      kind_given = true;
    } else if (key == "direction") {
      auto direction = direction_from_string(scalar(origin, value, key));
      if (!direction) fail(origin, value, "direction: expected higher, lower or neutral");
      info.direction = *direction;
    } else if (key == "threshold") {
      std::string text = scalar(origin, value, key);
      if (!text.empty() && text.back() == '%') text.pop_back();
      double pct = 0;
      try {
        size_t used = 0;
        pct = std::stod(text, &used);
        if (used != text.size()) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        fail(origin, value, "threshold: expected a percentage such as 5 or 1%");
      }
      if (!(pct >= 0) || !std::isfinite(pct)) fail(origin, value, "threshold: must be >= 0");
      info.threshold_pct = pct;
    } else if (key == "rate") {
      rate_given = true;
      const std::string text = scalar(origin, value, key);
      if (text == "true") info.rate = true;
      else if (text == "false") info.rate = false;
      else fail(origin, value, "rate: expected true or false");
    } else if (key == "summary") {
      info.summary = scalar(origin, value, key);
    } else if (key == "match" && allow_match) {
      // handled by the caller
    } else {
      fail(origin, kv.first, fmt::format("unknown key '{}'", key));
    }
  }
  if (!kind_given) fail(origin, node, "kind is required");
  // A throughput unit where higher is better is a rate unless the file says otherwise.
  if (!rate_given && info.direction == Direction::kHigher && info.unit.ends_with("/s")) info.rate = true;
  return info;
}

bool glob_matches(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

Registry Registry::parse(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw common::UsageError(fmt::format("{}:{}:{}: {}", origin, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (!root.IsMap()) fail(origin, root, "a registry is a map with version, defaults and metrics");
  Registry registry;
  bool version_seen = false;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "version") {
      if (scalar(origin, kv.second, key) != "1") fail(origin, kv.second, "version: only 1 is known");
      version_seen = true;
    } else if (key == "defaults") {
      if (!kv.second.IsSequence()) fail(origin, kv.second, "defaults: expected a list");
      for (const auto& rule : kv.second) {
        MetricInfo info = parse_info(origin, rule, true);
        if (!rule["match"]) fail(origin, rule, "match is required in a default rule");
        registry.defaults_.push_back(Rule{scalar(origin, rule["match"], "match"), info});
      }
    } else if (key == "metrics") {
      if (!kv.second.IsMap()) fail(origin, kv.second, "metrics: expected a map of name -> entry");
      std::set<std::string> seen;
      for (const auto& entry : kv.second) {
        const std::string name = entry.first.as<std::string>();
        if (!seen.insert(name).second) fail(origin, entry.first, fmt::format("'{}' listed twice", name));
        MetricInfo info = parse_info(origin, entry.second, false);
        info.known = true;
        if (name.find('*') != std::string::npos) {
          registry.patterns_.push_back(Rule{name, info});
        } else {
          registry.exact_[name] = info;
        }
      }
    } else {
      fail(origin, kv.first, fmt::format("unknown key '{}'", key));
    }
  }
  if (!version_seen) fail(origin, root, "version is required");
  return registry;
}

Registry Registry::load(const std::filesystem::path& file) {
  std::string text;
  try {
    text = common::read_file(file);
  } catch (const common::InfraError& e) {
    throw common::UsageError(e.what());
  }
  return parse(text, file.string());
}

Registry Registry::load_default() {
  static const Registry embedded = parse(kEmbeddedRegistry, "registry.yaml (built in)");
  return embedded;
}

std::optional<MetricInfo> Registry::lookup_exact(const std::string& name) const {
  if (auto it = exact_.find(name); it != exact_.end()) return it->second;
  for (const auto& rule : patterns_)
    if (glob_matches(rule.pattern, name)) return rule.info;
  for (const auto& rule : defaults_)
    if (glob_matches(rule.pattern, name)) return rule.info;
  return std::nullopt;
}

MetricInfo Registry::lookup(const std::string& name) const {
  // "<gauge>.min" / "<gauge>.max" share their gauge's info.
  for (std::string_view suffix : {std::string_view(".min"), std::string_view(".max")}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      auto base = lookup_exact(name.substr(0, name.size() - suffix.size()));
      if (base && base->kind == Kind::kGauge) return *base;
    }
  }
  if (auto info = lookup_exact(name)) return *info;
  return MetricInfo{};  // counter, neutral, 5%, unknown
}

void Registry::set(const std::string& name, MetricInfo info) {
  if (!info.rate && info.direction == Direction::kHigher && info.unit.ends_with("/s")) info.rate = true;
  exact_[name] = std::move(info);
}

void Registry::overlay(const Registry& other) {
  for (const auto& [name, info] : other.exact_) exact_[name] = info;
  std::vector<Rule> patterns = other.patterns_;
  patterns.insert(patterns.end(), patterns_.begin(), patterns_.end());
  patterns_ = std::move(patterns);
  std::vector<Rule> defaults = other.defaults_;
  defaults.insert(defaults.end(), defaults_.begin(), defaults_.end());
  defaults_ = std::move(defaults);
}

}  // namespace foliolab::metrics
