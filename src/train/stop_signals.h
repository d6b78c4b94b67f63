// Stop requests by signal: SIGTERM, SIGINT and the configured SIGUSR1/SIGUSR2 (what Slurm sends
// before a preemption or time limit) set a flag that the trainer checks at each step boundary,
// where all ranks agree, checkpoint and exit with kExitCheckpointed. A second SIGINT exits at
// once.
#pragma once
#include "common/config.h"

namespace nxt {

// The exit status meaning "checkpointed after a stop request: resume me" (EX_TEMPFAIL).
inline constexpr int kExitCheckpointed = 75;

void install_stop_handlers(StopSignal extra_signal);  // besides SIGTERM and SIGINT
int stop_signal_number();                             // the signal that asked, or 0
const char* signal_name(int signal);

}  // namespace nxt
