#include "config/suite.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <regex>
#include <set>

#include "common/errors.h"
#include "common/fs.h"
#include "common/units.h"
#include "config/data_dir.h"

namespace foliolab::config {
namespace fs = std::filesystem;
using common::UsageError;

std::string SourceLocation::str() const {
  return fmt::format("{}:{}:{}", file.string(), line, column);
}

const char* to_string(Arch arch) {
  switch (arch) {
    case Arch::kX86_64: return "x86_64";
    case Arch::kArm64: return "arm64";
    case Arch::kRiscv64: return "riscv64";
  }
  return "?";
}

std::optional<Arch> arch_from_string(const std::string& text) {
  if (text == "x86_64" || text == "amd64") return Arch::kX86_64;
  if (text == "arm64" || text == "aarch64") return Arch::kArm64;
  if (text == "riscv64" || text == "riscv") return Arch::kRiscv64;
  return std::nullopt;
}

std::vector<Arch> all_arches() { return {Arch::kX86_64, Arch::kArm64, Arch::kRiscv64}; }

std::string KernelSource::describe() const {
  switch (kind) {
    case Kind::kDebian: return "debian:" + debian_package;
    case Kind::kPath: return "path:" + path.string();
    case Kind::kGit: return "git:" + path.string() + "@" + git_ref;
    case Kind::kTarball: return "tarball:" + path.string();
  }
  return "?";
}

const KernelVariant* Suite::find_kernel(const std::string& kernel_name) const {
  for (const auto& k : kernels)
    if (k.name == kernel_name) return &k;
  return nullptr;
}

namespace {

// Walks the YAML tree keeping the dotted key path, so that every error names the file, the
// position and the key ("suite.yaml:7:5: guest.thp.enabeld: unknown key").
class Reader {
 public:
  Reader(fs::path file, fs::path display) : file_(std::move(file)), display_(std::move(display)) {}

  SourceLocation where(const YAML::Node& node) const {
    const auto mark = node.Mark();
    return SourceLocation{display_, mark.line + 1, mark.column + 1};
  }

  [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& problem) const {
    throw UsageError(fmt::format("{}: {}: {}", where(node).str(), key, problem));
  }

  // Calls visit(key, value_node) for each entry; rejects keys not in `known`.
  void map(const YAML::Node& node, const std::string& key, const std::vector<std::string>& known,
           const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& visit) const {
    if (!node.IsMap()) fail(node, key, "expected a mapping");
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: it-> yields a temporary whose members die with the expression.
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (!k.IsScalar()) fail(k, key, "keys must be plain names");
      std::string name = k.Scalar();
      std::string full = key.empty() ? name : key + "." + name;
      if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
        std::string list;
        for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
        fail(k, full, fmt::format("unknown key (known: {})", list));
      }
      if (!seen.insert(name).second) fail(k, full, "duplicate key");
      visit(name, k, v);
    }
  }

  std::string scalar(const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar()) fail(node, key, "expected a single value");
    return node.Scalar();
  }

  std::string name_of(const YAML::Node& node, const std::string& key) const {
    static const std::regex ok("[A-Za-z0-9][A-Za-z0-9._+-]*");
    std::string s = scalar(node, key);
    if (!std::regex_match(s, ok)) fail(node, key, fmt::format("'{}' is not a valid name (letters, digits, . _ + -)", s));
    return s;
  }

  long long integer(const YAML::Node& node, const std::string& key, long long min, long long max) const {
    std::string s = scalar(node, key);
    const auto parsed = common::parse_integer(s);
    if (!parsed) fail(node, key, fmt::format("'{}' is not an integer", s));
    const long long v = *parsed;
    if (v < min || v > max) fail(node, key, fmt::format("{} is outside {}..{}", v, min, max));
    return v;
  }

  std::uint64_t size(const YAML::Node& node, const std::string& key) const {
    std::string s = scalar(node, key);
    auto v = common::parse_size(s);
    if (!v) fail(node, key, fmt::format("'{}' is not a size (e.g. 512M, 2G)", s));
    return *v;
  }

  std::int64_t duration_ms(const YAML::Node& node, const std::string& key) const {
    std::string s = scalar(node, key);
    auto v = common::parse_duration(s);
    if (!v) fail(node, key, fmt::format("'{}' is not a duration (e.g. 90s, 5m)", s));
    return v->count();
  }

  bool boolean(const YAML::Node& node, const std::string& key) const {
    std::string s = scalar(node, key);
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    fail(node, key, fmt::format("'{}' is not true or false", s));
  }

  // One value or a list of values (a sweep); each checked against `allowed` when given.
  SettingValues values(const YAML::Node& node, const std::string& key,
                       const std::vector<std::string>& allowed = {}, bool integer_only = false) const {
    SettingValues out;
    auto check = [&](const YAML::Node& n) {
      std::string v = scalar(n, key);
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(n, key, fmt::format("'{}' is not one of: {}", v, list));
      }
      if (integer_only) integer(n, key, 0, (1ll << 53));
      for (char c : v)
        if (static_cast<unsigned char>(c) < 0x20) fail(n, key, "control characters are not allowed");
      out.push_back(v);
    };
    if (node.IsSequence()) {
      if (node.size() == 0) fail(node, key, "an empty list sweeps nothing");
      for (const auto& n : node) check(n);
    } else {
      check(node);
    }
    return out;
  }

  // Resolves a path written in the suite: absolute as is; relative against the suite's folder,
  // then against foliolab's data dir (for shipped assets such as guest-kernel-patches/ and
  // images/kconfig/). The first that exists wins; none existing is an error naming both.
  fs::path existing_path(const YAML::Node& node, const std::string& key) const {
    std::string s = scalar(node, key);
    if (s.empty()) fail(node, key, "empty path");
    fs::path p(s);
    if (p.is_absolute()) {
      if (!fs::exists(p)) fail(node, key, fmt::format("{} does not exist", p.string()));
      return p;
    }
    fs::path near_suite = file_.parent_path() / p;
    if (fs::exists(near_suite)) return fs::weakly_canonical(near_suite);
    fs::path shipped = data_dir() / p;
    if (fs::exists(shipped)) return fs::weakly_canonical(shipped);
    fail(node, key, fmt::format("{} not found (looked in {} and {})", s, file_.parent_path().string(),
                                data_dir().string()));
  }

  fs::path plain_path(const YAML::Node& node, const std::string& key) const {
    fs::path p(scalar(node, key));
    return p.is_absolute() ? p : fs::weakly_canonical(file_.parent_path() / p);
  }

  std::vector<fs::path> path_list(const YAML::Node& node, const std::string& key) const {
    std::vector<fs::path> out;
    if (node.IsScalar()) {
      out.push_back(existing_path(node, key));
      return out;
    }
    if (!node.IsSequence()) fail(node, key, "expected a list of paths");
    for (const auto& n : node) out.push_back(existing_path(n, key));
    return out;
  }

 private:
  fs::path file_;
  fs::path display_;
};

const std::vector<std::string> kThpModes = {"always", "madvise", "never"};
const std::vector<std::string> kThpSizeModes = {"always", "madvise", "never", "inherit"};
const std::vector<std::string> kDefragModes = {"always", "defer", "defer+madvise", "madvise", "never"};
const std::vector<std::string> kShmemModes = {"always", "within_size", "advise", "never", "deny", "force"};

KernelSource parse_source(const Reader& r, const YAML::Node& node, const std::string& key) {
  KernelSource src;
  bool have_kind = false;
  std::optional<std::string> ref;
  r.map(node, key, {"debian", "path", "git", "tarball", "ref"}, [&](const std::string& k, const YAML::Node& kn, const YAML::Node& v) {
    const std::string full = key + "." + k;
    if (k == "ref") {
      ref = r.scalar(v, full);
      return;
    }
    if (have_kind) r.fail(kn, full, "give exactly one of debian, path, git, tarball");
    have_kind = true;
    if (k == "debian") {
      src.kind = KernelSource::Kind::kDebian;
      src.debian_package = r.name_of(v, full);
    } else if (k == "path") {
      src.kind = KernelSource::Kind::kPath;
      src.path = r.existing_path(v, full);
      if (!fs::exists(src.path / "Makefile") || !fs::exists(src.path / "mm"))
        r.fail(v, full, fmt::format("{} does not look like a kernel source tree (no Makefile or mm/)", src.path.string()));
    } else if (k == "tarball") {
      src.kind = KernelSource::Kind::kTarball;
      src.path = r.existing_path(v, full);
      if (!fs::is_regular_file(src.path)) r.fail(v, full, fmt::format("{} is not a file", src.path.string()));
    } else {
      src.kind = KernelSource::Kind::kGit;
      src.path = r.existing_path(v, full);
    }
  });
  if (!have_kind) r.fail(node, key, "give one of debian, path, git, tarball");
  if (src.kind == KernelSource::Kind::kGit) {
    if (!ref) r.fail(node, key, "git sources need a ref (branch, tag or commit)");
    src.git_ref = *ref;
  } else if (ref) {
    r.fail(node, key + ".ref", "ref only applies to git sources");
  }
  return src;
}

struct RawKernel {
  KernelVariant variant;
  bool has_source = false;
  bool has_base_config = false;
  YAML::Node base_node;
};

// guest.thp, guest.khugepaged and guest.sysctl (and the same under workloads[].guest): knob
// name -> the values to write, checked where the kernel's answer would not be a finding.
void parse_knob_family(const Reader& r, const std::string& k, const YAML::Node& v, const std::string& key,
                       std::map<std::string, SettingValues>& thp, std::map<std::string, SettingValues>& thp_sizes,
                       std::map<std::string, SettingValues>& khugepaged, std::map<std::string, SettingValues>& sysctl) {
  if (k == "thp") {
    r.map(v, key, {"enabled", "defrag", "use_zero_page", "shmem_enabled", "shrink_underused", "sizes"},
          [&](const std::string& tk, const YAML::Node&, const YAML::Node& tv) {
      const std::string tkey = key + "." + tk;
      if (tk == "sizes") {
        r.map(tv, tkey, {}, [&](const std::string& size, const YAML::Node& sn, const YAML::Node& sv) {
          auto bytes = common::parse_size(size);
          if (!bytes || *bytes < 4096 || *bytes % 1024 != 0)
            r.fail(sn, tkey + "." + size, "not a page size (e.g. 64K, 2M)");
          std::string norm = fmt::format("{}kB", *bytes / 1024);
          if (thp_sizes.count(norm)) r.fail(sn, tkey + "." + size, "the same size is given twice");
          thp_sizes[norm] = r.values(sv, tkey + "." + size, kThpSizeModes);
        });
      } else if (tk == "enabled") {
        thp[tk] = r.values(tv, tkey, kThpModes);
      } else if (tk == "defrag") {
        thp[tk] = r.values(tv, tkey, kDefragModes);
      } else if (tk == "shmem_enabled") {
        thp[tk] = r.values(tv, tkey, kShmemModes);
      } else if (tk == "use_zero_page") {
        thp[tk] = r.values(tv, tkey, {"0", "1"});
      } else {
        thp[tk] = r.values(tv, tkey, {}, true);
      }
    });
  } else if (k == "khugepaged") {
    r.map(v, key, {"pages_to_scan", "scan_sleep_millisecs", "alloc_sleep_millisecs", "max_ptes_none",
                   "max_ptes_swap", "max_ptes_shared", "defrag"},
          [&](const std::string& kk, const YAML::Node&, const YAML::Node& kv) {
      const std::string kkey = key + "." + kk;
      // Numeric limits are left to the kernel on purpose: a value it refuses is a finding
      // reported by the guest agent with the kernel's answer, not a config error here.
      khugepaged[kk] = kk == "defrag" ? r.values(kv, kkey, {"0", "1"}) : r.values(kv, kkey, {}, true);
    });
  } else {
    static const std::regex sysctl_name("[a-z0-9_]+(\\.[a-z0-9_]+)+");
    r.map(v, key, {}, [&](const std::string& name, const YAML::Node& sn, const YAML::Node& sv) {
      if (!std::regex_match(name, sysctl_name)) r.fail(sn, key + "." + name, "not a sysctl name (e.g. vm.swappiness)");
      sysctl[name] = r.values(sv, key + "." + name);
    });
  }
}

void parse_guest(const Reader& r, const YAML::Node& node, GuestSettings& g) {
  g.where = r.where(node);
  r.map(node, "guest", {"memory", "cpus", "numa_nodes", "swap", "zswap", "thp", "khugepaged", "sysctl", "trace", "trace_buffer_kb",
                                 "sample_ms"},
        [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
    const std::string key = "guest." + k;
    if (k == "memory") {
      g.memory_bytes = r.size(v, key);
      if (g.memory_bytes < (128ull << 20)) r.fail(v, key, "at least 128M");
    } else if (k == "cpus") {
      g.cpus = static_cast<int>(r.integer(v, key, 1, 8));
    } else if (k == "numa_nodes") {
      g.numa_nodes = static_cast<int>(r.integer(v, key, 1, 4));
    } else if (k == "zswap") {
      g.zswap = r.boolean(v, key);
    } else if (k == "sample_ms") {
      g.sample_ms = static_cast<int>(r.integer(v, key, 10, 60000));
    } else if (k == "trace_buffer_kb") {
      g.trace_buffer_kb = static_cast<int>(r.integer(v, key, kMinTraceBufferKb, kMaxTraceBufferKb));
    } else if (k == "swap") {
      r.map(v, key, {"zram", "zram_algorithm", "disk"}, [&](const std::string& sk, const YAML::Node&, const YAML::Node& sv) {
        const std::string skey = key + "." + sk;
        if (sk == "zram") g.swap.zram_bytes = r.size(sv, skey);
        else if (sk == "zram_algorithm") g.swap.zram_algorithm = r.name_of(sv, skey);
        else g.swap.disk_bytes = r.size(sv, skey);
      });
    } else if (k == "thp" || k == "khugepaged" || k == "sysctl") {
      parse_knob_family(r, k, v, key, g.thp, g.thp_sizes, g.khugepaged, g.sysctl);
    } else if (k == "trace") {
      static const std::regex event("[a-z0-9_]+/[a-z0-9_]+(:[a-z0-9_]+)?");
      if (!v.IsSequence()) r.fail(v, key, "expected a list of events (e.g. huge_memory/mm_khugepaged_scan_pmd or kmem/mm_page_alloc:order)");
      for (const auto& e : v) {
        std::string s = r.scalar(e, key);
        if (!std::regex_match(s, event)) r.fail(e, key, fmt::format("'{}' is not subsystem/event or subsystem/event:field", s));
        g.trace.push_back(s);
      }
    }
  });
}

void parse_workloads(const Reader& r, const YAML::Node& node, std::vector<WorkloadEntry>& out) {
  if (!node.IsSequence() || node.size() == 0) r.fail(node, "workloads", "expected a non-empty list");
  std::set<std::string> names;
  for (const auto& item : node) {
    WorkloadEntry w;
    w.where = r.where(item);
    bool have_workload = false;
    r.map(item, "workloads[]", {"name", "workload", "params", "memcg", "deadline", "guest"},
          [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
      const std::string key = "workloads[]." + k;
      if (k == "name") w.name = r.name_of(v, key);
      else if (k == "workload") { w.workload = r.name_of(v, key); have_workload = true; }
      else if (k == "deadline") w.deadline_ms = r.duration_ms(v, key);
      else if (k == "guest") {
        // Only the knobs of a running kernel: memory, CPUs, swap devices and tracing are the
        // guest's shape, shared by every workload of a suite.
        r.map(v, key, {"thp", "khugepaged", "sysctl"}, [&](const std::string& gk, const YAML::Node&, const YAML::Node& gv) {
          parse_knob_family(r, gk, gv, key + "." + gk, w.guest.thp, w.guest.thp_sizes, w.guest.khugepaged, w.guest.sysctl);
        });
      }
      else if (k == "memcg") {
        r.map(v, key, {"max"}, [&](const std::string&, const YAML::Node&, const YAML::Node& mv) {
          w.memcg_max = r.size(mv, key + ".max");
        });
      } else {
        r.map(v, key, {}, [&](const std::string& pk, const YAML::Node& pn, const YAML::Node& pv) {
          if (pk.find('=') != std::string::npos) r.fail(pn, key + "." + pk, "parameter names cannot contain '='");
          w.params[pk] = r.scalar(pv, key + "." + pk);
        });
      }
    });
    if (!have_workload) r.fail(item, "workloads[]", "missing key 'workload' (which workload to run)");
    if (w.name.empty()) w.name = w.workload;
    if (!names.insert(w.name).second)
      r.fail(item, "workloads[]", fmt::format("two workloads are named '{}': give each a distinct name", w.name));
    out.push_back(std::move(w));
  }
}

}  // namespace

Suite parse_suite(const std::string& yaml_text, const fs::path& file) {
  fs::path absolute = fs::absolute(file);
  Reader r(absolute, file);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw UsageError(fmt::format("{}:{}:{}: YAML syntax error: {}", file.string(), e.mark.line + 1,
                                 e.mark.column + 1, e.msg));
  }
  if (!root.IsMap()) throw UsageError(fmt::format("{}:1:1: a suite is a mapping (name, kernels, arches, ...)", file.string()));

  Suite s;
  s.file = absolute;
  std::vector<RawKernel> raw;
  bool have_arches = false, have_workloads = false, have_kernels = false, have_name = false;
  YAML::Node baseline_node;
  r.map(root, "", {"name", "kernels", "arches", "guest", "workloads", "repetitions", "baseline", "timeouts", "cache", "results"},
        [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
    if (k == "name") { s.name = r.name_of(v, k); have_name = true; }
    else if (k == "repetitions") s.repetitions = static_cast<int>(r.integer(v, k, 1, 1000));
    else if (k == "baseline") { s.baseline = r.name_of(v, k); baseline_node.reset(v); }
    else if (k == "cache") s.cache_dir = r.plain_path(v, k);
    else if (k == "results") s.results_dir = r.plain_path(v, k);
    else if (k == "guest") parse_guest(r, v, s.guest);
    else if (k == "workloads") { parse_workloads(r, v, s.workloads); have_workloads = true; }
    else if (k == "timeouts") {
      r.map(v, k, {"boot", "silence"}, [&](const std::string& tk, const YAML::Node&, const YAML::Node& tv) {
        (tk == "boot" ? s.timeouts.boot_ms : s.timeouts.silence_ms) = r.duration_ms(tv, "timeouts." + tk);
      });
    } else if (k == "arches") {
      have_arches = true;
      if (!v.IsSequence() || v.size() == 0) r.fail(v, k, "expected a non-empty list of x86_64, arm64, riscv64");
      for (const auto& a : v) {
        std::string name = r.scalar(a, k);
        auto arch = arch_from_string(name);
        if (!arch) r.fail(a, k, fmt::format("unknown arch '{}' (known: x86_64, arm64, riscv64)", name));
        if (std::find(s.arches.begin(), s.arches.end(), *arch) != s.arches.end()) r.fail(a, k, fmt::format("'{}' given twice", name));
        s.arches.push_back(*arch);
      }
    } else if (k == "kernels") {
      have_kernels = true;
      r.map(v, k, {}, [&](const std::string& name, const YAML::Node& kn, const YAML::Node& kv) {
        RawKernel rk;
        rk.variant.name = r.name_of(kn, "kernels." + name);
        rk.variant.where = r.where(kn);
        const std::string key = "kernels." + name;
        if (kv.IsNull()) { raw.push_back(std::move(rk)); return; }
        r.map(kv, key, {"source", "base", "base_config", "patches", "config"},
              [&](const std::string& f, const YAML::Node&, const YAML::Node& fv) {
          const std::string fkey = key + "." + f;
          if (f == "source") { rk.variant.source = parse_source(r, fv, fkey); rk.has_source = true; }
          else if (f == "base") { rk.variant.base = r.name_of(fv, fkey); rk.base_node.reset(fv); }
          else if (f == "base_config") {
            rk.variant.base_config = r.values(fv, fkey, {"tinyconfig", "defconfig"}).at(0);
            if (!fv.IsScalar()) r.fail(fv, fkey, "one value");
            rk.has_base_config = true;
          }
          else if (f == "patches") rk.variant.patches = r.path_list(fv, fkey);
          else rk.variant.config = r.path_list(fv, fkey);
        });
        raw.push_back(std::move(rk));
      });
    }
  });
  auto top = [&](const std::string& key, const std::string& problem) {
    throw UsageError(fmt::format("{}:1:1: {}: {}", file.string(), key, problem));
  };
  if (!have_name) top("name", "missing: every suite has a name (it names the results folder)");
  if (!have_kernels || raw.empty()) top("kernels", "missing: name at least one kernel variant");
  if (!have_arches) top("arches", "missing: list the arches to run (x86_64, arm64, riscv64)");
  if (!have_workloads) top("workloads", "missing: list at least one workload");

  // Resolve inheritance: a variant takes source, base_config, patches and config from its base;
  // its own patches and fragments come after the inherited ones.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < raw.size(); ++i) index[raw[i].variant.name] = i;
  std::vector<int> state(raw.size(), 0);  // 0 new, 1 resolving, 2 done
  std::function<void(size_t)> resolve = [&](size_t i) {
    if (state[i] == 2) return;
    RawKernel& rk = raw[i];
    if (state[i] == 1) r.fail(rk.base_node, "kernels." + rk.variant.name + ".base", "inheritance cycle");
    state[i] = 1;
    if (rk.variant.base) {
      auto it = index.find(*rk.variant.base);
      if (it == index.end())
        r.fail(rk.base_node, "kernels." + rk.variant.name + ".base", fmt::format("no kernel named '{}'", *rk.variant.base));
      if (it->second == i) r.fail(rk.base_node, "kernels." + rk.variant.name + ".base", "a kernel cannot be its own base");
      resolve(it->second);
      const KernelVariant& b = raw[it->second].variant;
      if (!rk.has_source) rk.variant.source = b.source;
      if (!rk.has_base_config) rk.variant.base_config = b.base_config;
      std::vector<fs::path> patches = b.patches;
      patches.insert(patches.end(), rk.variant.patches.begin(), rk.variant.patches.end());
      rk.variant.patches = patches;
      std::vector<fs::path> cfg = b.config;
      cfg.insert(cfg.end(), rk.variant.config.begin(), rk.variant.config.end());
      rk.variant.config = cfg;
    }
    state[i] = 2;
  };
  for (size_t i = 0; i < raw.size(); ++i) resolve(i);
  for (auto& rk : raw) s.kernels.push_back(std::move(rk.variant));

  if (s.baseline.empty()) {
    s.baseline = s.kernels.front().name;
  } else if (!s.find_kernel(s.baseline)) {
    r.fail(baseline_node, "baseline", fmt::format("no kernel named '{}'", s.baseline));
  }
  return s;
}

Suite load_suite(const fs::path& file) {
  if (!fs::exists(file)) throw UsageError(fmt::format("{}: no such suite file", file.string()));
  std::string text;
  try {
    text = common::read_file(file);
  } catch (const common::InfraError& e) {
    throw UsageError(e.what());
  }
  return parse_suite(text, file);
}

}  // namespace foliolab::config
