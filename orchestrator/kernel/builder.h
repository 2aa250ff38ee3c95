#pragma once
// Builds one kernel variant for one arch into the content-addressed artifact cache:
//   <cache>/kernels/<key>/{image, config, System.map, vmlinux, build.log, metadata.json}
// The key hashes everything that determines the result (source identity, patch contents in
// order, config fragments in order, base config, arch, compiler version, recipe version). An
// existing artifact is a cache hit that touches nothing. Builds happen in a persistent tree per
// (source, arch) so that a patch-only change rebuilds incrementally.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "config/suite.h"

namespace foliolab::kernel {

// Everything foliolab knows about building for an arch: data, not if-chains.
struct Toolchain {
  config::Arch arch;
  std::string kernel_arch;      // ARCH= for make
  std::string cross_compile;    // CROSS_COMPILE= prefix
  std::string image_target;     // make target
  std::string image_path;       // relative to the object dir
  std::string debian_package;   // what to install when the compiler is missing
};
const Toolchain& toolchain(config::Arch arch);

struct KernelArtifact {
  std::string kernel;          // variant name
  config::Arch arch = config::Arch::kX86_64;
  std::string key;
  std::filesystem::path dir;
  std::filesystem::path image, config, system_map, vmlinux, build_log, metadata;
  std::string release;         // e.g. "6.12.117"
  bool cached = false;
  double seconds = 0;          // wall time of this call
  std::vector<std::string> warnings;  // requested kconfig symbols that did not survive, fuzz
};

struct BuildOptions {
  std::filesystem::path cache_dir;
  int jobs = 0;                // 0: nproc
  bool use_ccache = true;
  // Stop after the config step: the tree is prepared and patched, the .config merged and
  // checked (errors and warnings as in a build), copied to <cache>/configs/<key>.config and
  // returned in KernelArtifact::config; nothing is compiled and no artifact is stored. A cached
  // artifact is returned as is (its config is the final one).
  bool config_only = false;
  // Computing keys may memoise source hashes in the cache; false for a dry run, which writes
  // nothing anywhere.
  bool write_cache = true;
};

// Inputs of a build, resolved once: the same value gives the same key.
struct BuildInputs {
  std::string source_id;
  std::string compiler;        // first line of `<cc> --version`
  std::vector<std::filesystem::path> fragments;  // common, arch, then the variant's
};

BuildInputs resolve_inputs(const config::KernelVariant& variant, config::Arch arch, const BuildOptions& options);
std::string artifact_key(const config::KernelVariant& variant, config::Arch arch, const BuildInputs& inputs);

// Returns the cached artifact or builds it. Throws UsageError (a patch that does not apply, a
// required kconfig symbol lost, a bad fragment), InfraError (missing tools, build failure: the
// message holds the log's last lines and its path).
KernelArtifact build_kernel(const config::KernelVariant& variant, config::Arch arch, const BuildOptions& options);

// Tools a kernel build needs, as (program, Debian package).
std::vector<std::pair<std::string, std::string>> required_build_tools();

}  // namespace foliolab::kernel
