#include "report/run_files.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace foliolab::report {

std::vector<CounterSeries> read_counter_series(const std::filesystem::path& records_jsonl,
                                               const std::vector<std::string>& preferred, std::size_t max_series,
                                               std::size_t max_bytes) {
  constexpr std::size_t kMaxLine = 256u << 10;
  std::ifstream in(records_jsonl, std::ios::binary);
  if (!in) return {};
  std::map<std::string, CounterSeries> all;
  std::string line;
  std::size_t read = 0;
  while (read < max_bytes && std::getline(in, line)) {
    read += line.size() + 1;
    if (line.size() > kMaxLine || line.find("\"sample\"") == std::string::npos) continue;
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object() || record.value("type", "") != "sample") continue;
    auto t = record.find("t");
    auto values = record.find("values");
    if (t == record.end() || !t->is_number() || values == record.end() || !values->is_object()) continue;
    for (const auto& [name, value] : values->items()) {
      if (!value.is_number() || name.size() > 160) continue;
      auto& s = all[name];
      if (s.name.empty()) s.name = name;
      if (s.t.size() >= 100000) continue;
      s.t.push_back(t->get<double>());
      s.values.push_back(value.get<double>());
    }
  }
  auto changing = [](const CounterSeries& s) {
    return s.values.size() >= 2 && *std::min_element(s.values.begin(), s.values.end()) !=
                                       *std::max_element(s.values.begin(), s.values.end());
  };
  std::vector<CounterSeries> out;
  std::set<std::string> taken;
  for (const auto& name : preferred) {
    if (out.size() >= max_series) break;
    auto it = all.find(name);
    if (it != all.end() && changing(it->second) && taken.insert(name).second) out.push_back(it->second);
  }
  for (const auto& [name, s] : all) {
    if (out.size() >= max_series) break;
    if (changing(s) && !taken.contains(name)) out.push_back(s);
  }
  return out;
}

std::string console_tail(const std::filesystem::path& console_log, std::size_t lines, std::size_t max_bytes) {
  std::ifstream in(console_log, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const auto size = static_cast<std::size_t>(in.tellg());
  const std::size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::vector<std::string> all;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    all.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  if (start > 0 && !all.empty()) all.erase(all.begin());  // a partial first line
  while (!all.empty() && all.back().empty()) all.pop_back();
  const std::size_t first = all.size() > lines ? all.size() - lines : 0;
  std::string out;
  for (std::size_t i = first; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

std::string crash_excerpt(const std::filesystem::path& manifest_json) {
  std::ifstream in(manifest_json, std::ios::binary);
  if (!in) return "";
  auto json = nlohmann::json::parse(in, nullptr, false);
  if (!json.is_object()) return "";
  auto crash = json.find("crash");
  if (crash == json.end() || !crash->is_object()) return "";
  auto excerpt = crash->find("excerpt");
  return excerpt != crash->end() && excerpt->is_string() ? excerpt->get<std::string>() : "";
}

}  // namespace foliolab::report
