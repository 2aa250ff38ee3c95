#include "doctor/doctor.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include "common/process.h"
#include "kernel/builder.h"
#include "kernel/source.h"

namespace foliolab::doctor {
namespace fs = std::filesystem;

const char* to_string(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kWarn: return "warn";
    case Status::kFail: return "FAIL";
  }
  return "?";
}

namespace {

struct Program {
  std::string name;
  std::string package;
  std::string purpose;
};

CheckResult check_program(const Program& p) {
  auto path = common::find_executable(p.name);
  if (!path) return {p.name, Status::kFail, fmt::format("missing ({}): install the Debian package {}", p.purpose, p.package)};
  auto r = common::run_process({path->string(), "--version"}, {.timeout = std::chrono::seconds(10)});
  std::string first = r.output.substr(0, r.output.find('\n'));
  return {p.name, Status::kOk, fmt::format("{} ({})", path->string(), first)};
}

}  // namespace

std::vector<CheckResult> run_checks(const fs::path& cache_dir, const std::vector<ExtraCheck>& extra) {
  std::vector<CheckResult> out;
  const std::vector<Program> programs = {
      {"qemu-system-x86_64", "qemu-system-x86", "x86_64 guests"},
      {"qemu-system-aarch64", "qemu-system-arm", "arm64 guests"},
      {"qemu-system-riscv64", "qemu-system-misc", "riscv64 guests"},
      {"x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu", "x86_64 kernels and guest programs"},
      {"aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", "arm64 kernels and guest programs"},
      {"riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu", "riscv64 kernels and guest programs"},
      {"ccache", "ccache", "fast kernel rebuilds"},
  };
  for (const auto& p : programs) {
    auto r = check_program(p);
    if (p.name == "ccache" && r.status == Status::kFail) r.status = Status::kWarn;
    out.push_back(r);
  }
  for (const auto& [tool, package] : kernel::required_build_tools()) {
    auto path = common::find_executable(tool);
    out.push_back(path ? CheckResult{tool, Status::kOk, path->string()}
                       : CheckResult{tool, Status::kFail, fmt::format("missing (kernel builds): install {}", package)});
  }
  // Static libc for the guest programs: without it the cross compilers link nothing static.
  for (const auto& [lib, package] : std::vector<std::pair<std::string, std::string>>{
           {"/usr/aarch64-linux-gnu/lib/libc.a", "libc6-dev-arm64-cross"},
           {"/usr/riscv64-linux-gnu/lib/libc.a", "libc6-dev-riscv64-cross"}}) {
    out.push_back(fs::exists(lib) ? CheckResult{package, Status::kOk, lib}
                                  : CheckResult{package, Status::kFail, fmt::format("{} missing: install {}", lib, package)});
  }
  auto tarball = kernel::debian_tarball("linux-source-6.12");
  out.push_back(fs::exists(tarball)
                    ? CheckResult{"linux-source-6.12", Status::kOk, tarball.string()}
                    : CheckResult{"linux-source-6.12", Status::kFail,
                                  fmt::format("{} missing: install the Debian package linux-source-6.12", tarball.string())});
  // Free disk where kernels are built: a tree + objects per (source, arch) is about 2.5 GB.
  fs::path probe = cache_dir;
  while (!probe.empty() && !fs::exists(probe)) probe = probe.parent_path();
  struct statvfs sv {};
  if (!probe.empty() && ::statvfs(probe.c_str(), &sv) == 0) {
    double gib = static_cast<double>(sv.f_bavail) * static_cast<double>(sv.f_frsize) / (1024.0 * 1024 * 1024);
    Status s = gib < 5 ? Status::kFail : gib < 15 ? Status::kWarn : Status::kOk;
    out.push_back({"disk", s, fmt::format("{:.1f} GiB free at {} (kernel builds need ~3 GiB per source x arch)", gib,
                                          probe.string())});
  }
  for (const auto& check : extra) out.push_back(check());
  return out;
}

}  // namespace foliolab::doctor
