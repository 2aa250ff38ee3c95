#include "config/data_dir.h"

#include <cstdlib>

namespace foliolab::config {

std::filesystem::path data_dir() {
  if (const char* d = std::getenv("FOLIOLAB_DATA_DIR"); d && *d) return d;
  return FOLIOLAB_DEFAULT_DATA_DIR;
}

}  // namespace foliolab::config
