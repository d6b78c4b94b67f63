// Writes predictions as text for people (top-k names with probabilities), CSV (one row per
// file: path, k class/probability pairs, error) or JSON lines (one object per file).
#pragma once
#include <ostream>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "infer/predictor.h"

namespace nxt {

enum class PredictionFormat { kText, kCsv, kJsonl };
const EnumNames<PredictionFormat>& prediction_format_names();  // text | csv | jsonl
PredictionFormat parse_prediction_format(const std::string& name);

class PredictionWriter {
 public:
  PredictionWriter(std::ostream& out, PredictionFormat format, std::vector<std::string> classes,
                   int64_t topk);
  void write(const Prediction& prediction);

 private:
  void write_text(const Prediction& p);
  void write_csv(const Prediction& p);
  void write_jsonl(const Prediction& p);
  const std::string& name(int64_t index) const { return classes_[static_cast<size_t>(index)]; }

  std::ostream& out_;
  PredictionFormat format_;
  std::vector<std::string> classes_;
  int64_t topk_;
};

}  // namespace nxt
