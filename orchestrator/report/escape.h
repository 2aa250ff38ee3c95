#pragma once
// Every string a report prints may come from a guest (crash titles, console lines, metric
// names, reasons). These functions make such text inert for each output format.
#include <cstddef>
#include <string>
#include <string_view>

namespace foliolab::report {

// Valid UTF-8 only: invalid sequences become U+FFFD. Control characters other than \n and \t
// (and \n too when !keep_newlines) become U+FFFD as well, so that no escape sequence reaches a
// terminal or a mail reader. Cut to at most max_bytes (on a character boundary, "…" appended).
std::string clean_text(std::string_view text, bool keep_newlines = false, std::size_t max_bytes = 4096);

// clean_text, then & < > " ' as character references: safe in HTML/SVG text and attributes.
std::string html_escape(std::string_view text, bool keep_newlines = false, std::size_t max_bytes = 4096);

// clean_text, then & < > " ' as XML entities (XML 1.0 text and attribute values).
std::string xml_escape(std::string_view text, bool keep_newlines = false, std::size_t max_bytes = 4096);

// A markdown table cell: clean_text, with | and the markup characters backslash-escaped and
// < > & as HTML references (GitHub renders inline HTML).
std::string markdown_escape(std::string_view text, std::size_t max_bytes = 4096);

}  // namespace foliolab::report
