// foliolab workloads [NAME]... [--json] [--dir DIR]: what each workload takes and reports,
// read from the descriptors (workloads/<name>.yaml).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "common/units.h"

namespace foliolab::cli {
namespace {

struct WorkloadsArgs {
  std::vector<std::string> names;
  std::string dir;
  bool json = false;
};

// Bounds and defaults in the units people write in suites: 64M, not 67108864.
std::string show_number(const catalog::ParamSpec& p, double value) {
  if (p.type == catalog::ParamType::kSize && value >= 0) return common::format_size(static_cast<std::uint64_t>(value));
  return fmt::format("{}", value);
}

std::string show_default(const catalog::ParamSpec& p) {
  if (p.type == catalog::ParamType::kSize) return show_number(p, std::stod(p.default_value));
  if (p.type == catalog::ParamType::kString) return fmt::format("\"{}\"", p.default_value);
  return p.default_value;
}

std::string show_range(const catalog::ParamSpec& p) {
  if (p.type == catalog::ParamType::kEnum) return fmt::format("{}", fmt::join(p.values, "|"));
  if (p.min && p.max) return fmt::format("{}..{}", show_number(p, *p.min), show_number(p, *p.max));
  if (p.min) return ">= " + show_number(p, *p.min);
  if (p.max) return "<= " + show_number(p, *p.max);
  return "";
}

// Wraps text at `width` columns, each line indented by `indent` spaces.
std::string wrap(const std::string& text, std::size_t indent, std::size_t width) {
  std::string out, line;
  std::size_t start = 0;
  auto flush = [&] {
    if (!line.empty()) out += std::string(indent, ' ') + line + "\n";
    line.clear();
  };
  while (start < text.size()) {
    std::size_t end = text.find_first_of(" \n", start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!word.empty()) {
      if (!line.empty() && indent + line.size() + 1 + word.size() > width) flush();
      line += (line.empty() ? "" : " ") + word;
    }
    if (end < text.size() && text[end] == '\n') flush();
    start = end + 1;
  }
  flush();
  return out;
}

void print_text(const catalog::WorkloadSpec& spec) {
  std::cout << fmt::format("{}  (deadline {})\n", spec.name, common::format_seconds(static_cast<double>(spec.deadline_ms) / 1000));
  std::cout << wrap(spec.summary, 2, 100);
  if (!spec.trace.empty()) std::cout << fmt::format("  traces: {}\n", fmt::join(spec.trace, ", "));
  if (spec.params.empty()) {
    std::cout << "  parameters: none\n";
  } else {
    std::cout << "  parameters:\n";
    std::size_t name_w = 0, default_w = 0, range_w = 0;
    for (const auto& p : spec.params) {
      name_w = std::max(name_w, p.name.size());
      default_w = std::max(default_w, show_default(p).size());
      range_w = std::max(range_w, show_range(p).size());
    }
    for (const auto& p : spec.params) {
      std::string line = fmt::format("    {:<{}}  {:<6}  {:<{}}  {:<{}}", p.name, name_w, catalog::to_string(p.type),
                                     show_default(p), default_w, show_range(p), range_w);
      if (!p.help.empty()) line += "  " + p.help;
      while (!line.empty() && line.back() == ' ') line.pop_back();
      std::cout << line << "\n";
    }
  }
  if (spec.metrics.empty()) {
    std::cout << "  metrics: none\n";
  } else {
    std::cout << "  metrics:\n";
    std::size_t name_w = 0, unit_w = 0;
    for (const auto& m : spec.metrics) {
      name_w = std::max(name_w, m.name.size() + 3);
      unit_w = std::max(unit_w, m.unit.size());
    }
    for (const auto& m : spec.metrics) {
      const std::string direction = m.direction == "neutral" ? "neutral" : m.direction + " is better";
      std::cout << fmt::format("    {:<{}}  {:<{}}  {:<7}  {}\n", "wl." + m.name, name_w, m.unit, unit_w, m.kind,
                               direction);
    }
  }
}

nlohmann::json to_json(const catalog::WorkloadSpec& spec) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : spec.params) {
    nlohmann::json j = {{"name", p.name}, {"type", catalog::to_string(p.type)}, {"default", p.default_value},
                        {"help", p.help}};
    j["min"] = p.min ? nlohmann::json(*p.min) : nlohmann::json(nullptr);
    j["max"] = p.max ? nlohmann::json(*p.max) : nlohmann::json(nullptr);
    if (p.type == catalog::ParamType::kEnum) j["values"] = p.values;
    params.push_back(std::move(j));
  }
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : spec.metrics) {
    metrics.push_back({{"name", "wl." + m.name}, {"unit", m.unit}, {"kind", m.kind}, {"direction", m.direction}});
  }
  return {{"name", spec.name},         {"summary", spec.summary}, {"deadline_ms", spec.deadline_ms},
          {"trace", spec.trace},       {"params", params},        {"metrics", metrics},
          {"descriptor", spec.descriptor.string()}};
}

int run_workloads(const WorkloadsArgs& args) {
  const std::filesystem::path dir = args.dir.empty() ? catalog::default_workloads_dir() : std::filesystem::path(args.dir);
  const catalog::Catalog catalog = catalog::Catalog::load(dir);
  std::vector<const catalog::WorkloadSpec*> shown;
  for (const auto& name : args.names) shown.push_back(&catalog.require(name, "foliolab workloads"));
  if (args.names.empty()) {
    for (const auto& spec : catalog.all()) shown.push_back(&spec);
  }
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* spec : shown) out.push_back(to_json(*spec));
    std::cout << out.dump(2) << std::endl;
    return 0;
  }
  for (std::size_t i = 0; i < shown.size(); ++i) {
    if (i) std::cout << "\n";
    print_text(*shown[i]);
  }
  return 0;
}

}  // namespace

void add_workloads_command(CLI::App& app, Runner& runner, const GlobalOptions&) {
  auto args = std::make_shared<WorkloadsArgs>();
  auto* cmd = app.add_subcommand("workloads", "list the workloads: parameters (type, default, range) and metrics");
  cmd->add_option("names", args->names, "only these workloads");
  cmd->add_option("--dir", args->dir, "descriptor directory (default: $FOLIOLAB_DATA_DIR/workloads or the source tree's)");
  cmd->add_flag("--json", args->json, "machine-readable output");
  cmd->callback([args, &runner] { runner = [args] { return run_workloads(*args); }; });
}

}  // namespace foliolab::cli
