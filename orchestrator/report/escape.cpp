#include "report/escape.h"

#include <cstdint>

namespace foliolab::report {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at the start of `s`, or 0 if invalid.
std::size_t utf8_sequence(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1Fu;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0Fu;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07u;
  else return 0;
  if (s.size() < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  // Overlong forms, surrogates, beyond U+10FFFF, and C1 controls are refused.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || (cp >= 0x80 && cp < 0xA0)) return 0;
  if (cp == 0xFFFE || cp == 0xFFFF) return 0;
  return len;
}

}  // namespace

std::string clean_text(std::string_view text, bool keep_newlines, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= max_bytes) {
      out += "\xE2\x80\xA6";  // …
      break;
    }
    const std::size_t len = utf8_sequence(text.substr(i));
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    if (len == 1) {
      const char c = text[i];
      const bool allowed = c == '\t' || (c == '\n' && keep_newlines) || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
      if (c == '\r') {
        // dropped: consoles end lines with \r\n
      } else if (allowed) {
        out += c;
      } else {
        out += kReplacement;
      }
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

namespace {

std::string escape_markup(const std::string& clean) {
  std::string out;
  out.reserve(clean.size() + clean.size() / 8);
  for (char c : clean) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string html_escape(std::string_view text, bool keep_newlines, std::size_t max_bytes) {
  return escape_markup(clean_text(text, keep_newlines, max_bytes));
}

std::string xml_escape(std::string_view text, bool keep_newlines, std::size_t max_bytes) {
  return escape_markup(clean_text(text, keep_newlines, max_bytes));
}

std::string markdown_escape(std::string_view text, std::size_t max_bytes) {
  const std::string clean = clean_text(text, false, max_bytes);
  std::string out;
  for (char c : clean) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '|': case '\\': case '`': case '*': case '_': case '[': case ']': case '#':
        out += '\\';
        out += c;
        break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace foliolab::report
