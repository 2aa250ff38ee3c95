#include "report/compare_command.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "common/fs.h"

namespace foliolab::report {

int run_compare(const CompareCommand& command, std::ostream& out) {
  const Comparison comparison = build_comparison(command.input);
  std::ostringstream buffer;
  std::ostream& sink = command.output ? static_cast<std::ostream&>(buffer) : out;
  switch (command.format) {
    case Format::kText: render_text(comparison, command.render, sink); break;
    case Format::kMarkdown: render_markdown(comparison, command.render, sink); break;
    case Format::kJson: render_json(comparison, command.render, sink); break;
    case Format::kJunit: render_junit(comparison, command.render, sink); break;
    case Format::kHtml: render_html(comparison, command.render, sink); break;
  }
  if (command.output) {
    common::write_file_atomic(*command.output, buffer.str());
    spdlog::info("wrote {}", command.output->string());
  }
  const FailureSummary failures = summarize_failures(comparison, command.render.fail_on);
  for (auto kind : failures.triggered) spdlog::warn("--fail-on {}: present in the results", to_string(kind));
  return failures.triggered.empty() ? 0 : 1;
}

}  // namespace foliolab::report
