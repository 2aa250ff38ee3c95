#pragma once
// Patch series: a quilt folder (`series` file), a folder of *.patch / *.diff in name order, an
// mbox (one or many `git format-patch` messages), or a single patch file. Applying never leaves
// a tree half-patched: patches are applied to copies of the touched files in a staging folder,
// and only when every patch applied does the tree change (and then only files whose content
// differs, so that make rebuilds just what the series changed).
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace foliolab::kernel {

struct Patch {
  std::string name;                 // file name, or "<mbox>: <subject>" for an mbox message
  std::filesystem::path origin;     // the file it came from
  std::string text;                 // the diff (with mail headers, which patch ignores)
  int strip = 1;                    // -p level
};

// Expands one `patches:` entry into patches in application order. Throws UsageError naming the
// series file and line for a missing patch.
std::vector<Patch> load_series(const std::filesystem::path& entry);

// Paths (after stripping `strip` components) a patch creates, modifies, deletes or renames.
std::set<std::string> touched_files(const Patch& patch);

// The text of the n-th (1-based) hunk header for `file` in the patch, e.g.
// "@@ -1284,7 +1284,23 @@ static int hpage_collapse_scan_pmd(...)", or "" if not found.
std::string hunk_header(const Patch& patch, const std::string& file, int hunk);

struct ApplyResult {
  std::set<std::string> touched;        // union of files touched by the series
  std::vector<std::string> fuzz_notes;  // hunks that applied with offset/fuzz
  size_t files_written = 0;             // files of the tree that actually changed
};

// Makes `tree` equal to `pristine` plus `series` for every file in `previously_touched` or touched
// by `series`. Throws UsageError ("patch X does not apply: file F: hunk #N FAILED ...") without
// changing the tree when a patch fails. Writes replace files by rename (the tree may be a hard-link
// farm of the pristine source, which must never change).
ApplyResult apply_series(const std::vector<Patch>& series, const std::filesystem::path& pristine,
                         const std::filesystem::path& tree, const std::set<std::string>& previously_touched,
                         const std::filesystem::path& scratch_parent);

}  // namespace foliolab::kernel
