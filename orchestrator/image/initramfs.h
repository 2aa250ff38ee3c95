#pragma once
// Guest root file systems. A run's initrd is two concatenated cpio archives (the kernel
// unpacks both into one rootfs):
//   base  per arch, shared by every run: /init (the guest agent), /workloads/*, the mount
//         points the agent uses and /dev/console; cached by content hash;
//   job   per run: /job.json only (docs/protocol.md section 1).
#include <filesystem>
#include <string>
#include <string_view>

#include "config/suite.h"

namespace foliolab::image {

// Where the cross-built guest programs are: $FOLIOLAB_GUEST_DIR, else the build tree's
// guest/ folder. Holds one folder per arch laid out like the guest's root (init, workloads/).
std::filesystem::path guest_programs_dir();

struct BaseImage {
  std::filesystem::path path;  // <cache>/images/<hash>.cpio
  std::string hash;            // content hash of the archive
  bool reused = false;         // found in the cache
  bool indexed = false;        // found by the guest files' stat data alone, nothing read or hashed
};

// The bytes of the base archive for the programs in guest_root (= <guest dir>/<arch>).
// Throws InfraError when guest_root has no executable "init" (the agent was not built).
std::string build_base_archive(const std::filesystem::path& guest_root);

// The cached base image for arch, built if missing. The cache write is atomic, so concurrent
// orchestrators at worst build the same bytes twice. Guest files unchanged since an earlier
// call (path, mode, size, inode, mtime, ctime; settled for 2 s) find their archive through
// <cache>/images/by-files/ without being read; otherwise the archive is built and hashed.
BaseImage base_image(config::Arch arch, const std::filesystem::path& cache_dir,
                     const std::filesystem::path& guest_dir = guest_programs_dir());

// A cpio holding only /job.json.
std::string build_job_archive(std::string_view job_json);

// Writes base + job archive to `initrd` (the run's temp dir) and returns its path.
std::filesystem::path write_run_initrd(const std::filesystem::path& base, std::string_view job_json,
                                       const std::filesystem::path& initrd);

}  // namespace foliolab::image
