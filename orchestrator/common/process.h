#pragma once
// The one place that starts child processes. Always argv vectors, never a shell: no string
// from a suite file or a guest is ever interpreted by /bin/sh.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
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

// Runs argv[0] (looked up in PATH) to completion. Throws InfraError when it cannot be started,
// Interrupted when interrupt_children() stopped it (or was called before it started).
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// Every child (run_process and spawn_process) leads its own process group and is started with
// PR_SET_PDEATHSIG=SIGTERM, so that no build or guest outlives foliolab, even after kill -9:
// make passes SIGTERM on to its compilers, QEMU exits on it. The death signal follows the
// *thread* that started the child, so a child must be started and reaped by the same thread
// (run_process does; the VM backend does for QEMU).

// The work run_process was doing was abandoned on request (SIGINT/SIGTERM to foliolab), not
// failed: callers let it through, and the CLI exits 128 + signal.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signo);
  int signal() const { return signal_; }

 private:
  int signal_;
};

// Async-signal-safe. Records `signo` (the first one wins) and sends SIGTERM to the process
// group of every child run_process is waiting for (SIGKILL 10 s later if it is still there).
// From then on run_process throws Interrupted instead of starting anything. Children of
// spawn_process are not touched: their owner stops them its own way (QMP quit for QEMU).
void interrupt_children(int signo);
// The signal passed to interrupt_children, 0 if none.
int interrupted_by();
// "SIGINT", "SIGTERM", else the C library's description of the signal.
std::string signal_name(int signo);
// For commands without signal handling of their own (build, doctor): SIGINT and SIGTERM call
// interrupt_children, so the command unwinds through Interrupted and exits 128 + signal.
void interrupt_children_on_signals();

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
