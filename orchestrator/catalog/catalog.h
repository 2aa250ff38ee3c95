#pragma once
// The workloads foliolab can run, read from their descriptors (workloads/<name>.yaml,
// docs/protocol.md section 4), and the validation of the parameters a suite gives them.
//
// A descriptor is strict: unknown keys, missing required keys, a default outside its own range
// and names that do not match the file are errors naming descriptor:line:column. Parameter
// values are turned into one canonical text per value (sizes in bytes, floats in shortest
// round-trip form, bools as true/false), so that "64M" and "67108864" give the same job key and
// the same argv. Values go to the workload as argv elements, never through a shell; control
// characters are still refused so that nothing in a value can be misread in logs or manifests.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace foliolab::catalog {

enum class ParamType { kSize, kInt, kFloat, kBool, kEnum, kString };
const char* to_string(ParamType type);
std::optional<ParamType> param_type_from_string(std::string_view text);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  std::string default_value;        // canonical
  std::optional<double> min, max;   // size, int, float only; sizes in bytes; inclusive
  std::vector<std::string> values;  // enum only: the accepted values, in descriptor order
  std::string help;
};

// A metric the workload reports as {"metric": name, ...}; the run's metric is "wl.<name>".
// kind is counter|gauge|value and direction higher|lower|neutral (metrics/registry.h has the
// same vocabulary as enums; strings here keep the catalog independent of the metrics stage).
struct MetricSpec {
  std::string name;
  std::string unit;
  std::string kind;
  std::string direction;
};

struct WorkloadSpec {
  std::string name;
  std::string summary;
  std::int64_t deadline_ms = 0;
  std::vector<std::string> trace;  // "huge_memory/mm_khugepaged_scan_pmd": enabled while it runs
  std::vector<ParamSpec> params;   // in descriptor order
  std::vector<MetricSpec> metrics; // in descriptor order
  std::filesystem::path descriptor;

  const ParamSpec* find_param(std::string_view name) const;
};

// Reads and validates one descriptor. Throws common::UsageError naming file:line:column.
WorkloadSpec load_descriptor(const std::filesystem::path& file);

class Catalog {
 public:
  // Every *.yaml in dir, in name order. Throws common::UsageError (missing directory, invalid
  // descriptor).
  static Catalog load(const std::filesystem::path& dir);
  static Catalog from_specs(std::vector<WorkloadSpec> specs);

  const WorkloadSpec* find(const std::string& name) const;
  // find(), or a UsageError at `where` naming the known workloads.
  const WorkloadSpec& require(const std::string& name, const std::string& where) const;
  const std::vector<WorkloadSpec>& all() const { return specs_; }
  std::vector<std::string> names() const;

 private:
  std::vector<WorkloadSpec> specs_;  // sorted by name
};

struct ResolvedWorkload {
  const WorkloadSpec* spec = nullptr;
  std::map<std::string, std::string> params;  // canonical; every parameter, defaults included
  std::vector<std::string> argv;              // {"/workloads/<name>", "--k=v", ...} in key order
};

// Validates `given` (raw strings from a suite or the command line) against the descriptor and
// completes it with the defaults. Throws common::UsageError starting with `where`
// ("suite.yaml:14:7") and naming the workload, the parameter and the problem.
ResolvedWorkload resolve(const WorkloadSpec& spec, const std::map<std::string, std::string>& given,
                         const std::string& where);

// $FOLIOLAB_DATA_DIR/workloads if set, else the workloads/ folder of the source tree foliolab
// was built from (config::data_dir()).
std::filesystem::path default_workloads_dir();

}  // namespace foliolab::catalog
