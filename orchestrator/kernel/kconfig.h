#pragma once
// Kconfig fragments and their merge, the way scripts/kconfig/merge_config.sh does it: start
// from a base .config, apply fragments in order (later assignments win), run olddefconfig, then
// check which requested symbols survived. A fragment line may end in "# required": such a symbol
// not surviving fails the build (a kernel without, say, VM_EVENT_COUNTERS boots fine and
// silently measures nothing).
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace foliolab::kernel {

struct ConfigRequest {
  std::string symbol;   // without CONFIG_
  std::string value;    // "y", "m", "n", "42", "\"str\""
  bool required = false;
  std::string where;    // "common.config:12"
};

struct Fragment {
  std::filesystem::path path;
  std::vector<ConfigRequest> requests;  // in file order
};

// Parses a fragment; throws UsageError naming file:line for lines that are not assignments,
// "# CONFIG_X is not set", comments or blank.
Fragment parse_fragment(const std::filesystem::path& path);
Fragment parse_fragment_text(const std::string& text, const std::filesystem::path& path);

// A .config as symbol -> value ("n" for "is not set" lines). Order is not significant to kconfig.
using ConfigValues = std::map<std::string, std::string>;
ConfigValues parse_dot_config(const std::string& text);

// CONFIG_HZ of the kernel whose image is `image`, from the `config` beside it (the artifact
// layout of kernel/builder.h); nullopt when there is no such file or no plausible value.
std::optional<int> hz_beside_image(const std::filesystem::path& image);

// Applies the fragments to `base` (later fragments override earlier ones) and renders a .config:
// the base's other symbols first, then the requested ones in request order, so that a fragment's
// pick among a choice's members is the one Kconfig reads last (and keeps).
// `overrides` receives one line per symbol a later fragment changed ("X: y (common.config:3) -> n (debug.config:2)").
std::string merge_fragments(const ConfigValues& base, const std::vector<Fragment>& fragments,
                            std::vector<std::string>* overrides = nullptr);

// What a kernel tree offers: its version ("7.3.4", from the top Makefile) and every symbol a
// Kconfig file of it defines (`config X` or `menuconfig X`). One set of fragments serves
// several kernel versions; a request for a symbol the version does not define is reported as
// such, apart from a symbol that exists but did not survive.
struct KconfigTree {
  std::string version;
  std::set<std::string> symbols;  // without CONFIG_
};
// Reads `tree` (a kernel source tree). Throws InfraError when it has no top Makefile.
KconfigTree scan_kconfig_tree(const std::filesystem::path& tree);
// "VERSION.PATCHLEVEL.SUBLEVEL" of a top Makefile's text ("" when absent).
std::string kernel_version_of_makefile(const std::string& makefile_text);

struct ConfigCheck {
  std::vector<std::string> dropped;           // requested but not in the final .config as asked
  std::vector<std::string> dropped_required;  // the same, for required symbols
  std::vector<std::string> undefined;         // requested, not required, and no Kconfig of this version defines it
};
// Compares the final .config with the last request for each symbol. With `tree`, a request the
// version does not define is listed in `undefined` (a required one stays in dropped_required:
// a kernel without it would measure nothing, whatever the reason).
ConfigCheck check_config(const ConfigValues& final_config, const std::vector<Fragment>& fragments,
                         const KconfigTree* tree = nullptr);

}  // namespace foliolab::kernel
