#include "vm/record_peek.h"

#include <nlohmann/json.hpp>

namespace foliolab::vm {
namespace {

// A SAX consumer that remembers three top-level members and nothing else.
class TopLevelPeek {
 public:
  using json = nlohmann::json;
  explicit TopLevelPeek(RecordPeek& out) : out_(out) {}

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t v) { return number(static_cast<double>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return number(static_cast<double>(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) { return number(v); }
  bool string(json::string_t& v) {
    if (depth_ == 1) {
      if (key_ == "type") out_.type = v;
      else if (key_ == "step") out_.step = v;
    }
    return true;
  }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) {
    if (depth_ == 0) is_object_ = true;
    ++depth_;
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(json::string_t& k) {
    if (depth_ == 1) key_ = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

  bool is_object() const { return is_object_; }

 private:
  bool number(double v) {
    if (depth_ == 1 && key_ == "deadline_s") out_.deadline_s = v;
    return true;
  }
  RecordPeek& out_;
  int depth_ = 0;
  bool is_object_ = false;
  std::string key_;
};

}  // namespace

RecordPeek peek_record(std::string_view line) {
  RecordPeek peek;
  TopLevelPeek sax(peek);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(line.begin(), line.end(), &sax, nlohmann::json::input_format_t::json, true);
  } catch (...) {
    ok = false;
  }
  if (!ok || !sax.is_object()) return RecordPeek{};
  return peek;
}

}  // namespace foliolab::vm
