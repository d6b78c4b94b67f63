// Implements the end of an epoch on every rank: rank 0's BatchNorm statistics broadcast, the
// val evaluation (and the EMA's), the best model, the notebook line, metrics.csv and TensorBoard,
// checkpoints (best.pt, last.pt; Note [Background checkpoints] in checkpoint/async_writer.h).
#include "common/log.h"
#include "eval/totals.h"
#include "model/state_dict_io.h"
#include "train/memory_stats.h"
#include "train/progress.h"
#include "train/trainer_impl.h"

namespace nxt {
namespace trainer_detail {

bool Trainer::improves_best(const MetricTotals& val) const {
  const BestMetric metric = config_.train.best_metric;
  if (metric == BestMetric::kValLoss || metric == BestMetric::kValLossEma)
    return val.mean_loss() < position_.best_val_loss;
  return val.accuracy() > position_.best_val_acc;
}

MetricTotals Trainer::evaluate_split(const ImageReader& reader, EvalDetails* details) {
  // As DDP does: every replica evaluates with rank 0's running statistics, which are also the
  // ones checkpointed, so both eval modes and a reloaded best.pt see the same model.
  if (!buffers_.empty()) broadcast_from_rank0(buffers_, *comm_);
  // eval.mode rank0: the others wait in evaluate()'s final all-reduce (Note [Watchdog]).
  const Communicator::Rank0Phase rank0_phase(*comm_);
  faults_.before_evaluation();
  EvalSetup eval;
  eval.reader = &reader;
  eval.loader = data_->loader_options();
  eval.normalize = &data_->normalizer();
  eval.channels_last = config_.train.channels_last;
  eval.bf16_autocast = autocast_bf16_;
  eval.tta = config_.eval.tta;
  const MetricTotals val = evaluate(model_, eval, *comm_, config_.eval.mode, details);
  set_training_mode();
  return val;
}

// Every rank evaluates (its share, or waits for rank 0's): the same collectives on every rank.
MetricTotals Trainer::evaluate_ema_val() {
  broadcast_from_rank0(ema_->buffers(), *comm_);
  const WeightEma::InModel in_model(*ema_);
  return evaluate_val();
}

void Trainer::finish_epoch(int64_t epoch, const MetricTotals& train, int64_t trained,
                           double seconds) {
  const MetricTotals val = evaluate_val();
  const std::optional<MetricTotals> ema_val =
      ema_ ? std::optional<MetricTotals>(evaluate_ema_val()) : std::nullopt;
  // The schedule's rate at the epoch's end: what its last step used, also when that step ran
  // before a resume (a stop on an epoch's last step).
  lr_ = schedule_->at(epoch, 1.0);
  EpochRecord record;
  record.epoch = epoch + 1;
  record.train_acc = train.accuracy();
  record.train_loss = train.mean_loss();
  record.val_acc = val.accuracy();
  record.val_loss = val.mean_loss();
  record.lr = lr_;
  record.seconds = seconds;
  record.images_per_second = seconds > 0 ? trained / seconds : 0;
  if (reports_top5(static_cast<int64_t>(data_->dataset().classes().size())))
    record.val_top5 = val.top5_accuracy();  // Note [top-5 with few classes]
  if (ema_val) record.ema = EpochRecord::Ema{ema_val->accuracy(), ema_val->mean_loss()};
  // The figures of the weights best.pt would hold (config validation: *_ema has an EMA).
  const CheckpointWeights best_kind = best_weights(config_.train.best_metric);
  const MetricTotals& judged = best_kind == CheckpointWeights::kEma ? *ema_val : val;
  const bool improved = improves_best(judged);
  if (improved) {
    position_.best_val_acc = judged.accuracy();
    position_.best_val_loss = judged.mean_loss();
    position_.best_epoch = epoch;
  }
  position_.epoch = epoch + 1;
  position_.step_in_epoch = 0;
  position_.samples_in_epoch = 0;
  epoch_totals_ = {};
  const Communicator::Rank0Phase rank0_phase(*comm_);  // the others wait in the barrier below
  if (is_rank0()) {
    log::info() << notebook_line(record);
    log::info() << time_split_text(step_timer_->seconds()) << "; "
                << StepMetrics::host_reads() - host_reads_at_epoch_start_
                << " metric read(s) (host syncs) in " << epoch_steps_ << " step(s); rank 0 "
                << peak_memory_text(device_);
    reports_->on_epoch(record, position_.global_step);  // before last.pt: its epoch's row
    std::vector<CheckpointFile> files{{run_file("last.pt")}};
    if (improved) files.insert(files.begin(), {run_file("best.pt"), best_kind});
    last_checkpoint_time_ = Clock::now();
    checkpoint_writer_.write(checkpoint_now(), files, CheckpointWriter::When::kBackground);
  }
  comm_->barrier();
}

// A host-memory copy of the state; the optimizer's archive is made by the writer.
CheckpointSnapshot Trainer::checkpoint_now() {
  Checkpoint c;
  c.model = state_dict_of(*model_);
  if (ema_) c.ema = EmaState{ema_->state_dict(), ema_->averaged()};
  c.position = position_;
  c.position.world_size = place_.world_size;
  c.position.global_batch = global_batch();
  const LossScalerState scaler = loss_scaler_.state();  // scale 0 (none) unless fp16
  c.position.loss_scale = loss_scaler_.enabled() ? scaler.scale : 0;
  c.position.loss_scale_growth_tracker = scaler.growth_tracker;
  c.config_yaml = to_yaml(config_);
  c.classes = data_->dataset().classes();
  c.dataset_fingerprint = data_->dataset().fingerprint();
  c.model_signature = model_signature(config_.model.arch, c.model);
  c.preprocess = data_->preprocess();
  return snapshot_checkpoint(std::move(c), *optimizer_.optimizer);
}

CheckpointSnapshot Trainer::mid_epoch_checkpoint(const MetricTotals& summed) {
  CheckpointSnapshot snapshot = checkpoint_now();
  TrainingPosition& position = snapshot.checkpoint.position;
  position.loss_sum = summed.loss_sum();
  position.correct = summed.correct;
  position.seen = summed.seen;
  return snapshot;
}

// Mid-epoch: the epoch's totals so far are summed over ranks into rank 0's checkpoint.
void Trainer::save_last(bool before_exit) {
  const Communicator::Rank0Phase rank0_phase(*comm_);  // a stop's checkpoint: the barrier below
  const MetricTotals totals = epoch_totals_.summed_over_ranks(*comm_);
  if (is_rank0() && !before_exit && checkpoint_writer_.busy()) {
    log::warn() << "step " << position_.global_step << ": the previous checkpoint is still being "
                << "written; this one is skipped (Note [Background checkpoints])";
  } else if (is_rank0()) {
    last_checkpoint_time_ = Clock::now();
    checkpoint_writer_.write(
        mid_epoch_checkpoint(totals), {run_file("last.pt")},
        before_exit ? CheckpointWriter::When::kNow : CheckpointWriter::When::kBackground);
  }
  if (before_exit) comm_->barrier();
}

}  // namespace trainer_detail
}  // namespace nxt
