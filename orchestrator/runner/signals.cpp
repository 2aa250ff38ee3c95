#include "runner/signals.h"

#include <spdlog/spdlog.h>

#include <csignal>

#include "common/process.h"

namespace foliolab::runner {

SignalWatch::SignalWatch() {
  wait();
  thread_ = std::thread([this] { io_.run(); });
}

SignalWatch::~SignalWatch() {
  boost::asio::post(io_, [this] { signals_.cancel(); });
  thread_.join();
}

void SignalWatch::wait() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    on_signal(signo);
    wait();
  });
}

void SignalWatch::on_signal(int signo) {
  bool first = !stop_.requested();
  stop_.request(signo);
  if (first) {
    spdlog::warn("{}: stopping the running guests; no new job starts", common::signal_name(signo));
    common::interrupt_children(signo);
  }
}

}  // namespace foliolab::runner
