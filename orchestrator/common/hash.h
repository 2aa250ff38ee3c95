#pragma once
// Content hashing for cache and job keys: XXH3-128, rendered as 32 lowercase hex digits.
// Keys are built with Hasher by feeding labelled fields, so that ("ab","c") and ("a","bc")
// never collide and adding a field to a key changes every key (a deliberate cache flush).
#include <xxhash.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace foliolab::common {

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  // Adds "label" and "value", each length-prefixed.
  Hasher& field(std::string_view label, std::string_view value);
  Hasher& field(std::string_view label, std::int64_t value);
  // Adds a file's bytes (length-prefixed). Throws InfraError if unreadable.
  Hasher& file(std::string_view label, const std::filesystem::path& path);
  std::string hex() const;

 private:
  void raw(const void* data, size_t size);
  XXH3_state_t* state_;
};

std::string hash_string(std::string_view data);
std::string hash_file(const std::filesystem::path& path);

// Where to keep a fact that holds until the host reboots (the accelerator probe's answer, the
// TSC frequency): <cache>/<kind>/<key>.json, the key being `key`'s fields plus the host's boot
// id. nullopt when the boot id cannot be read (then the fact is not kept).
std::optional<std::filesystem::path> host_boot_cache_file(std::string_view kind, Hasher& key);

}  // namespace foliolab::common
