// The trainer of one rank, private to src/train: a Trainer object whose methods are the phases
// of the job, defined by concern in
//   trainer.cpp    the run's lifecycle: compute, communicator, model, optimizer, run folder,
//                  the epoch loop, the end of the run (test split, summary);
//   step_loop.cpp  one epoch of steps, the step top to bottom and the metric reads;
//   epoch_end.cpp  the end of an epoch: evaluation, the best model, checkpoints;
//   resume.cpp     reading a checkpoint back and continuing from its position;
//   recovery.cpp   in-memory snapshots on every node, the newest state at a --resume auto
//                  start, and the report of a recovery (Note [In-memory snapshots]);
// with the data (readers, node layout, node copies) in train/training_data.h and the reports
// (metrics.csv, curves.png, train_log.jsonl, TensorBoard, the straggler report, the progress
// display), fed once per step and once per epoch, in train/run_reports.h. Which rank decides
// what, and why every rank calls the same collectives in the same order: Note [Collective
// order] in comm/communicator.h.
#pragma once
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/async_writer.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/snapshots.h"
#include "comm/communicator.h"
#include "comm/device_wait.h"
#include "comm/placement.h"
#include "comm/reducer.h"
#include "comm/replicas.h"
#include "common/config.h"
#include "common/fault_injector.h"
#include "common/mpi_env.h"
#include "data/loader.h"
#include "eval/evaluate.h"
#include "eval/forward.h"
#include "model/resnext.h"
#include "train/ema.h"
#include "train/loss_scaler.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/run_reports.h"
#include "train/step_profiler.h"
#include "train/step_timer.h"
#include "train/training_data.h"

namespace nxt {
namespace trainer_detail {

using Clock = std::chrono::steady_clock;

// What every rank must agree on after backward, before the update (Note [Collective order]):
// a stop request on any rank (a signal, or the NXT_STOP_AT_STEP hook), a NaN/Inf step loss
// on any rank (train.skip_nonfinite), and rank 0's train.checkpoint_every_minutes clock (a
// checkpoint sums the epoch's totals over ranks, so every rank must take it), and an inf/NaN
// gradient under fp16 loss scaling on any rank (every rank skips that step and backs off).
struct StepFlags {
  int stop_signal = 0;  // 0: none
  bool nonfinite = false;
  bool checkpoint_due = false;
  bool grad_overflow = false;
  bool snapshot_due = false;  // rank 0's train.snapshot_every_steps (auto: its timing)
};

// Where an epoch runs, in global sample positions (Note [World-size-independent epochs]).
struct EpochSpan {
  int64_t start = 0;    // positions done before this job's first step of the epoch
  int64_t end = 0;      // positions done when its last step ends
  int64_t steps = 0;    // optimizer steps this job takes in the epoch (the same on every rank)
  int64_t samples = 0;  // this rank's samples from start to end
};

struct ResumePoint {
  Checkpoint checkpoint;
  std::string path;
};

// What a start after a failure found (Note [In-memory snapshots]): reported once, at its first
// step (rank 0).
struct RecoveryFacts {
  int64_t resumed_step = 0;        // the global step of the state it continues from
  std::string source;              // that state's file, "host:path" for a snapshot
  int64_t reached_step = 0;        // the largest step the surviving nodes had finished
  double failed_unix_seconds = 0;  // when the last of them finished it (wall clock)
  std::string lost_nodes;          // NXT_LOST_NODES, from the launcher that started this step again
  int64_t restart = 0;  // NXT_RESTART: the how-manieth start of the job step (0: unknown)
};

inline bool due(int64_t step, int64_t every) {
  return every > 0 && step % every == 0;
}

class Trainer {
 public:
  Trainer(const Config& config, const MpiSession& mpi);

  int run(const std::string& resume);
  int evaluate_only(const std::string& checkpoint_path);

 private:
  // --- the run's lifecycle (trainer.cpp)
  void set_up_compute();
  void open_sample_trace();  // NXT_TRACE_SAMPLES (common/fault_injector.h)
  void open_data();
  void start_communicator();
  // `load_pretrained`: false when a checkpoint will replace every weight (a resumed run must not
  // depend on the pretrained file still being there).
  void build_model(bool load_pretrained = true);
  void build_optimizer();
  void set_backbone_frozen(bool frozen);
  void prepare_run_folder();
  // The run's reports (train/run_reports.h), from the resumed position on.
  void open_reports();
  void set_training_mode();
  bool early_stop_due();
  void evaluate_best_on_test();
  void write_run_summary(const std::string& status, const std::string& reason);

  // --- one epoch of steps (step_loop.cpp)
  // 0 when it ran to its end, else the stop signal the ranks agreed on.
  int train_epoch(int64_t epoch);
  void start_epoch(int64_t epoch);
  // How long a host read of a device value may wait (dist.timeout_s), and who waits.
  DeviceWaitLimit device_wait_limit() const {
    return {place_.rank, std::chrono::seconds(config_.dist.timeout_s)};
  }
  // The steps of one optimizer step, in the order train_epoch() calls them:
  void forward_backward(EpochLoader& loader, int64_t epoch);
  torch::Tensor training_loss(const DeviceBatch& input, const Batch& batch, int64_t epoch,
                              torch::Tensor* logits);
  StepFlags agree_on_step();
  double advance_position(int64_t step, int64_t steps, const EpochSpan& span);
  void apply_update(int64_t epoch, double epoch_fraction);
  void skip_update();
  void end_step();
  // Training metrics accumulate on the device (StepMetrics) and are read (a host sync) only
  // every metrics_every_ steps, at step records, at checkpoints and at the epoch's end; the
  // step's report then also gathers the ranks' step telemetry.
  void read_metrics(int64_t epoch);
  void trace_samples(int64_t epoch, const Batch& batch);  // when NXT_TRACE_SAMPLES is set

  // --- the end of an epoch (epoch_end.cpp)
  // `trained`: samples this process trained in the epoch (a resumed epoch counts only those).
  void finish_epoch(int64_t epoch, const MetricTotals& train, int64_t trained, double seconds);
  MetricTotals evaluate_split(const ImageReader& reader, EvalDetails* details = nullptr);
  MetricTotals evaluate_val() { return evaluate_split(data_->val()); }
  // The EMA's val figures (Note [EMA of the weights] in train/ema.h): the model holds the EMA
  // for the evaluation, with rank 0's EMA buffers on every rank.
  MetricTotals evaluate_ema_val();
  // `val`: the figures of the weights train.best_metric judges (the EMA's for *_ema).
  bool improves_best(const MetricTotals& val) const;
  CheckpointSnapshot checkpoint_now();
  // checkpoint_now() with the epoch's training totals so far, summed over ranks (collective).
  CheckpointSnapshot mid_epoch_checkpoint(const MetricTotals& summed);
  // `before_exit`: a stop signal's, written before any rank goes on (Note [Background
  // checkpoints] in checkpoint/async_writer.h); otherwise rank 0 writes it in the background.
  void save_last(bool before_exit);

  // --- resume (resume.cpp)
  std::optional<Checkpoint> read_checkpoint_on_rank0(const std::string& path, bool missing_ok);
  // The checkpoint --resume names (auto: the run folder's last.pt, if rank 0 sees one).
  std::optional<ResumePoint> read_resume_checkpoint(const std::string& resume);
  void refuse_foreign_checkpoint(const ResumePoint& resume) const;
  void resume_from(const ResumePoint& resume);
  void continue_position(const TrainingPosition& saved, const std::string& path);
  void forget_best_of_other_weights(const Checkpoint& checkpoint, const std::string& path);

  // --- in-memory snapshots and recovery (recovery.cpp)
  // The node's store on its leader (null elsewhere, and with train.snapshot_every_steps 0); a
  // start that is not --resume auto clears what an earlier run of this name left.
  void open_snapshots(const std::string& resume);
  // Collective: the newest state among every node's snapshot and rank 0's last.pt, on every
  // rank (nullopt: none anywhere), and what a start after a failure reports.
  std::optional<ResumePoint> read_newest_state();
  // Rank 0: whether this step's snapshot is due (train.snapshot_every_steps, or auto).
  bool snapshot_due() const;
  // Collective: every leader snapshots the state after this step.
  void save_snapshot();
  // After every step: the node's `reached` record; the recovery report at the first one.
  void after_step_recorded();
  // The run ended (0, or 75 with last.pt at this step): the node's snapshots go.
  void remove_snapshots();

  int64_t global_batch() const {
    return config_.data.batch_size * place_.world_size * config_.train.grad_accum;
  }
  std::string run_file(const std::string& name) const { return run_dir_ + "/" + name; }
  bool is_rank0() const { return place_.rank == 0; }
  bool on_cuda() const { return device_.is_cuda(); }

  Config config_;
  ProcessPlace place_;
  // This rank's test hooks, read before anything else (common/fault_injector.h).
  FaultInjector faults_;
  RankCompute compute_;
  torch::Device device_;
  std::unique_ptr<TrainingData> data_;
  ResNeXt model_{nullptr};
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Reducer> reducer_;
  GroupedOptimizer optimizer_;
  bool backbone_frozen_ = false;  // train.freeze_backbone_epochs: only fc trains
  torch::Tensor class_weights_;   // train.class_weights on the device; undefined = none
  std::unique_ptr<LrSchedule> schedule_;
  std::vector<NamedTensor> parameters_;
  std::vector<NamedTensor> buffers_;     // BatchNorm running statistics: each rank updates its own
  std::unique_ptr<RunReports> reports_;  // from open_reports() on
  std::unique_ptr<StepProfiler> profiler_;  // run.profile_steps (Note [Step profiles])
  CheckpointWriter checkpoint_writer_;      // rank 0's (Note [Background checkpoints])
  // The last checkpoint's time, for train.checkpoint_every_minutes (read on rank 0).
  Clock::time_point last_checkpoint_time_ = Clock::now();
  std::string early_stop_reason_;  // set when train.early_stop_patience ends the run
  std::string run_dir_;
  TrainingPosition position_;
  MetricTotals epoch_totals_;  // this rank's, for the epoch in progress (read so far)
  std::unique_ptr<StepMetrics> step_metrics_;  // this rank's, not read yet
  int64_t steps_at_last_read_ = 0;             // global_step at the last read
  int64_t metrics_every_ = 1;
  int64_t log_every_ = 0;  // step records (0: none)
  double last_loss_ = 0;   // mean loss at the last read, for the progress line
  double lr_ = 0;
  // Where this rank's epoch time goes (train/step_timer.h), and its host reads.
  std::unique_ptr<StepTimer> step_timer_;
  int64_t epoch_steps_ = 0, host_reads_at_epoch_start_ = 0;
  bool autocast_bf16_ = false;      // train.amp on a GPU
  bool autocast_fp16_ = false;      // train.amp fp16 on a GPU, with loss_scaler_ enabled
  LossScaler loss_scaler_;          // disabled unless fp16 (train/loss_scaler.h)
  bool skip_scaled_step_ = false;   // this step's gradients overflowed on some rank (fp16)
  std::unique_ptr<WeightEma> ema_;  // train.ema_decay (train/ema.h); null when off
  std::unique_ptr<SnapshotStore> snapshots_;  // the node's (its leader's; null elsewhere)
  // Rank 0's cadence: steps between snapshots (auto), the last one's step and time (from the
  // first step of this job step on), and how many this job step took.
  int64_t snapshot_interval_ = 0, last_snapshot_step_ = 0, snapshots_taken_ = 0;
  bool snapshot_skip_logged_ = false;  // a snapshot skipped behind a running write was said
  Clock::time_point last_snapshot_time_ = Clock::now();
  std::optional<RecoveryFacts> recovery_;  // reported at the first step, then cleared
  // The interrupted epoch's node layout, when resumed mid-epoch (continue_position()).
  std::optional<NodeLayout> resumed_layout_;

  std::ofstream sample_trace_;  // NXT_TRACE_SAMPLES: every trained sample of this rank
};

}  // namespace trainer_detail
}  // namespace nxt
