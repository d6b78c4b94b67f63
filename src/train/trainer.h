// The data-parallel training job of one rank (nxt_ddp without --summary): start-up (device and
// threads, dataset, model, communicator, reducer, optimizer, run folder, resume), the epoch
// loop with rank-0 evaluation and checkpoints, stop signals and faults. Returns the process
// exit status: 0 when done, kExitCheckpointed after a stop request.
#pragma once
#include <string>

#include "common/config.h"
#include "common/mpi_env.h"

namespace nxt {

// `resume`: "" (start fresh), "auto" (the run folder's last.pt if any) or a checkpoint path.
int run_training(const Config& config, const std::string& resume, const MpiSession& mpi);

// Evaluates a checkpoint's model on the val split (as training does) and prints
// "val_acc=... val_loss=..." on rank 0.
int evaluate_checkpoint(const Config& config, const std::string& checkpoint, const MpiSession& mpi);

}  // namespace nxt
