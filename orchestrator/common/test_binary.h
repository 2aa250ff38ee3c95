#pragma once
// For tests only (foliolab_add_test defines FOLIOLAB_BINARY_DIR): the foliolab binary that
// end-to-end tests run. ctest sets FOLIOLAB_BIN; a test binary started by hand falls back to the
// one in its own build tree.
#include <cstdlib>
#include <string>

namespace foliolab::common {

inline std::string foliolab_test_binary() {
  if (const char* b = std::getenv("FOLIOLAB_BIN"); b != nullptr && *b != '\0') return b;
  return std::string(FOLIOLAB_BINARY_DIR) + "/orchestrator/cli/foliolab";
}

}  // namespace foliolab::common
