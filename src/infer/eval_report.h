// What nxt_eval reports about a checkpoint on a split: overall accuracy and loss, per-class
// precision/recall/F1 and the confusion matrix, as a terminal table and as files
// (metrics.json, per_class.csv, confusion.csv, confusion.png, predictions.csv) for --out.
#pragma once
#include <string>
#include <vector>

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
};

std::string format_report(const EvalReport& report);

std::string report_json(const EvalReport& report);
std::string per_class_csv(const EvalReport& report);
std::string confusion_csv(const EvalReport& report);
std::string predictions_csv(const EvalReport& report);

// Writes the five files into `dir` (created if missing), each atomically.
void write_report_files(const EvalReport& report, const std::string& dir);

}  // namespace nxt
