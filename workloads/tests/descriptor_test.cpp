// Every workload's descriptor (workloads/<name>.yaml) and its binary agree: the parameters the
// binary accepts (its --help table, from the x86_64 guest build, which runs on the host) are
// exactly the descriptor's, with the same types, defaults, enum values and ranges. The host
// validates and documents parameters from the descriptor while the guest enforces its own
// table, so a drift between them would make valid suites fail in the guest.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "common/fs.h"
#include "common/process.h"

namespace {

namespace fs = std::filesystem;

struct HelpParam {
  std::string type, def, values, range;
};

// Lines of the form "  --size=<size> (default 16M) one of a b range [1, 2]: help". Parsed by
// hand: std::regex trips GCC 12's -Wmaybe-uninitialized under the sanitizer build.
std::map<std::string, HelpParam> parse_help(const std::string& text) {
  std::map<std::string, HelpParam> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l.rfind("  --", 0) != 0) continue;
    auto eq = l.find("=<"), gt = l.find("> (default ");
    if (eq == std::string::npos || gt == std::string::npos) continue;
    auto def_end = l.find(')', gt);
    auto colon = l.find(": ", def_end);
    if (def_end == std::string::npos || colon == std::string::npos) continue;
    HelpParam p;
    p.type = l.substr(eq + 2, gt - eq - 2);
    p.def = l.substr(gt + 11, def_end - gt - 11);
    std::string rest = l.substr(def_end + 1, colon - def_end - 1);
    auto range = rest.find(" range [");
    if (range != std::string::npos) {
      p.range = rest.substr(range + 8, rest.find(']', range) - range - 8);
      rest = rest.substr(0, range);
    }
    if (rest.rfind(" one of ", 0) == 0) p.values = rest.substr(8);
    out[l.substr(4, eq - 4)] = p;
  }
  return out;
}

std::vector<std::string> workload_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(FOLIOLAB_SOURCE_DIR) / "workloads"))
    if (e.path().extension() == ".c" && e.path().stem().string().rfind("selftest-", 0) != 0)
      names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Descriptors, EveryWorkloadHasOne) {
  auto names = workload_names();
  EXPECT_GE(names.size(), 9u);
  for (const auto& name : names) {
    fs::path yaml = fs::path(FOLIOLAB_SOURCE_DIR) / "workloads" / (name + ".yaml");
    ASSERT_TRUE(fs::exists(yaml)) << name;
    YAML::Node d = YAML::LoadFile(yaml.string());
    EXPECT_EQ(d["name"].as<std::string>(), name);
    EXPECT_TRUE(d["summary"] && d["deadline"] && d["params"] && d["metrics"]) << name;
    for (const auto& m : d["metrics"]) {
      EXPECT_TRUE(m.second["unit"] && m.second["kind"] && m.second["direction"])
          << name << ": metric " << m.first.as<std::string>();
    }
    // A workload that writes a pattern reports checked_pages at exit (workloads/lib/report.h).
    std::string text = foliolab::common::read_file(fs::path(FOLIOLAB_SOURCE_DIR) / "workloads" / (name + ".c"));
    if (text.find("wl_pattern_init(") != std::string::npos || text.find("wl_shape_build(") != std::string::npos) {
      EXPECT_TRUE(d["metrics"]["checked_pages"]) << name << " verifies pages: its descriptor lacks checked_pages";
    }
  }
}

TEST(Descriptors, ParametersMatchTheBinaries) {
  for (const auto& name : workload_names()) {
    fs::path bin = fs::path(FOLIOLAB_BINARY_DIR) / "guest" / "x86_64" / "workloads" / name;
    ASSERT_TRUE(fs::exists(bin)) << bin << " missing: build the 'guest' target";
    auto result = foliolab::common::run_process({bin.string(), "--help"});
    ASSERT_EQ(result.exit_code, 0) << name << ": " << result.output;
    auto help = parse_help(result.output);
    YAML::Node d = YAML::LoadFile((fs::path(FOLIOLAB_SOURCE_DIR) / "workloads" / (name + ".yaml")).string());
    std::map<std::string, YAML::Node> declared;
    for (const auto& p : d["params"]) declared[p.first.as<std::string>()] = p.second;
    EXPECT_EQ(help.size(), declared.size()) << name << ": --help lists " << help.size() << " parameters";
    for (const auto& [key, spec] : declared) {
      auto it = help.find(key);
      ASSERT_NE(it, help.end()) << name << ": the binary does not take --" << key;
      EXPECT_EQ(it->second.type, spec["type"].as<std::string>()) << name << "." << key;
      EXPECT_EQ(it->second.def, spec["default"].as<std::string>()) << name << "." << key;
      if (spec["values"]) {
        std::string values;
        for (const auto& v : spec["values"]) values += (values.empty() ? "" : " ") + v.as<std::string>();
        EXPECT_EQ(it->second.values, values) << name << "." << key;
      }
      EXPECT_EQ(!it->second.range.empty(), spec["min"] && spec["max"] && spec["min"].as<std::string>() != spec["max"].as<std::string>())
          << name << "." << key << ": range [" << it->second.range << "]";
    }
  }
}

}  // namespace
