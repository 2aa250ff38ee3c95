#pragma once
// Turns the raw bytes of a guest's data channel (docs/protocol.md section 2) into RunRecords.
//
// Every byte is untrusted. The parser never throws on input and never holds more than its
// limits allow, whatever the guest sends: a line longer than max_line_bytes is dropped while it
// streams past (only its length is remembered); a line that is not UTF-8, not a JSON object, or
// not a record of the protocol's schema is counted in RunRecords::malformed_lines and described
// by a RunError{where = "channel"} carrying a short printable excerpt. Stored errors are capped
// (RunRecords::errors_omitted counts the rest), and the records kept in memory are capped by
// an estimate of their size: past max_record_bytes every further line is dropped and counted.
//
// Lines may arrive in any chunking; a line ends at '\n'. Blank lines are ignored. Fields the
// schema does not name are ignored (a newer agent may add some); fields it names must be
// present with the stated JSON type. Integers must be JSON integers that fit in 64 bits.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collect/records.h"

namespace foliolab::collect {

struct RecordParserLimits {
  std::size_t max_line_bytes = 256 * 1024;  // protocol: at most 256 KiB per line
  std::size_t max_stored_errors = 100;
  // Estimated memory held by accepted lines and parsed records (see RecordParser::cost_of).
  std::size_t max_record_bytes = 256u << 20;
  std::size_t excerpt_bytes = 120;  // of an offending line, in an error message
};

class RecordParser {
 public:
  explicit RecordParser(RecordParserLimits limits = {});

  // Raw bytes from the data channel, in any chunking. Ignored after finish().
  void feed(std::string_view bytes);
  // End of stream. A trailing line without '\n' is an error (the guest died mid-line).
  void finish();

  const RunRecords& records() const { return records_; }
  RunRecords take() { return std::move(records_); }
  // The valid lines, verbatim and in order (without '\n'): the content of records.jsonl.
  const std::vector<std::string>& accepted_lines() const { return accepted_lines_; }
  // Memory held for the line being received (bounded by max_line_bytes whatever the guest
  // sends); exposed so that tests can check the bound.
  std::size_t buffered_bytes() const { return partial_.capacity(); }

  // Called after each accepted record with its type and its step ("" for records without one).
  // Used for live progress and for the host's step deadlines; must not throw.
  std::function<void(const std::string& type, const std::string& step)> on_record;

 private:
  void end_line();
  void handle_line(std::string_view line);
  // Applies one parsed, UTF-8-valid line; returns "" when accepted, else what is wrong.
  std::string apply(std::string_view line, std::string& type, std::string& step,
                    std::size_t& entries);
  void reject(std::string_view category, std::string_view problem, std::string_view line);
  void add_error(RunError error);
  StepRecords* find_step(const std::string& name);

  RecordParserLimits limits_;
  RunRecords records_;
  std::vector<std::string> accepted_lines_;
  std::map<std::string, std::size_t> step_index_;  // step name -> index in records_.steps
  std::map<std::string, bool> step_ended_;
  std::string partial_;           // the current, unfinished line (at most max_line_bytes)
  std::size_t overlong_bytes_ = 0;  // > 0: the current line is being dropped; its length so far
  std::int64_t line_number_ = 0;  // 1-based, counting every line including dropped ones
  std::size_t cost_ = 0;          // estimate of memory held by accepted lines and records
  bool over_budget_ = false;
  bool finished_ = false;
};

}  // namespace foliolab::collect
