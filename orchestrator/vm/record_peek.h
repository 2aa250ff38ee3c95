#pragma once
// The few top-level fields of a data-channel record a backend needs to run its deadlines
// (hello ends the boot deadline, step-begin/step-end arm and disarm a step deadline, done
// starts the shutdown deadline). Full parsing and validation belong to collect::RecordParser;
// this only peeks, builds no document (nested values are skipped, so a hostile line of 256 KiB
// of '[' costs no memory or stack), and never throws.
#include <optional>
#include <string>
#include <string_view>

namespace foliolab::vm {

struct RecordPeek {
  std::string type;                 // empty when the line is not a JSON object with a string type
  std::string step;                 // top-level "step" when it is a string
  std::optional<double> deadline_s; // top-level "deadline_s" when it is a number
};

RecordPeek peek_record(std::string_view line);

}  // namespace foliolab::vm
