#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "common/errors.h"

extern char** environ;

namespace foliolab::common {
namespace {

std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawn has no chdir before glibc 2.29's addchdir_np; bookworm has 2.36, so use it.
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

struct Attributes {
  posix_spawnattr_t attr;
  Attributes() {
    posix_spawnattr_init(&attr);
    // New process group: a timeout or a stop reaches the whole tree (make's children too).
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  ~Attributes() { posix_spawnattr_destroy(&attr); }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;
};

pid_t do_spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
               const std::optional<std::filesystem::path>& cwd, FileActions& fa) {
  if (argv.empty()) throw InfraError("internal: empty argv");
  auto exe = argv[0].find('/') == std::string::npos ? find_executable(argv[0])
                                                     : std::optional<std::filesystem::path>(argv[0]);
  if (!exe) throw InfraError(fmt::format("'{}' not found in PATH", argv[0]));
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa.actions, cwd->c_str());
  Attributes at;
  std::vector<std::string> args = argv;
  std::vector<std::string> env = merged_environment(extra_env);
  auto cargs = c_strings(args);
  auto cenv = c_strings(env);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, exe->c_str(), &fa.actions, &at.attr, cargs.data(), cenv.data());
  if (rc != 0) throw InfraError(fmt::format("cannot start '{}': {}", exe->string(), std::strerror(rc)));
  return pid;
}

void set_cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }

}  // namespace

std::string ProcessResult::describe() const {
  if (timed_out) return "timed out";
  if (signal != 0) return fmt::format("killed by signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit {}", exit_code);
}

std::optional<std::filesystem::path> find_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::filesystem::path dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    auto candidate = dir / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate)) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

std::string render_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=./:,+@%") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  FileActions fa;
  int pipefd[2] = {-1, -1};
  if (options.input_file) {
    posix_spawn_file_actions_addopen(&fa.actions, 0, options.input_file->c_str(), O_RDONLY, 0);
  } else {
    posix_spawn_file_actions_addopen(&fa.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (options.output_file) {
    posix_spawn_file_actions_addopen(&fa.actions, 1, options.output_file->c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa.actions, 1, 2);
  } else {
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw InfraError(fmt::format("pipe: {}", std::strerror(errno)));
    if (options.stdout_file) {
      posix_spawn_file_actions_addopen(&fa.actions, 1, options.stdout_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    } else {
      posix_spawn_file_actions_adddup2(&fa.actions, pipefd[1], 1);
    }
    posix_spawn_file_actions_adddup2(&fa.actions, pipefd[1], 2);
  }
  pid_t pid;
  try {
    pid = do_spawn(argv, options.env, options.cwd, fa);
  } catch (...) {
    if (pipefd[0] >= 0) { ::close(pipefd[0]); ::close(pipefd[1]); }
    throw;
  }
  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  if (pipefd[1] >= 0) ::close(pipefd[1]);
  auto remaining_ms = [&]() -> int {
    if (options.timeout.count() == 0) return 200;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long>(0, std::min<long>(200, left.count())));
  };
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    if (pipefd[0] >= 0) {
      pollfd pfd{pipefd[0], POLLIN, 0};
      int n = ::poll(&pfd, 1, remaining_ms());
      if (n > 0) {
        char buf[65536];
        ssize_t got = ::read(pipefd[0], buf, sizeof buf);
        if (got > 0) {
          result.output.append(buf, static_cast<size_t>(got));
        } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
          ::close(pipefd[0]);
          pipefd[0] = -1;
        }
      }
    } else {
      ::usleep(static_cast<useconds_t>(std::max(1, std::min(remaining_ms(), 20))) * 1000);
    }
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    if (options.timeout.count() != 0 && std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.timed_out = true;
      reaped = true;
    }
  }
  // Drain what is left (the child exited; writers in its group may linger briefly).
  if (pipefd[0] >= 0) {
    int flags = fcntl(pipefd[0], F_GETFL);
    fcntl(pipefd[0], F_SETFL, flags | O_NONBLOCK);
    char buf[65536];
    for (;;) {
      ssize_t got = ::read(pipefd[0], buf, sizeof buf);
      if (got <= 0) break;
      result.output.append(buf, static_cast<size_t>(got));
    }
    ::close(pipefd[0]);
  }
  if (!result.timed_out) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  return result;
}

SpawnedProcess spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  FileActions fa;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto cleanup = [&] {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
  };
  if (options.pipe_stdin) {
    if (::pipe(in) != 0) throw InfraError("pipe failed");
    set_cloexec(in[1]);
    posix_spawn_file_actions_adddup2(&fa.actions, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&fa.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (::pipe(out) != 0) { cleanup(); throw InfraError("pipe failed"); }
  set_cloexec(out[0]);
  posix_spawn_file_actions_adddup2(&fa.actions, out[1], 1);
  if (options.merge_stderr) {
    posix_spawn_file_actions_adddup2(&fa.actions, out[1], 2);
  } else {
    if (::pipe(err) != 0) { cleanup(); throw InfraError("pipe failed"); }
    set_cloexec(err[0]);
    posix_spawn_file_actions_adddup2(&fa.actions, err[1], 2);
  }
  // The child's ends must not leak into it twice; posix_spawn closes CLOEXEC fds after dup2.
  if (in[0] >= 0) set_cloexec(in[0]);
  set_cloexec(out[1]);
  if (err[1] >= 0) set_cloexec(err[1]);
  SpawnedProcess p;
  try {
    p.pid = do_spawn(argv, options.env, options.cwd, fa);
  } catch (...) {
    cleanup();
    throw;
  }
  if (in[0] >= 0) ::close(in[0]);
  ::close(out[1]);
  if (err[1] >= 0) ::close(err[1]);
  p.stdin_fd = in[1];
  p.stdout_fd = out[0];
  p.stderr_fd = err[0];
  return p;
}

}  // namespace foliolab::common
