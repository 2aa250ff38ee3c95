#pragma once
// Errors that carry the process exit code of the CLI contract (docs/design.md):
// 0 success, 1 failures the user asked to fail on, 2 usage/configuration, 3 infrastructure.
#include <stdexcept>
#include <string>

namespace foliolab::common {

enum class ExitCode : int { kOk = 0, kFailures = 1, kUsage = 2, kInfra = 3 };

// The user's input is wrong (suite file, patch that does not apply, bad argument). Exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Our side failed (missing tool, build tool failure, disk full, QEMU missing). Exit 3.
class InfraError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace foliolab::common
