// Checkpoints written on a background thread (Note [Background checkpoints]): a snapshot of the
// training state in host memory, and the writer that serialises and publishes it.
//
// Note [Background checkpoints]
// Writing a checkpoint (pickling, writing, fsync; seconds for ResNeXt-50 on a shared file
// system) used to stall the whole job: rank 0 wrote while every other rank waited in a barrier.
// Now rank 0 only copies the state to host memory on the training thread (the model's state
// dict and the optimizer's state as CPU tensors, the position), and a thread of its own
// serialises and writes it while training goes on, at the lowest priority (Note [Background
// work at idle priority] in common/process_tuning.h). The rules:
// - One write at a time, in order: the next checkpoint waits for the previous write first, so
//   an older snapshot can never overwrite a newer file.
// - Files of one write with the same bytes (best.pt and last.pt of an improving epoch) are
//   written once: the second is a hard link to the first (publish_as_link in common/fs.h), which
//   halves the epoch's checkpoint I/O; a later atomic write of either renames a new file over
//   its name and leaves the other whole. Where links are refused, the bytes are written again.
// - Each file is still published atomically (temp file, fsync, rename: write_file_atomic), so a
//   kill during the background write leaves the previous checkpoint whole.
// - A failed write is not lost: its error is rethrown on the training thread at the next wait
//   point (the next checkpoint, the read of best.pt for the test split, the end of the run),
//   naming the file, and the job fails there as it would have at the write.
// - A background checkpoint that comes due while the previous write still runs is skipped on
//   rank 0 (with a warning), not waited for: the other ranks have gone on to the next step's
//   collectives under dist.timeout_s, and a write slower than that (Lustre under load) would
//   let their watchdogs end the job. Only rank 0 decides this, and it changes no collective.
//   The end of an epoch waits instead (best.pt must not be lost; the others wait in a barrier,
//   in a rank-0 phase: Note [Watchdog] in comm/communicator.h).
// - A stop signal's checkpoint is written even when the previous background write failed (its
//   error is logged): a preempted job must leave a last.pt to requeue from.
// - A stop signal's checkpoint is written before the process exits (kNow), and the other ranks
//   wait for it in a barrier: the first rank to exit with 75 makes mpirun end the job, which
//   would kill rank 0 mid-write. Other checkpoints need no barrier: rank 0 alone writes and
//   reads the run folder (Note [Collective order] in comm/communicator.h), and it waits for its
//   own writes.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace nxt {

// A checkpoint as training stood at one step, in host memory that later steps do not change.
struct CheckpointSnapshot {
  Checkpoint checkpoint;  // its `optimizer` bytes are left empty: the writer makes them
  OptimizerSnapshot optimizer;
};

// Makes `checkpoint` (optimizer bytes empty) and `optimizer`'s state into a snapshot. Model
// tensors (and the EMA's) that share memory with something else (state_dict_of() of a CPU model
// returns the live parameters) are copied; those already copies (off a GPU) are kept.
CheckpointSnapshot snapshot_checkpoint(Checkpoint checkpoint, torch::optim::Optimizer& optimizer);

// One file of a write: where, and which weights go under its "model" (checkpoint_bytes()).
struct CheckpointFile {
  CheckpointFile(std::string path, CheckpointWeights weights = CheckpointWeights::kRaw)
      : path(std::move(path)), weights(weights) {}
  std::string path;
  CheckpointWeights weights;
};

// Writes snapshots one at a time, each to one or more files. Used by one thread (rank 0's
// training thread); the write itself runs on a thread of the writer's.
class CheckpointWriter {
 public:
  enum class When {
    kBackground,  // returns once the write has started on the writer's thread
    kNow,         // returns once every file is published (a stop signal's checkpoint)
  };

  CheckpointWriter() = default;
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;
  // Waits for a write in progress, so that it is not cut short; its error, if any, is logged
  // (a destructor runs while another error unwinds, and cannot throw).
  ~CheckpointWriter();

  // Waits for the previous write (rethrowing its error), then serialises `snapshot` once per
  // kind of weights and publishes it to each of `files` in order, each atomically.
  void write(CheckpointSnapshot snapshot, std::vector<CheckpointFile> files, When when);
  // The same with the bytes of the raw weights handed to `publish` instead of written to files
  // (the in-memory snapshots' own rules: checkpoint/snapshots.h); `what` names it in errors.
  using Publisher = std::function<void(const std::vector<char>& bytes)>;
  void write(CheckpointSnapshot snapshot, std::string what, Publisher publish, When when);
  // Returns once no write is in progress. A background write's error is thrown here (an Error
  // naming the file), once.
  void wait();
  // True while a background write is still running.
  bool busy() const { return thread_.joinable() && !finished_; }

 private:
  // Runs `job` now (kNow) or on the writer's thread; `*current` names what it writes.
  using Job = std::function<void(std::string* current)>;
  void run(std::string first, Job job, When when);

  std::thread thread_;
  std::atomic<bool> finished_{true};
  std::string error_;  // the failed background write's message; empty: none
};

}  // namespace nxt
