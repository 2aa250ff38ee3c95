#pragma once
// `foliolab compare` without the argument parsing: build the comparison, render it, write it
// (atomically when to a file), and answer with the exit code of the CLI contract: 0, or 1 when
// --fail-on names something the results contain. Usage errors throw common::UsageError (2),
// unreadable results common::InfraError (3).
#include <filesystem>
#include <optional>
#include <ostream>

#include "report/comparison.h"
#include "report/render.h"

namespace foliolab::report {

struct CompareCommand {
  CompareInput input;
  Format format = Format::kText;
  std::optional<std::filesystem::path> output;  // unset: stdout
  RenderOptions render;
};

int run_compare(const CompareCommand& command, std::ostream& out);

}  // namespace foliolab::report
