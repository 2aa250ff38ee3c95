#include "report/compare_command.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/errors.h"

namespace foliolab::report {

int run_compare(const CompareCommand& command, std::ostream& out) {
  const Comparison comparison = build_comparison(command.input);
  // A file is written under a temporary name and renamed when complete: a reader (a web
  // server, a mail job) never sees half a report. Streamed, never held in memory whole.
  std::filesystem::path tmp;
  std::ofstream file;
  if (command.output) {
    tmp = *command.output;
    tmp += fmt::format(".tmp-{}", ::getpid());
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) throw common::InfraError(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  }
  std::ostream& sink = command.output ? static_cast<std::ostream&>(file) : out;
  switch (command.format) {
    case Format::kText: render_text(comparison, command.render, sink); break;
    case Format::kMarkdown: render_markdown(comparison, command.render, sink); break;
    case Format::kJson: render_json(comparison, command.render, sink); break;
    case Format::kJunit: render_junit(comparison, command.render, sink); break;
    case Format::kHtml: render_html(comparison, command.render, sink); break;
  }
  if (command.output) {
    file.close();
    std::error_code ec;
    if (!file) {
      std::filesystem::remove(tmp, ec);
      throw common::InfraError(fmt::format("cannot write {} (disk full?)", tmp.string()));
    }
    std::filesystem::rename(tmp, *command.output, ec);
    if (ec) {
      std::filesystem::remove(tmp, ec);
      throw common::InfraError(fmt::format("cannot rename {} to {}", tmp.string(), command.output->string()));
    }
    spdlog::info("wrote {}", command.output->string());
  }
  const FailureSummary failures = summarize_failures(comparison, command.render.fail_on);
  for (auto kind : failures.triggered) spdlog::warn("--fail-on {}: present in the results", to_string(kind));
  return failures.triggered.empty() ? 0 : 1;
}

}  // namespace foliolab::report
