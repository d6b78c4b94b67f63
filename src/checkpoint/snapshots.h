// In-memory snapshots of the training state on every node (Note [In-memory snapshots]): the
// store of one node's snapshots of one run, written in the background, and read back, digest
// checked, when a job step resumes.
//
// Note [In-memory snapshots]
// Data-parallel replicas are identical, so every node holds the whole training state, and nxt
// resumes exactly on any world size (Note [World-size-independent epochs] in data/sampler.h).
// So every train.snapshot_every_steps the first rank of each node (its leader) copies the state
// (the checkpoint last.pt would hold at that step: model, optimizer, EMA, loss scale, position)
// to host memory on the training thread and writes it, off the step path, into node-local
// memory: train.snapshot_dir (/dev/shm) / nxt-snapshots-<uid> / <run> / <host>, folders of the
// job's user only (0700, files 0600). When a node is lost, the job step is started again on the
// survivors (cluster/train.sbatch, launch/nxt_mpirun --restarts) and continues from the newest
// state any node still holds, instead of a requeue and last.pt (up to
// train.checkpoint_every_minutes old). The rules:
// - A snapshot is a checkpoint file (torch.load reads it) named step-<global step>-<digest>.pt,
//   the digest a 64-bit FNV-1a over its bytes in 8-byte words. It is written under a temp name
//   and renamed, and only then are older ones removed: a kill mid-write leaves the previous one.
// - The room is checked first (common/folder_space.h: on a tmpfs the memory the job may still
//   take, with a tenth to spare); a snapshot that does not fit, or whose
//   write fails, is skipped with a warning and training goes on: snapshots are a protection,
//   not an output. One write at a time: a snapshot that comes due while the previous one is
//   still being written is skipped on that node (Note [Background checkpoints] in
//   checkpoint/async_writer.h).
// - Each leader also records, every step, the last step its node finished (the file `reached`,
//   rewritten in place): after a failure the survivors' largest is where the job had got to,
//   and its time when, which the recovery report turns into steps and seconds lost.
// - At a --resume auto start every rank takes part in choosing the state (train/resume.cpp):
//   each leader reads its newest snapshot whose digest matches (a damaged one is named and
//   passed over), rank 0 reads last.pt, the newest step wins (ties: the lowest rank, so rank 0's
//   own state when it has it), and its holder broadcasts the bytes to every rank.
// - BatchNorm's running statistics are each rank's own (as in DDP without SyncBatchNorm), so a
//   snapshot holds its leader's; a resume from another node's snapshot than rank 0's takes that
//   node's statistics, as resuming from a last.pt written by that rank would.
// - The folder is removed when the run ends (0, or 75 after last.pt was written at the same
//   step), and cluster/train.sbatch removes it on every node when the allocation ends. It
//   outlives a job step, so a step started again in the same allocation finds it.
// It does not protect against losing every node at once, a failure before the first snapshot
// (last.pt then), or the loss of rank 0's shared file system (docs/cluster.md, "Lost nodes").
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/async_writer.h"

namespace nxt {

// One snapshot file as found on this node.
struct StoredSnapshot {
  int64_t step = 0;         // the global step it was taken after
  std::string path;         // its file
  std::vector<char> bytes;  // the checkpoint's bytes, digest checked
};

// The last step a node finished, and when (wall clock, seconds since the epoch).
struct ReachedStep {
  int64_t step = 0;  // 0: no record
  double unix_seconds = 0;
};

// 64-bit FNV-1a over the bytes in 8-byte little-endian words (a tail byte by byte): fast enough
// for a few hundred MB off the step path, and what snapshot names carry, in 16 hex digits.
uint64_t snapshot_digest(const char* data, size_t size);

class SnapshotStore {
 public:
  // The folder of `run_key`'s snapshots on host `host` under `root` (train.snapshot_dir), for
  // this user: root/nxt-snapshots-<uid>/<run_key>/<host> (the host too: a snapshot_dir that
  // nodes share by mistake never has two nodes' snapshots in one folder). Creates nothing.
  static std::string folder_for(const std::string& root, const std::string& run_key,
                                const std::string& host);

  // Creates the folder and the two above it (0700) when missing; throws nxt::Error naming the
  // folder when it cannot, or when one of them is not this user's.
  explicit SnapshotStore(std::string folder);
  ~SnapshotStore();
  SnapshotStore(const SnapshotStore&) = delete;
  SnapshotStore& operator=(const SnapshotStore&) = delete;

  const std::string& folder() const { return folder_; }

  // Writes `snapshot` (taken after global step `step`) in the background: serialised, room
  // checked, published, older ones removed; a failure is logged as a warning. Returns false,
  // writing nothing, while the previous write is still running.
  bool save(CheckpointSnapshot snapshot, int64_t step);
  // True while a write is still running (save() would refuse).
  bool busy() const { return writer_.busy(); }
  // How long the last finished write took, from save() to its publication (0: none yet).
  double last_write_seconds() const { return last_write_seconds_; }
  // Returns once no write is in progress (a failed one was logged).
  void wait();

  // The newest snapshot here whose bytes match its digest; each one passed over (damaged,
  // unreadable) is appended to `skipped` as a sentence naming its file.
  std::optional<StoredSnapshot> newest(std::vector<std::string>* skipped) const;

  // Records that this node finished global step `step` (a few bytes rewritten in place); a
  // failure is logged once, not thrown.
  void mark_reached(int64_t step);
  ReachedStep reached() const;

  // Removes the folder and everything in it, and the two above it when empty (the run ended);
  // errors are logged, not thrown.
  void remove_all();

 private:
  void publish(const std::vector<char>& bytes, int64_t step);
  // Removes the temp files of snapshot writers that no longer run (a killed job step), which
  // would otherwise count against the room of every later snapshot.
  void remove_dead_writers_temps() const;

  std::string folder_;
  CheckpointWriter writer_;
  int reached_fd_ = -1;
  bool logged_first_ = false;
  std::atomic<double> last_write_seconds_{0};  // set on the writer's thread
  bool reached_failed_ = false;  // mark_reached's failure was logged  // the first snapshot's size
                                 // and times are logged (its cost)
  std::chrono::steady_clock::time_point save_start_;
};

}  // namespace nxt
