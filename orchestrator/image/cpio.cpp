#include "image/cpio.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "common/errors.h"

namespace foliolab::image {
namespace {

using common::InfraError;

la_ssize_t append_to_string(struct archive*, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

std::string strip_root(std::string_view path) {
  while (path.starts_with("./")) path.remove_prefix(2);
  while (path.starts_with('/')) path.remove_prefix(1);
  return std::string(path);
}

// newc header: "070701" then 13 fields of 8 hex digits; namesize is the 12th field.
constexpr size_t kNewcHeader = 110;
constexpr std::string_view kTrailer = "TRAILER!!!";

// Splits concatenated archives at their trailers, skipping the zero padding between them.
std::vector<std::string_view> split_archives(std::string_view bytes) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  size_t search = 0;
  while (start < bytes.size()) {
    size_t pos = bytes.find(kTrailer, search);
    if (pos == std::string_view::npos) {
      parts.push_back(bytes.substr(start));  // let libarchive complain about the truncation
      break;
    }
    search = pos + 1;
    if (pos < start + kNewcHeader) continue;
    std::string_view header = bytes.substr(pos - kNewcHeader, kNewcHeader);
    std::string_view namesize = header.substr(94, 8);  // hex digits, either case
    if (!header.starts_with("070701") || (namesize != "0000000B" && namesize != "0000000b")) continue;
    size_t end = pos + kTrailer.size() + 1;  // the name's NUL
    end = (end + 3) & ~size_t{3};
    parts.push_back(bytes.substr(start, std::min(end, bytes.size()) - start));
    start = end;
    while (start < bytes.size() && bytes[start] == '\0') ++start;
    search = start;
  }
  return parts;
}

}  // namespace

CpioWriter::CpioWriter() : archive_(archive_write_new()), out_(std::make_unique<std::string>()) {
  if (archive_ == nullptr) throw InfraError("libarchive: out of memory");
  if (archive_write_set_format_cpio_newc(archive_) != ARCHIVE_OK ||
      archive_write_add_filter_none(archive_) != ARCHIVE_OK ||
      // No padding to a 10 KiB block: the archive ends right after its (4-byte aligned)
      // trailer, which is what lets the kernel read several archives back to back.
      archive_write_set_bytes_in_last_block(archive_, 1) != ARCHIVE_OK ||
      archive_write_open2(archive_, out_.get(), nullptr, append_to_string, nullptr, nullptr) != ARCHIVE_OK) {
    std::string why = archive_error_string(archive_) ? archive_error_string(archive_) : "unknown";
    archive_write_free(archive_);
    throw InfraError("libarchive: cannot start a cpio archive: " + why);
  }
}

CpioWriter::~CpioWriter() {
  if (archive_ != nullptr) archive_write_free(archive_);
}

void CpioWriter::add(std::string_view path, unsigned type, unsigned mode, std::string_view content,
                     unsigned rdev_major, unsigned rdev_minor, std::string_view symlink_target) {
  if (finished_) throw InfraError("internal: cpio archive already finished");
  std::string name = strip_root(path);
  if (name.empty()) throw InfraError("internal: empty path in a cpio archive");
  struct archive_entry* entry = archive_entry_new();
  archive_entry_set_pathname(entry, name.c_str());
  archive_entry_set_filetype(entry, type);
  archive_entry_set_perm(entry, static_cast<mode_t>(mode & 07777));
  archive_entry_set_uid(entry, 0);
  archive_entry_set_gid(entry, 0);
  archive_entry_set_mtime(entry, 0, 0);
  archive_entry_set_ino64(entry, next_inode_++);
  archive_entry_set_nlink(entry, type == AE_IFDIR ? 2 : 1);
  archive_entry_set_size(entry, type == AE_IFREG ? static_cast<la_int64_t>(content.size()) : 0);
  if (type == AE_IFLNK) archive_entry_set_symlink(entry, std::string(symlink_target).c_str());
  if (type == AE_IFCHR) {
    archive_entry_set_rdevmajor(entry, rdev_major);
    archive_entry_set_rdevminor(entry, rdev_minor);
  }
  int rc = archive_write_header(archive_, entry);
  archive_entry_free(entry);
  if (rc != ARCHIVE_OK)
    throw InfraError(fmt::format("libarchive: cannot add {}: {}", name, archive_error_string(archive_)));
  if (!content.empty()) {
    la_ssize_t written = archive_write_data(archive_, content.data(), content.size());
    if (written < 0 || static_cast<size_t>(written) != content.size())
      throw InfraError(fmt::format("libarchive: cannot write {}: {}", name, archive_error_string(archive_)));
  }
}

void CpioWriter::add_directory(std::string_view path, unsigned mode) { add(path, AE_IFDIR, mode, {}, 0, 0); }

void CpioWriter::add_file(std::string_view path, std::string_view content, unsigned mode) {
  add(path, AE_IFREG, mode, content, 0, 0);
}

void CpioWriter::add_char_device(std::string_view path, unsigned major, unsigned minor, unsigned mode) {
  add(path, AE_IFCHR, mode, {}, major, minor);
}

void CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  if (target.empty()) throw InfraError(fmt::format("internal: symbolic link {} without a target", path));
  add(path, AE_IFLNK, 0777, {}, 0, 0, target);
}

std::string CpioWriter::finish() {
  if (finished_) throw InfraError("internal: cpio archive already finished");
  finished_ = true;
  if (archive_write_close(archive_) != ARCHIVE_OK)
    throw InfraError(fmt::format("libarchive: cannot finish a cpio archive: {}", archive_error_string(archive_)));
  return std::move(*out_);
}

std::vector<CpioEntry> read_cpio(std::string_view bytes) {
  std::vector<CpioEntry> entries;
  for (std::string_view part : split_archives(bytes)) {
    struct archive* a = archive_read_new();
    archive_read_support_format_cpio(a);
    archive_read_support_filter_none(a);
    if (archive_read_open_memory(a, part.data(), part.size()) != ARCHIVE_OK) {
      std::string why = archive_error_string(a) ? archive_error_string(a) : "unknown";
      archive_read_free(a);
      throw InfraError("not a cpio archive: " + why);
    }
    struct archive_entry* entry = nullptr;
    int rc;
    while ((rc = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
      CpioEntry e;
      e.path = strip_root(archive_entry_pathname(entry));
      e.mode = static_cast<unsigned>(archive_entry_perm(entry));
      switch (archive_entry_filetype(entry)) {
        case AE_IFREG: e.type = CpioEntry::Type::kFile; break;
        case AE_IFDIR: e.type = CpioEntry::Type::kDirectory; break;
        case AE_IFCHR: e.type = CpioEntry::Type::kCharDevice; break;
        case AE_IFLNK:
          e.type = CpioEntry::Type::kSymlink;
          e.target = archive_entry_symlink(entry) ? archive_entry_symlink(entry) : "";
          break;
        default: e.type = CpioEntry::Type::kOther; break;
      }
      e.rdev_major = static_cast<unsigned>(archive_entry_rdevmajor(entry));
      e.rdev_minor = static_cast<unsigned>(archive_entry_rdevminor(entry));
      if (e.type == CpioEntry::Type::kFile) {
        char buf[65536];
        la_ssize_t got;
        while ((got = archive_read_data(a, buf, sizeof buf)) > 0) e.content.append(buf, static_cast<size_t>(got));
        if (got < 0) {
          std::string why = archive_error_string(a) ? archive_error_string(a) : "unknown";
          archive_read_free(a);
          throw InfraError(fmt::format("cpio: cannot read {}: {}", e.path, why));
        }
      }
      entries.push_back(std::move(e));
    }
    std::string why = rc == ARCHIVE_EOF ? "" : (archive_error_string(a) ? archive_error_string(a) : "unknown");
    archive_read_free(a);
    if (rc != ARCHIVE_EOF) throw InfraError("malformed cpio archive: " + why);
  }
  return entries;
}

}  // namespace foliolab::image
