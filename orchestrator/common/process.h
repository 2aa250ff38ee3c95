#pragma once
// The one place that starts child processes. Always argv vectors, never a shell: no string
// from a suite file or a guest is ever interpreted by /bin/sh.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace foliolab::common {

struct ProcessOptions {
  std::optional<std::filesystem::path> cwd;
  // Added to (or overriding) the inherited environment.
  std::map<std::string, std::string> env;
  // Where stdout and stderr go. Unset: captured into ProcessResult::output (both streams).
  // Set: appended to this file (both streams), nothing captured.
  std::optional<std::filesystem::path> output_file;
  // Set (and output_file unset): stdout goes to this file, only stderr is captured in output.
  std::optional<std::filesystem::path> stdout_file;
  // Unset: /dev/null. Set: the child's stdin is this file.
  std::optional<std::filesystem::path> input_file;
  // Killed (SIGKILL, whole process group) when exceeded. Zero: no deadline.
  std::chrono::milliseconds timeout{0};
};

struct ProcessResult {
  int exit_code = -1;      // valid when signal == 0
  int signal = 0;          // terminating signal, 0 if exited normally
  bool timed_out = false;
  std::string output;      // stdout+stderr when captured
  bool ok() const { return signal == 0 && !timed_out && exit_code == 0; }
  std::string describe() const;  // "exit 2", "killed by signal 9", "timed out"
};

// Runs argv[0] (looked up in PATH) to completion. Throws InfraError when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A started child whose pipes the caller drives (e.g. with Boost.Asio). The child is its own
// process group leader so that kill_group reaches its descendants.
struct SpawnedProcess {
  pid_t pid = -1;
  int stdin_fd = -1;   // -1 unless requested
  int stdout_fd = -1;  // read end of stdout (and stderr if merged)
  int stderr_fd = -1;  // -1 when stderr is merged into stdout
};

struct SpawnOptions {
  std::optional<std::filesystem::path> cwd;
  std::map<std::string, std::string> env;
  bool pipe_stdin = false;
  bool merge_stderr = true;
};

SpawnedProcess spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// Absolute path of an executable found in PATH, or nullopt.
std::optional<std::filesystem::path> find_executable(const std::string& name);

// Renders argv for logs and error messages (quoted where needed); never executed.
std::string render_argv(const std::vector<std::string>& argv);

}  // namespace foliolab::common
