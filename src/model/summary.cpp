// Implements the per-stage model summary and its text table.
#include "model/summary.h"

#include <iomanip>
#include <sstream>

namespace nxt {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value);
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

}  // namespace

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

ModelSummary summarize(ResNeXt& model, int64_t image_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  ModelSummary summary;
  summary.image_size = image_size;

  torch::Tensor x = torch::zeros({1, 3, image_size, image_size});
  int64_t h = image_size, w = image_size;
  StageSummary stem{"stem", {}, 0, model->stem_multiply_adds(h, w, &h, &w)};
  x = model->forward_stem(x);
  stem.output_shape = x.sizes().vec();
  // The stem is what is left once the stages and the classifier are counted.
  stem.parameters = count_parameters(*model) - count_parameters(*model->classifier());
  for (const auto& stage : model->stages()) stem.parameters -= count_parameters(*stage);
  summary.stages.push_back(stem);

  for (size_t s = 0; s < model->stages().size(); ++s) {
    torch::nn::Sequential stage = model->stages()[s];
    StageSummary row{"layer" + std::to_string(s + 1), {}, count_parameters(*stage), 0};
    for (const auto& block : stage->children())
      row.multiply_adds += block->as<BottleneckImpl>()->multiply_adds(h, w, &h, &w);
    x = stage->forward(x);
    row.output_shape = x.sizes().vec();
    summary.stages.push_back(row);
  }

  x = model->forward_head(x);
  summary.stages.push_back({"avgpool+fc", x.sizes().vec(), count_parameters(*model->classifier()),
                            model->head_multiply_adds()});

  for (const auto& p : model->parameters()) {
    summary.total_parameters += p.numel();
    if (p.requires_grad()) summary.trainable_parameters += p.numel();
  }
  for (const auto& row : summary.stages) summary.total_multiply_adds += row.multiply_adds;
  model->train(was_training);
  return summary;
}

std::string format_summary(const ModelSummary& summary, const std::string& title) {
  std::ostringstream out;
  const std::string rule(72, '-');
  out << title << " at " << summary.image_size << "x" << summary.image_size << "\n" << rule << "\n";
  out << std::left << std::setw(14) << "stage" << std::setw(24) << "output shape" << std::right
      << std::setw(16) << "parameters" << std::setw(18) << "multiply-adds"
      << "\n"
      << rule << "\n";
  for (const auto& row : summary.stages) {
    out << std::left << std::setw(14) << row.name << std::setw(24) << shape_text(row.output_shape)
        << std::right << std::setw(16) << with_commas(row.parameters) << std::setw(18)
        << with_commas(row.multiply_adds) << "\n";
  }
  out << rule << "\n"
      << "Total params: " << with_commas(summary.total_parameters) << "\n"
      << "Trainable params: " << with_commas(summary.trainable_parameters) << "\n"
      << "Multiply-adds: " << with_commas(summary.total_multiply_adds) << " (" << std::fixed
      << std::setprecision(2) << summary.total_multiply_adds / 1e9 << " G)\n";
  return out.str();
}

}  // namespace nxt
