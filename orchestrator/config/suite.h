#pragma once
// The typed, validated suite (docs/suite.md). Produced only by config::load_suite, which
// rejects unknown keys and names file:line:column for every error. Paths are absolute
// (resolved against the suite file's folder). Settings values stay strings, exactly as the
// kernel knobs take them; a list in the YAML becomes several values (the run matrix expands
// them as a Cartesian product).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace foliolab::config {

// Where a value came from, for error messages: "suite.yaml:12:5".
struct SourceLocation {
  std::filesystem::path file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string str() const;
};

enum class Arch { kX86_64, kArm64, kRiscv64 };
const char* to_string(Arch arch);
std::optional<Arch> arch_from_string(const std::string& text);
std::vector<Arch> all_arches();

struct KernelSource {
  // kTarball: a kernel.org-style linux-X.Y.tar.* (one top folder holding the tree).
  enum class Kind { kDebian, kPath, kGit, kTarball };
  Kind kind = Kind::kDebian;
  std::string debian_package = "linux-source-6.12";  // kDebian: /usr/src/<package>.tar.xz
  std::filesystem::path path;                        // kPath: tree; kGit: repository; kTarball: file
  std::string git_ref;                               // kGit
  std::string describe() const;  // "debian:linux-source-6.12", "path:/src/linux", "git:/r@v6.12", "tarball:/t.tar.xz"
};

struct KernelVariant {
  std::string name;
  std::optional<std::string> base;                // name of the variant it inherits from
  KernelSource source;                            // resolved (inherited if not given)
  std::string base_config = "tinyconfig";         // tinyconfig | defconfig
  std::vector<std::filesystem::path> patches;     // in order: inherited first, then own
  std::vector<std::filesystem::path> config;      // extra fragments: inherited first, then own
  SourceLocation where;
};

// A guest knob may hold several values to sweep; each is a string as written to the kernel.
using SettingValues = std::vector<std::string>;

struct SwapSettings {
  std::optional<std::uint64_t> zram_bytes;        // swap: {zram: 512M}
  std::string zram_algorithm = "lzo-rle";
  std::optional<std::uint64_t> disk_bytes;        // swap: {disk: 1G} a virtio-blk swap disk
};

// guest.trace_buffer_kb: one page at least; at most 256 MiB per CPU, which no guest here could hold.
inline constexpr int kMinTraceBufferKb = 4;
inline constexpr int kMaxTraceBufferKb = 256 * 1024;

struct GuestSettings {
  std::uint64_t memory_bytes = 2ull << 30;
  int cpus = 2;
  int numa_nodes = 1;                             // >1: memory split evenly across nodes
  SwapSettings swap;
  bool zswap = false;
  // thp: {enabled, defrag, use_zero_page, shmem_enabled, shrink_underused, sizes: {64K: inherit}}
  std::map<std::string, SettingValues> thp;       // knob -> values
  std::map<std::string, SettingValues> thp_sizes; // "64kB" -> values of hugepages-64kB/enabled
  std::map<std::string, SettingValues> khugepaged;// knob -> values
  std::map<std::string, SettingValues> sysctl;    // "vm.swappiness" -> values
  std::vector<std::string> trace;                 // extra tracepoints "huge_memory/mm_..."
  // The tracing ring buffer per CPU in KiB (tracefs buffer_size_kb); none: the kernel's default.
  std::optional<int> trace_buffer_kb;
  int sample_ms = 250;
  SourceLocation where;
};

// Knobs one workload sets differently from the suite's guest: (e.g. a swap measurement that
// keeps khugepaged asleep while the collapse workloads beside it scan every 10 ms). Each
// replaces the guest's value (or sweep) of that knob for this workload's jobs only.
struct KnobOverrides {
  std::map<std::string, SettingValues> thp;        // as GuestSettings::thp
  std::map<std::string, SettingValues> thp_sizes;  // as GuestSettings::thp_sizes
  std::map<std::string, SettingValues> khugepaged; // as GuestSettings::khugepaged
  std::map<std::string, SettingValues> sysctl;     // as GuestSettings::sysctl
};

struct WorkloadEntry {
  std::string name;                               // unique within the suite
  std::string workload;                           // descriptor name
  std::map<std::string, std::string> params;      // raw strings, validated against the descriptor
  std::optional<std::uint64_t> memcg_max;         // memcg: {max: 256M}
  std::optional<std::int64_t> deadline_ms;        // overrides the descriptor's deadline
  KnobOverrides guest;                            // guest: {khugepaged: {...}, thp: {...}, sysctl: {...}}
  SourceLocation where;
};

struct Timeouts {
  std::int64_t boot_ms = 120'000;                 // QEMU start to hello (TCG)
  std::int64_t silence_ms = 300'000;              // no console and no data-channel output
};

struct Suite {
  std::string name;
  std::filesystem::path file;                     // absolute path of the suite file
  std::vector<KernelVariant> kernels;             // in file order
  std::vector<Arch> arches;
  GuestSettings guest;
  std::vector<WorkloadEntry> workloads;
  int repetitions = 1;
  std::string baseline;                           // a kernel variant name
  Timeouts timeouts;
  std::optional<std::filesystem::path> cache_dir; // default: common::default_cache_dir()
  std::optional<std::filesystem::path> results_dir;

  const KernelVariant* find_kernel(const std::string& name) const;
};

// Parses and validates; throws common::UsageError("file:line:col: key: problem").
Suite load_suite(const std::filesystem::path& file);
Suite parse_suite(const std::string& yaml_text, const std::filesystem::path& file);

}  // namespace foliolab::config
