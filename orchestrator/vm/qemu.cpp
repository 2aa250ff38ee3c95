#include "vm/qemu.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp forgets it under C++20
// GCC 12 reports -Wnull-dereference inside Asio's scheduler once it is inlined at -O2; the
// warning is about Boost's code, not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#pragma GCC diagnostic pop
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/fs.h"
#include "common/process.h"
#include "vm/accel.h"
#include "vm/record_peek.h"

namespace foliolab::vm {
namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using Clock = std::chrono::steady_clock;
using common::InfraError;

constexpr std::size_t kStderrTail = 16 * 1024;
constexpr std::size_t kSocketPathMax = 100;  // sun_path is 108 bytes; keep a margin

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string whole_seconds(Milliseconds ms) { return fmt::format("{:.0f} s", static_cast<double>(ms.count()) / 1000.0); }

void set_cloexec(int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); }

// A guest-supplied name fit for logs and messages: printable ASCII, at most 100 bytes.
std::string plain_name(const std::string& name) {
  bool plain = !name.empty() && name.size() <= 100 &&
               std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  return plain ? name : "(unprintable name)";
}

// {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian ..."}}}
// -> "QEMU emulator version 7.2.22 (Debian ...)", as `qemu-system-* --version` says it.
std::string version_from_greeting(const std::string& line) {
  try {
    auto doc = nlohmann::json::parse(line);
    const auto& v = doc.at("QMP").at("version");
    const auto& q = v.at("qemu");
    std::string package = v.value("package", "");
    while (!package.empty() && package.front() == ' ') package.erase(0, 1);
    std::string out = fmt::format("QEMU emulator version {}.{}.{}", q.at("major").get<int>(), q.at("minor").get<int>(),
                                  q.at("micro").get<int>());
    if (!package.empty()) out += package.front() == '(' ? " " + package : " (" + package + ")";
    return out;
  } catch (const std::exception&) {
    return "";
  }
}

// One guest: owns the QEMU process, its pipes and sockets, and the event loop that drives them.
class QemuSession {
 public:
  QemuSession(const GuestSpec& spec, const GuestCallbacks& callbacks, const StopSignal& stop,
              const MachineProfile& profile, Accel accel)
      : spec_(spec), callbacks_(callbacks), stop_signal_(stop), profile_(profile), accel_(accel),
        scratch_(scratch_parent(spec), "foliolab-guest") {
    margin_ = spec.timeouts.step_margin * (accel == Accel::kTcg ? profile.tcg_slowdown : 1);
  }

  ~QemuSession() {
    kill_and_reap();
    if (console_file_ != nullptr) std::fclose(console_file_);
  }

  QemuSession(const QemuSession&) = delete;
  QemuSession& operator=(const QemuSession&) = delete;

  GuestRun run() {
    result_.accel = to_string(accel_);
    result_.machine_profile = profile_.name;
    result_.console_log = spec_.console_log;

    GuestEndpoints endpoints;
    endpoints.qmp_socket = scratch_.path() / "qmp.sock";
    endpoints.data_socket = scratch_.path() / "data.sock";
    listen(qmp_acceptor_, endpoints.qmp_socket);
    listen(data_acceptor_, endpoints.data_socket);
    if (spec_.swap_disk_bytes && *spec_.swap_disk_bytes > 0) {
      endpoints.swap_image = scratch_.path() / "swap.img";
      make_sparse_file(*endpoints.swap_image, *spec_.swap_disk_bytes);
    }
    open_console_log();

    // Host facts only where the command line uses them (x86_64 under TCG).
    auto argv = qemu_argv(profile_, spec_, endpoints, accel_,
                          profile_.tsc_from_host && accel_ == Accel::kTcg ? host_facts() : HostFacts{});
    spdlog::debug("starting guest: {}", common::render_argv(argv));
    common::SpawnOptions options;
    options.merge_stderr = false;
    auto child = common::spawn_process(argv, options);
    pid_ = child.pid;
    started_ = Clock::now();
    console_.assign(child.stdout_fd);
    stderr_.assign(child.stderr_fd);

    watch_exit();
    read_console();
    read_stderr();
    accept_qmp();
    accept_data();
    watch_stop_requests();
    arm(boot_timer_, spec_.timeouts.boot, [this] {
      stop(EndReason::kBootDeadline, fmt::format("no hello from the guest agent within {}", whole_seconds(spec_.timeouts.boot)));
    });
    arm(run_timer_, run_deadline(), [this] {
      stop(EndReason::kRunDeadline, fmt::format("the run exceeded its overall deadline of {}", whole_seconds(run_deadline())));
    });
    arm_silence();

    try {
      io_.run();
    } catch (...) {
      kill_and_reap();
      throw;
    }
    kill_and_reap();
    result_.total_seconds = seconds_since(started_);
    if (console_file_ != nullptr) {
      std::fclose(console_file_);
      console_file_ = nullptr;
    }
    if (!infra_error_.empty()) throw InfraError(infra_error_);
    // Normally known from the QMP greeting; asking the binary costs another process.
    if (result_.emulator_version.empty()) result_.emulator_version = emulator_version(profile_);
    return result_;
  }

 private:
  static std::filesystem::path scratch_parent(const GuestSpec& spec) {
    std::filesystem::path parent = spec.scratch_dir.empty() ? std::filesystem::temp_directory_path() : spec.scratch_dir;
    // Unix socket paths are short; a deep scratch dir falls back to the system temp dir.
    if ((parent / "foliolab-guest-XXXXXX/data.sock").string().size() > kSocketPathMax)
      parent = std::filesystem::temp_directory_path();
    return parent;
  }

  void listen(local::acceptor& acceptor, const std::filesystem::path& path) {
    boost::system::error_code ec;
    acceptor.open(local(), ec);
    if (!ec) set_cloexec(acceptor.native_handle());
    if (!ec) acceptor.bind(local::endpoint(path.string()), ec);
    if (!ec) acceptor.listen(1, ec);
    if (ec) throw InfraError(fmt::format("cannot listen on {}: {}", path.string(), ec.message()));
  }

  static void make_sparse_file(const std::filesystem::path& path, std::uint64_t bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw InfraError(fmt::format("cannot create {}: {}", path.string(), std::strerror(errno)));
    int rc = ::ftruncate(fd, static_cast<off_t>(bytes));
    int err = errno;
    ::close(fd);
    if (rc != 0) throw InfraError(fmt::format("cannot size {} to {} bytes: {}", path.string(), bytes, std::strerror(err)));
  }

  void open_console_log() {
    if (spec_.console_log.empty()) return;
    console_file_ = std::fopen(spec_.console_log.c_str(), "wbe");
    if (console_file_ == nullptr)
      throw InfraError(fmt::format("cannot write {}: {}", spec_.console_log.string(), std::strerror(errno)));
  }

  Milliseconds step_deadline(const std::string& step, std::optional<double> guest_deadline_s) const {
    std::int64_t seconds = 0;
    std::int64_t largest = 0;
    for (const auto& [name, s] : spec_.step_deadlines_s) largest = std::max(largest, s);
    if (auto it = spec_.step_deadlines_s.find(step); it != spec_.step_deadlines_s.end()) {
      seconds = it->second;
    } else {
      // Not a step of this job: the guest's number, bounded by what the job allows.
      std::int64_t bound = largest > 0 ? largest : static_cast<std::int64_t>(spec_.timeouts.silence.count() / 1000);
      seconds = bound;
      if (guest_deadline_s && *guest_deadline_s > 0 && *guest_deadline_s < static_cast<double>(bound))
        seconds = static_cast<std::int64_t>(*guest_deadline_s + 0.999);
    }
    return std::chrono::seconds(seconds) + margin_;
  }

  Milliseconds run_deadline() const {
    Milliseconds total = spec_.timeouts.boot + spec_.timeouts.shutdown + margin_;
    for (const auto& [name, s] : spec_.step_deadlines_s) total += std::chrono::seconds(s) + margin_;
    return total;
  }

  template <typename Handler>
  void arm(asio::steady_timer& timer, Milliseconds after, Handler on_expiry) {
    timer.expires_after(after);
    timer.async_wait([on_expiry](const boost::system::error_code& ec) {
      if (!ec) on_expiry();
    });
  }

  // The silence watchdog checks the time of the last activity instead of being re-armed on
  // every read.
  void arm_silence() {
    silence_timer_.expires_at(last_activity_ + spec_.timeouts.silence);
    silence_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_ || reaped_) return;
      if (Clock::now() - last_activity_ >= spec_.timeouts.silence) {
        stop(EndReason::kSilence, fmt::format("nothing on the console or the data channel for {}",
                                              whole_seconds(spec_.timeouts.silence)));
        return;
      }
      arm_silence();
    });
  }

  void activity() { last_activity_ = Clock::now(); }

  void read_console() {
    console_.async_read_some(asio::buffer(console_buf_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0) on_console(std::string_view(console_buf_.data(), n));
      if (ec) {
        console_open_ = false;
        maybe_finish();
        return;
      }
      read_console();
    });
  }

  void on_console(std::string_view bytes) {
    activity();
    result_.console_bytes += bytes.size();
    if (console_file_ != nullptr && !result_.console_truncated) {
      std::uint64_t room = kMaxConsoleLog - console_written_;
      std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(room, bytes.size()));
      std::fwrite(bytes.data(), 1, take, console_file_);
      console_written_ += take;
      if (take < bytes.size()) {
        result_.console_truncated = true;
        std::fputs(fmt::format("\n[foliolab: console.log truncated at {} MiB]\n", kMaxConsoleLog >> 20).c_str(),
                   console_file_);
      }
      std::fflush(console_file_);
    }
    if (callbacks_.console) callbacks_.console(bytes);
  }

  void read_stderr() {
    stderr_.async_read_some(asio::buffer(stderr_buf_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0) {
        result_.emulator_stderr.append(stderr_buf_.data(), n);
        if (result_.emulator_stderr.size() > kStderrTail)
          result_.emulator_stderr.erase(0, result_.emulator_stderr.size() - kStderrTail);
      }
      if (ec) {
        stderr_open_ = false;
        maybe_finish();
        return;
      }
      read_stderr();
    });
  }

  void accept_qmp() {
    qmp_acceptor_.async_accept(qmp_, [this](const boost::system::error_code& ec) {
      if (ec) return;
      set_cloexec(qmp_.native_handle());
      qmp_connected_ = true;
      qmp_acceptor_.close();
      read_qmp();
    });
  }

  void read_qmp() {
    qmp_.async_read_some(asio::buffer(qmp_buf_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0) {
        qmp_line_.append(qmp_buf_.data(), n);
        std::size_t nl;
        while ((nl = qmp_line_.find('\n')) != std::string::npos) {
          std::string line = qmp_line_.substr(0, nl);
          qmp_line_.erase(0, nl + 1);
          on_qmp_line(line);
        }
        if (qmp_line_.size() > kMaxDataLine) qmp_line_.clear();
      }
      if (ec) {
        qmp_connected_ = false;
        return;
      }
      read_qmp();
    });
  }

  void on_qmp_line(const std::string& line) {
    spdlog::trace("qmp: {}", line);
    if (!qmp_greeted_) {
      qmp_greeted_ = true;
      result_.emulator_version = version_from_greeting(line);
      qmp_send(R"({"execute":"qmp_capabilities"})");
      if (quit_pending_) qmp_send(R"({"execute":"quit"})");
    }
  }

  void qmp_send(std::string_view message) {
    std::string out = std::string(message) + "\n";
    boost::system::error_code ec;
    asio::write(qmp_, asio::buffer(out), ec);  // a few bytes on a local socket: never blocks long
    if (ec) spdlog::debug("qmp write failed: {}", ec.message());
  }

  void data_send(std::string_view line) {
    boost::system::error_code ec;
    asio::write(data_, asio::buffer(line.data(), line.size()), ec);  // one short line on a local socket
    if (ec) spdlog::debug("data channel write failed: {}", ec.message());
  }

  void accept_data() {
    data_acceptor_.async_accept(data_, [this](const boost::system::error_code& ec) {
      if (ec) return;
      set_cloexec(data_.native_handle());
      data_open_ = true;
      data_acceptor_.close();
      read_data();
    });
  }

  void read_data() {
    data_.async_read_some(asio::buffer(data_buf_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0) on_data(std::string_view(data_buf_.data(), n));
      if (ec) {
        if (!data_line_.empty() || dropping_) end_data_line();  // a last line without newline
        data_open_ = false;
        maybe_finish();
        return;
      }
      read_data();
    });
  }

  // Splits the stream into lines; a line over kMaxDataLine is dropped whole (and counted).
  void on_data(std::string_view bytes) {
    activity();
    while (!bytes.empty()) {
      std::size_t nl = bytes.find('\n');
      std::string_view chunk = bytes.substr(0, nl);
      if (!dropping_) {
        if (data_line_.size() + chunk.size() > kMaxDataLine) {
          dropping_ = true;
          dropped_length_ = data_line_.size();
          data_line_.clear();
        } else {
          data_line_.append(chunk);
        }
      }
      if (dropping_) dropped_length_ += chunk.size();
      if (nl == std::string_view::npos) break;
      end_data_line();
      bytes.remove_prefix(nl + 1);
    }
  }

  void end_data_line() {
    if (dropping_) {
      ++result_.data_lines_dropped;
      if (callbacks_.data_line_dropped) callbacks_.data_line_dropped(dropped_length_);
      dropping_ = false;
      dropped_length_ = 0;
      data_line_.clear();
      return;
    }
    std::string line = std::move(data_line_);
    data_line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    ++result_.data_lines;
    on_record(peek_record(line));
    if (callbacks_.data_line) callbacks_.data_line(line);
  }

  void on_record(const RecordPeek& record) {
    if (stopping_) return;
    if (record.type == "hello" && !result_.hello_seen) {
      result_.hello_seen = true;
      result_.boot_seconds = seconds_since(started_);
      boot_timer_.cancel();
    } else if (record.type == "step-begin") {
      // The name is the guest's: shown only when it is a plain name of reasonable length.
      std::string step = plain_name(record.step);
      result_.last_step = step;
      auto deadline = step_deadline(record.step, record.deadline_s);
      arm(step_timer_, deadline, [this, step, deadline] {
        stop(EndReason::kStepDeadline, fmt::format("step '{}' still running after {} (its deadline plus margin)", step,
                                                   whole_seconds(deadline)));
      });
    } else if (record.type == "step-end") {
      step_timer_.cancel();
    } else if (record.type == "done" && !result_.done_seen) {
      result_.done_seen = true;
      step_timer_.cancel();
      // The ack tells the agent that every record up to done has arrived: it reboots at once
      // instead of sleeping on the chance that some were still in the virtqueue.
      data_send(kDoneAck);
      arm(shutdown_timer_, spec_.timeouts.shutdown, [this] {
        stop(EndReason::kShutdownDeadline,
             fmt::format("the guest sent done but was still running {} later", whole_seconds(spec_.timeouts.shutdown)));
      });
    }
  }

  // Stop requests are polled: the runner owns SIGINT/SIGTERM, and a flag read every
  // kStopPoll costs nothing next to a guest and cannot race with a signal handler.
  static constexpr Milliseconds kStopPoll{50};
  void watch_stop_requests() {
    int requests = stop_signal_.requests();
    if (requests > stop_requests_seen_) {
      stop_requests_seen_ = requests;
      const std::string name = common::signal_name(stop_signal_.signal());
      if (stopping_) {
        spdlog::warn("second {}: killing the guest now", name);
        kill_group();
      } else {
        stop(EndReason::kStopped, fmt::format("foliolab received {}", name));
      }
    }
    arm(stop_poll_timer_, kStopPoll, [this] { watch_stop_requests(); });
  }

  // Ends the guest for a host-side reason: QMP quit (or SIGTERM without QMP), then SIGKILL.
  void stop(EndReason reason, std::string detail) {
    if (stopping_ || reaped_) return;
    stopping_ = true;
    result_.end = reason;
    result_.end_detail = std::move(detail);
    spdlog::debug("stopping guest: {}", result_.end_detail);
    for (auto* t : {&boot_timer_, &step_timer_, &run_timer_, &shutdown_timer_, &silence_timer_}) t->cancel();
    if (qmp_connected_ && qmp_greeted_) {
      qmp_send(R"({"execute":"quit"})");
    } else if (qmp_connected_) {
      quit_pending_ = true;  // sent right after the greeting
    } else {
      ::kill(pid_, SIGTERM);
    }
    arm(kill_timer_, spec_.timeouts.stop_grace, [this] {
      spdlog::debug("guest did not stop within {}: SIGKILL", whole_seconds(spec_.timeouts.stop_grace));
      kill_group();
    });
  }

  void kill_group() {
    if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
  }

  void watch_exit() {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (fd >= 0) {
      pidfd_.assign(fd);
      pidfd_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec) return;
        on_exit_possible();
        if (!reaped_) poll_exit();  // readable yet not reapable: should not happen, poll instead
      });
    } else {
      poll_exit();  // kernels before 5.3
    }
  }

  void poll_exit() {
    arm(exit_poll_timer_, Milliseconds(20), [this] {
      on_exit_possible();
      if (!reaped_) poll_exit();
    });
  }

  void on_exit_possible() {
    int status = 0;
    pid_t w = ::waitpid(pid_, &status, WNOHANG);
    if (w != pid_) return;
    reaped_ = true;
    if (WIFEXITED(status)) result_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result_.exit_signal = WTERMSIG(status);
    for (auto* t : {&boot_timer_, &step_timer_, &run_timer_, &shutdown_timer_, &silence_timer_, &kill_timer_,
                    &stop_poll_timer_})
      t->cancel();
    if (!stopping_) {
      result_.end = EndReason::kExited;
      result_.end_detail = result_.done_seen ? "the guest finished and ended" : "the guest ended before finishing its job";
      bool failed = (result_.exit_code && *result_.exit_code != 0) || result_.exit_signal;
      if (failed)
        infra_error_ = fmt::format("{} failed ({}): {}", profile_.qemu_binary,
                                   result_.exit_signal ? fmt::format("signal {}", *result_.exit_signal)
                                                       : fmt::format("exit {}", *result_.exit_code),
                                   stderr_summary());
    }
    // Keep reading what is still buffered in the pipes and sockets, for a bounded time.
    arm(drain_timer_, spec_.timeouts.drain, [this] { finish(); });
    maybe_finish();
  }

  std::string stderr_summary() const {
    std::string s = result_.emulator_stderr;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s.empty() ? "no message" : s;
  }

  void maybe_finish() {
    if (reaped_ && !console_open_ && !stderr_open_ && !data_open_) finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (!data_line_.empty() && !dropping_) end_data_line();
    io_.stop();
  }

  void kill_and_reap() {
    if (pid_ <= 0 || reaped_) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

  const GuestSpec& spec_;
  const GuestCallbacks& callbacks_;
  const StopSignal& stop_signal_;
  int stop_requests_seen_ = 0;
  const MachineProfile& profile_;
  Accel accel_;
  common::TemporaryDirectory scratch_;
  Milliseconds margin_{0};

  // The io_context outlives every I/O object below (declared first, destroyed last).
  asio::io_context io_;
  local::acceptor qmp_acceptor_{io_};
  local::acceptor data_acceptor_{io_};
  local::socket qmp_{io_};
  local::socket data_{io_};
  asio::posix::stream_descriptor console_{io_};
  asio::posix::stream_descriptor stderr_{io_};
  asio::posix::stream_descriptor pidfd_{io_};
  asio::steady_timer boot_timer_{io_}, step_timer_{io_}, run_timer_{io_}, shutdown_timer_{io_},
      silence_timer_{io_}, kill_timer_{io_}, drain_timer_{io_}, exit_poll_timer_{io_},
      stop_poll_timer_{io_};

  std::array<char, 65536> console_buf_{};
  std::array<char, 65536> data_buf_{};
  std::array<char, 4096> stderr_buf_{};
  std::array<char, 4096> qmp_buf_{};
  std::string data_line_;
  std::string qmp_line_;
  bool dropping_ = false;
  std::size_t dropped_length_ = 0;

  std::FILE* console_file_ = nullptr;
  std::uint64_t console_written_ = 0;

  pid_t pid_ = -1;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_activity_ = Clock::now();
  bool console_open_ = true, stderr_open_ = true, data_open_ = false;
  bool qmp_connected_ = false, qmp_greeted_ = false, quit_pending_ = false;
  bool stopping_ = false, reaped_ = false, finished_ = false;
  std::string infra_error_;
  GuestRun result_;
};

}  // namespace

void require_emulator(const MachineProfile& profile) {
  if (!common::find_executable(profile.qemu_binary))
    throw InfraError(fmt::format("{} not found: install the Debian package {} (ci/install-deps does)",
                                 profile.qemu_binary, profile.debian_package));
}

std::string emulator_version(const MachineProfile& profile) {
  static std::mutex mutex;
  static std::map<std::string, std::string> versions;
  std::lock_guard lock(mutex);
  if (auto it = versions.find(profile.qemu_binary); it != versions.end()) return it->second;
  require_emulator(profile);
  common::ProcessOptions options;
  options.timeout = std::chrono::seconds(10);
  auto result = common::run_process({profile.qemu_binary, "--version"}, options);
  if (!result.ok())
    throw InfraError(fmt::format("{} --version failed ({}): {}", profile.qemu_binary, result.describe(), result.output));
  std::string first = result.output.substr(0, result.output.find('\n'));
  versions[profile.qemu_binary] = first;
  return first;
}

GuestRun QemuBackend::run(const GuestSpec& spec, const GuestCallbacks& callbacks, const StopSignal& stop) {
  const auto& profile = profile_for(spec.arch);
  require_emulator(profile);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(spec.kernel, ec))
    throw common::UsageError(fmt::format("kernel image {} does not exist (or is not a file)", spec.kernel.string()));
  if (!std::filesystem::is_regular_file(spec.initrd, ec))
    throw InfraError(fmt::format("initrd {} does not exist", spec.initrd.string()));
  Accel accel = forced_accel_ ? *forced_accel_ : choose_accel(spec.arch).accel;
  if (stop.requested()) {  // asked to stop before this guest started: start nothing
    GuestRun run;
    run.end = EndReason::kStopped;
    run.end_detail = fmt::format("foliolab received {} before the guest started",
                                 common::signal_name(stop.signal()));
    run.accel = to_string(accel);
    run.machine_profile = profile.name;
    return run;
  }
  QemuSession session(spec, callbacks, stop, profile, accel);
  return session.run();
}

}  // namespace foliolab::vm
