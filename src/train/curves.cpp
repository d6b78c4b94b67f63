// Implements the background redraw with posix_spawn.
#include "train/curves.h"

#include <spawn.h>
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include "common/log.h"

extern char** environ;

namespace nxt {

CurvePlotter::CurvePlotter(std::string metrics_csv, std::string png)
    : csv_(std::move(metrics_csv)), png_(std::move(png)) {
  const char* python = std::getenv("NXT_PYTHON");
  python_ = python ? python : NXT_DEFAULT_PYTHON;
  const char* script = std::getenv("NXT_PLOT_SCRIPT");
  script_ = script ? script : NXT_PLOT_SCRIPT_PATH;
}

CurvePlotter::~CurvePlotter() {
  wait();
}

void CurvePlotter::redraw() {
  wait();
  if (!std::filesystem::exists(script_) || !std::filesystem::exists(python_)) {
    if (!warned_)
      log::warn() << "curves.png is not drawn: " << python_ << " or " << script_
                  << " is missing; training goes on";
    warned_ = true;
    return;
  }
  const char* argv[] = {python_.c_str(), script_.c_str(), csv_.c_str(), png_.c_str(), nullptr};
  // The stop signals are for the trainer: srun and a terminal's Ctrl-C signal every process of
  // the step or group, and a drawing killed half-way only costs a warning. So the child starts
  // with them blocked, in its own process group.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int signal : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) sigaddset(&stop_signals, signal);
  posix_spawnattr_setsigmask(&attributes, &stop_signals);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  if (posix_spawn(&running_, python_.c_str(), nullptr, &attributes, const_cast<char**>(argv),
                  environ) != 0)
    running_ = -1;
  posix_spawnattr_destroy(&attributes);
}

void CurvePlotter::wait() {
  if (running_ < 0) return;
  int status = 0;
  waitpid(running_, &status, 0);
  running_ = -1;
  if ((!WIFEXITED(status) || WEXITSTATUS(status) != 0) && !warned_) {
    log::warn() << "drawing curves.png failed (is python3-matplotlib installed?); training goes on";
    warned_ = true;
  }
}

}  // namespace nxt
