#include "image/job.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <string_view>

#include "common/errors.h"
#include "common/units.h"

namespace foliolab::image {
namespace {

using common::InfraError;
using common::UsageError;

constexpr std::string_view kThpDir = "/sys/kernel/mm/transparent_hugepage";

// Global THP knobs (files directly in kThpDir) and khugepaged knobs (kThpDir/khugepaged/) a
// suite may set. Read-only files (hpage_pmd_size, pages_collapsed, full_scans) are absent on
// purpose: writing them is never a setting.
constexpr std::array<std::string_view, 5> kThpKnobs = {
    "enabled", "defrag", "use_zero_page", "shmem_enabled", "shrink_underused"};
constexpr std::array<std::string_view, 7> kKhugepagedKnobs = {
    "pages_to_scan", "scan_sleep_millisecs", "alloc_sleep_millisecs", "max_ptes_none",
    "max_ptes_swap", "max_ptes_shared", "defrag"};

constexpr std::string_view kZswapEnabled = "/sys/module/zswap/parameters/enabled";
constexpr std::string_view kTraceBufferKb = "/sys/kernel/tracing/buffer_size_kb";

// The field of each tracepoint's formatted line that carries its outcome (6.12 TP_printk).
struct TraceFieldDefault {
  std::string_view event;
  std::string_view field;
};
constexpr std::array<TraceFieldDefault, 6> kTraceFields = {{
    {"huge_memory/mm_khugepaged_scan_pmd", "status"},
    {"huge_memory/mm_collapse_huge_page", "status"},
    {"huge_memory/mm_collapse_huge_page_isolate", "status"},
    {"huge_memory/mm_collapse_huge_page_swapin", "ret"},
    {"huge_memory/mm_khugepaged_scan_file", "result"},
    {"huge_memory/mm_khugepaged_collapse_file", "result"},
}};

std::string located(const config::SourceLocation& where, const std::string& message) {
  if (where.file.empty()) return message;
  return where.str() + ": " + message;
}

const std::string& only_value(const std::string& knob, const config::SettingValues& values) {
  if (values.size() != 1)
    throw InfraError(fmt::format("internal: setting {} has {} values in one job (the run matrix picks one)",
                                 knob, values.size()));
  return values.front();
}

template <size_t N>
bool known(const std::array<std::string_view, N>& table, const std::string& name) {
  return std::find(table.begin(), table.end(), name) != table.end();
}

template <size_t N>
std::string listing(const std::array<std::string_view, N>& table) {
  std::string out;
  for (auto name : table) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

bool is_identifier(std::string_view text, std::string_view extra) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           extra.find(c) != std::string_view::npos;
  });
}

// "vm.swappiness" -> "/proc/sys/vm/swappiness"; every component a plain name so that no
// setting can reach outside /proc/sys.
std::string sysctl_path(const std::string& name, const config::SourceLocation& where) {
  std::string path = "/proc/sys";
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view part = std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!is_identifier(part, "-"))
      throw UsageError(located(where, fmt::format("sysctl '{}': not a sysctl name (dot-separated words, e.g. vm.swappiness)", name)));
    path += '/';
    path += part;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return path;
}

void check_value(const std::string& knob, const std::string& value, const config::SourceLocation& where) {
  if (value.find_first_of("\n\r") != std::string::npos || value.find('\0') != std::string::npos)
    throw UsageError(located(where, fmt::format("setting {}: value must be one line", knob)));
}

}  // namespace

std::string thp_size_dir_name(const std::string& size) {
  std::string text = size;
  std::optional<std::uint64_t> kb;
  if (text.size() > 2 && text.ends_with("kB")) {
    auto bytes = common::parse_size(text.substr(0, text.size() - 2));
    if (bytes) kb = *bytes;
  } else if (auto bytes = common::parse_size(text); bytes && *bytes % 1024 == 0) {
    kb = *bytes / 1024;
  }
  if (!kb || *kb == 0) throw UsageError(fmt::format("THP size '{}': expected a size such as 64K, 2M or 64kB", size));
  return fmt::format("{}kB", *kb);
}

void apply_setting(config::GuestSettings& guest, const std::string& name, const std::string& value) {
  auto size_value = [&]() {
    auto bytes = common::parse_size(value);
    if (!bytes) throw UsageError(fmt::format("setting {}={}: expected a size such as 512M or 1G", name, value));
    return *bytes;
  };
  auto integer_value = [&](std::int64_t min, std::int64_t max) {
    auto v = common::parse_integer(value);
    if (!v || *v < min || *v > max) throw UsageError(fmt::format("setting {}={}: expected {}..{}", name, value, min, max));
    return *v;
  };
  auto after = [&](std::string_view prefix) { return name.substr(prefix.size()); };
  if (name.starts_with("thp.sizes.")) {
    guest.thp_sizes[thp_size_dir_name(after("thp.sizes."))] = {value};
  } else if (name.starts_with("thp.hugepages-") && name.ends_with(".enabled")) {
    std::string size = name.substr(14, name.size() - 14 - 8);
    guest.thp_sizes[thp_size_dir_name(size)] = {value};
  } else if (name.starts_with("thp.") && known(kThpKnobs, after("thp."))) {
    guest.thp[after("thp.")] = {value};
  } else if (name.starts_with("khugepaged.") && known(kKhugepagedKnobs, after("khugepaged."))) {
    guest.khugepaged[after("khugepaged.")] = {value};
  } else if (name.starts_with("sysctl.") && name.size() > 7) {
    sysctl_path(after("sysctl."), {});  // validates the name
    guest.sysctl[after("sysctl.")] = {value};
  } else if (name == "zswap" || name == "zswap.enabled") {
    if (value == "on" || value == "true" || value == "Y" || value == "1") guest.zswap = true;
    else if (value == "off" || value == "false" || value == "N" || value == "0") guest.zswap = false;
    else throw UsageError(fmt::format("setting {}={}: expected on or off", name, value));
  } else if (name == "swap.zram") {
    guest.swap.zram_bytes = size_value();
  } else if (name == "swap.zram_algorithm") {
    guest.swap.zram_algorithm = value;
  } else if (name == "swap.disk") {
    guest.swap.disk_bytes = size_value();
  } else if (name == "trace") {
    parse_trace_event(value);  // validates
    guest.trace.push_back(value);
  } else if (name == "trace_buffer_kb") {
    guest.trace_buffer_kb = static_cast<int>(integer_value(config::kMinTraceBufferKb, config::kMaxTraceBufferKb));
  } else if (name == "sample_ms") {
    guest.sample_ms = static_cast<int>(integer_value(10, 60000));
  } else {
    throw UsageError(fmt::format(
        "setting '{}': unknown (known: thp.<{}>, thp.hugepages-<N>kB.enabled, khugepaged.<{}>, sysctl.<name>, "
        "zswap, swap.zram, swap.zram_algorithm, swap.disk, trace, trace_buffer_kb, sample_ms)",
        name, listing(kThpKnobs), listing(kKhugepagedKnobs)));
  }
}

std::vector<KnobSetting> knob_settings(const config::GuestSettings& guest) {
  std::vector<KnobSetting> out;
  const auto& where = guest.where;
  // zswap must stay off on 6.12 (mTHP swap-in from zram falls back to order 0 otherwise); a
  // kernel without zswap is already "off", hence absent_ok.
  out.push_back({"zswap.enabled", std::string(kZswapEnabled), guest.zswap ? "Y" : "N", !guest.zswap});

  for (const auto& [knob, values] : guest.thp) {
    if (!known(kThpKnobs, knob))
      throw UsageError(located(where, fmt::format("thp.{}: unknown THP setting (known: {})", knob, listing(kThpKnobs))));
    const auto& value = only_value("thp." + knob, values);
    check_value("thp." + knob, value, where);
    out.push_back({"thp." + knob, fmt::format("{}/{}", kThpDir, knob), value, false});
  }
  // Per-size knobs sorted by size, smallest first (map order would put 1024kB before 64kB).
  std::vector<std::pair<std::uint64_t, KnobSetting>> sizes;
  for (const auto& [size, values] : guest.thp_sizes) {
    std::string dir;
    try {
      dir = "hugepages-" + thp_size_dir_name(size);
    } catch (const UsageError& e) {
      throw UsageError(located(where, e.what()));
    }
    std::string name = fmt::format("thp.{}.enabled", dir);
    const auto& value = only_value(name, values);
    check_value(name, value, where);
    std::uint64_t kb = std::stoull(dir.substr(10));
    sizes.emplace_back(kb, KnobSetting{name, fmt::format("{}/{}/enabled", kThpDir, dir), value, false});
  }
  std::stable_sort(sizes.begin(), sizes.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [kb, setting] : sizes) out.push_back(std::move(setting));

  for (const auto& [knob, values] : guest.khugepaged) {
    if (!known(kKhugepagedKnobs, knob))
      throw UsageError(located(where, fmt::format("khugepaged.{}: unknown khugepaged setting (known: {})", knob,
                                                  listing(kKhugepagedKnobs))));
    const auto& value = only_value("khugepaged." + knob, values);
    check_value("khugepaged." + knob, value, where);
    out.push_back({"khugepaged." + knob, fmt::format("{}/khugepaged/{}", kThpDir, knob), value, false});
  }
  for (const auto& [name, values] : guest.sysctl) {
    const auto& value = only_value("sysctl." + name, values);
    check_value("sysctl." + name, value, where);
    out.push_back({"sysctl." + name, sysctl_path(name, where), value, false});
  }
  if (guest.trace_buffer_kb)
    out.push_back({"trace_buffer_kb", std::string(kTraceBufferKb), std::to_string(*guest.trace_buffer_kb), false, true});
  return out;
}

TraceEvent parse_trace_event(const std::string& text) {
  TraceEvent ev;
  auto colon = text.find(':');
  ev.event = text.substr(0, colon);
  auto slash = ev.event.find('/');
  bool well_formed = slash != std::string::npos && is_identifier(ev.event.substr(0, slash), "") &&
                     is_identifier(ev.event.substr(slash + 1), "");
  if (colon != std::string::npos) {
    ev.field = text.substr(colon + 1);
    well_formed = well_formed && is_identifier(ev.field, "");
  }
  if (!well_formed)
    throw UsageError(fmt::format("trace event '{}': expected subsystem/event or subsystem/event:field "
                                 "(e.g. huge_memory/mm_khugepaged_scan_pmd)", text));
  if (ev.field.empty()) {
    ev.field = "status";
    for (const auto& d : kTraceFields)
      if (d.event == ev.event) ev.field = std::string(d.field);
  }
  return ev;
}

namespace {
// Where a workload entry came from, for messages: its suite location, else its name.
std::string step_where(const config::WorkloadEntry& entry) {
  return entry.where.file.empty() ? std::string("workload '" + entry.name + "'") : entry.where.str();
}
}  // namespace

JobStep job_step(const catalog::Catalog& catalog, const config::WorkloadEntry& entry) {
  const std::string where = step_where(entry);
  return job_step(catalog::resolve(catalog.require(entry.workload, where), entry.params, where), entry);
}

JobStep job_step(const catalog::ResolvedWorkload& resolved, const config::WorkloadEntry& entry) {
  const catalog::WorkloadSpec& spec = *resolved.spec;
  JobStep step;
  step.name = entry.name;
  step.workload = spec.name;
  step.argv = resolved.argv;
  std::int64_t deadline_ms = entry.deadline_ms ? *entry.deadline_ms : spec.deadline_ms;
  if (deadline_ms <= 0) throw UsageError(fmt::format("{}: workload {} has no deadline", step_where(entry), spec.name));
  step.deadline_s = (deadline_ms + 999) / 1000;
  step.memcg = memcg_files(entry);
  step.trace = spec.trace;
  return step;
}

std::map<std::string, std::string> memcg_files(const config::WorkloadEntry& entry) {
  std::map<std::string, std::string> files;
  if (entry.memcg_max) {
    files["memory.max"] = std::to_string(*entry.memcg_max);
    // Swap stays unlimited: a memcg limit exists to push the workload into swap.
    files["memory.swap.max"] = "max";
  }
  return files;
}

nlohmann::json job_json(const Job& job) {
  using nlohmann::json;
  const auto& guest = job.guest;
  json doc = json::object();
  doc["version"] = 1;
  doc["job_key"] = job.job_key;
  doc["sample_ms"] = guest.sample_ms;

  json settings = json::array();
  for (const auto& s : knob_settings(guest)) {
    json entry = {{"name", s.name}, {"path", s.path}, {"value", s.value}};
    if (s.absent_ok) entry["absent_ok"] = true;
    if (s.rounds_up) entry["rounds_up"] = true;
    settings.push_back(std::move(entry));
  }
  doc["settings"] = std::move(settings);

  json swap = json::object();
  if (guest.swap.zram_bytes && *guest.swap.zram_bytes > 0)
    swap["zram"] = {{"size", *guest.swap.zram_bytes}, {"algorithm", guest.swap.zram_algorithm}, {"priority", 100}};
  else
    swap["zram"] = nullptr;
  if (guest.swap.disk_bytes && *guest.swap.disk_bytes > 0)
    swap["disk"] = {{"serial", "foliolab-swap"}, {"priority", 50}};
  else
    swap["disk"] = nullptr;
  doc["swap"] = std::move(swap);

  std::vector<TraceEvent> events;
  auto add_event = [&](const std::string& name) {
    TraceEvent ev = parse_trace_event(name);
    if (std::find(events.begin(), events.end(), ev) == events.end()) events.push_back(ev);
  };
  for (const auto& name : guest.trace) add_event(name);
  for (const auto& step : job.steps)
    for (const auto& name : step.trace) add_event(name);
  json trace = json::array();
  for (const auto& ev : events) trace.push_back({{"event", ev.event}, {"field", ev.field}});
  doc["trace"] = std::move(trace);

  json steps = json::array();
  std::vector<std::string> names;
  for (const auto& step : job.steps) {
    // The name becomes a cgroup directory (foliolab-<step>) in the guest.
    if (!is_identifier(step.name, "-.") || step.name.starts_with('.'))
      throw UsageError(fmt::format("workload name '{}': use letters, digits, '-', '_' and '.'", step.name));
    if (std::find(names.begin(), names.end(), step.name) != names.end())
      throw UsageError(fmt::format("workload name '{}' is used twice in one job", step.name));
    names.push_back(step.name);
    if (step.argv.empty() || !step.argv.front().starts_with('/'))
      throw InfraError(fmt::format("internal: step {} has no absolute argv[0]", step.name));
    json s = {{"name", step.name}, {"workload", step.workload}, {"argv", step.argv}, {"deadline_s", step.deadline_s}};
    s["memcg"] = step.memcg.empty() ? json(nullptr) : json(step.memcg);
    s["cpus"] = step.cpus ? json(*step.cpus) : json(nullptr);
    s["mem_node"] = step.mem_node ? json(*step.mem_node) : json(nullptr);
    steps.push_back(std::move(s));
  }
  doc["steps"] = std::move(steps);
  return doc;
}

}  // namespace foliolab::image
