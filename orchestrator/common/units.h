#pragma once
// Human quantities used in suite files and on the command line: sizes ("512M", "2G", "4096",
// "64K") and durations ("90s", "2m", "500ms", "1h"). Binary multiples (K = 1024).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace foliolab::common {

// A whole decimal number, "-" allowed, with nothing before or after it; nullopt for anything
// else ("", "+4", "4k", " 7", "1e3", out of range). The one integer reader of suite files,
// command lines and settings.
std::optional<std::int64_t> parse_integer(std::string_view text);
// Returns nullopt for anything that is not a non-negative size (no silent truncation).
std::optional<std::uint64_t> parse_size(std::string_view text);
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// 536870912 -> "512M"; exact multiples only, else the byte count.
std::string format_size(std::uint64_t bytes);
std::string format_seconds(double seconds);  // "2 min 09 s", "1.42 s"

}  // namespace foliolab::common
