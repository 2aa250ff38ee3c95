#include "runner/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/units.h"

namespace foliolab::runner {
namespace {

std::string running_text(const plan::Job& job) {
  return fmt::format("{} {} {} #{}{}", config::to_string(job.arch), job.kernel ? job.kernel->name : "?",
                     job.workload ? job.workload->name : "?", job.repetition + 1,
                     job.settings.label.empty() ? "" : " [" + job.settings.label + "]");
}

void write_stderr(const std::string& text) {
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(STDERR_FILENO, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace

bool Progress::stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::size_t total, int workers, bool live) : total_(total), workers_(workers), live_(live) {
  if (live_) {
    redraw_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      while (!stopping_) {
        redraw_locked();
        wake_.wait_for(lock, std::chrono::seconds(1));
      }
    });
  }
}

Progress::~Progress() { stop(); }

void Progress::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    if (live_) clear_locked();
  }
  wake_.notify_all();
  if (redraw_.joinable()) redraw_.join();
}

void Progress::started(int worker, const plan::Job& job, int attempt) {
  std::lock_guard lock(mutex_);
  running_[worker] = {running_text(job), Clock::now()};
  if (!live_)
    spdlog::info("[{}/{}] start {} ({}){}", done_ + 1, total_, job.describe(), job.key.substr(0, 12),
                 attempt > 1 ? fmt::format(", attempt {}", attempt) : "");
}

void Progress::finished(int worker, const plan::Job& job, const std::string& outcome, const std::string& reason,
                        double seconds, bool stored) {
  std::lock_guard lock(mutex_);
  running_.erase(worker);
  if (stored) {
    ++done_;
    run_seconds_ += seconds;
    if (outcome != "ok" && outcome != "skipped") ++failed_;
  }
  std::string line = fmt::format("[{}/{}] {} {}: {}{}{}", done_, total_, stored ? "done" : outcome == "stopped" ? "stopped" : "retry", job.describe(),
                                 outcome, reason.empty() ? "" : " (" + reason + ")",
                                 fmt::format(", {}", common::format_seconds(seconds)));
  if (live_) {
    clear_locked();
    write_stderr(line + "\n");
    redraw_locked();
  } else if (outcome == "ok" || outcome == "skipped") {
    spdlog::info("{}", line);
  } else {
    spdlog::warn("{}", line);
  }
}

std::string Progress::eta_locked() const {
  if (done_ == 0) return "ETA unknown";
  double per_run = run_seconds_ / static_cast<double>(done_);
  double left = per_run * static_cast<double>(total_ - done_) / static_cast<double>(std::max(1, workers_));
  return "ETA " + common::format_seconds(left);
}

void Progress::clear_locked() {
  if (drawn_lines_ == 0) return;
  write_stderr(fmt::format("\033[{}A\033[J", drawn_lines_));
  drawn_lines_ = 0;
}

void Progress::redraw_locked() {
  if (!live_) return;
  clear_locked();
  auto now = Clock::now();
  double elapsed = std::chrono::duration<double>(now - started_).count();
  std::string view = fmt::format("foliolab run: {}/{} done, {} failed, {} running, {} elapsed, {}\n", done_, total_,
                                 failed_, running_.size(), common::format_seconds(elapsed), eta_locked());
  std::size_t lines = 1;
  for (const auto& [worker, r] : running_) {
    double s = std::chrono::duration<double>(now - r.since).count();
    view += fmt::format("  {:<60} {:>8.0f} s\n", r.text, s);
    ++lines;
  }
  write_stderr(view);
  drawn_lines_ = lines;
}

}  // namespace foliolab::runner
