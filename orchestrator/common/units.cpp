#include "common/units.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace foliolab::common {

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  std::string_view suffix(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  std::uint64_t mult = 1;
  std::string s;
  for (char c : suffix) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (s.empty() || s == "B") mult = 1;
  else if (s == "K" || s == "KB" || s == "KIB") mult = 1ull << 10;
  else if (s == "M" || s == "MB" || s == "MIB") mult = 1ull << 20;
  else if (s == "G" || s == "GB" || s == "GIB") mult = 1ull << 30;
  else if (s == "T" || s == "TB" || s == "TIB") mult = 1ull << 40;
  else return std::nullopt;
  if (value > std::numeric_limits<std::uint64_t>::max() / mult) return std::nullopt;
  return value * mult;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) return std::nullopt;
  std::string_view suffix(ptr, static_cast<size_t>(text.data() + text.size() - ptr));
  double ms;
  if (suffix == "ms") ms = value;
  else if (suffix == "s" || suffix.empty()) ms = value * 1000;
  else if (suffix == "m" || suffix == "min") ms = value * 60000;
  else if (suffix == "h") ms = value * 3600000;
  else return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
}

std::string format_size(std::uint64_t bytes) {
  const char* units[] = {"T", "G", "M", "K"};
  int shifts[] = {40, 30, 20, 10};
  for (int i = 0; i < 4; ++i) {
    std::uint64_t m = 1ull << shifts[i];
    if (bytes != 0 && bytes % m == 0) return fmt::format("{}{}", bytes / m, units[i]);
  }
  return std::to_string(bytes);
}

std::string format_seconds(double seconds) {
  if (seconds >= 60) {
    auto total = static_cast<long>(std::lround(seconds));
    return fmt::format("{} min {:02} s", total / 60, total % 60);
  }
  return fmt::format("{:.2f} s", seconds);
}

}  // namespace foliolab::common
