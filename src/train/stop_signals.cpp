// Implements the async-signal-safe handlers (they only store to lock-free atomics, or _exit).
#include "train/stop_signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace nxt {
namespace {

std::atomic<int> requested_by{0};

void on_stop_signal(int signal) {
  if (signal == SIGINT && requested_by.load() == SIGINT) _exit(130);  // second Ctrl-C
  requested_by.store(signal);
}

}  // namespace

void install_stop_handlers(StopSignal extra_signal) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT, extra_signal == StopSignal::kUsr2 ? SIGUSR2 : SIGUSR1})
    sigaction(signal, &action, nullptr);
}

int stop_signal_number() {
  return requested_by.load();
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return "";
  }
}

}  // namespace nxt
