#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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

// What one of the child's fds 0..2 becomes: a dup of `from`, or `path` opened with `flags`.
struct FdSetup {
  int from = -1;
  std::string path;
  int flags = 0;
};

// Why a child could not exec, sent back over a close-on-exec pipe.
struct ChildFailure {
  int stage;  // 0 open, 1 chdir, 2 exec
  int fd;     // for open: which of 0..2
  int error;
};

// Process groups run_process is waiting for (0 = free slot). Lock-free atomics, so that
// interrupt_children may walk them from a signal handler.
constexpr int kChildSlots = 64;
std::atomic<pid_t> g_children[kChildSlots];
std::atomic<int> g_interrupted{0};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

int register_child(pid_t pgid) {
  for (int i = 0; i < kChildSlots; ++i) {
    pid_t expected = 0;
    if (g_children[i].compare_exchange_strong(expected, pgid)) return i;
  }
  return -1;  // more than 64 at once: still covered by the death signal
}

void unregister_child(int slot) {
  if (slot >= 0) g_children[slot].store(0);
}

// fork + exec rather than posix_spawn: the child needs PR_SET_PDEATHSIG, which posix_spawn
// cannot set. Between fork and exec only async-signal-safe calls; everything is prepared
// before the fork.
pid_t do_spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
               const std::optional<std::filesystem::path>& cwd, const FdSetup (&fds)[3]) {
  if (argv.empty()) throw InfraError("internal: empty argv");
  auto exe = argv[0].find('/') == std::string::npos ? find_executable(argv[0])
                                                     : std::optional<std::filesystem::path>(argv[0]);
  if (!exe) throw InfraError(fmt::format("'{}' not found in PATH", argv[0]));
  std::vector<std::string> args = argv;
  std::vector<std::string> env = merged_environment(extra_env);
  auto cargs = c_strings(args);
  auto cenv = c_strings(env);
  const std::string exe_path = exe->string();
  const std::string cwd_path = cwd ? cwd->string() : std::string();
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw InfraError(fmt::format("pipe: {}", std::strerror(errno)));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(report[0]);
    ::close(report[1]);
    throw InfraError(fmt::format("cannot start '{}': fork: {}", exe_path, std::strerror(e)));
  }
  if (pid == 0) {
    ::close(report[0]);
    auto fail = [&](int stage, int fd) {
      ChildFailure f{stage, fd, errno};
      ssize_t ignored = ::write(report[1], &f, sizeof f);
      (void)ignored;
      ::_exit(127);
    };
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // foliolab died before the line above
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int fd = 0; fd < 3; ++fd) {
      int source = fds[fd].from;
      if (!fds[fd].path.empty()) {
        source = ::open(fds[fd].path.c_str(), fds[fd].flags, 0644);
        if (source < 0) fail(0, fd);
      }
      if (source != fd) {
        if (::dup2(source, fd) < 0) fail(0, fd);
        if (!fds[fd].path.empty()) ::close(source);
      } else {
        int flags = ::fcntl(fd, F_GETFD);
        ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
      }
    }
    if (!cwd_path.empty() && ::chdir(cwd_path.c_str()) != 0) fail(1, -1);
    ::execve(exe_path.c_str(), cargs.data(), cenv.data());
    fail(2, -1);
  }
  ::setpgid(pid, pid);  // also here: a kill(-pid) right after we return must find the group
  ::close(report[1]);
  ChildFailure failure{};
  ssize_t got;
  do got = ::read(report[0], &failure, sizeof failure);
  while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status;
    ::waitpid(pid, &status, 0);
    switch (failure.stage) {
      case 0:
        throw InfraError(fmt::format("cannot start '{}': fd {} ({}): {}", exe_path, failure.fd,
                                     fds[failure.fd].path.empty() ? "dup" : fds[failure.fd].path,
                                     std::strerror(failure.error)));
      case 1:
        throw InfraError(fmt::format("cannot start '{}': cannot enter {}: {}", exe_path, cwd_path,
                                     std::strerror(failure.error)));
      default:
        throw InfraError(fmt::format("cannot start '{}': {}", exe_path, std::strerror(failure.error)));
    }
  }
  return pid;
}


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
  if (int signo = interrupted_by()) throw Interrupted(signo);
  FdSetup fds[3];
  int pipefd[2] = {-1, -1};
  fds[0].path = options.input_file ? options.input_file->string() : "/dev/null";
  fds[0].flags = O_RDONLY;
  if (options.output_file) {
    fds[1].path = options.output_file->string();
    fds[1].flags = O_WRONLY | O_CREAT | O_APPEND;
    fds[2].from = 1;
  } else {
    if (::pipe2(pipefd, O_CLOEXEC) != 0) throw InfraError(fmt::format("pipe: {}", std::strerror(errno)));
    if (options.stdout_file) {
      fds[1].path = options.stdout_file->string();
      fds[1].flags = O_WRONLY | O_CREAT | O_TRUNC;
    } else {
      fds[1].from = pipefd[1];
    }
    fds[2].from = pipefd[1];
  }
  pid_t pid;
  try {
    pid = do_spawn(argv, options.env, options.cwd, fds);
  } catch (...) {
    if (pipefd[0] >= 0) { ::close(pipefd[0]); ::close(pipefd[1]); }
    throw;
  }
  const int slot = register_child(pid);
  if (interrupted_by() != 0) ::kill(-pid, SIGTERM);  // the interrupt came while we were starting it
  ProcessResult result;
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  std::optional<std::chrono::steady_clock::time_point> interrupt_seen;
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
    const auto now = std::chrono::steady_clock::now();
    if (interrupted_by() != 0) {
      if (!interrupt_seen) interrupt_seen = now;
      if (now - *interrupt_seen > std::chrono::seconds(10)) ::kill(-pid, SIGKILL);  // SIGTERM was not enough
    }
    if (options.timeout.count() != 0 && now >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.timed_out = true;
      reaped = true;
    }
  }
  unregister_child(slot);
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
  if (int signo = interrupted_by()) throw Interrupted(signo);
  if (!result.timed_out) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  return result;
}

SpawnedProcess spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options) {
  FdSetup fds[3];
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  auto cleanup = [&] {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
  };
  // Every pipe end is close-on-exec: the child gets its ends through dup2 only.
  if (options.pipe_stdin) {
    if (::pipe2(in, O_CLOEXEC) != 0) throw InfraError("pipe failed");
    fds[0].from = in[0];
  } else {
    fds[0].path = "/dev/null";
    fds[0].flags = O_RDONLY;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) { cleanup(); throw InfraError("pipe failed"); }
  fds[1].from = out[1];
  if (options.merge_stderr) {
    fds[2].from = out[1];
  } else {
    if (::pipe2(err, O_CLOEXEC) != 0) { cleanup(); throw InfraError("pipe failed"); }
    fds[2].from = err[1];
  }
  SpawnedProcess p;
  try {
    p.pid = do_spawn(argv, options.env, options.cwd, fds);
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

std::string signal_name(int signo) {
  if (signo == SIGINT) return "SIGINT";
  if (signo == SIGTERM) return "SIGTERM";
  return strsignal(signo);
}

Interrupted::Interrupted(int signo)
    : std::runtime_error(fmt::format("interrupted by {}", signal_name(signo))), signal_(signo) {}

void interrupt_children(int signo) {
  int expected = 0;
  const bool first = g_interrupted.compare_exchange_strong(expected, signo);
  for (auto& child : g_children) {
    pid_t pgid = child.load();
    if (pgid > 0) ::kill(-pgid, first ? SIGTERM : SIGKILL);  // a second signal: no more patience
  }
}

int interrupted_by() { return g_interrupted.load(); }

void interrupt_children_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = [](int signo) { interrupt_children(signo); };
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace foliolab::common
