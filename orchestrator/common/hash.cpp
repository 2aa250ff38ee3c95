#include "common/hash.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "common/errors.h"
#include "common/fs.h"

namespace foliolab::common {

Hasher::Hasher() : state_(XXH3_createState()) { XXH3_128bits_reset(state_); }
Hasher::~Hasher() { XXH3_freeState(state_); }

void Hasher::raw(const void* data, size_t size) { XXH3_128bits_update(state_, data, size); }

Hasher& Hasher::field(std::string_view label, std::string_view value) {
  std::uint64_t n = label.size();
  raw(&n, sizeof n);
  raw(label.data(), label.size());
  n = value.size();
  raw(&n, sizeof n);
  raw(value.data(), value.size());
  return *this;
}

Hasher& Hasher::field(std::string_view label, std::int64_t value) {
  return field(label, std::to_string(value));
}

Hasher& Hasher::file(std::string_view label, const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw InfraError(fmt::format("cannot read {}", path.string()));
  std::uint64_t n = label.size();
  raw(&n, sizeof n);
  raw(label.data(), label.size());
  std::error_code ec;
  n = std::filesystem::file_size(path, ec);
  raw(&n, sizeof n);
  std::vector<char> buf(1 << 20);
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) raw(buf.data(), got);
  return *this;
}

std::string Hasher::hex() const {
  XXH128_hash_t h = XXH3_128bits_digest(state_);
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string hash_string(std::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string hash_file(const std::filesystem::path& path) {
  Hasher h;
  h.file("file", path);
  return h.hex();
}

std::optional<std::filesystem::path> host_boot_cache_file(std::string_view kind, Hasher& key) {
  std::string boot_id;
  try {
    boot_id = read_file("/proc/sys/kernel/random/boot_id");
  } catch (const InfraError&) {
    return std::nullopt;
  }
  if (boot_id.empty()) return std::nullopt;
  return default_cache_dir() / std::string(kind) / (key.field("boot_id", boot_id).hex() + ".json");
}

}  // namespace foliolab::common
