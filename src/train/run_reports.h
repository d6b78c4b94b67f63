// The run folder's JSON reports, built with nlohmann-json: test_metrics.json (best.pt scored on
// the held-out test split, beside its val figures) and summary.json (how the run ended).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "common/config.h"
#include "eval/confusion.h"
#include "eval/totals.h"

namespace nxt {

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
