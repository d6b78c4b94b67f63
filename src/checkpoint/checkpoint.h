// Training checkpoints (best.pt, last.pt; docs/checkpoint-format.md): one pickled dict in
// torch.save's zip format, so Python's torch.load reads it and torch.load(path)["model"] is a
// torchvision state dict. Written atomically by rank 0.
#pragma once
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/torch_pch.h"
#include "model/state_dict_io.h"

namespace nxt {

// Where training stands: enough to continue exactly.
struct TrainingPosition {
  int64_t epoch = 0;          // the epoch in progress (or next to start)
  int64_t step_in_epoch = 0;  // optimizer steps done in that epoch
  int64_t global_step = 0;    // optimizer steps done in all
  // Global sample positions of that epoch done (Note [World-size-independent epochs] in
  // data/sampler.h): what a resume on another world size continues from.
  int64_t samples_in_epoch = 0;
  // The job that wrote it: ranks and samples per optimizer step (0: unknown, nxt before 0.2).
  int64_t world_size = 0, global_batch = 0;
  // The node layout that epoch's sequence was built for (data.shard_by node: Note [Node shares]
  // in data/sampler.h): nodes and ranks per node; 0 and 0: shard_by rank's sequence (and every
  // checkpoint written before shard_by). A resume on another layout rebuilds it from these.
  int64_t sequence_nodes = 0, sequence_ranks_per_node = 0;
  // The validation metrics of the best epoch so far, as train.best_metric picks it, of the
  // weights best.pt holds (the EMA's under val_acc_ema / val_loss_ema) (-1 and a huge loss:
  // none yet; the loss is absent from checkpoints written before best_metric).
  double best_val_acc = -1;
  double best_val_loss = std::numeric_limits<double>::max();
  int64_t best_epoch = -1;
  // The epoch's training totals so far, so a resumed epoch reports the same metrics.
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  // Dynamic loss scaling's state (train.amp fp16; train/loss_scaler.h): the scale (0: none,
  // the run did not scale or the checkpoint predates it) and its growth tracker.
  double loss_scale = 0;
  int64_t loss_scale_growth_tracker = 0;
};

// How the stored images of the data a checkpoint trained on were made, which decides how
// evaluation and prediction prepare an image (Preprocess::layout()).
enum class StoredLayout {
  kFixedSquares,  // format version 1 (pack_hdf5 --size): every image resized to stored_size
  kAspectKept,    // format version 2 (pack_hdf5 --max-side): longer side <= max_side, own shape
};

// How an image file becomes the model's input, so nxt_eval and nxt_predict repeat training's
// evaluation exactly, then normalisation. Version 1 data: pack_hdf5's decode and resize to the
// stored size, the centre window of eval_crop_ratio, resized to input_size. Version 2 data:
// the decode fitted to max_side, torchvision's Resize(eval_resize) + CenterCrop(input_size).
struct Preprocess {
  int64_t stored_height = 0, stored_width = 0;  // version 2: max_side x max_side, the bound
  std::string resize_mode;       // pack_hdf5 --resize: stretch | crop | pad; version 2: "fit"
  int64_t input_size = 0;        // the evaluation size (data/resolution.h eval_size)
  double eval_crop_ratio = 1.0;  // the effective one (eval_crop_ratio(); 1 in files before it)
  std::array<double, 3> mean{}, stddev{};  // RGB, pixels in [0, 1]
  int64_t train_size = 0;  // for the record: the training size of the epoch that wrote it (0: none)
  // Version 2 data: pack_hdf5 --max-side (0: version 1 data, and every file written before
  // version 2: the fixed-square pipeline above).
  int64_t max_side = 0;
  // Version 2 data: the shorter side evaluation resizes to before the centre crop
  // (data/resolution.h eval_resize_shorter; 0 with version 1 data and in older files).
  int64_t eval_resize = 0;

  StoredLayout layout() const {
    return max_side > 0 ? StoredLayout::kAspectKept : StoredLayout::kFixedSquares;
  }
};

// Which weights a checkpoint's "model" holds: the trained ones, or their exponential moving
// average (best.pt when train.best_metric is val_acc_ema or val_loss_ema; Note [EMA of the
// weights] in train/ema.h).
enum class CheckpointWeights { kRaw, kEma };
inline const EnumNames<CheckpointWeights> kCheckpointWeightsNames = {
    {CheckpointWeights::kRaw, "raw"}, {CheckpointWeights::kEma, "ema"}};

// The weights best.pt holds under `metric`.
inline CheckpointWeights best_weights(BestMetric metric) {
  const bool ema = metric == BestMetric::kValAccEma || metric == BestMetric::kValLossEma;
  return ema ? CheckpointWeights::kEma : CheckpointWeights::kRaw;
}

// The EMA's state in last.pt, so that a resume continues it exactly.
struct EmaState {
  StateDict weights;     // under the model's names: parameters and buffers
  int64_t averaged = 0;  // "ema_updates": torchvision's n_averaged (0: the next update copies)
};

struct Checkpoint {
  StateDict model;
  CheckpointWeights weights = CheckpointWeights::kRaw;  // what `model` is ("weights")
  std::optional<EmaState> ema;  // train.ema_decay runs ("ema", "ema_updates")
  std::vector<char> optimizer;  // LibTorch's optimizer archive
  TrainingPosition position;
  std::string config_yaml;
  std::vector<std::string> classes;
  std::string dataset_fingerprint;
  std::string model_signature;           // arch + shape of every tensor: a resumed model must match
  std::optional<Preprocess> preprocess;  // absent in checkpoints of nxt before nxt_predict
};

inline constexpr const char* kCheckpointFormat = "nxt-checkpoint";
inline constexpr int64_t kCheckpointVersion = 1;

void save_checkpoint(const Checkpoint& checkpoint, const std::string& path);
// The two halves of save_checkpoint(), so that one serialisation can go to several files:
// the file's bytes, and their atomic write (temp file, fsync, rename; the
// NXT_PAUSE_IN_CHECKPOINT_WRITE_S hook pauses it before the rename).
// `model`: kRaw writes the checkpoint as it is; kEma puts its `ema` (which it must have) under
// "model" with "weights": "ema" and no separate "ema" entry (best.pt when the EMA won).
std::vector<char> checkpoint_bytes(const Checkpoint& checkpoint,
                                   CheckpointWeights model = CheckpointWeights::kRaw);
void write_checkpoint_file(const std::vector<char>& bytes, const std::string& path);
// Publishes `path` as a second name of the checkpoint file `existing` (publish_as_link in
// common/fs.h); false where the file system makes no links. Holds between its temp name and
// the rename as write_checkpoint_file does (NXT_PAUSE_IN_CHECKPOINT_WRITE_S).
bool link_checkpoint_file(const std::string& existing, const std::string& path);
Checkpoint load_checkpoint(const std::string& path);
// The same from the file's bytes (read by rank 0 and broadcast); `path` names it in errors.
Checkpoint parse_checkpoint(const std::vector<char>& bytes, const std::string& path);

std::vector<char> optimizer_bytes(const torch::optim::Optimizer& optimizer);

// The optimizer's state as it is now, held as CPU copies that later steps do not change, so
// that its archive can be made later on another thread (Note [Background checkpoints] in
// checkpoint/async_writer.h). Taking it swaps copies into `optimizer` for the length of
// optimizer.save() and swaps the live state back before returning, also on an error.
class OptimizerSnapshot {
 public:
  explicit OptimizerSnapshot(torch::optim::Optimizer& optimizer);
  OptimizerSnapshot() = default;  // none, or released once its bytes were made
  // LibTorch's optimizer archive of that state: what optimizer_bytes() returned at the time.
  std::vector<char> bytes() const;

 private:
  std::shared_ptr<torch::serialize::OutputArchive> archive_;
};
// Restores the optimizer's state onto `device` (each rank's own), whatever device wrote it: a
// checkpoint saved on cuda:0 must not put rank 3's Adam moments on cuda:0. The archive is
// read on the CPU, then move_optimizer_state() places it.
void load_optimizer_bytes(torch::optim::Optimizer& optimizer, const std::vector<char>& bytes,
                          const std::string& source, torch::Device device);
// Every state tensor of an Adam, AdamW or SGD optimizer onto `device`.
void move_optimizer_state(torch::optim::Optimizer& optimizer, torch::Device device);

// A short text that changes whenever the arch, a tensor name or a shape does; it starts with the
// arch's config name, so checkpoints written before the arch was an enum still match.
std::string model_signature(ModelArch arch, const StateDict& state);

}  // namespace nxt
