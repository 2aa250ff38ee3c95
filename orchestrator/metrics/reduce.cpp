#include "metrics/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace foliolab::metrics {

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetricName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '/' || c == '+' || c == '-';
  });
}

namespace {

struct SampleSeries {
  std::int64_t first = 0;
  std::int64_t last = 0;
  double sum = 0;
  std::int64_t min = std::numeric_limits<std::int64_t>::max();
  std::int64_t max = std::numeric_limits<std::int64_t>::min();
  std::size_t count = 0;
};

// last - first without signed overflow: guests may send any int64.
double difference(std::int64_t last, std::int64_t first) {
  std::int64_t out = 0;
  if (!__builtin_sub_overflow(last, first, &out)) return static_cast<double>(out);
  return static_cast<double>(last) - static_cast<double>(first);
}

std::string_view event_name(std::string_view event) {
  const auto slash = event.rfind('/');
  return slash == std::string_view::npos ? event : event.substr(slash + 1);
}

}  // namespace

std::map<std::string, double> reduce_step(const collect::StepRecords& step, const Registry& registry) {
  std::map<std::string, SampleSeries> series;
  for (const auto& sample : step.samples) {
    for (const auto& [name, value] : sample.values) {
      if (!is_valid_metric_name(name)) continue;
      auto& s = series[name];
      if (s.count == 0) s.first = value;
      s.last = value;
      s.sum += static_cast<double>(value);
      s.min = std::min(s.min, value);
      s.max = std::max(s.max, value);
      ++s.count;
    }
  }
  std::map<std::string, double> out;
  for (const auto& [name, s] : series) {
    const MetricInfo info = registry.lookup(name);
    if (info.kind == Kind::kGauge) {
      out[name] = s.sum / static_cast<double>(s.count);
      out[name + ".min"] = static_cast<double>(s.min);
      out[name + ".max"] = static_cast<double>(s.max);
    } else {
      out[name] = difference(s.last, s.first);
    }
  }
  for (const auto& metric : step.metrics) {
    std::string name = metric.name.starts_with("wl.") ? metric.name : "wl." + metric.name;
    if (!is_valid_metric_name(name) || !std::isfinite(metric.value)) continue;
    out[name] = metric.value;
  }
  for (const auto& trace : step.traces) {
    const std::string prefix = "trace." + std::string(event_name(trace.event)) + ".";
    // The total says the event was traced in this step, even when it never fired: compare then
    // counts a value this run never saw as 0 rather than as missing.
    double& total = out[prefix + "total"];
    // What the histogram may be short by (docs/protocol.md, `trace`); compare marks the
    // event's rows incomplete where it is not 0.
    double& lost = out[prefix + "lost_events"];
    lost = std::max(lost, static_cast<double>(std::max<std::int64_t>(trace.lost, 0)));
    for (const auto& [value, count] : trace.counts) {
      std::string name = prefix + value;
      if (!is_valid_metric_name(name) || value == "total" || value == "lost_events") continue;
      out[name] += static_cast<double>(count);
      total += static_cast<double>(count);
    }
  }
  return out;
}

std::map<std::string, std::int64_t> trace_lost(const collect::RunResult& result) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::map<std::string, std::int64_t> out;
  for (const auto& step : result.records.steps) {
    // One event counted by two fields has one loss.
    std::map<std::string, std::int64_t> in_step;
    for (const auto& trace : step.traces)
      in_step[trace.event] = std::max({in_step[trace.event], trace.lost, std::int64_t{0}});
    for (const auto& [event, lost] : in_step) {
      std::int64_t& total = out[event];
      total = lost > kMax - total ? kMax : total + lost;
    }
  }
  return out;
}

std::map<std::string, double> reduce_run(const collect::RunResult& result, const Registry& registry) {
  std::map<std::string, double> out;
  for (const auto& step : result.records.steps) {
    for (auto& [name, value] : reduce_step(step, registry)) out[name] = value;
  }
  out["console.oom_kills"] = result.oom_kills;
  return out;
}

}  // namespace foliolab::metrics
