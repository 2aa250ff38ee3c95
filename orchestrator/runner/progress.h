#pragma once
// What `foliolab run` shows while guests run. On a terminal: a live view redrawn about once a
// second (done/total, each running guest with arch, kernel, workload and elapsed time,
// failures so far, ETA), with one permanent line per finished job above it. Otherwise (a log
// file, CI): one plain log line per event. Safe to call from every worker thread.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "plan/plan.h"

namespace foliolab::runner {

class Progress {
 public:
  // `live`: draw the live view on stderr (only when stderr is a terminal).
  Progress(std::size_t total, int workers, bool live);
  ~Progress();  // stops the redraw and clears the live view
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void started(int worker, const plan::Job& job, int attempt);
  // outcome: "ok", "kernel-crash", ...; `stored` false for a run retried or discarded.
  void finished(int worker, const plan::Job& job, const std::string& outcome, const std::string& reason,
                double seconds, bool stored);
  void stop();  // idempotent

  static bool stderr_is_terminal();

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    std::string text;  // "x86_64 base collapse-full #2"
    Clock::time_point since;
  };
  void redraw_locked();
  void clear_locked();
  std::string eta_locked() const;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::size_t total_;
  int workers_;
  bool live_;
  bool stopping_ = false;
  std::size_t done_ = 0, failed_ = 0;
  double run_seconds_ = 0;  // sum over finished runs, for the ETA
  std::map<int, Running> running_;
  std::size_t drawn_lines_ = 0;
  Clock::time_point started_ = Clock::now();
  std::thread redraw_;
};

}  // namespace foliolab::runner
