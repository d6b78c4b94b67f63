// Implements the evaluation report's text, CSV, JSON and PNG forms.
#include "infer/eval_report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/fs.h"
#include "common/text_format.h"
#include "infer/confusion_png.h"

namespace nxt {
namespace {

std::string padded(const std::string& text, size_t width, bool right_align) {
  if (text.size() >= width) return text;
  const std::string fill(width - text.size(), ' ');
  return right_align ? fill + text : text + fill;
}

std::string score_row(const std::string& name, size_t name_width, const ClassScores& s) {
  return padded(name, name_width, false) + padded(fixed(s.precision, 4), 11, true) +
         padded(fixed(s.recall, 4), 9, true) + padded(fixed(s.f1, 4), 9, true) +
         padded(std::to_string(s.support), 9, true) + "\n";
}

std::string confusion_table(const EvalReport& r, size_t name_width) {
  const int64_t k = r.confusion.classes();
  size_t cell = 6;
  for (const auto& name : r.classes) cell = std::max(cell, std::min<size_t>(name.size(), 12) + 1);
  std::string out = padded("true \\ predicted", name_width, false);
  for (const auto& name : r.classes) out += padded(name.substr(0, cell - 1), cell, true);
  out += "\n";
  for (int64_t row = 0; row < k; ++row) {
    out += padded(r.classes[static_cast<size_t>(row)], name_width, false);
    for (int64_t col = 0; col < k; ++col)
      out += padded(std::to_string(r.confusion.count(row, col)), cell, true);
    out += "\n";
  }
  return out;
}

}  // namespace

double top5_accuracy(const EvalReport& r) {
  const int64_t total = r.confusion.total();
  return total && r.top5_correct ? static_cast<double>(*r.top5_correct) / total : 0.0;
}

std::string format_report(const EvalReport& r) {
  const ConfusionMatrix& c = r.confusion;
  size_t name_width = std::string("true \\ predicted").size() + 2;
  for (const auto& name : r.classes) name_width = std::max(name_width, name.size() + 2);
  std::ostringstream out;
  out << "checkpoint " << r.checkpoint << "\n"
      << "data       " << r.data << " [" << r.split << "], " << c.total() << " images\n"
      << "accuracy   " << fixed(c.accuracy(), 6) << " (" << c.correct() << "/" << c.total()
      << "), mean loss " << fixed(r.mean_loss, 6) << "\n";
  if (r.top5_correct)
    out << "top-5      " << fixed(top5_accuracy(r), 6) << " (" << *r.top5_correct << "/"
        << c.total() << ")\n";
  if (r.tta != EvalTta::kNone) out << "tta        " << name_of(r.tta, kEvalTtaNames) << "\n";
  out << "\n" << padded("class", name_width, false) << "  precision   recall       f1  support\n";
  const auto scores = class_scores(c);
  for (size_t i = 0; i < scores.size(); ++i) out << score_row(r.classes[i], name_width, scores[i]);
  out << score_row("macro avg", name_width, macro_average(scores)) << "\n"
      << confusion_table(r, name_width);
  return out.str();
}

std::string report_json(const EvalReport& r) {
  const ConfusionMatrix& c = r.confusion;
  const auto scores = class_scores(c);
  nlohmann::ordered_json per_class = nlohmann::ordered_json::array();
  for (size_t i = 0; i < scores.size(); ++i)
    per_class.push_back({{"class", r.classes[i]},
                         {"precision", scores[i].precision},
                         {"recall", scores[i].recall},
                         {"f1", scores[i].f1},
                         {"support", scores[i].support}});
  const ClassScores macro = macro_average(scores);
  std::vector<std::vector<int64_t>> matrix(static_cast<size_t>(c.classes()));
  for (int64_t row = 0; row < c.classes(); ++row)
    for (int64_t col = 0; col < c.classes(); ++col)
      matrix[static_cast<size_t>(row)].push_back(c.count(row, col));
  const nlohmann::ordered_json report = {
      {"checkpoint", r.checkpoint},
      {"data", r.data},
      {"split", r.split},
      {"images", c.total()},
      {"correct", c.correct()},
      {"accuracy", c.accuracy()},
      {"top5_correct", r.top5_correct ? nlohmann::ordered_json(*r.top5_correct) : nullptr},
      {"top5_accuracy", r.top5_correct ? nlohmann::ordered_json(top5_accuracy(r)) : nullptr},
      {"tta", name_of(r.tta, kEvalTtaNames)},
      {"mean_loss", r.mean_loss},
      {"classes", r.classes},
      {"per_class", per_class},
      {"macro_avg", {{"precision", macro.precision}, {"recall", macro.recall}, {"f1", macro.f1}}},
      {"confusion_matrix", matrix}};
  return report.dump(2) + "\n";
}

std::string per_class_csv(const EvalReport& r) {
  std::string out = "class,precision,recall,f1,support,predicted,true_positives\n";
  const auto scores = class_scores(r.confusion);
  for (size_t i = 0; i < scores.size(); ++i) {
    const ClassScores& s = scores[i];
    out += csv_field(r.classes[i]) + "," + fixed(s.precision, 8) + "," + fixed(s.recall, 8) + "," +
           fixed(s.f1, 8) + "," + std::to_string(s.support) + "," + std::to_string(s.predicted) +
           "," + std::to_string(s.true_positives) + "\n";
  }
  return out;
}

std::string confusion_csv(const EvalReport& r) {
  std::string out = "true_class";
  for (const auto& name : r.classes) out += "," + csv_field(name);
  out += "\n";
  for (int64_t row = 0; row < r.confusion.classes(); ++row) {
    out += csv_field(r.classes[static_cast<size_t>(row)]);
    for (int64_t col = 0; col < r.confusion.classes(); ++col)
      out += "," + std::to_string(r.confusion.count(row, col));
    out += "\n";
  }
  return out;
}

std::string predictions_csv(const EvalReport& r) {
  std::string out = "index,path,true_class,predicted_class,correct\n";
  for (size_t i = 0; i < r.predicted.size(); ++i) {
    const auto truth = static_cast<size_t>(r.labels[i]);
    const auto predicted = static_cast<size_t>(r.predicted[i]);
    out += std::to_string(i) + "," + csv_field(i < r.paths.size() ? r.paths[i] : "") + "," +
           csv_field(r.classes[truth]) + "," + csv_field(r.classes[predicted]) + "," +
           (truth == predicted ? "1" : "0") + "\n";
  }
  return out;
}

void write_report_files(const EvalReport& r, const std::string& dir) {
  make_dirs(dir);
  write_file_atomic(dir + "/metrics.json", report_json(r));
  write_file_atomic(dir + "/per_class.csv", per_class_csv(r));
  write_file_atomic(dir + "/confusion.csv", confusion_csv(r));
  write_file_atomic(dir + "/predictions.csv", predictions_csv(r));
  const std::string title = "confusion matrix, " + r.split + " split, accuracy " +
                            fixed(100 * r.confusion.accuracy(), 2) + "%";
  const std::vector<unsigned char> png = confusion_png(r.confusion, r.classes, title);
  write_file_atomic(dir + "/confusion.png", png.data(), png.size());
}

}  // namespace nxt
