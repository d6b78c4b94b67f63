// Implements the three prediction formats; JSON lines go through nlohmann-json.
#include "infer/prediction_writer.h"

#include <nlohmann/json.hpp>

#include "common/enum_names.h"
#include "common/text_format.h"

namespace nxt {

const EnumNames<PredictionFormat>& prediction_format_names() {
  static const EnumNames<PredictionFormat> names = {{PredictionFormat::kText, "text"},
                                                    {PredictionFormat::kCsv, "csv"},
                                                    {PredictionFormat::kJsonl, "jsonl"}};
  return names;
}

PredictionFormat parse_prediction_format(const std::string& name) {
  return enum_from_name(name, prediction_format_names(), "--format");
}

PredictionWriter::PredictionWriter(std::ostream& out, PredictionFormat format,
                                   std::vector<std::string> classes, int64_t topk)
    : out_(out), format_(format), classes_(std::move(classes)), topk_(topk) {
  if (format_ != PredictionFormat::kCsv) return;
  out_ << "path";
  for (int64_t j = 1; j <= topk_; ++j) out_ << ",class_" << j << ",probability_" << j;
  out_ << ",error\n";
}

void PredictionWriter::write(const Prediction& p) {
  switch (format_) {
    case PredictionFormat::kText:
      write_text(p);
      break;
    case PredictionFormat::kCsv:
      write_csv(p);
      break;
    case PredictionFormat::kJsonl:
      write_jsonl(p);
      break;
  }
  out_.flush();  // a long run shows its progress line by line
}

void PredictionWriter::write_text(const Prediction& p) {
  out_ << p.path << ":";
  if (!p.error.empty()) {
    out_ << " error: " << p.error << "\n";
    return;
  }
  for (size_t j = 0; j < p.classes.size(); ++j)
    out_ << (j ? ", " : " ") << name(p.classes[j]) << " " << fixed(p.probability[j], 4);
  out_ << "\n";
}

void PredictionWriter::write_csv(const Prediction& p) {
  out_ << csv_field(p.path);
  for (int64_t j = 0; j < topk_; ++j) {
    const bool have = static_cast<size_t>(j) < p.classes.size();
    out_ << "," << (have ? csv_field(name(p.classes[j])) : "") << ","
         << (have ? fixed(p.probability[j], 6) : "");
  }
  out_ << "," << csv_field(p.error) << "\n";
}

void PredictionWriter::write_jsonl(const Prediction& p) {
  // ordered_json: "path" leads each record, as in the other two formats.
  nlohmann::ordered_json record = {{"path", p.path}};
  if (!p.error.empty()) {
    record["error"] = p.error;
  } else {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (size_t j = 0; j < p.classes.size(); ++j)
      top.push_back({{"class", name(p.classes[j])}, {"probability", p.probability[j]}});
    record["top"] = std::move(top);
  }
  // A Linux file name is bytes, not always UTF-8: an invalid sequence becomes U+FFFD rather than
  // ending the run with an exception (the text and CSV forms keep the bytes as they are).
  out_ << record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

}  // namespace nxt
