// Implements the background checkpoint writer (Note [Background checkpoints]).
#include "checkpoint/async_writer.h"

#include <exception>
#include <map>
#include <utility>

#include "common/check.h"
#include "common/log.h"
#include "common/process_tuning.h"

namespace nxt {
namespace {

// The optimizer's archive into the checkpoint, its copy of the state released.
void make_optimizer_bytes(CheckpointSnapshot& snapshot) {
  snapshot.checkpoint.optimizer = snapshot.optimizer.bytes();
  snapshot.optimizer = OptimizerSnapshot();  // its copy of the state is in the bytes now
}

// The optimizer archive, then one serialisation per kind of weights for every file;
// `*current` names the file being written, for the error of a failed write.
void write_snapshot(CheckpointSnapshot& snapshot, const std::vector<CheckpointFile>& files,
                    std::string* current) {
  make_optimizer_bytes(snapshot);
  std::map<CheckpointWeights, std::vector<char>> bytes;
  for (const CheckpointFile& file : files)
    if (bytes.count(file.weights) == 0)
      bytes.emplace(file.weights, checkpoint_bytes(snapshot.checkpoint, file.weights));
  snapshot = CheckpointSnapshot();  // the bytes hold everything: at most one copy stays
  // A file with the bytes of one already written becomes a second name of it: an epoch that
  // improves writes best.pt, then last.pt as a link (Note [Background checkpoints]).
  std::map<CheckpointWeights, std::string> written;
  for (const CheckpointFile& file : files) {
    *current = file.path;
    const auto same = written.find(file.weights);
    if (same != written.end() && link_checkpoint_file(same->second, file.path)) continue;
    write_checkpoint_file(bytes.at(file.weights), file.path);
    written.emplace(file.weights, file.path);
  }
}

void copy_if_shared(StateDict& state) {
  for (auto& entry : state) {
    torch::Tensor& tensor = entry.second;
    if (tensor.storage().use_count() > 1) tensor = tensor.clone();
  }
}

}  // namespace

CheckpointSnapshot snapshot_checkpoint(Checkpoint checkpoint, torch::optim::Optimizer& optimizer) {
  copy_if_shared(checkpoint.model);
  if (checkpoint.ema) copy_if_shared(checkpoint.ema->weights);
  return CheckpointSnapshot{std::move(checkpoint), OptimizerSnapshot(optimizer)};
}

CheckpointWriter::~CheckpointWriter() {
  try {
    wait();
  } catch (const std::exception& e) {
    log::error() << e.what();
  }
}

void CheckpointWriter::write(CheckpointSnapshot snapshot, std::vector<CheckpointFile> files,
                             When when) {
  NXT_CHECK(!files.empty(), "CheckpointWriter::write: no file to write");
  std::string first = files.front().path;
  run(
      std::move(first),
      [snapshot = std::move(snapshot), files = std::move(files)](std::string* current) mutable {
        write_snapshot(snapshot, files, current);
      },
      when);
}

void CheckpointWriter::write(CheckpointSnapshot snapshot, std::string what, Publisher publish,
                             When when) {
  run(
      std::move(what),
      [snapshot = std::move(snapshot), publish = std::move(publish)](std::string*) mutable {
        make_optimizer_bytes(snapshot);
        const std::vector<char> bytes = checkpoint_bytes(snapshot.checkpoint);
        snapshot = CheckpointSnapshot();  // the bytes hold everything
        publish(bytes);
      },
      when);
}

void CheckpointWriter::run(std::string first, Job job, When when) {
  if (when == When::kNow) {
    try {
      wait();
    } catch (const std::exception& e) {
      log::error() << e.what() << "; writing this checkpoint anyway";
    }
    job(&first);  // errors name the file already
    return;
  }
  wait();
  finished_ = false;
  thread_ = std::thread([this, first = std::move(first), job = std::move(job)]() mutable {
    // Note [Background work at idle priority] in common/process_tuning.h.
    if (const std::string refused = run_this_thread_at_lowest_priority(); !refused.empty())
      log::warn() << "checkpoint writer: " << refused << "; it competes with training for cores";
    std::string current = first;
    try {
      job(&current);
    } catch (const std::exception& e) {
      error_ = "the background write of checkpoint '" + current + "' failed: " + e.what();
    } catch (...) {
      error_ = "the background write of checkpoint '" + current + "' failed (unknown error)";
    }
    finished_ = true;
  });
}

void CheckpointWriter::wait() {
  if (thread_.joinable()) thread_.join();  // join() orders error_'s write before the read
  if (error_.empty()) return;
  const std::string message = std::exchange(error_, std::string());
  throw Error(message);
}

}  // namespace nxt
