#pragma once
// The one owner of SIGINT/SIGTERM while foliolab runs guests. A signal becomes a stop request
// (vm::StopSignal) that every running backend sees and that keeps any new guest from starting;
// the first one also interrupts child processes (a kernel build stops too). Used by
// `foliolab run`, `foliolab boot` and bisect; backends never install signal handlers.
#include <thread>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp forgets it under C++20
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#pragma GCC diagnostic pop

#include "vm/guest.h"

namespace foliolab::runner {

class SignalWatch {
 public:
  SignalWatch();
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  const vm::StopSignal& stop() const { return stop_; }
  int signal() const { return stop_.signal(); }  // the first signal; 0 when none
  bool stopped() const { return stop_.requested(); }
  // A stop asked for by foliolab itself (a caller's own reason, tests): guests stop and none
  // starts, as for a signal, but child processes are left to their owners.
  void request(int signo) { stop_.request(signo); }

 private:
  void wait();
  void on_signal(int signo);

  vm::StopSignal stop_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_, SIGINT, SIGTERM};
  std::thread thread_;
};

}  // namespace foliolab::runner
