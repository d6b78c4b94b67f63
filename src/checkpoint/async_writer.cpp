// Implements the background checkpoint writer (Note [Background checkpoints]).
#include "checkpoint/async_writer.h"

#include <exception>
#include <utility>

#include "common/check.h"
#include "common/log.h"

namespace nxt {
namespace {

// The optimizer archive, then one serialisation for every file; `*current` names the file
// being written, for the error of a failed write.
void write_snapshot(CheckpointSnapshot& snapshot, const std::vector<std::string>& paths,
                    std::string* current) {
  snapshot.checkpoint.optimizer = snapshot.optimizer.bytes();
  const std::vector<char> bytes = checkpoint_bytes(snapshot.checkpoint);
  for (const std::string& path : paths) {
    *current = path;
    write_checkpoint_file(bytes, path);
  }
}

}  // namespace

CheckpointSnapshot snapshot_checkpoint(Checkpoint checkpoint,
                                       torch::optim::Optimizer& optimizer) {
  for (auto& entry : checkpoint.model) {
    torch::Tensor& tensor = entry.second;
    if (tensor.storage().use_count() > 1) tensor = tensor.clone();
  }
  return CheckpointSnapshot{std::move(checkpoint), OptimizerSnapshot(optimizer)};
}

CheckpointWriter::~CheckpointWriter() {
  try {
    wait();
  } catch (const std::exception& e) {
    log::error() << e.what();
  }
}

void CheckpointWriter::write(CheckpointSnapshot snapshot, std::vector<std::string> paths,
                             When when) {
  NXT_CHECK(!paths.empty(), "CheckpointWriter::write: no file to write");
  if (when == When::kNow) {
    try {
      wait();
    } catch (const std::exception& e) {
      log::error() << e.what() << "; writing this checkpoint anyway";
    }
    std::string current = paths.front();
    write_snapshot(snapshot, paths, &current);  // errors name the file already
    return;
  }
  wait();
  finished_ = false;
  thread_ = std::thread([this, snapshot = std::move(snapshot), paths = std::move(paths)]() mutable {
    std::string current = paths.front();
    try {
      write_snapshot(snapshot, paths, &current);
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
