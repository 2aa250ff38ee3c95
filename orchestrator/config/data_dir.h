#pragma once
// Where foliolab's shipped data lives (images/kconfig, guest-kernel-patches, workloads/*.yaml):
// $FOLIOLAB_DATA_DIR if set, else the source tree this binary was built from.
#include <filesystem>

namespace foliolab::config {

std::filesystem::path data_dir();

}  // namespace foliolab::config
