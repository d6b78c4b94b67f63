// Implements one epoch of training steps on every rank, the step top to bottom in
// train_epoch(): forward_backward (the reducer all-reduces gradient buckets during backward),
// agree_on_step (one small all-reduce of flags, so every rank takes the same branch),
// apply_update or skip_update, end_step, then the metric read when due, the step's report
// (train/run_reports.h), a checkpoint and an in-memory snapshot when due (Note [In-memory
// snapshots] in checkpoint/snapshots.h).
#include <chrono>
#include <cmath>

#include "comm/replicas.h"
#include "common/check.h"
#include "common/compat.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/phase_range.h"
#include "data/mix.h"
#include "data/resolution.h"
#include "train/grad_clip.h"
#include "train/memory_stats.h"
#include "train/stop_signals.h"
#include "train/trainer_impl.h"

namespace nxt {
namespace trainer_detail {

void Trainer::start_epoch(int64_t epoch) {
  set_backbone_frozen(epoch < config_.train.freeze_backbone_epochs);
  set_training_mode();
  step_timer_ = std::make_unique<StepTimer>(device_, device_wait_limit());
  step_metrics_ = std::make_unique<StepMetrics>(device_, device_wait_limit());
  steps_at_last_read_ = position_.global_step;
  epoch_steps_ = 0;
  host_reads_at_epoch_start_ = StepMetrics::host_reads();
  reset_peak_memory(device_);
}

// The training loop of one epoch, a step top to bottom.
int Trainer::train_epoch(int64_t epoch) {
  data_->update_node_copies(epoch, *comm_);
  start_epoch(epoch);
  const auto start = Clock::now();
  // The epoch's training size (Note [Training size schedule] in data/resolution.h), logged
  // when it changes and recorded in this epoch's checkpoints.
  const int64_t side = train_size_at(config_.data, epoch + 1);
  if (side != data_->preprocess().train_size)
    log::info() << "epoch " << epoch + 1 << ": training at " << side << " px";
  data_->preprocess().train_size = side;
  // The sequence of the layout the epoch was dealt for: a resumed epoch's recorded one, else
  // this job's (Note [Node shares] in data/sampler.h).
  const NodeLayout layout = resumed_layout_.value_or(data_->layout());
  resumed_layout_.reset();
  position_.sequence_nodes = layout.nodes;
  position_.sequence_ranks_per_node = layout.ranks_per_node;
  const LoaderOptions options = data_->epoch_options(epoch, layout);
  EpochLoader loader(data_->train(), options, epoch, position_.samples_in_epoch);
  EpochSpan span{position_.samples_in_epoch, 0, loader.steps() / config_.train.grad_accum,
                 loader.samples()};
  span.end = positions_consumed(span.start, span.samples, place_.world_size);
  reports_->start_epoch(epoch, position_.step_in_epoch + span.steps);
  for (int64_t step = 0; step < span.steps; ++step) {
    profiler_->before_step(position_.global_step + 1);  // run.profile_steps
    forward_backward(loader, epoch);  // gradients all-reduced in buckets during backward
    const StepFlags flags = agree_on_step();
    const double fraction = advance_position(step, span.steps, span);
    if (flags.nonfinite) {
      skip_update();
    } else {
      apply_update(epoch, fraction);
    }
    end_step();
    const int64_t done = position_.global_step;
    const bool checkpoint = flags.stop_signal != 0 || flags.checkpoint_due ||
                            due(done, config_.train.checkpoint_every_steps);
    const bool snapshot = flags.snapshot_due && flags.stop_signal == 0;  // a stop writes last.pt
    const bool record = due(done, log_every_);
    const bool read =
        checkpoint || snapshot || record || due(done, metrics_every_) || step + 1 == span.steps;
    if (read) read_metrics(epoch);
    reports_->on_step({epoch, done, position_.step_in_epoch, fraction, /*metrics_read=*/read,
                       /*record_due=*/record, last_loss_, lr_, step_timer_.get()},
                      *comm_);
    if (checkpoint) {
      const PhaseRange range("checkpoint");
      save_last(/*before_exit=*/flags.stop_signal != 0);
    }
    if (snapshot) {
      const PhaseRange range("snapshot");
      save_snapshot();
    }
    after_step_recorded();
    faults_.after_step_saved(done, [this] { checkpoint_writer_.wait(); });
    profiler_->after_step(done);
    if (flags.stop_signal != 0) {
      reports_->end_epoch_steps();
      return flags.stop_signal;
    }
  }
  reports_->end_epoch_steps();
  finish_epoch(epoch, epoch_totals_.summed_over_ranks(*comm_), span.end - span.start,
               std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

// grad_accum micro-batches; the reducer communicates during the last one's backward.
void Trainer::forward_backward(EpochLoader& loader, int64_t epoch) {
  const int64_t micro_batches = config_.train.grad_accum;
  step_metrics_->start_step();
  step_timer_->start_step();
  const int64_t step = position_.global_step + 1;
  faults_.at_step_start(step);
  for (int64_t micro = 0; micro < micro_batches; ++micro) {
    std::optional<Batch> batch;
    std::optional<DeviceBatch> input;
    {
      const PhaseRange range("data");
      faults_.before_batch_read();
      batch = loader.next();
      NXT_CHECK(batch, "epoch ", epoch + 1, ": the loader ran out of batches at step ",
                position_.step_in_epoch);
      trace_samples(epoch, *batch);
      input = to_device(*batch, data_->normalizer(), config_.train.channels_last);
    }
    step_timer_->end(StepTimer::kData);
    reducer_->set_sync(micro == micro_batches - 1);
    torch::Tensor logits, loss;
    {
      const PhaseRange range("forward");
      loss = training_loss(*input, *batch, epoch, &logits);
    }
    faults_.corrupt_loss(step, loss);
    {
      const PhaseRange range("backward");  // the buckets' all-reduce ranges nest inside
      loss_scaler_.scale_loss(loss / static_cast<double>(micro_batches)).backward();
    }
    step_metrics_->add(loss, logits, input->labels);
    faults_.after_backward();
    step_timer_->end(StepTimer::kCompute);
  }
  faults_.before_gradient_wait(step);
  {
    const PhaseRange range("all-reduce wait");
    reducer_->finish_backward();
  }
  step_timer_->end(StepTimer::kCommunication);
}

// The batch's mean loss: cross-entropy (class weights, label smoothing), or against the soft
// targets of mixup/cutmix, which are seeded by the batch's first global position so that a
// resumed run mixes the same way.
torch::Tensor Trainer::training_loss(const DeviceBatch& input, const Batch& batch, int64_t epoch,
                                     torch::Tensor* logits) {
  const compat::CudaAutocastGuard autocast(autocast_bf16_ || autocast_fp16_,
                                           autocast_fp16_ ? torch::kHalf : torch::kBFloat16);
  const DataConfig& data = config_.data;
  if (data.mixup_alpha > 0 || data.cutmix_alpha > 0) {
    const uint64_t seed =
        mix_seed({static_cast<uint64_t>(config_.run.seed), static_cast<uint64_t>(epoch),
                  static_cast<uint64_t>(batch.sample_positions.front()), 0x6d6978ULL});
    const MixedBatch mixed =
        mix_batch(input.images, input.labels, *config_.model.num_classes, data.mixup_alpha,
                  data.cutmix_alpha, config_.train.label_smoothing, seed);
    *logits = model_->forward(mixed.images).to(torch::kFloat);
    return soft_target_cross_entropy(*logits, mixed.targets, class_weights_);
  }
  auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
      config_.train.label_smoothing);
  if (class_weights_.defined()) options.weight(class_weights_);
  *logits = model_->forward(input.images).to(torch::kFloat);
  return torch::nn::functional::cross_entropy(*logits, input.labels, options);
}

// One small collective per step, so that every rank takes the same branch. With
// skip_nonfinite the step's loss is read now (metrics_every_ is 1) and a bad step is skipped
// before it reaches the weights; otherwise read_metrics() stops the run. Under fp16 loss
// scaling the all-reduced gradients are unscaled here and checked for inf/NaN; that flag is
// read off the device now (one host sync per step, as GradScaler.step() makes too) so that it
// travels in this same all-reduce, and every rank skips the same steps and keeps the same scale.
StepFlags Trainer::agree_on_step() {
  const torch::Tensor found_inf = loss_scaler_.unscale_and_check(model_->parameters());
  if (found_inf.defined())
    wait_for_device(device_, device_wait_limit(),
                    "the fp16 overflow flag (a host read of the GPU's value)");
  const bool grad_overflow = found_inf.defined() && found_inf.item<float>() != 0;
  const bool nonfinite =
      config_.train.skip_nonfinite && !std::isfinite(step_metrics_->step_loss_sum());
  const int64_t stop_request =
      faults_.stop_request(position_.global_step + 1, stop_signal_number());
  const double every_minutes = config_.train.checkpoint_every_minutes;
  const bool checkpoint_due = is_rank0() && every_minutes > 0 &&
                              !checkpoint_writer_.busy() &&  // due once it is done
                              Clock::now() - last_checkpoint_time_ >=
                                  std::chrono::duration<double, std::ratio<60>>(every_minutes);
  const auto agreed = comm_->all_reduce_integers(
      {stop_request, nonfinite, checkpoint_due, grad_overflow, snapshot_due()}, ReduceOp::kMax);
  const StepFlags flags{static_cast<int>(agreed[0]), agreed[1] != 0, agreed[2] != 0, agreed[3] != 0,
                        agreed[4] != 0};
  // A rank that finished its step early waits here for the slowest one: that is communication
  // time, not the optimizer's (Note [Straggler report] in train/step_telemetry.h).
  step_timer_->end(StepTimer::kCommunication);
  if (loss_scaler_.enabled()) {
    const double scale = loss_scaler_.scale();
    skip_scaled_step_ = loss_scaler_.update(flags.grad_overflow);
    if (skip_scaled_step_)
      log::info() << "fp16: inf/NaN gradients at step " << position_.global_step + 1
                  << " (on at least one rank): step skipped, loss scale " << scale << " -> "
                  << loss_scaler_.scale();
  }
  return flags;
}

// The global samples done after step `step`, and the epoch's fraction done for the schedule
// (exactly 1 at its last step, so the run's last step gets the schedule's end value).
double Trainer::advance_position(int64_t step, int64_t steps, const EpochSpan& span) {
  const int64_t taken =
      std::min((step + 1) * config_.train.grad_accum * config_.data.batch_size, span.samples);
  position_.samples_in_epoch = positions_consumed(span.start, taken, place_.world_size);
  if (step + 1 == steps) return 1.0;
  return static_cast<double>(position_.samples_in_epoch) / static_cast<double>(span.end);
}

void Trainer::apply_update(int64_t epoch, double epoch_fraction) {
  lr_ = schedule_->at(epoch, epoch_fraction);
  if (skip_scaled_step_) {  // as GradScaler.step(): no update, the loss scale has backed off
    reducer_->zero_grad();
    return;
  }
  if (config_.train.clip_grad_norm > 0)  // on unscaled gradients (fp16: agree_on_step())
    clip_grad_norm_on_device(model_->parameters(), config_.train.clip_grad_norm);
  const PhaseRange range("optimizer");
  optimizer_.set_lr(lr_);
  optimizer_.optimizer->step();
  reducer_->zero_grad();
  step_metrics_->commit();
}

void Trainer::skip_update() {
  log::warn() << "skipping step " << position_.global_step + 1 << ": NaN or Inf loss";
  reducer_->zero_grad();
}

void Trainer::end_step() {
  ++position_.step_in_epoch;
  ++position_.global_step;
  ++epoch_steps_;
  // Also after a skipped step, which global_step counts (Note [EMA of the weights]).
  if (ema_) ema_->after_step(position_.global_step, position_.epoch);
  if (due(position_.global_step, config_.dist.check_replicas_every))
    check_replicas_identical(parameters_, *comm_, position_.global_step);
  step_timer_->end(StepTimer::kOptimizer);
}

void Trainer::read_metrics(int64_t epoch) {
  reducer_->wait_on_host();  // Note [Watchdog]: a stuck collective ends here, not in the read
  const StepMetrics::Read read = step_metrics_->read();  // the host sync
  step_timer_->collect();  // CUDA: the step intervals have completed by now (for the report)
  const bool any_nonfinite =
      comm_->all_reduce_integers({read.finite ? 0 : 1}, ReduceOp::kMax).front() != 0;
  if (any_nonfinite) {
    const int64_t steps = position_.global_step - steps_at_last_read_;
    const int64_t last = position_.step_in_epoch;
    const std::string where =
        steps <= 1 ? "step " + std::to_string(last)
                   : "steps " + std::to_string(last - steps + 1) + "-" + std::to_string(last);
    throw Error("the loss is NaN or Inf at epoch " + std::to_string(epoch + 1) + ", " + where +
                " on some rank; no checkpoint was written for it. Lower optim.lr, add warmup or "
                "clipping, or set train.skip_nonfinite: true");
  }
  if (read.totals.seen > 0) {
    epoch_totals_ += read.totals;
    last_loss_ = read.totals.mean_loss();
  }
  steps_at_last_read_ = position_.global_step;
}

void Trainer::trace_samples(int64_t epoch, const Batch& batch) {
  if (!sample_trace_.is_open()) return;
  for (size_t k = 0; k < batch.sample_indices.size(); ++k)
    sample_trace_ << epoch << " " << batch.sample_positions[k] << " " << batch.sample_indices[k]
                  << "\n";
  sample_trace_.flush();
}

}  // namespace trainer_detail
}  // namespace nxt
