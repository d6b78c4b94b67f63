// Batch-level augmentation: mixup (Zhang et al. 2018) and cutmix (Yun et al. 2019) as timm's
// Mixup does them per batch (partner = the batch reversed, one mixing weight per batch, cutmix
// weight corrected to the pasted area), their soft targets with label smoothing, and the
// cross-entropy against soft targets. Seeded with our SplitMix64, so a batch mixes the same way
// on every run and on resume; works on whatever device the tensors are on.
#pragma once
#include <cstdint>

#include "common/hash.h"
#include "common/torch_pch.h"

namespace nxt {

// How one batch is mixed, drawn on the host from the batch's seed.
struct MixDraw {
  bool cutmix = false;  // else mixup (or nothing, when lambda is 1)
  double lambda = 1;    // weight of each sample's own image and label
  // Cutmix: rows [top, bottom) and columns [left, right) come from the partner.
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

// Beta(alpha, alpha) from two Gamma(alpha) variates (Marsaglia-Tsang), in log space so that
// small alphas do not underflow to 0/0. alpha > 0.
double sample_symmetric_beta(double alpha, SplitMix64& rng);

// The batch's mixing: with both alphas > 0, cutmix or mixup with probability 1/2 each; lambda ~
// Beta(alpha, alpha) of the chosen one; for cutmix, timm's rand_bbox (a box of sqrt(1 - lambda)
// of each side centred at a uniform pixel, clipped to the image), lambda then set to 1 minus
// the box's true area fraction. Both alphas 0: lambda 1, nothing mixed.
MixDraw draw_mix(int64_t height, int64_t width, double mixup_alpha, double cutmix_alpha,
                 uint64_t seed);

// One-hot rows of `labels` (int64 [B]) over `classes`, smoothed as torch's cross_entropy does:
// 1 - smoothing + smoothing / classes on the label, smoothing / classes elsewhere. float [B, C].
torch::Tensor smoothed_one_hot(const torch::Tensor& labels, int64_t classes,
                               double label_smoothing);

struct MixedBatch {
  torch::Tensor images;   // float [B, C, H, W]; the input itself when nothing was mixed
  torch::Tensor targets;  // float [B, classes], rows summing to 1
};

// Mixes `images` (float [B, C, H, W], already normalised) with the batch reversed, as drawn by
// draw_mix(H, W, mixup_alpha, cutmix_alpha, seed); targets = lambda * smoothed_one_hot(labels) +
// (1 - lambda) * smoothed_one_hot(labels reversed). The input is not modified.
MixedBatch mix_batch(const torch::Tensor& images, const torch::Tensor& labels, int64_t classes,
                     double mixup_alpha, double cutmix_alpha, double label_smoothing,
                     uint64_t seed);

// Cross-entropy against soft targets (float [B, C]): sum over the batch of
// -sum_c w_c t_c log_softmax(logits)_c, divided by the batch's total target weight
// sum_b sum_c w_c t_c (w = 1 when `class_weights` is undefined; then the divisor is B). With
// one-hot targets this is torch's cross_entropy with the same weight; with smoothed one-hot
// targets and no weights, torch's cross_entropy with that label_smoothing.
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets,
                                        const torch::Tensor& class_weights = {});

}  // namespace nxt
