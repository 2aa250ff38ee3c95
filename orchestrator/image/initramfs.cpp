#include "image/initramfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <spdlog/spdlog.h>
#include <vector>

#include "common/errors.h"
#include "common/fs.h"
#include "common/hash.h"
#include "image/cpio.h"

#ifndef FOLIOLAB_DEFAULT_GUEST_DIR
#error "FOLIOLAB_DEFAULT_GUEST_DIR must name the build tree's guest/ folder"
#endif

namespace foliolab::image {
namespace fs = std::filesystem;
using common::InfraError;

namespace {

// Directories every guest root has before the agent runs: the kernel mounts nothing in an
// initramfs, so each mount point the agent uses must exist in the archive. Those below /sys
// are normally provided by sysfs itself; they are listed so that the agent's mkdir-less mounts
// also work on kernels whose sysfs lacks them. Parents come before children.
constexpr const char* kMountPoints[] = {
    "dev", "dev/pts", "proc", "sys", "sys/kernel", "sys/kernel/tracing", "sys/kernel/debug",
    "sys/fs", "sys/fs/cgroup", "tmp", "run", "mnt", "workloads",
};

// Bump when the layout above changes: it is part of every base image's bytes anyway, this
// only documents that a changed layout is a new image.
constexpr int kLayoutVersion = 1;

struct GuestFile {
  std::string relative;  // "init", "workloads/thp-fault"
  fs::path source;
  bool directory = false;
  unsigned mode = 0;
};

std::vector<GuestFile> list_guest_files(const fs::path& root) {
  std::vector<GuestFile> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; it != end;
       it.increment(ec)) {
    if (ec) break;
    const auto& entry = *it;
    auto status = entry.symlink_status();
    GuestFile f;
    f.relative = fs::relative(entry.path(), root).generic_string();
    f.source = entry.path();
    if (fs::is_directory(status)) {
      f.directory = true;
      f.mode = 0755;
    } else if (fs::is_regular_file(status)) {
      bool exec = (status.permissions() & fs::perms::owner_exec) != fs::perms::none;
      f.mode = exec ? 0755 : 0644;
    } else {
      spdlog::warn("guest image: ignoring {} (not a regular file or directory)", entry.path().string());
      continue;
    }
    files.push_back(std::move(f));
  }
  if (ec) throw InfraError(fmt::format("cannot list guest programs in {}: {}", root.string(), ec.message()));
  // Sorted paths put every parent before its children and make the archive deterministic.
  std::sort(files.begin(), files.end(), [](const GuestFile& a, const GuestFile& b) { return a.relative < b.relative; });
  return files;
}

}  // namespace

fs::path guest_programs_dir() {
  if (const char* dir = std::getenv("FOLIOLAB_GUEST_DIR"); dir != nullptr && *dir != '\0') return dir;
  return FOLIOLAB_DEFAULT_GUEST_DIR;
}

std::string build_base_archive(const fs::path& guest_root) {
  fs::path init = guest_root / "init";
  if (!fs::is_regular_file(init) || ::access(init.c_str(), X_OK) != 0)
    throw InfraError(fmt::format(
        "guest agent not found: {} is missing or not executable (build the 'guest' target, or point "
        "FOLIOLAB_GUEST_DIR at the folder holding <arch>/init)", init.string()));
  CpioWriter cpio;
  std::set<std::string> directories;
  for (const char* dir : kMountPoints) {
    cpio.add_directory(dir, 0755);
    directories.insert(dir);
  }
  cpio.add_char_device("dev/console", 5, 1, 0600);
  for (const auto& f : list_guest_files(guest_root)) {
    if (f.directory) {
      if (directories.insert(f.relative).second) cpio.add_directory(f.relative, f.mode);
      continue;
    }
    if (f.relative == "job.json")
      throw InfraError(fmt::format("{}: job.json belongs to the per-run archive, not the guest programs",
                                   f.source.string()));
    cpio.add_file(f.relative, common::read_file(f.source), f.mode);
  }
  cpio.add_file(".foliolab-image", fmt::format("layout {}\n", kLayoutVersion), 0644);
  return cpio.finish();
}

BaseImage base_image(config::Arch arch, const fs::path& cache_dir, const fs::path& guest_dir) {
  fs::path root = guest_dir / config::to_string(arch);
  std::string bytes = build_base_archive(root);
  BaseImage image;
  image.hash = common::hash_string(bytes);
  fs::path images = cache_dir / "images";
  std::error_code ec;
  fs::create_directories(images, ec);
  if (ec) throw InfraError(fmt::format("cannot create {}: {}", images.string(), ec.message()));
  image.path = images / (image.hash + ".cpio");
  if (fs::exists(image.path) && fs::file_size(image.path, ec) == bytes.size()) {
    image.reused = true;
  } else {
    common::write_file_atomic(image.path, bytes);
  }
  spdlog::debug("base image {} for {}: {} ({} bytes{})", image.hash, config::to_string(arch), image.path.string(),
                bytes.size(), image.reused ? ", cached" : "");
  return image;
}

std::string build_job_archive(std::string_view job_json) {
  CpioWriter cpio;
  cpio.add_file("job.json", job_json, 0644);
  return cpio.finish();
}

fs::path write_run_initrd(const fs::path& base, std::string_view job_json, const fs::path& initrd) {
  std::string job = build_job_archive(job_json);
  std::error_code ec;
  fs::copy_file(base, initrd, fs::copy_options::overwrite_existing, ec);
  if (ec) throw InfraError(fmt::format("cannot copy {} to {}: {}", base.string(), initrd.string(), ec.message()));
  // Every newc archive ends 4-byte aligned, so the job archive can follow the base directly.
  std::ofstream out(initrd, std::ios::binary | std::ios::app);
  out.write(job.data(), static_cast<std::streamsize>(job.size()));
  out.flush();
  if (!out) throw InfraError(fmt::format("cannot write {} (disk full?)", initrd.string()));
  return initrd;
}

}  // namespace foliolab::image
