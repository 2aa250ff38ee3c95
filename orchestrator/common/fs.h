#pragma once
// File-system helpers with the atomicity the stores rely on.
#include <filesystem>
#include <string>
#include <string_view>

namespace foliolab::common {

// Writes to "<path>.tmp-<pid>" and renames over path: readers see the old or the new file.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);
std::string read_file(const std::filesystem::path& path);  // throws InfraError
// The last `lines` lines of a text file (for "the build failed, here is the end of the log").
std::string tail_lines(const std::filesystem::path& path, size_t lines);
// ~/.cache/foliolab unless FOLIOLAB_CACHE or XDG_CACHE_HOME say otherwise.
std::filesystem::path default_cache_dir();

// A directory removed (recursively) when this object dies, unless release()d.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::filesystem::path& parent, std::string_view prefix = "tmp");
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

}  // namespace foliolab::common
