#include "plan/plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/errors.h"
#include "common/hash.h"
#include "common/units.h"

namespace foliolab::plan {
namespace {

// Every multi-valued knob as (family, knob, values) with a pointer to patch a copy.
struct Axis {
  std::string name;  // "khugepaged.max_ptes_none"
  config::SettingValues values;
  std::function<void(config::GuestSettings&, const std::string&)> set;
};

std::vector<Axis> axes_of(const config::GuestSettings& g) {
  std::vector<Axis> axes;
  auto add_family = [&](const std::string& prefix, const std::map<std::string, config::SettingValues>& family,
                        std::map<std::string, config::SettingValues> config::GuestSettings::*member) {
    for (const auto& [knob, values] : family) {
      std::string k = knob;
      axes.push_back({prefix + knob, values, [member, k](config::GuestSettings& gs, const std::string& v) {
                        (gs.*member)[k] = {v};
                      }});
    }
  };
  add_family("thp.", g.thp, &config::GuestSettings::thp);
  add_family("thp.hugepages-", g.thp_sizes, &config::GuestSettings::thp_sizes);
  add_family("khugepaged.", g.khugepaged, &config::GuestSettings::khugepaged);
  add_family("sysctl.", g.sysctl, &config::GuestSettings::sysctl);
  return axes;
}

}  // namespace

std::vector<std::string> canonical_settings(const config::GuestSettings& g) {
  std::vector<std::string> out;
  auto join = [](const config::SettingValues& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "|") + x;
    return s;
  };
  out.push_back(fmt::format("memory={}", g.memory_bytes));
  out.push_back(fmt::format("cpus={}", g.cpus));
  out.push_back(fmt::format("numa_nodes={}", g.numa_nodes));
  out.push_back(fmt::format("swap.zram={}", g.swap.zram_bytes ? std::to_string(*g.swap.zram_bytes) : "none"));
  out.push_back(fmt::format("swap.zram_algorithm={}", g.swap.zram_algorithm));
  out.push_back(fmt::format("swap.disk={}", g.swap.disk_bytes ? std::to_string(*g.swap.disk_bytes) : "none"));
  out.push_back(fmt::format("zswap={}", g.zswap ? "on" : "off"));
  for (const auto& [k, v] : g.thp) out.push_back(fmt::format("thp.{}={}", k, join(v)));
  for (const auto& [k, v] : g.thp_sizes) out.push_back(fmt::format("thp.hugepages-{}={}", k, join(v)));
  for (const auto& [k, v] : g.khugepaged) out.push_back(fmt::format("khugepaged.{}={}", k, join(v)));
  for (const auto& [k, v] : g.sysctl) out.push_back(fmt::format("sysctl.{}={}", k, join(v)));
  for (const auto& t : g.trace) out.push_back(fmt::format("trace={}", t));
  out.push_back(fmt::format("sample_ms={}", g.sample_ms));
  // Only when set, so that the keys of suites written before the knob stay as they were.
  if (g.trace_buffer_kb) out.push_back(fmt::format("trace_buffer_kb={}", *g.trace_buffer_kb));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<SettingsPoint> expand_settings(const config::GuestSettings& guest) {
  const std::vector<Axis> axes = axes_of(guest);
  size_t total = 1;
  for (const auto& a : axes) total *= a.values.size();
  std::vector<SettingsPoint> points;
  // Mixed-radix count over the axes: the last axis varies fastest, values in written order.
  for (size_t n = 0; n < total; ++n) {
    SettingsPoint p;
    p.guest = guest;
    size_t rest = n;
    std::vector<size_t> index(axes.size());
    for (size_t i = axes.size(); i-- > 0;) {
      index[i] = rest % axes[i].values.size();
      rest /= axes[i].values.size();
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      axes[i].set(p.guest, axes[i].values[index[i]]);
      if (axes[i].values.size() > 1)
        p.label += fmt::format("{}{}={}", p.label.empty() ? "" : ",", axes[i].name, axes[i].values[index[i]]);
    }
    common::Hasher h;
    for (const auto& line : canonical_settings(p.guest)) h.field("s", line);
    p.id = h.hex().substr(0, 12);
    points.push_back(std::move(p));
  }
  return points;
}

config::GuestSettings with_overrides(const config::GuestSettings& guest, const config::KnobOverrides& overrides) {
  config::GuestSettings out = guest;
  for (const auto& [k, v] : overrides.thp) out.thp[k] = v;
  for (const auto& [k, v] : overrides.thp_sizes) out.thp_sizes[k] = v;
  for (const auto& [k, v] : overrides.khugepaged) out.khugepaged[k] = v;
  for (const auto& [k, v] : overrides.sysctl) out.sysctl[k] = v;
  return out;
}

std::string Job::describe() const {
  return fmt::format("{} {} {} #{}{}", kernel ? kernel->name : "?", config::to_string(arch),
                     workload ? workload->name : "?", repetition + 1,
                     settings.label.empty() ? "" : " [" + settings.label + "]");
}

std::string job_key(const Job& j, int recipe) {
  common::Hasher h;
  h.field("job", std::to_string(recipe));
  // Recipe 2: the variant's name. Two variants that build the same kernel (an A/A suite, or
  // variants that differ only in something that does not reach the kernel) are distinct jobs.
  if (recipe >= 2) h.field("variant", j.kernel ? j.kernel->name : "");
  h.field("artifact", j.artifact_key);
  h.field("arch", config::to_string(j.arch));
  h.field("machine", j.machine);
  for (const auto& line : canonical_settings(j.settings.guest)) h.field("setting", line);
  h.field("workload.name", j.workload->name);
  h.field("workload", j.workload->workload);
  for (const auto& a : j.resolved.argv) h.field("argv", a);
  h.field("memcg.max", j.workload->memcg_max ? static_cast<std::int64_t>(*j.workload->memcg_max) : -1);
  h.field("repetition", j.repetition);
  return h.hex();
}

std::vector<Job> make_plan(const config::Suite& suite, const catalog::Catalog& catalog, const Inputs& inputs) {
  // Resolve every workload once (errors name the suite location), and every artifact key once.
  std::vector<catalog::ResolvedWorkload> resolved;
  std::vector<image::JobStep> steps;
  for (const auto& w : suite.workloads) {
    const catalog::WorkloadSpec* spec = catalog.find(w.workload);
    if (!spec) {
      std::string known;
      for (const auto& s : catalog.all()) known += (known.empty() ? "" : ", ") + s.name;
      throw common::UsageError(fmt::format("{}: workloads[].workload: no workload named '{}' (known: {})",
                                           w.where.str(), w.workload, known));
    }
    resolved.push_back(catalog::resolve(*spec, w.params, w.where.str()));
    steps.push_back(image::job_step(resolved.back(), w));
  }
  std::map<std::pair<std::string, config::Arch>, std::string> artifact_keys;
  for (const auto& k : suite.kernels)
    for (auto arch : suite.arches) artifact_keys[{k.name, arch}] = inputs.artifact_key(k, arch);

  // Each workload's settings points: the suite's guest with the workload's own knobs
  // (workloads[].guest) in place of the suite's values or sweeps of the same knobs.
  std::vector<std::vector<SettingsPoint>> points;
  std::size_t most_points = 0;
  for (const auto& w : suite.workloads) {
    points.push_back(expand_settings(with_overrides(suite.guest, w.guest)));
    most_points = std::max(most_points, points.back().size());
  }
  std::vector<Job> jobs;
  for (int rep = 0; rep < suite.repetitions; ++rep)
    for (auto arch : suite.arches)
      for (size_t p = 0; p < most_points; ++p)
        for (size_t w = 0; w < suite.workloads.size(); ++w) {
          if (p >= points[w].size()) continue;
          const SettingsPoint& point = points[w][p];
          for (const auto& kernel : suite.kernels) {  // innermost: variants interleave A B A B
            Job j;
            j.kernel = &kernel;
            j.arch = arch;
            j.artifact_key = artifact_keys.at({kernel.name, arch});
            j.machine = inputs.machine(arch);
            j.settings = point;
            j.workload = &suite.workloads[w];
            j.resolved = resolved[w];
            j.step = steps[w];
            j.repetition = rep;
            j.key = job_key(j, kJobKeyRecipe);
            jobs.push_back(std::move(j));
          }
        }
  return jobs;
}

}  // namespace foliolab::plan
