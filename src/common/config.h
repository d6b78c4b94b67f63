// The typed run configuration: one YAML file plus --set overrides, parsed once into these
// structs, validated, and written back out as the resolved config of a run.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/enum_names.h"

namespace nxt {

// Config choices, decoded once from their names (the tables below) when the config is read and
// written back by the same names. Code compares the enums; only these tables spell the names.
enum class DeviceChoice { kAuto, kCpu, kCuda };     // auto: CUDA when available
enum class NormalizeStats { kImageNet, kDataset };  // mean/std: ImageNet's or the file's
enum class CropMode {
  kNone,  // keep the stored image (resized to the output size if it differs)
  kPad,   // zero-pad by `crop_padding` on each side, then a random window of the stored size
  kRandomResized,  // torchvision's RandomResizedCrop: random area and aspect, resized to output
};
enum class SamplerKind {
  kShard,     // one seeded shuffle: each sample once per epoch
  kBalanced,  // classes drawn equally, with replacement
  kRepeated,  // repeated augmentation: each drawn sample `repeats` times, on different ranks
};
// Which images a rank reads in a training epoch (Note [Node shares] in data/sampler.h).
enum class ShardBy {
  kRank,  // one global shuffle, strided over the ranks: every node reads every image
  kNode,  // each node a fixed 1/N_nodes share, shuffled within the node, re-dealt or never
};
enum class AutoAugment { kNone, kTrivial };
enum class ModelArch { kResNeXt50_32x4d, kResNeXt101_32x8d, kResNeXt101_64x4d, kCustom };
enum class StemKind {
  kImageNet,  // 7x7/2 conv + 3x3/2 max-pool (torchvision)
  kCifar,     // 3x3/1 conv, no pool: for 32px inputs
};
enum class OptimizerKind { kAdam, kAdamW, kSgd, kLars };
enum class ScheduleKind { kConstant, kStep, kCosine };
enum class LrScaling { kNone, kLinear };  // linear: lr * global batch / base_batch
enum class AmpMode { kBf16, kFp16, kNone };
enum class StopSignal { kUsr1, kUsr2 };
enum class ClassWeighting { kNone, kBalanced };
enum class BestMetric { kValAcc, kValLoss, kValAccEma, kValLossEma };  // *Ema: the EMA weights'
enum class EvalMode { kRank0, kSharded };
enum class EvalTta { kNone, kFlip };            // flip: mean logits of the image and its mirror
enum class DistBackend { kAuto, kNccl, kMpi };  // auto: NCCL for CUDA tensors, else MPI

// In table order: errors list the valid names in this order.
// clang-format off
inline const EnumNames<DeviceChoice> kDeviceNames = {
    {DeviceChoice::kAuto, "auto"}, {DeviceChoice::kCpu, "cpu"}, {DeviceChoice::kCuda, "cuda"}};
inline const EnumNames<NormalizeStats> kNormalizeNames = {
    {NormalizeStats::kImageNet, "imagenet"}, {NormalizeStats::kDataset, "dataset"}};
inline const EnumNames<CropMode> kCropModeNames = {
    {CropMode::kNone, "none"}, {CropMode::kPad, "pad"},
    {CropMode::kRandomResized, "random_resized"}};
inline const EnumNames<SamplerKind> kSamplerNames = {
    {SamplerKind::kShard, "shard"}, {SamplerKind::kBalanced, "balanced"},
    {SamplerKind::kRepeated, "repeated"}};
inline const EnumNames<ShardBy> kShardByNames = {{ShardBy::kRank, "rank"},
                                                 {ShardBy::kNode, "node"}};
inline const EnumNames<AutoAugment> kAutoAugmentNames = {
    {AutoAugment::kNone, "none"}, {AutoAugment::kTrivial, "trivial"}};
inline const EnumNames<ModelArch> kArchNames = {
    {ModelArch::kResNeXt50_32x4d, "resnext50_32x4d"},
    {ModelArch::kResNeXt101_32x8d, "resnext101_32x8d"},
    {ModelArch::kResNeXt101_64x4d, "resnext101_64x4d"},
    {ModelArch::kCustom, "custom"}};
inline const EnumNames<StemKind> kStemNames = {
    {StemKind::kImageNet, "imagenet"}, {StemKind::kCifar, "cifar"}};
inline const EnumNames<OptimizerKind> kOptimizerNames = {
    {OptimizerKind::kAdam, "adam"}, {OptimizerKind::kAdamW, "adamw"}, {OptimizerKind::kSgd, "sgd"},
    {OptimizerKind::kLars, "lars"}};
inline const EnumNames<ScheduleKind> kScheduleNames = {
    {ScheduleKind::kConstant, "constant"}, {ScheduleKind::kStep, "step"},
    {ScheduleKind::kCosine, "cosine"}};
inline const EnumNames<LrScaling> kLrScalingNames = {
    {LrScaling::kNone, "none"}, {LrScaling::kLinear, "linear"}};
inline const EnumNames<AmpMode> kAmpNames = {
    {AmpMode::kBf16, "bf16"}, {AmpMode::kFp16, "fp16"}, {AmpMode::kNone, "none"}};
inline const EnumNames<StopSignal> kStopSignalNames = {
    {StopSignal::kUsr1, "USR1"}, {StopSignal::kUsr2, "USR2"}};
inline const EnumNames<ClassWeighting> kClassWeightNames = {
    {ClassWeighting::kNone, "none"}, {ClassWeighting::kBalanced, "balanced"}};
inline const EnumNames<BestMetric> kBestMetricNames = {
    {BestMetric::kValAcc, "val_acc"}, {BestMetric::kValLoss, "val_loss"},
    {BestMetric::kValAccEma, "val_acc_ema"}, {BestMetric::kValLossEma, "val_loss_ema"}};
inline const EnumNames<EvalMode> kEvalModeNames = {
    {EvalMode::kRank0, "rank0"}, {EvalMode::kSharded, "sharded"}};
inline const EnumNames<EvalTta> kEvalTtaNames = {
    {EvalTta::kNone, "none"}, {EvalTta::kFlip, "flip"}};
inline const EnumNames<DistBackend> kDistBackendNames = {
    {DistBackend::kAuto, "auto"}, {DistBackend::kNccl, "nccl"}, {DistBackend::kMpi, "mpi"}};
// clang-format on

// Where run folders go unless the config says: $NXT_OUT_DIR, else $SCRATCH/nxt-runs (a
// cluster's scratch file system, where checkpoints belong), else "runs".
std::string default_out_dir();

// A window of global optimizer steps, 1-based and inclusive; {0, 0} is none.
struct StepWindow {
  int64_t first = 0;
  int64_t last = 0;
  bool empty() const { return first == 0; }
  bool contains(int64_t step) const { return !empty() && step >= first && step <= last; }
};

struct RunConfig {
  std::string name = "default";
  std::string out_dir = default_out_dir();  // NXT_OUT_DIR, else $SCRATCH/nxt-runs, else runs
  int64_t seed = 42;
  DeviceChoice device = DeviceChoice::kAuto;
  std::optional<int64_t> threads_per_rank;  // CPU compute threads; nullopt = cores / local ranks
  bool tensorboard = true;                  // event files in the run folder's tb/
  StepWindow profile_steps;                 // a Kineto trace per rank of these steps
};

struct DataConfig {
  std::string path;          // packed HDF5 file (data_tools/pack_hdf5)
  int64_t batch_size = 32;   // per rank
  int64_t image_size = 224;  // what the model sees (train_size and eval_size default to it)
  // Training resolution (data/resolution.h): train_size at first, then linearly to
  // train_size_end over the epochs train_size_ramp = [from, to] (1-based, FFCV's progressive
  // resizing), rounded to a multiple of 32. nullopt = image_size; the end: = train_size.
  std::optional<int64_t> train_size;
  std::optional<int64_t> train_size_end;
  std::vector<int64_t> train_size_ramp = {0, 0};
  std::optional<int64_t> eval_size;    // evaluation input size; nullopt = image_size
  std::optional<int64_t> eval_resize;  // shorter side before the eval centre crop (FixRes)
  NormalizeStats normalize = NormalizeStats::kImageNet;
  bool hflip = true;                  // random horizontal flip (training only)
  CropMode crop = CropMode::kNone;    // training only
  int64_t crop_padding = 4;           // crop: pad
  double min_crop_scale = 0.08;       // crop: random_resized
  bool drop_last = false;             // drop the tail instead of padding the shards
  bool cache_in_memory = false;       // one copy per node in /dev/shm (data/node_copy.h), mapped
  std::string stage_dir;              // node-local folder for that copy instead ("" = none)
  ShardBy shard_by = ShardBy::kRank;  // kNode: each node reads a fixed share
  int64_t reshard_every_epochs = 0;   // shard_by node: re-deal the shares (0 = never)
  int64_t readahead_batches = 4;      // posix_fadvise(WILLNEED) this far ahead (0 = off)
  std::optional<int64_t> loader_threads;      // nullopt = auto (from the cores per rank)
  int64_t prefetch = 4;                       // batches prepared ahead
  SamplerKind sampler = SamplerKind::kShard;  // balanced: classes drawn equally
  int64_t repeats = 3;                        // sampler: repeated (torchvision's RASampler)
  double eval_crop_ratio = 1.0;  // evaluation: centre crop of this fraction, resized (0.875)
  double color_jitter = 0;       // brightness/contrast/saturation factor in [1-s, 1+s]
  AutoAugment auto_augment = AutoAugment::kNone;
  double mixup_alpha = 0;   // 0 = off; Beta(alpha, alpha) mixing weight
  double cutmix_alpha = 0;  // 0 = off; with mixup too, one of the two per batch
  double random_erase = 0;  // probability of torchvision's RandomErasing, after normalisation

  // The training sizes those nullopts stand for, spelled once (data/resolution.h builds on
  // them): the first epochs' (train_size, else image_size) and the last's (train_size_end, else
  // the first).
  int64_t first_train_size() const { return train_size.value_or(image_size); }
  int64_t last_train_size() const { return train_size_end.value_or(first_train_size()); }
  // Where the node's one copy goes (data/node_copy.h): /dev/shm with cache_in_memory, else
  // stage_dir; "" = no copy, the file is read.
  std::string node_copy_dir() const { return cache_in_memory ? "/dev/shm" : stage_dir; }
};

struct ModelConfig {
  ModelArch arch = ModelArch::kResNeXt50_32x4d;  // a named variant, or custom
  std::optional<int64_t> num_classes;            // nullopt = auto, from the dataset
  // Used when arch is custom:
  std::vector<int64_t> blocks = {3, 4, 6, 3};
  int64_t cardinality = 32;
  int64_t width_per_group = 4;
  int64_t stem_width = 64;
  StemKind stem = StemKind::kImageNet;
  bool zero_init_residual = false;
  std::string pretrained;         // torchvision-style state dict to start from ("" = none)
  bool reset_classifier = false;  // a fresh fc even when the pretrained one has the right size
};

struct OptimConfig {
  OptimizerKind name = OptimizerKind::kAdam;
  double lr = 1e-4;
  double momentum = 0.9;    // sgd, lars
  bool nesterov = false;    // sgd, lars
  double lars_eta = 0.001;  // lars: trust coefficient
  double weight_decay = 0;
  bool decay_bn_and_bias = false;  // false: BatchNorm and bias parameters get no weight decay
  ScheduleKind schedule = ScheduleKind::kConstant;
  double warmup_epochs = 0;        // linear warmup from 0
  int64_t step_every_epochs = 30;  // schedule: step
  double step_gamma = 0.1;         // schedule: step
  double min_lr = 0;               // schedule: cosine floor
  LrScaling scale_lr = LrScaling::kNone;
  int64_t base_batch = 256;     // scale_lr: linear
  double backbone_lr_mult = 1;  // lr of everything but fc, as a multiple of fc's
  double max_lr = 0;            // cap on the scheduled lr, after scaling and warmup (0 = none)
};

struct TrainConfig {
  int64_t epochs = 10;
  int64_t grad_accum = 1;     // micro-batches per optimizer step
  double clip_grad_norm = 0;  // 0 = off
  double label_smoothing = 0;
  bool skip_nonfinite = false;  // skip a step whose loss is NaN/Inf instead of stopping
  // Read the training loss/accuracy off the device (and check for NaN) every N steps;
  // nullopt = auto: every step on CPU, every 25 on CUDA (no host sync in between).
  std::optional<int64_t> metrics_every_steps;
  int64_t checkpoint_every_steps = 0;   // last.pt also every N steps (0 = each epoch only)
  double checkpoint_every_minutes = 0;  // and every N minutes by rank 0's clock (0 = off)
  // In-memory snapshots on every node every N steps (Note [In-memory snapshots] in
  // checkpoint/snapshots.h): 0 = off; nullopt = auto, as often as costs under 1% of step time.
  std::optional<int64_t> snapshot_every_steps;
  std::string snapshot_dir = "/dev/shm";  // node-local; under it nxt-snapshots-<uid>/<run>
  double log_every_seconds = 30;          // progress lines when not on a terminal
  AmpMode amp = AmpMode::kBf16;           // CUDA only (CPU always fp32); fp16 adds loss scaling
  // CUDA: TF32 tensor cores for fp32 matmuls (cuBLAS) and convolutions (cuDNN). On by default
  // because cuDNN's convolutions, nearly all of a ResNeXt's work, already use TF32 by default in
  // PyTorch; false makes both full fp32 (PyTorch's own default turns only cuBLAS's off).
  bool tf32 = true;
  bool channels_last = true;  // memory format of activations and conv weights
  bool cudnn_benchmark = true;
  StopSignal stop_signal = StopSignal::kUsr2;  // besides TERM and INT (USR1 can clash with NCCL)
  bool freeze_bn = false;              // BatchNorm layers use and keep their running statistics
  int64_t freeze_backbone_epochs = 0;  // train fc alone for the first N epochs
  ClassWeighting class_weights = ClassWeighting::kNone;  // loss weights per class
  int64_t early_stop_patience = 0;  // stop after N epochs without improvement (0 = off)
  BestMetric best_metric = BestMetric::kValAcc;  // what picks best.pt
  // An exponential moving average of the weights and BatchNorm buffers (train/ema.h): the
  // decay (0 = off), adjusted as torchvision's reference for the global batch and the period.
  double ema_decay = 0;
  int64_t ema_every_steps = 32;  // optimizer steps between EMA updates
  // A train_log.jsonl line every N steps (0 = off); nullopt = auto: the first multiple of
  // metrics_every_steps from 10 on (10 on CPU, 25 on CUDA), so lines add no host syncs.
  std::optional<int64_t> log_every_steps;
};

struct EvalConfig {
  EvalMode mode = EvalMode::kRank0;
  EvalTta tta = EvalTta::kNone;  // test-time augmentation (Note [flip TTA] in eval/forward.cpp)
};

struct DistConfig {
  DistBackend backend = DistBackend::kAuto;
  double bucket_mb = 25;
  bool allow_unused_parameters = false;
  int64_t check_replicas_every = 0;  // compare parameter checksums every N steps (0 = off)
  int64_t timeout_s = 600;  // a collective (or start-up) not done in this time ends the job
  // The deadline of the ranks that wait while rank 0 works alone (Note [Watchdog]).
  int64_t rank0_phase_timeout_s = 3600;
};

struct Config {
  RunConfig run;
  DataConfig data;
  ModelConfig model;
  OptimConfig optim;
  TrainConfig train;
  EvalConfig eval;
  DistConfig dist;
};

// Parses `path` (empty = defaults only), applies each "section.key=value" override in order,
// and validates. Errors name the file and line (or the --set argument) and the key.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Same, from YAML text; `source_name` stands in for the file name in errors.
Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides = {});

// The resolved config as YAML, every key present, in schema order.
std::string to_yaml(const Config& config);

// Every valid key ("section.key") with its help text, for --keys and docs/config.md.
std::vector<std::pair<std::string, std::string>> config_key_help();

}  // namespace nxt
