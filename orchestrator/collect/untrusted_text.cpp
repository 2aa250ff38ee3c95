#include "collect/untrusted_text.h"

#include <cstdint>

namespace foliolab::collect {

bool is_valid_utf8(std::string_view bytes) {
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    const auto c = static_cast<std::uint8_t>(bytes[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t code;
    std::uint32_t min_code;
    if ((c & 0xe0) == 0xc0) {
      length = 2, code = c & 0x1fu, min_code = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, code = c & 0x0fu, min_code = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, code = c & 0x07u, min_code = 0x10000;
    } else {
      return false;  // continuation byte without a lead byte, or 0xf8..0xff
    }
    if (n - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto cc = static_cast<std::uint8_t>(bytes[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3fu);
    }
    if (code < min_code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

std::string printable_excerpt(std::string_view bytes, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool cut = bytes.size() > max_bytes;
  if (cut) bytes = bytes.substr(0, max_bytes);
  std::string out;
  out.reserve(bytes.size() + 3);
  for (char ch : bytes) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (c >= 0x20 && c <= 0x7e) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace foliolab::collect
