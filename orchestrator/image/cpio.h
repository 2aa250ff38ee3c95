#pragma once
// Writing and reading initramfs archives (cpio "newc", the only format the kernel unpacks).
// Archives are built in memory and are byte-for-byte deterministic: the same entries in the
// same order give the same bytes (fixed mtime, owner and inode numbers), so a content hash of
// an archive is a valid cache key.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct archive;

namespace foliolab::image {

class CpioWriter {
 public:
  CpioWriter();
  ~CpioWriter();
  CpioWriter(const CpioWriter&) = delete;
  CpioWriter& operator=(const CpioWriter&) = delete;

  // Paths are relative to the guest's root ("init", "workloads/x", "dev/console"); a leading
  // '/' is dropped. Parents must be added before their children (the kernel does not create them).
  void add_directory(std::string_view path, unsigned mode = 0755);
  void add_file(std::string_view path, std::string_view content, unsigned mode = 0644);
  void add_char_device(std::string_view path, unsigned major, unsigned minor, unsigned mode = 0600);
  // A symbolic link at path whose target is `target`, stored as the kernel reads it.
  void add_symlink(std::string_view path, std::string_view target);

  // Writes the trailer and returns the archive. The writer is unusable afterwards.
  std::string finish();

 private:
  void add(std::string_view path, unsigned type, unsigned mode, std::string_view content,
           unsigned rdev_major, unsigned rdev_minor, std::string_view symlink_target = {});
  struct archive* archive_ = nullptr;
  std::unique_ptr<std::string> out_;
  std::int64_t next_inode_ = 1;
  bool finished_ = false;
};

// One entry of an archive as read back (tests, `foliolab doctor`).
struct CpioEntry {
  enum class Type { kFile, kDirectory, kCharDevice, kSymlink, kOther };
  std::string path;  // as stored, without a leading "./" or "/"
  Type type = Type::kOther;
  unsigned mode = 0;  // permission bits
  unsigned rdev_major = 0, rdev_minor = 0;
  std::string content;  // regular files only
  std::string target;   // symbolic links only
};

// Reads every entry of one or more concatenated newc archives (as the kernel does: zero
// padding between archives is skipped). Throws InfraError on a malformed archive.
std::vector<CpioEntry> read_cpio(std::string_view bytes);

}  // namespace foliolab::image
