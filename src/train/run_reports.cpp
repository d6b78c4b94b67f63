// Implements the run's report sinks (RunReports) and the run folder's JSON reports.
#include "train/run_reports.h"

#include "common/fs.h"
#include "common/log.h"
#include "train/memory_stats.h"

namespace nxt {

RunReports::RunReports(Options options, const TrainingPosition& position)
    : options_(std::move(options)),
      telemetry_(options_.rank, options_.world, kTelemetryWindows),
      last_record_time_(Clock::now()),
      last_straggler_line_(last_record_time_),
      last_record_step_(position.global_step),
      straggler_window_from_step_(position.global_step) {
  if (!is_rank0()) return;
  csv_ = std::make_unique<MetricsCsv>(run_file("metrics.csv"));
  csv_->keep_rows_before(position.epoch + 1);
  curves_ = std::make_unique<CurvePlotter>(run_file("metrics.csv"), run_file("curves.png"));
  // Both drop what an earlier job logged past the resumed step: those steps run again.
  if (options_.step_records)
    train_log_ = std::make_unique<TrainLog>(run_file("train_log.jsonl"), position.global_step);
  if (options_.tensorboard)
    tensorboard_ = std::make_unique<TensorBoardWriter>(run_file("tb"), position.global_step);
}

void RunReports::start_epoch(int64_t epoch, int64_t total_steps) {
  telemetry_.restart_timer();
  progress_.emplace(is_rank0(), epoch + 1, total_steps, options_.log_every_seconds);
}

void RunReports::on_step(const StepReport& step, Communicator& comm) {
  if (step.metrics_read) {
    telemetry_.gather(step.timer->seconds(), step.timer->steps(), comm);
    log_stragglers_when_due(step.global_step);
  }
  if (step.record_due) write_step_record(step);
  progress_->update(step.step_in_epoch, step.loss, options_.global_batch);
}

void RunReports::end_epoch_steps() {
  progress_->finish();
}

// Rank 0's straggler line, every train.log_every_seconds of metric reads.
void RunReports::log_stragglers_when_due(int64_t global_step) {
  if (!is_rank0()) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_straggler_line_).count() <
          options_.log_every_seconds ||
      telemetry_.steps_in(kStragglerLine) == 0)
    return;
  const std::vector<RankWindow> ranks = telemetry_.take(kStragglerLine);
  const StragglerReport report = find_stragglers(ranks);
  const std::string text =
      straggler_text(report, options_.host_of_rank, straggler_window_from_step_ + 1, global_step);
  if (report.flagged.empty())
    log::info() << text;
  else
    log::warn() << text;
  last_straggler_line_ = now;
  straggler_window_from_step_ = global_step;
}

// A step record (rank 0), in train_log.jsonl and TensorBoard: the loss is the mean since the
// last metric read; "ranks" the per-rank step split since the previous record (Note [Straggler
// report] in train/step_telemetry.h).
void RunReports::write_step_record(const StepReport& step) {
  if (!is_rank0()) return;
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_record_time_).count();
  const auto& split = step.timer->seconds();
  double total = 0;
  for (double s : split) total += s;
  const int64_t images = (step.global_step - last_record_step_) * options_.global_batch;
  const double images_per_s = seconds > 0 ? images / seconds : 0.0;
  const double data_wait_share = total > 0 ? split[StepTimer::kData] / total : 0.0;
  const std::vector<RankWindow> ranks = telemetry_.take(kStepRecord);
  const StragglerReport stragglers = find_stragglers(ranks);
  if (train_log_)
    train_log_->append({{"step", step.global_step},
                        {"epoch", step.epoch + 1},
                        {"epoch_fraction", step.epoch_fraction},
                        {"loss", step.loss},
                        {"lr", step.lr},
                        {"images_per_s", images_per_s},
                        {"data_wait_share", data_wait_share},
                        {"peak_memory_bytes", peak_memory(options_.device).bytes},
                        {"slowest_rank", stragglers.slowest_rank},
                        {"slowest_ratio", stragglers.slowest_ratio},
                        {"ranks", ranks_json(ranks, options_.host_of_rank)}});
  if (tensorboard_)
    tensorboard_->add_scalars(step.global_step,
                              {{"train/step_loss", step.loss},
                               {"train/lr", step.lr},
                               {"train/images_per_s", images_per_s},
                               {"train/data_wait_share", data_wait_share},
                               {"ranks/step_time_spread", stragglers.spread},
                               {"ranks/slowest_ratio", stragglers.slowest_ratio}});
  last_record_time_ = now;
  last_record_step_ = step.global_step;
}

void RunReports::on_epoch(const EpochRecord& record, int64_t global_step) {
  if (!is_rank0()) return;
  csv_->append(record);
  if (tensorboard_) {  // the epoch's scalars, at the global step that ends it
    std::vector<std::pair<std::string, double>> scalars = {
        {"train/loss", record.train_loss}, {"train/accuracy", record.train_acc},
        {"val/loss", record.val_loss},     {"val/accuracy", record.val_acc},
        {"epoch/lr", record.lr},           {"epoch/images_per_s", record.images_per_second},
        {"epoch/seconds", record.seconds}};
    if (record.val_top5) scalars.emplace_back("val/top5_accuracy", *record.val_top5);
    if (record.ema) {
      scalars.emplace_back("val_ema/loss", record.ema->val_loss);
      scalars.emplace_back("val_ema/accuracy", record.ema->val_acc);
    }
    tensorboard_->add_scalars(global_step, scalars);
  }
  curves_->redraw();
}

void RunReports::on_early_stop(int64_t global_step, int64_t epoch, const std::string& reason) {
  if (train_log_)
    train_log_->append(
        {{"step", global_step}, {"epoch", epoch}, {"event", "early_stop"}, {"reason", reason}});
}

void RunReports::on_recovery(const RecoveryRecord& r) {
  if (train_log_)
    train_log_->append({{"step", r.step},
                        {"event", "recovery"},
                        {"resumed_from_step", r.resumed_step},
                        {"reached_step", r.reached_step},
                        {"steps_lost", r.steps_lost},
                        {"seconds_to_first_step", r.seconds},
                        {"source", r.source},
                        {"lost_nodes", r.lost_nodes},
                        {"restart", r.restart}});
  if (tensorboard_)
    tensorboard_->add_scalars(r.step, {{"recovery/steps_lost", static_cast<double>(r.steps_lost)},
                                       {"recovery/seconds_to_first_step", r.seconds}});
}

void RunReports::finish() {
  if (curves_) curves_->wait();
}

nlohmann::json test_metrics_json(const std::string& checkpoint, const TrainingPosition& best,
                                 CheckpointWeights weights, const MetricTotals& test,
                                 const ConfusionMatrix& confusion,
                                 const std::vector<std::string>& classes) {
  nlohmann::json per_class = nlohmann::json::object();
  const std::vector<ClassScores> scores = class_scores(confusion);
  for (size_t c = 0; c < scores.size(); ++c)
    per_class[classes[c]] = {{"precision", scores[c].precision},
                             {"recall", scores[c].recall},
                             {"f1", scores[c].f1},
                             {"support", scores[c].support}};
  return {{"split", "test"},
          {"checkpoint", checkpoint},
          {"weights", name_of(weights, kCheckpointWeightsNames)},
          {"epoch", best.best_epoch + 1},
          {"test_accuracy", test.accuracy()},
          {"test_top5_accuracy", reports_top5(static_cast<int64_t>(classes.size()))
                                     ? nlohmann::json(test.top5_accuracy())
                                     : nlohmann::json(nullptr)},  // Note [top-5 with few classes]
          {"test_loss", test.mean_loss()},
          {"test_images", test.seen},
          {"val_accuracy", best.best_val_acc},
          {"val_loss", best.best_val_loss},
          {"per_class", per_class}};
}

nlohmann::json run_summary_json(const std::string& status, const std::string& reason,
                                const TrainingPosition& position, BestMetric best_metric) {
  return {{"status", status},
          {"reason", reason},
          {"epochs_trained", position.epoch},
          {"global_steps", position.global_step},
          {"best_metric", name_of(best_metric, kBestMetricNames)},
          {"best_weights", name_of(best_weights(best_metric), kCheckpointWeightsNames)},
          {"best_epoch", position.best_epoch + 1},
          {"best_val_accuracy", position.best_val_acc},
          {"best_val_loss", position.best_val_loss}};
}

void write_json_file(const std::string& path, const nlohmann::json& json) {
  write_file_atomic(path, json.dump(2) + "\n");
}

}  // namespace nxt
