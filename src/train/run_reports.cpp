// Implements the run folder's JSON reports.
#include "train/run_reports.h"

#include "common/fs.h"

namespace nxt {

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
