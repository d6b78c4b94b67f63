// Implements resuming a run: rank 0 reads the checkpoint (its own file system's view: Note
// [Collective order] in comm/communicator.h) and every rank gets the bytes; a checkpoint of
// another model or dataset is refused before the run folder is touched; the position continues
// on this job's world size (Note [World-size-independent epochs] in data/sampler.h) and node
// layout (Note [Node shares]).
#include "common/check.h"
#include "common/log.h"
#include "model/state_dict_io.h"
#include "train/trainer_impl.h"

namespace nxt {
namespace trainer_detail {

// Every rank resumes from the same state whatever its own file system shows.
std::optional<Checkpoint> Trainer::read_checkpoint_on_rank0(const std::string& path,
                                                            bool missing_ok) {
  const Communicator::Rank0Phase rank0_phase(*comm_);  // a large file on a slow file system
  const auto bytes = read_file_on_rank0(path, missing_ok, *comm_, device_);
  if (!bytes) return std::nullopt;
  return parse_checkpoint(*bytes, path);
}

std::optional<ResumePoint> Trainer::read_resume_checkpoint(const std::string& resume) {
  if (resume.empty()) return std::nullopt;
  // auto: last.pt or a node's in-memory snapshot, the newer (Note [In-memory snapshots]).
  if (resume == "auto") return read_newest_state();
  std::optional<Checkpoint> checkpoint = read_checkpoint_on_rank0(resume, /*missing_ok=*/false);
  return ResumePoint{std::move(*checkpoint), resume};
}

// Before the run folder is touched: a refused checkpoint leaves its config.yaml and log as they
// were (the user may have pointed --resume at the wrong run).
void Trainer::refuse_foreign_checkpoint(const ResumePoint& resume) const {
  const Checkpoint* checkpoint = &resume.checkpoint;
  const std::string& path = resume.path;
  const std::string expected = model_signature(config_.model.arch, state_dict_of(*model_));
  NXT_CHECK(checkpoint->model_signature == expected, "checkpoint '", path,
            "' is of another model (", checkpoint->model_signature, "; this config builds ",
            expected, ")");
  NXT_CHECK(checkpoint->dataset_fingerprint == data_->dataset().fingerprint() &&
                checkpoint->classes == data_->dataset().classes(),
            "checkpoint '", path, "' was trained on another dataset (fingerprint ",
            checkpoint->dataset_fingerprint, ", this one is ", data_->dataset().fingerprint(), ")");
  NXT_CHECK(checkpoint->weights == CheckpointWeights::kRaw, "checkpoint '", path,
            "' holds the EMA of the weights (a best.pt picked by val_acc_ema or val_loss_ema), ",
            "not the weights the optimizer trained: resume from the run's last.pt");
}

void Trainer::resume_from(const ResumePoint& resume) {
  const Checkpoint* checkpoint = &resume.checkpoint;
  const std::string& path = resume.path;
  copy_state_into(*model_, checkpoint->model, path);
  load_optimizer_bytes(*optimizer_.optimizer, checkpoint->optimizer, path, device_);
  if (ema_ && checkpoint->ema) {
    ema_->load(checkpoint->ema->weights, checkpoint->ema->averaged, path);
  } else if (ema_) {
    ema_->reset();
    log::info() << "train.ema_decay: '" << path << "' holds no EMA (it was off, or an older "
                << "file); the EMA starts from the resumed weights";
  } else if (checkpoint->ema) {
    log::info() << "'" << path << "' holds an EMA of the weights; train.ema_decay is 0: dropped";
  }
  const TrainingPosition& saved = checkpoint->position;
  if (loss_scaler_.enabled() && saved.loss_scale > 0)
    loss_scaler_.restore({saved.loss_scale, saved.loss_scale_growth_tracker});
  else if (loss_scaler_.enabled())
    log::info() << "train.amp fp16: '" << path << "' holds no loss scale (another amp mode or "
                << "an older file); starting at " << loss_scaler_.scale();
  continue_position(saved, path);
  forget_best_of_other_weights(*checkpoint, path);
}

// The best_* figures are those of the weights the saved run's train.best_metric judged (raw or
// EMA). A resume that judges the other weights starts the best over instead of comparing the
// EMA's figures with the raw weights' (or the reverse); patience counts from the resume.
void Trainer::forget_best_of_other_weights(const Checkpoint& checkpoint, const std::string& path) {
  BestMetric saved_metric = BestMetric::kValAcc;  // checkpoints without a config: no EMA then
  try {
    saved_metric = parse_config(checkpoint.config_yaml, path + " (its config)").train.best_metric;
  } catch (const Error& e) {
    log::warn() << "cannot tell which weights the best figures in '" << path
                << "' are of; keeping them: " << e.what();
    return;
  }
  if (best_weights(saved_metric) == best_weights(config_.train.best_metric)) return;
  const TrainingPosition none;
  position_.best_val_acc = none.best_val_acc;
  position_.best_val_loss = none.best_val_loss;
  position_.best_epoch = position_.epoch - 1;
  log::warn() << "'" << path << "' picked best.pt by " << name_of(saved_metric, kBestMetricNames)
              << ", this run by " << name_of(config_.train.best_metric, kBestMetricNames)
              << " (other weights): the best starts over, and the next evaluation writes best.pt";
}

// Note [World-size-independent epochs] (data/sampler.h): the position is a count of global
// samples, so the rest of the epoch is re-sharded over however many ranks this job has.
void Trainer::continue_position(const TrainingPosition& saved, const std::string& path) {
  position_ = saved;
  const int64_t batch = global_batch();
  if (saved.world_size == 0) {  // an older checkpoint: written by a job of this size
    position_.world_size = place_.world_size;
    position_.samples_in_epoch = saved.step_in_epoch * batch;
  }
  position_.step_in_epoch = position_.samples_in_epoch / batch;
  if (is_rank0())  // the epoch's totals so far are global: one rank carries them
    epoch_totals_ =
        MetricTotals::from_loss_sum(position_.loss_sum, position_.correct, position_.seen);
  const int64_t n = data_->train().size();
  log::info() << "resumed from " << path << ": epoch " << position_.epoch + 1 << ", step "
              << position_.step_in_epoch << "/" << data_->steps_per_epoch() << " (sample "
              << std::min(position_.samples_in_epoch, n) << " of " << n << "), best val acc "
              << position_.best_val_acc;
  if (position_.samples_in_epoch > 0) {
    const NodeLayout recorded{static_cast<int>(saved.sequence_nodes),
                              static_cast<int>(saved.sequence_ranks_per_node)};
    resumed_layout_ = recorded;
    const auto text = [](NodeLayout layout) {
      return layout.nodes == 0 ? std::string("shard_by rank")
                               : "shard_by node, " + std::to_string(layout.nodes) + " node(s) x " +
                                     std::to_string(layout.ranks_per_node) + " rank(s)";
    };
    const bool copies = !config_.data.node_copy_dir().empty();
    if (recorded.nodes != data_->layout().nodes ||
        recorded.ranks_per_node != data_->layout().ranks_per_node)
      log::info() << "node layout changed: epoch " << position_.epoch + 1 << " was dealt for "
                  << text(recorded) << ", this job is " << text(data_->layout())
                  << ": the rest of that epoch's sequence (built for the recorded layout) is "
                  << "strided over " << place_.world_size << " rank(s), each position once; "
                  << (copies ? "the node copies hold this job's shares, so part of it is read "
                               "from the file; "
                             : "")
                  << "epoch " << position_.epoch + 2 << " is dealt for this job";
  }
  if (position_.world_size != place_.world_size) {
    const double old_lr = scaled_lr(config_.optim, saved.global_batch);
    log::info() << "world size changed: " << position_.world_size << " -> " << place_.world_size
                << " rank(s), global batch " << saved.global_batch << " -> " << batch
                << "; the rest of epoch " << position_.epoch + 1 << " (samples "
                << position_.samples_in_epoch << ".." << n << ") is re-sharded over "
                << place_.world_size << " rank(s); lr rule optim.scale_lr="
                << name_of(config_.optim.scale_lr, kLrScalingNames) << ": base lr " << old_lr
                << " -> " << schedule_->base_lr() << "; the schedule follows epochs, not steps";
  }
}

}  // namespace trainer_detail
}  // namespace nxt
