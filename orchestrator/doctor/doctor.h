#pragma once
// `foliolab doctor`: is this machine able to build kernels and run guests? Each check says
// what it found and, when it fails, what to install or change. Nothing here can hang: probes
// that start programs carry deadlines.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace foliolab::doctor {

enum class Status { kOk, kWarn, kFail };

struct CheckResult {
  std::string name;     // "qemu-system-aarch64"
  Status status = Status::kOk;
  std::string detail;   // what was found, or what to do
};

// An extra check supplied by a later stage (e.g. the vm stage's KVM probe).
using ExtraCheck = std::function<CheckResult()>;

std::vector<CheckResult> run_checks(const std::filesystem::path& cache_dir, const std::vector<ExtraCheck>& extra);
const char* to_string(Status status);

}  // namespace foliolab::doctor
