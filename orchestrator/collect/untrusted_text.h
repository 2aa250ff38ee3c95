#pragma once
// Helpers for showing untrusted guest bytes to people: every result is printable ASCII and
// bounded, so it can go into a log line, a terminal or a one-line reason without surprises.
// (Rendering into HTML or JSON still escapes on its own.)
#include <cstddef>
#include <string>
#include <string_view>

namespace foliolab::collect {

// True when bytes are well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

// At most max_bytes of input, bytes outside 0x20..0x7e written as \xNN, "..." appended when
// cut. The result is at most 4 * max_bytes + 3 characters long.
std::string printable_excerpt(std::string_view bytes, std::size_t max_bytes);

}  // namespace foliolab::collect
