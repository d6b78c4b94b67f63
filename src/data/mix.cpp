// Implements mixup / cutmix as timm's Mixup (mode "batch") does, with the random draws on the host
// (SplitMix64, so they depend only on the seed) and the tensor work on the batch's device.
#include "data/mix.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/check.h"

namespace nxt {
namespace {

// (0, 1]: safe under log.
double open_uniform(SplitMix64& rng) {
  return 1.0 - rng.uniform();
}

double standard_normal(SplitMix64& rng) {  // Box-Muller, one of the pair
  const double radius = std::sqrt(-2.0 * std::log(open_uniform(rng)));
  return radius * std::cos(2.0 * M_PI * rng.uniform());
}

// log of a Gamma(alpha, 1) variate. Marsaglia-Tsang for alpha >= 1; below 1, their boost
// Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha), kept in log space (U^(1/alpha) underflows for
// small alpha).
double log_gamma_variate(double alpha, SplitMix64& rng) {
  if (alpha < 1.0) {
    const double log_boost = std::log(open_uniform(rng)) / alpha;
    return log_gamma_variate(alpha + 1.0, rng) + log_boost;
  }
  const double d = alpha - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = standard_normal(rng);
    double v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    if (std::log(open_uniform(rng)) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      return std::log(d * v);
    }
  }
}

}  // namespace

double sample_symmetric_beta(double alpha, SplitMix64& rng) {
  NXT_CHECK(alpha > 0 && std::isfinite(alpha), "Beta(alpha, alpha) needs alpha > 0, got ", alpha);
  const double log_x = log_gamma_variate(alpha, rng), log_y = log_gamma_variate(alpha, rng);
  return 1.0 / (1.0 + std::exp(log_y - log_x));  // x / (x + y)
}

MixDraw draw_mix(int64_t height, int64_t width, double mixup_alpha, double cutmix_alpha,
                 uint64_t seed) {
  NXT_CHECK(mixup_alpha >= 0 && cutmix_alpha >= 0,
            "mixup and cutmix alphas must be >= 0, got mixup ", mixup_alpha, " and cutmix ",
            cutmix_alpha);
  NXT_CHECK(height > 0 && width > 0, "cannot mix images of ", height, "x", width, " pixels");
  MixDraw draw;
  if (mixup_alpha == 0 && cutmix_alpha == 0) return draw;
  SplitMix64 rng(seed);
  draw.cutmix = mixup_alpha > 0 && cutmix_alpha > 0 ? rng.uniform() < 0.5 : cutmix_alpha > 0;
  draw.lambda = sample_symmetric_beta(draw.cutmix ? cutmix_alpha : mixup_alpha, rng);
  if (!draw.cutmix) return draw;
  // timm's rand_bbox: a cut of int(side * sqrt(1 - lambda)) centred at a uniform pixel, clipped.
  const double side_fraction = std::sqrt(1.0 - draw.lambda);
  const auto cut_height = static_cast<int64_t>(static_cast<double>(height) * side_fraction);
  const auto cut_width = static_cast<int64_t>(static_cast<double>(width) * side_fraction);
  const auto centre_y = static_cast<int64_t>(rng.below(static_cast<uint64_t>(height)));
  const auto centre_x = static_cast<int64_t>(rng.below(static_cast<uint64_t>(width)));
  draw.top = std::clamp<int64_t>(centre_y - cut_height / 2, 0, height);
  draw.bottom = std::clamp<int64_t>(centre_y + cut_height / 2, 0, height);
  draw.left = std::clamp<int64_t>(centre_x - cut_width / 2, 0, width);
  draw.right = std::clamp<int64_t>(centre_x + cut_width / 2, 0, width);
  // The clipped box is what gets pasted: weigh the labels by it.
  const int64_t area = (draw.bottom - draw.top) * (draw.right - draw.left);
  draw.lambda = 1.0 - static_cast<double>(area) / static_cast<double>(height * width);
  return draw;
}

torch::Tensor smoothed_one_hot(const torch::Tensor& labels, int64_t classes,
                               double label_smoothing) {
  NXT_CHECK(labels.dim() == 1, "labels must be a 1-d tensor, got ", labels.sizes());
  NXT_CHECK(classes > 0, "one-hot targets need at least one class, got ", classes);
  NXT_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "label smoothing must be in [0, 1], got ",
            label_smoothing);
  const double off = label_smoothing / static_cast<double>(classes);
  const double on = 1.0 - label_smoothing + off;
  return torch::full({labels.size(0), classes}, off,
                     torch::TensorOptions(torch::kFloat).device(labels.device()))
      .scatter_(1, labels.to(torch::kLong).unsqueeze(1), on);
}

MixedBatch mix_batch(const torch::Tensor& images, const torch::Tensor& labels, int64_t classes,
                     double mixup_alpha, double cutmix_alpha, double label_smoothing,
                     uint64_t seed) {
  NXT_CHECK(images.dim() == 4, "mix_batch needs images [B, C, H, W], got ", images.sizes());
  NXT_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "mix_batch needs ",
            images.size(0), " labels (one per image), got a tensor of ", labels.sizes());
  const MixDraw draw = draw_mix(images.size(2), images.size(3), mixup_alpha, cutmix_alpha, seed);
  const torch::Tensor own = smoothed_one_hot(labels, classes, label_smoothing);
  if (draw.lambda == 1.0) return {images, own};
  MixedBatch mixed;
  mixed.targets = own.mul(draw.lambda).add_(own.flip(0), 1.0 - draw.lambda);
  if (draw.cutmix) {
    // narrow, not a kept vector of TensorIndex: copying one copies an uninitialised bool in
    // LibTorch 1.13's header, which UBSan rightly reports (NXT_SANITIZE=undefined).
    const auto box = [&](const torch::Tensor& t) {
      return t.narrow(2, draw.top, draw.bottom - draw.top)
          .narrow(3, draw.left, draw.right - draw.left);
    };
    mixed.images = images.clone();
    box(mixed.images).copy_(box(images).flip(0));
  } else {
    mixed.images = images.mul(draw.lambda).add_(images.flip(0), 1.0 - draw.lambda);
  }
  return mixed;
}

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                                        const torch::Tensor& class_weights) {
  NXT_CHECK(logits.dim() == 2 && targets.sizes() == logits.sizes(),
            "soft targets must have the logits' shape [B, classes]: logits ", logits.sizes(),
            ", targets ", targets.sizes());
  // float32 whatever the logits' precision, as torch's autocast runs cross_entropy.
  const torch::Tensor log_probs = torch::log_softmax(logits, 1, torch::kFloat);
  if (!class_weights.defined()) {
    return -(targets * log_probs).sum() / static_cast<double>(logits.size(0));
  }
  NXT_CHECK(class_weights.dim() == 1 && class_weights.size(0) == logits.size(1),
            "class weights must be a 1-d tensor of ", logits.size(1), " (one per class), got ",
            class_weights.sizes());
  const torch::Tensor weighted_targets = targets * class_weights.unsqueeze(0);
  return -(weighted_targets * log_probs).sum() / weighted_targets.sum();
}

}  // namespace nxt
