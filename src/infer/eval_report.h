// What nxt_eval reports about a checkpoint on a split: overall accuracy (top-1, and top-5 with more
// than 5 classes) and loss, per-class
// precision/recall/F1 and the confusion matrix, as a terminal table and as files
// (metrics.json, per_class.csv, confusion.csv, confusion.png, predictions.csv) for --out.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "eval/confusion.h"

namespace nxt {

struct EvalReport {
  std::string checkpoint, data, split;
  std::vector<std::string> classes;
  ConfusionMatrix confusion;
  double mean_loss = 0;
  // Per image of the split, in file order: its source path, true and predicted class.
  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  std::vector<int64_t> predicted;
  // Samples with their label among the top 5 logits; absent with 5 classes or fewer, where it
  // is trivially all (Note [top-5 with few classes] in eval/totals.h).
  std::optional<int64_t> top5_correct;
  EvalTta tta = EvalTta::kNone;  // Note [flip TTA] in eval/forward.cpp
};

std::string format_report(const EvalReport& report);
// top5_correct / images; 0 when top5_correct is absent.
double top5_accuracy(const EvalReport& report);

std::string report_json(const EvalReport& report);
std::string per_class_csv(const EvalReport& report);
std::string confusion_csv(const EvalReport& report);
std::string predictions_csv(const EvalReport& report);

// Writes the five files into `dir` (created if missing), each atomically.
void write_report_files(const EvalReport& report, const std::string& dir);

}  // namespace nxt
