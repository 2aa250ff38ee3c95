#include "image/initramfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <optional>
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

// Bump whenever build_base_archive() would write different bytes for the same guest files
// (mount points, device nodes, the marker file): the by-files index (base_image) maps guest
// files to an archive built earlier, and only this number tells it the recipe has changed.
constexpr int kLayoutVersion = 1;

struct GuestFile {
  std::string relative;  // "init", "workloads/thp-fault"
  fs::path source;
  bool directory = false;
  unsigned mode = 0;
  std::string symlink_target;  // non-empty for a symbolic link (kept relative, inside the root)
};

// A guest program may be a relative symbolic link to another file of the same root (every
// workload is a link to the one multi-call binary). Anything that would point outside the
// root, or at nothing, is an error: the guest would see a dangling link.
std::string checked_link_target(const fs::path& root, const fs::directory_entry& entry) {
  std::error_code ec;
  fs::path target = fs::read_symlink(entry.path(), ec);
  if (ec) throw InfraError(fmt::format("cannot read the link {}: {}", entry.path().string(), ec.message()));
  auto fail = [&](std::string_view why) {
    return InfraError(fmt::format("guest image: {} -> {} {}", entry.path().string(), target.string(), why));
  };
  if (target.is_absolute()) throw fail("is absolute (links in the guest root must be relative)");
  fs::path resolved = (entry.path().parent_path() / target).lexically_normal();
  auto inside = resolved.lexically_relative(root.lexically_normal()).generic_string();
  if (inside.empty() || inside.rfind("..", 0) == 0) throw fail("points outside the guest root");
  if (!fs::is_regular_file(resolved, ec)) throw fail("does not point at a regular file");
  return target.generic_string();
}

std::vector<GuestFile> list_guest_files(const fs::path& root) {
  std::vector<GuestFile> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; it != end;
       it.increment(ec)) {
    if (ec) break;
    const auto& entry = *it;
    auto status = entry.symlink_status();
    GuestFile f;
    f.relative = entry.path().lexically_relative(root).generic_string();  // not fs::relative: it follows links
    f.source = entry.path();
    if (fs::is_directory(status)) {
      f.directory = true;
      f.mode = 0755;
    } else if (fs::is_regular_file(status)) {
      bool exec = (status.permissions() & fs::perms::owner_exec) != fs::perms::none;
      f.mode = exec ? 0755 : 0644;
    } else if (fs::is_symlink(status)) {
      f.symlink_target = checked_link_target(root, entry);
      f.mode = 0777;
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
    if (!f.symlink_target.empty()) {
      cpio.add_symlink(f.relative, f.symlink_target);
      continue;
    }
    cpio.add_file(f.relative, common::read_file(f.source), f.mode);
  }
  cpio.add_file(".foliolab-image", fmt::format("layout {}\n", kLayoutVersion), 0644);
  return cpio.finish();
}

namespace {

// What the archive of guest_root would be built from, without reading a byte of it: every
// entry's path, mode, size, inode, mtime and ctime. Equal keys mean the same files, so the
// archive built last time can be used as it is. nullopt when a file cannot be stat'ed (then
// the archive is built, which reports the problem).
struct GuestFilesKey {
  std::string hex;
  // Whether every file is older than kSettledAfter. A file rewritten within one timestamp tick
  // keeps its mtime (and size, and inode): only a key taken once files have settled is kept in
  // the index (the "racily clean" problem of git's index).
  bool settled = false;
};
constexpr std::chrono::seconds kSettledAfter{2};

std::optional<GuestFilesKey> guest_files_key(const fs::path& root) {
  auto now = std::chrono::system_clock::now();
  auto settled_before = std::chrono::duration_cast<std::chrono::nanoseconds>(
      (now - kSettledAfter).time_since_epoch()).count();
  bool settled = true;
  common::Hasher key;
  key.field("layout", kLayoutVersion).field("root", fs::absolute(root).string());
  try {
    for (const auto& f : list_guest_files(root)) {
      struct stat st {};
      if (::lstat(f.source.c_str(), &st) != 0) return std::nullopt;
      key.field("path", f.relative)
          .field("link", f.symlink_target)
          .field("mode", static_cast<std::int64_t>(f.mode) | (f.directory ? 0x10000 : 0))
          .field("size", static_cast<std::int64_t>(st.st_size))
          .field("ino", static_cast<std::int64_t>(st.st_ino))
          .field("mtime", static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec)
          .field("ctime", static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec);
      for (const auto& ts : {st.st_mtim, st.st_ctim})
        if (static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec >= settled_before) settled = false;
    }
  } catch (const InfraError&) {
    return std::nullopt;
  }
  return GuestFilesKey{key.hex(), settled};
}

}  // namespace

BaseImage base_image(config::Arch arch, const fs::path& cache_dir, const fs::path& guest_dir) {
  fs::path root = guest_dir / config::to_string(arch);
  fs::path images = cache_dir / "images";
  // Fast path: the same guest files as last time (by stat) name the archive built from them;
  // `foliolab boot` then costs no read and no hash of the 10+ MB of guest programs.
  auto files_key = guest_files_key(root);
  fs::path index = files_key ? images / "by-files" / files_key->hex : fs::path();
  if (files_key) {
    try {
      std::string recorded = common::read_file(index);
      auto space = recorded.find(' ');
      std::error_code ec;
      if (space != std::string::npos) {
        BaseImage image;
        image.hash = recorded.substr(0, space);
        image.path = images / (image.hash + ".cpio");
        auto size = std::stoull(recorded.substr(space + 1));
        if (image.hash.size() == 32 && fs::file_size(image.path, ec) == size && !ec) {
          image.reused = true;
          image.indexed = true;
          spdlog::debug("base image {} for {}: {} ({} bytes, cached, guest files unchanged)", image.hash,
                        config::to_string(arch), image.path.string(), size);
          return image;
        }
      }
    } catch (const std::exception&) {
      // no entry yet, or an unreadable one: build
    }
  }
  std::string bytes = build_base_archive(root);
  BaseImage image;
  image.hash = common::hash_string(bytes);
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
  if (files_key && files_key->settled) {
    try {
      fs::create_directories(index.parent_path());
      common::write_file_atomic(index, fmt::format("{} {}", image.hash, bytes.size()));
    } catch (const std::exception& e) {
      spdlog::debug("cannot index base image {}: {}", image.hash, e.what());
    }
  }
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
