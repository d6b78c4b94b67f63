// A torchsummary-like model summary: output shape and parameters per stage, totals, and
// multiply-adds for a given input size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/resnext.h"

namespace nxt {

struct StageSummary {
  std::string name;                   // stem, layer1, ..., head
  std::vector<int64_t> output_shape;  // for a batch of 1
  int64_t parameters = 0;
  int64_t multiply_adds = 0;
};

struct ModelSummary {
  std::vector<StageSummary> stages;
  int64_t total_parameters = 0;
  int64_t trainable_parameters = 0;
  int64_t total_multiply_adds = 0;
  int64_t image_size = 0;
};

int64_t count_parameters(const torch::nn::Module& module);

// Runs one real forward pass of a 1x3xSxS input to get the shapes (so the summary cannot drift
// from the model) and counts conv/fc multiply-adds analytically.
ModelSummary summarize(ResNeXt& model, int64_t image_size);

std::string format_summary(const ModelSummary& summary, const std::string& title);

}  // namespace nxt
