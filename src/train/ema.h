// The exponential moving average of the weights (train.ema_decay, train.ema_every_steps): a
// copy of the model's parameters and BatchNorm buffers that follows them as torchvision's
// classification reference keeps its model_ema (Note [EMA of the weights]).
//
// Note [EMA of the weights]
// torchvision's references/classification keep ExponentialMovingAverage, an AveragedModel with
// use_buffers=True and avg_fn(avg, p) = decay * avg + (1 - decay) * p over the parameters AND
// the buffers; its first update (n_averaged == 0) copies. nxt does the same, with these choices:
// - The decay is the reference's, adjusted so that it does not depend on the other settings
//   (pycls): alpha = min(1, (1 - ema_decay) x global batch x ema_every_steps / epochs), decay =
//   1 - alpha. The global batch is batch_size x ranks x grad_accum (the reference's world_size x
//   batch_size, without accumulation). A resume on another world size recomputes it (logged).
// - When: after optimizer step k when k (global_step, counted over the whole run) is a multiple
//   of ema_every_steps. The reference updates when i % model_ema_steps == 0 for the batch index
//   i within the epoch: after the 1st, (N+1)th, ... step of each epoch, restarting each epoch.
//   A function of the global step alone is exact on resume, whatever the world size and so the
//   steps per epoch; the price is that the phase runs on across epochs and the first update
//   comes after step N, not step 1 (until then the EMA is the initial weights, as the
//   reference's deep copy is before its first update).
// - Warmup: the reference resets n_averaged after every update made in an epoch (0-based) <
//   lr_warmup_epochs, so the EMA copies the weights during warmup (and its first update after
//   warmup copies too). Here the same with optim.warmup_epochs.
// - Skipped steps (a fp16 overflow, train.skip_nonfinite) count in global_step, as the
//   reference's i counts a step GradScaler skipped: an update due then averages in the weights,
//   unchanged by that step.
// - Integer buffers (BatchNorm's num_batches_tracked): the reference averages them in float and
//   truncates on the copy back, so its count lags; here each update copies the model's count.
//   Every floating tensor follows the reference's arithmetic: three foreach ops (avg * decay,
//   p * (1 - decay), their sum), each rounded as the Python expression's, so on the CPU the
//   result is torchvision's bit for bit (tests/unit/test_ema.cpp).
// - Ranks: the parameters are the same on every rank (all-reduced gradients, one optimizer
//   rule), so every rank's EMA of them is too, without communication. BatchNorm's running
//   statistics are not (each rank normalises its own batches), nor are the EMA's buffers: before
//   the EMA is evaluated, rank 0's EMA buffers are broadcast (as evaluate_split does for the
//   model's), and checkpoints carry rank 0's EMA.
// - Checkpoints: last.pt holds the EMA ("ema") and its count ("ema_updates", the reference's
//   n_averaged: 0 means the next update copies), so a resume is exact. When train.best_metric
//   is val_acc_ema or val_loss_ema, best.pt's "model" is the EMA ("weights": "ema"), so
//   nxt_eval, nxt_predict and export_model.py use the weights that won
//   (docs/checkpoint-format.md).
#pragma once
#include <string>
#include <vector>

#include "comm/replicas.h"
#include "common/torch_pch.h"
#include "model/state_dict_io.h"

namespace nxt {

// The reference's decay adjustment (train.py): 1 - min(1, (1 - decay) x global_batch x
// every_steps / epochs).
double adjusted_ema_decay(double decay, int64_t global_batch, int64_t every_steps, int64_t epochs);

struct EmaOptions {
  double decay = 0;          // per update, adjusted (adjusted_ema_decay)
  int64_t every_steps = 1;   // updates after the global steps that are multiples of this
  double warmup_epochs = 0;  // optim.warmup_epochs: during epochs below it, every update copies
};

class WeightEma {
 public:
  // The EMA of `model`'s parameters and buffers, on their device and in their dtype. It starts
  // as a copy of them, with no update counted (as the reference's deep copy of the model).
  WeightEma(torch::nn::Module& model, EmaOptions options);

  // After optimizer step `global_step` (1-based, skipped steps included) of the 0-based epoch
  // `epoch`: updates when the step is due, then, in a warmup epoch, restarts the averaging.
  // Returns whether it updated.
  bool after_step(int64_t global_step, int64_t epoch);
  // AveragedModel.update_parameters(model): copies when averaged() is 0, else avg = decay * avg
  // + (1 - decay) * p for every floating tensor; integer buffers are copied.
  void update();
  // The reference's n_averaged: updates since the EMA last copied the model (0: the next one
  // copies).
  int64_t averaged() const { return averaged_; }
  // Back to a copy of the model with no update counted (a resume from a file without an EMA).
  void reset();

  // The EMA's BatchNorm buffers, sharing their tensors (a broadcast into them changes the EMA).
  std::vector<NamedTensor> buffers() const;
  // The EMA under the model's state-dict names: contiguous CPU tensors (on a CPU run, sharing
  // storage with the live EMA: snapshot_checkpoint() copies those).
  StateDict state_dict() const;
  // Restores a saved EMA: every name of the model with its shape, no other; errors name
  // `source`.
  void load(const StateDict& state, int64_t averaged, const std::string& source);

  // For its lifetime (an evaluation), the model holds the EMA's weights and buffers; the
  // destructor puts the model's own back. The model's tensors keep their identity (values are
  // copied), so the optimizer's state, the reducer's gradient views and every list of the
  // model's tensors stay valid.
  class InModel {
   public:
    explicit InModel(WeightEma& ema);
    ~InModel();
    InModel(const InModel&) = delete;
    InModel& operator=(const InModel&) = delete;

   private:
    WeightEma& ema_;
    std::vector<torch::Tensor> saved_;  // the model's own values
  };

 private:
  // Parameters, then buffers (as AveragedModel chains them), with their module-path names.
  std::vector<NamedTensor> model_, ema_;
  size_t first_buffer_ = 0;
  // The floating tensors (averaged with foreach ops) and the integer ones (copied).
  std::vector<torch::Tensor> model_float_, ema_float_, model_integer_, ema_integer_;
  EmaOptions options_;
  int64_t averaged_ = 0;
};

}  // namespace nxt
