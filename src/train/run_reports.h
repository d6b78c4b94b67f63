// The run's reports. RunReports: the sinks that the trainer feeds once per step and once per
// epoch: metrics.csv, curves.png, train_log.jsonl and TensorBoard (rank 0), the ranks' step
// telemetry (every rank) with rank 0's straggler line, and rank 0's progress display. And the
// run folder's JSON reports, built with nlohmann-json: test_metrics.json (best.pt scored on the
// held-out test split, beside its val figures) and summary.json (how the run ended).
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "comm/communicator.h"
#include "common/config.h"
#include "common/torch_pch.h"
#include "eval/confusion.h"
#include "eval/totals.h"
#include "train/curves.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/step_telemetry.h"
#include "train/step_timer.h"
#include "train/tensorboard.h"
#include "train/train_log.h"

namespace nxt {

// One optimizer step, as the reports see it (RunReports::on_step).
struct StepReport {
  int64_t epoch = 0;          // counted from 0
  int64_t global_step = 0;    // steps done, this one included
  int64_t step_in_epoch = 0;  // the same, in the epoch
  double epoch_fraction = 0;  // of the epoch done, for the schedule
  // The step read the training metrics: the ranks' step telemetry is gathered (a collective,
  // so the same on every rank), and rank 0's straggler line follows when due.
  bool metrics_read = false;
  bool record_due = false;  // a step record (train.log_every_steps): train_log.jsonl, TensorBoard
  double loss = 0;          // the mean loss at the last metric read
  double lr = 0;
  const StepTimer* timer = nullptr;  // this rank's phase times in the epoch so far
};

// A start after a failure, as its first step reports it (Note [In-memory snapshots] in
// checkpoint/snapshots.h).
struct RecoveryRecord {
  int64_t step = 0;          // the first step after the recovery
  int64_t resumed_step = 0;  // the state it continued from
  int64_t reached_step = 0;  // the largest step the surviving nodes had finished
  int64_t steps_lost = 0;    // reached_step - resumed_step
  double seconds = 0;        // from the last step before the failure to `step`'s end
  std::string source;        // the state's file ("host:path" for a node's snapshot)
  std::string lost_nodes;    // as the launcher named them ("" when it did not)
  int64_t restart = 0;       // the launcher's count of starts (0: unknown)
};

class RunReports {
 public:
  struct Options {
    std::string run_dir;
    int rank = 0, world = 1;
    torch::Device device = torch::kCPU;  // whose peak memory a step record shows
    std::vector<std::string> host_of_rank;
    int64_t global_batch = 0;      // images per optimizer step, over every rank
    bool step_records = false;     // train.log_every_steps > 0
    bool tensorboard = false;      // run.tensorboard
    double log_every_seconds = 0;  // the straggler line's and the progress line's period
  };

  // The reports of a run that goes on from `position` (a fresh run: the zero position). Rank 0
  // keeps metrics.csv's rows of the position.epoch epochs done, and train_log.jsonl's and
  // TensorBoard's records through position.global_step (the steps past it run again).
  RunReports(Options options, const TrainingPosition& position);

  // The epoch's progress display (rank 0): `total_steps` in the epoch, resumed steps included;
  // the step telemetry starts over with the epoch's new StepTimer.
  void start_epoch(int64_t epoch, int64_t total_steps);
  // Every step, on every rank, after its metric read: the ranks' telemetry, rank 0's straggler
  // line when train.log_every_seconds have passed, its step record when due, the progress.
  void on_step(const StepReport& step, Communicator& comm);
  // The epoch's steps are over (its end, or a stop): the progress display ends.
  void end_epoch_steps();
  // Rank 0, at an epoch's end: its metrics.csv row and TensorBoard scalars (at `global_step`),
  // and a redraw of curves.png in the background.
  void on_epoch(const EpochRecord& record, int64_t global_step);
  // train_log.jsonl's event line of an early stop (rank 0).
  void on_early_stop(int64_t global_step, int64_t epoch, const std::string& reason);
  // Rank 0: train_log.jsonl's event line of a recovery and its TensorBoard scalars.
  void on_recovery(const RecoveryRecord& record);
  // Waits for curves.png's redraw (rank 0, at the run's end).
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  // StepTelemetry's windows: the straggler line of rank 0's log (every
  // train.log_every_seconds) and the step records (every train.log_every_steps).
  enum TelemetryWindow { kStragglerLine, kStepRecord, kTelemetryWindows };

  bool is_rank0() const { return options_.rank == 0; }
  std::string run_file(const std::string& name) const { return options_.run_dir + "/" + name; }
  void log_stragglers_when_due(int64_t global_step);
  void write_step_record(const StepReport& step);

  Options options_;
  // Rank 0's files; null on the other ranks, and when switched off.
  std::unique_ptr<MetricsCsv> csv_;
  std::unique_ptr<CurvePlotter> curves_;
  std::unique_ptr<TrainLog> train_log_;             // null when train.log_every_steps is 0
  std::unique_ptr<TensorBoardWriter> tensorboard_;  // null when run.tensorboard is false
  // Every rank's step time split, gathered at each metric read (Note [Straggler report]).
  StepTelemetry telemetry_;
  std::optional<Progress> progress_;  // the epoch's (rank 0 shows it)
  Clock::time_point last_record_time_, last_straggler_line_;
  int64_t last_record_step_ = 0, straggler_window_from_step_ = 0;
};

// `best`: the position recorded in best.pt (its epoch and val figures), `weights` which weights
// it holds ("weights": raw | ema). test_top5_accuracy is null with 5 classes or fewer (Note
// [top-5 with few classes] in eval/totals.h).
nlohmann::json test_metrics_json(const std::string& checkpoint, const TrainingPosition& best,
                                 CheckpointWeights weights, const MetricTotals& test,
                                 const ConfusionMatrix& confusion,
                                 const std::vector<std::string>& classes);

// `status`: completed | early_stopped; `reason` says why in words. "best_weights" says which
// weights best.pt holds (raw, or ema when best_metric is the EMA's).
nlohmann::json run_summary_json(const std::string& status, const std::string& reason,
                                const TrainingPosition& position, BestMetric best_metric);

// Pretty-printed, written atomically (common/fs.h).
void write_json_file(const std::string& path, const nlohmann::json& json);

}  // namespace nxt
