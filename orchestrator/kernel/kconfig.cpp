#include "kernel/kconfig.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <regex>
#include <sstream>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::kernel {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool is_off(const std::string& v) { return v == "n" || v.empty(); }

}  // namespace

Fragment parse_fragment_text(const std::string& text, const std::filesystem::path& path) {
  static const std::regex assign(R"(^CONFIG_([A-Za-z0-9_]+)=(.*)$)");
  static const std::regex unset(R"(^# CONFIG_([A-Za-z0-9_]+) is not set$)");
  Fragment f;
  f.path = path;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    std::string line = trim(raw);
    bool required = false;
    // "CONFIG_X=y # required": strip our annotation (a quoted string value may contain '#').
    static const std::regex annotated(R"(^(CONFIG_[A-Za-z0-9_]+=.*?)\s+#\s*required$)");
    std::smatch m;
    if (std::regex_match(line, m, annotated)) {
      line = m[1];
      required = true;
    }
    std::string where = fmt::format("{}:{}", path.filename().string(), line_no);
    if (std::regex_match(line, m, assign)) {
      std::string value = trim(m[2]);
      if (value.empty()) throw common::UsageError(fmt::format("{}:{}: CONFIG_{} has no value", path.string(), line_no, m[1].str()));
      f.requests.push_back({m[1], value, required, where});
    } else if (std::regex_match(line, m, unset)) {
      f.requests.push_back({m[1], "n", required, where});
    } else if (line.empty() || line[0] == '#') {
      continue;
    } else {
      throw common::UsageError(fmt::format("{}:{}: not a kconfig assignment: '{}'", path.string(), line_no, line));
    }
  }
  return f;
}

Fragment parse_fragment(const std::filesystem::path& path) {
  std::string text;
  try {
    text = common::read_file(path);
  } catch (const common::InfraError& e) {
    throw common::UsageError(e.what());
  }
  return parse_fragment_text(text, path);
}

ConfigValues parse_dot_config(const std::string& text) {
  static const std::regex assign(R"(^CONFIG_([A-Za-z0-9_]+)=(.*)$)");
  static const std::regex unset(R"(^# CONFIG_([A-Za-z0-9_]+) is not set$)");
  ConfigValues out;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::regex_match(line, m, assign)) out[m[1]] = m[2];
    else if (std::regex_match(line, m, unset)) out[m[1]].assign(1, 'n');  // not = "n": GCC 12 -Wrestrict false positive
  }
  return out;
}

std::optional<int> hz_beside_image(const std::filesystem::path& image) {
  std::error_code ec;
  auto config = image.parent_path() / "config";
  if (!std::filesystem::is_regular_file(config, ec)) return std::nullopt;
  std::string text;
  try {
    text = common::read_file(config);
  } catch (const common::InfraError&) {
    return std::nullopt;
  }
  auto values = parse_dot_config(text);
  auto it = values.find("HZ");
  if (it == values.end()) return std::nullopt;
  const std::string& v = it->second;
  int hz = 0;
  auto [end, err] = std::from_chars(v.data(), v.data() + v.size(), hz);
  if (err != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return hz >= 24 && hz <= 10'000 ? std::optional<int>(hz) : std::nullopt;
}

std::string merge_fragments(const ConfigValues& base, const std::vector<Fragment>& fragments,
                            std::vector<std::string>* overrides) {
  ConfigValues merged = base;
  std::map<std::string, const ConfigRequest*> last;
  for (const auto& f : fragments) {
    for (const auto& r : f.requests) {
      auto it = last.find(r.symbol);
      if (overrides && it != last.end() && it->second->value != r.value)
        overrides->push_back(fmt::format("CONFIG_{}: {} ({}) -> {} ({})", r.symbol, it->second->value,
                                         it->second->where, r.value, r.where));
      last[r.symbol] = &r;
      merged[r.symbol] = r.value;
    }
  }
  // Base symbols first, then the requested ones in the order they were requested: when two
  // members of a Kconfig choice are y (the base's default and the fragment's pick), the one read
  // last wins, and that must be the fragment's (ARM64_VA_BITS_48 over tinyconfig's _52).
  auto line = [](const std::string& sym, const std::string& val) {
    return is_off(val) ? fmt::format("# CONFIG_{} is not set\n", sym) : fmt::format("CONFIG_{}={}\n", sym, val);
  };
  std::string out;
  for (const auto& [sym, val] : merged)
    if (!last.count(sym)) out += line(sym, val);
  for (const auto& f : fragments)
    for (const auto& r : f.requests)
      if (last.at(r.symbol) == &r) out += line(r.symbol, r.value);
  return out;
}

std::string kernel_version_of_makefile(const std::string& text) {
  std::map<std::string, std::string> v;
  static const std::regex line(R"(^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)\s*$)");
  std::istringstream in(text);
  for (std::string raw; std::getline(in, raw) && v.size() < 3;) {
    std::smatch m;
    if (std::regex_match(raw, m, line)) v.emplace(m[1], m[2]);
  }
  if (!v.count("VERSION") || !v.count("PATCHLEVEL")) return "";
  return v["VERSION"] + "." + v["PATCHLEVEL"] + (v.count("SUBLEVEL") ? "." + v["SUBLEVEL"] : "");
}

KconfigTree scan_kconfig_tree(const std::filesystem::path& tree) {
  namespace fs = std::filesystem;
  KconfigTree out;
  out.version = kernel_version_of_makefile(common::read_file(tree / "Makefile"));
  for (auto it = fs::recursive_directory_iterator(tree); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name == ".git" || name == "Documentation")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!name.starts_with("Kconfig") || !it->is_regular_file()) continue;
    std::istringstream in(common::read_file(it->path()));
    for (std::string raw; std::getline(in, raw);) {
      // "config X" or "menuconfig X", possibly indented; anything else (help text included,
      // which is indented prose) does not define a symbol.
      std::istringstream words(raw);
      std::string keyword, symbol, rest;
      if (!(words >> keyword >> symbol) || (keyword != "config" && keyword != "menuconfig") || (words >> rest)) continue;
      if (symbol.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos)
        out.symbols.insert(symbol);
    }
  }
  return out;
}

ConfigCheck check_config(const ConfigValues& final_config, const std::vector<Fragment>& fragments,
                         const KconfigTree* tree) {
  std::map<std::string, const ConfigRequest*> last;
  std::map<std::string, bool> required;
  for (const auto& f : fragments)
    for (const auto& r : f.requests) {
      last[r.symbol] = &r;
      if (r.required) required[r.symbol] = true;
    }
  ConfigCheck check;
  for (const auto& [sym, req] : last) {
    auto it = final_config.find(sym);
    std::string actual = it == final_config.end() ? "n" : it->second;
    bool ok = is_off(req->value) ? is_off(actual) : actual == req->value;
    if (ok) continue;
    if (tree && !tree->symbols.count(sym) && !required.count(sym)) {
      check.undefined.push_back(fmt::format("CONFIG_{} ({}) is not defined by Linux {}: no Kconfig of it has the symbol",
                                            sym, req->where, tree->version));
      continue;
    }
    std::string line = fmt::format("CONFIG_{}={} ({}) is {} in the final .config", sym, req->value, req->where,
                                   it == final_config.end() ? "absent" : "=" + actual);
    (required.count(sym) ? check.dropped_required : check.dropped).push_back(line);
  }
  return check;
}

}  // namespace foliolab::kernel
