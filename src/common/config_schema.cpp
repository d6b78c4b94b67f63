// Implements the config key table with typed readers, range checks and writers.
#include "common/config_schema.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/check.h"

namespace nxt {
namespace {

// ---- decoding one YAML node into a typed value --------------------------------------------------

std::string shown(const YAML::Node& node) {
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing";
}

template <class T>
T decode_scalar(const YAML::Node& node, const char* expected) {
  if (!node.IsScalar()) throw Error(std::string("expected ") + expected + ", got " + shown(node));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw Error(std::string("expected ") + expected + ", got " + shown(node));
  }
}

template <class T>
T decode(const YAML::Node& node);

template <>
int64_t decode<int64_t>(const YAML::Node& node) {
  return decode_scalar<int64_t>(node, "an integer");
}
template <>
double decode<double>(const YAML::Node& node) {
  return decode_scalar<double>(node, "a number");
}
template <>
bool decode<bool>(const YAML::Node& node) {
  return decode_scalar<bool>(node, "true or false");
}
template <>
std::string decode<std::string>(const YAML::Node& node) {
  return decode_scalar<std::string>(node, "a string");
}
template <>
std::vector<int64_t> decode<std::vector<int64_t>>(const YAML::Node& node) {
  if (!node.IsSequence()) throw Error("expected a list of integers, got " + shown(node));
  std::vector<int64_t> values;
  for (const auto& item : node) values.push_back(decode<int64_t>(item));
  return values;
}
template <>
StepWindow decode<StepWindow>(const YAML::Node& node) {
  const std::vector<int64_t> pair = decode<std::vector<int64_t>>(node);
  if (pair.size() != 2 || !((pair[0] == 0 && pair[1] == 0) || (pair[0] >= 1 && pair[1] >= pair[0])))
    throw Error(
        "must be [first, last] with 1 <= first <= last (global steps, 1-based), or [0, 0] "
        "for none");
  return {pair[0], pair[1]};
}
template <>
std::optional<int64_t> decode<std::optional<int64_t>>(const YAML::Node& node) {
  if (node.IsScalar() && node.Scalar() == "auto") return std::nullopt;
  if (node.IsScalar()) {
    try {
      return node.as<int64_t>();
    } catch (const YAML::Exception&) {
    }
  }
  throw Error("expected an integer or 'auto', got " + shown(node));
}

// ---- writing a typed value back -----------------------------------------------------------------

template <class T>
void encode(YAML::Emitter& out, const T& value) {
  out << value;
}
void encode(YAML::Emitter& out, const std::vector<int64_t>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (int64_t v : values) out << v;
  out << YAML::EndSeq;
}
void encode(YAML::Emitter& out, const StepWindow& window) {
  encode(out, std::vector<int64_t>{window.first, window.last});
}
void encode(YAML::Emitter& out, const std::optional<int64_t>& value) {
  if (value) {
    out << *value;
  } else {
    out << "auto";
  }
}

// ---- value checks: return "" when fine, else what is wrong --------------------------------------

template <class T>
using Check = std::function<std::string(const T&)>;

Check<int64_t> at_least(int64_t lowest) {
  return [lowest](const int64_t& v) {
    return v >= lowest
               ? ""
               : "must be at least " + std::to_string(lowest) + ", got " + std::to_string(v);
  };
}

Check<double> positive() {
  return [](const double& v) {
    std::ostringstream out;
    if (!(v > 0)) out << "must be greater than 0, got " << v;
    return out.str();
  };
}

Check<double> in_unit_interval() {
  return [](const double& v) {
    std::ostringstream out;
    if (!(v > 0 && v <= 1)) out << "must be in (0, 1], got " << v;
    return out.str();
  };
}

Check<double> at_least_real(double lowest) {
  return [lowest](const double& v) {
    std::ostringstream out;
    if (!(v >= lowest)) out << "must be at least " << lowest << ", got " << v;
    return out.str();
  };
}

Check<double> at_most_one() {
  return [](const double& v) {
    std::ostringstream out;
    if (!(v >= 0 && v <= 1)) out << "must be in [0, 1], got " << v;
    return out.str();
  };
}

Check<double> ema_decay_range() {
  return [](const double& v) {
    std::ostringstream out;
    if (!(v >= 0 && v < 1)) out << "must be in [0, 1), got " << v;
    return out.str();
  };
}

Check<std::vector<int64_t>> pair_of_epochs() {
  return [](const std::vector<int64_t>& v) {
    if (v.size() != 2 || v[0] < 0 || v[1] < v[0])
      return std::string("must be [from, to] with 0 <= from <= to (epochs, 1-based)");
    return std::string();
  };
}

Check<std::optional<int64_t>> auto_or_at_least(int64_t lowest) {
  return [lowest](const std::optional<int64_t>& v) { return !v ? "" : at_least(lowest)(*v); };
}

Check<std::vector<int64_t>> nonempty_all_at_least(int64_t lowest) {
  return [lowest](const std::vector<int64_t>& values) {
    if (values.empty()) return std::string("must list at least one stage");
    for (int64_t v : values) {
      std::string problem = at_least(lowest)(v);
      if (!problem.empty()) return "every entry " + problem;
    }
    return std::string();
  };
}

// A choice: read and written by name through its enum's table (common/enum_names.h).
template <class Section, class Enum>
ConfigKey choice(std::string name, Section Config::*section, Enum Section::*member,
                 const EnumNames<Enum>& names, std::string help) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  key.choices = names_of(names);
  key.read = [section, member, &names](Config& config, const YAML::Node& node) {
    const std::string text = decode<std::string>(node);
    const std::optional<Enum> value = find_enum(text, names);
    if (!value) throw Error("must be one of [" + joined_names(names) + "], got '" + text + "'");
    (config.*section).*member = *value;
  };
  key.write = [section, member, &names](const Config& config, YAML::Emitter& out) {
    out << name_of((config.*section).*member, names);
  };
  return key;
}

template <class Section, class T>
ConfigKey field(std::string name, Section Config::*section, T Section::*member, std::string help,
                Check<T> check = nullptr) {
  ConfigKey key;
  key.name = std::move(name);
  key.help = std::move(help);
  key.read = [section, member, check](Config& config, const YAML::Node& node) {
    T value = decode<T>(node);
    if (check) {
      const std::string problem = check(value);
      if (!problem.empty()) throw Error(problem);
    }
    (config.*section).*member = std::move(value);
  };
  key.write = [section, member](const Config& config, YAML::Emitter& out) {
    encode(out, (config.*section).*member);
  };
  return key;
}

std::vector<ConfigKey> build_schema() {
  using C = Config;
  return {
      field("run.name", &C::run, &RunConfig::name, "run folder name under run.out_dir"),
      field("run.out_dir", &C::run, &RunConfig::out_dir,
            "folder that holds run folders (default: $NXT_OUT_DIR, else $SCRATCH/nxt-runs, "
            "else runs)"),
      field("run.seed", &C::run, &RunConfig::seed, "seed for init, sampling and augmentation",
            at_least(0)),
      choice("run.device", &C::run, &RunConfig::device, kDeviceNames,
             "auto (CUDA when available), cpu or cuda"),
      field("run.threads_per_rank", &C::run, &RunConfig::threads_per_rank,
            "CPU compute threads per rank, or auto (CPU ranks: cores / ranks on the node; GPU "
            "ranks: 1, Note [CPU budget of a rank])",
            auto_or_at_least(1)),
      field("run.tensorboard", &C::run, &RunConfig::tensorboard,
            "rank 0 writes TensorBoard event files to the run folder's tb/ (scalars: losses, "
            "accuracies, lr, img/s, data-wait share, the ranks' step time spread)"),
      field("run.profile_steps", &C::run, &RunConfig::profile_steps,
            "[first, last] global steps (1-based) that LibTorch's profiler (Kineto) records on "
            "every rank: a Chrome/Perfetto trace per rank in the run folder's profile/, with the "
            "step's phases as ranges, op shapes and memory (and CUDA kernels on a GPU); [0, 0] = "
            "off, no cost"),
      field("data.path", &C::data, &DataConfig::path, "packed HDF5 dataset (pack_hdf5)"),
      field("data.batch_size", &C::data, &DataConfig::batch_size, "images per rank per step",
            at_least(1)),
      field("data.image_size", &C::data, &DataConfig::image_size,
            "input size the model sees (the default of train_size and eval_size)", at_least(8)),
      field("data.train_size", &C::data, &DataConfig::train_size,
            "training input size at the start (auto = image_size; lower than eval_size trains "
            "faster and, evaluated larger, scores better: FixRes)",
            auto_or_at_least(8)),
      field("data.train_size_end", &C::data, &DataConfig::train_size_end,
            "training input size at the end of train_size_ramp (auto = train_size: no ramp)",
            auto_or_at_least(8)),
      field("data.train_size_ramp", &C::data, &DataConfig::train_size_ramp,
            "[from, to]: epochs (1-based) over which the training size goes linearly from "
            "train_size to train_size_end, in steps of 32 (FFCV's progressive resizing)",
            pair_of_epochs()),
      field("data.eval_size", &C::data, &DataConfig::eval_size,
            "evaluation input size (auto = image_size)", auto_or_at_least(8)),
      field("data.eval_resize", &C::data, &DataConfig::eval_resize,
            "evaluation: resize the shorter side to this, then centre-crop eval_size (auto: "
            "from eval_crop_ratio; torchvision's recipe: 232 for 224)",
            auto_or_at_least(8)),
      choice("data.normalize", &C::data, &DataConfig::normalize, kNormalizeNames,
             "imagenet (the notebook's mean/std) or dataset (mean/std stored in the file)"),
      field("data.hflip", &C::data, &DataConfig::hflip, "random horizontal flip in training"),
      choice("data.crop", &C::data, &DataConfig::crop, kCropModeNames,
             "training crop: none, pad (zero-pad then random crop) or random_resized"),
      field("data.crop_padding", &C::data, &DataConfig::crop_padding,
            "pixels of zero padding per side for crop: pad", at_least(0)),
      field("data.min_crop_scale", &C::data, &DataConfig::min_crop_scale,
            "smallest area fraction for crop: random_resized", in_unit_interval()),
      field("data.drop_last", &C::data, &DataConfig::drop_last,
            "drop the tail of the shuffled train split instead of padding it to the world size"),
      field("data.cache_in_memory", &C::data, &DataConfig::cache_in_memory,
            "one copy of the images this node reads in /dev/shm, shared by its ranks (the "
            "size per node is logged and checked against free memory first)"),
      field("data.stage_dir", &C::data, &DataConfig::stage_dir,
            "node-local folder for that one copy per node instead of /dev/shm (\"\" = none)"),
      choice("data.shard_by", &C::data, &DataConfig::shard_by, kShardByNames,
             "rank (one global shuffle: every node reads every image) or node (each node a "
             "fixed share, shuffled within the node)"),
      field("data.reshard_every_epochs", &C::data, &DataConfig::reshard_every_epochs,
            "shard_by node: deal the node shares anew every this many epochs (0 = never)",
            at_least(0)),
      field("data.readahead_batches", &C::data, &DataConfig::readahead_batches,
            "ask the OS to read the images of this many batches ahead (0 = off)", at_least(0)),
      field("data.loader_threads", &C::data, &DataConfig::loader_threads,
            "threads preparing batches per rank, or auto", auto_or_at_least(1)),
      field("data.prefetch", &C::data, &DataConfig::prefetch, "batches prepared ahead per rank",
            at_least(1)),
      choice("data.sampler", &C::data, &DataConfig::sampler, kSamplerNames,
             "shard (each sample once per epoch), balanced (classes drawn equally, samples "
             "with replacement; same epoch length) or repeated (repeated augmentation: each "
             "drawn sample `repeats` times, on different ranks; same epoch length)"),
      field("data.repeats", &C::data, &DataConfig::repeats,
            "sampler repeated: copies of each drawn sample per epoch (torchvision: 3)",
            at_least(1)),
      field("data.eval_crop_ratio", &C::data, &DataConfig::eval_crop_ratio,
            "evaluation: centre crop of this fraction of the stored image, resized to "
            "eval_size (0.875 = torchvision's 256 -> 224); 1 = plain resize",
            in_unit_interval()),
      field("data.color_jitter", &C::data, &DataConfig::color_jitter,
            "training: brightness, contrast and saturation factors drawn in [1-s, 1+s] (0 = off)",
            at_most_one()),
      choice("data.auto_augment", &C::data, &DataConfig::auto_augment, kAutoAugmentNames,
             "training: none, or trivial (TrivialAugmentWide: one random op of random strength)"),
      field("data.mixup_alpha", &C::data, &DataConfig::mixup_alpha,
            "training: mixup with a Beta(alpha, alpha) weight and soft targets (0 = off)",
            at_least_real(0)),
      field("data.cutmix_alpha", &C::data, &DataConfig::cutmix_alpha,
            "training: cutmix with a Beta(alpha, alpha) area (0 = off; with mixup, one of the "
            "two per batch)",
            at_least_real(0)),
      field("data.random_erase", &C::data, &DataConfig::random_erase,
            "training: probability of erasing a random rectangle after normalisation "
            "(torchvision's RandomErasing; 0 = off, torchvision's recipe: 0.1)",
            at_most_one()),
      choice("model.arch", &C::model, &ModelConfig::arch, kArchNames,
             "named ResNeXt variant or custom"),
      field("model.num_classes", &C::model, &ModelConfig::num_classes,
            "classes of the fc layer, or auto (from the dataset)", auto_or_at_least(2)),
      field("model.blocks", &C::model, &ModelConfig::blocks, "custom: blocks per stage",
            nonempty_all_at_least(1)),
      field("model.cardinality", &C::model, &ModelConfig::cardinality,
            "custom: groups of the 3x3 conv", at_least(1)),
      field("model.width_per_group", &C::model, &ModelConfig::width_per_group,
            "custom: channels per group at the first stage", at_least(1)),
      field("model.stem_width", &C::model, &ModelConfig::stem_width,
            "custom: stem channels; stage s has stem_width*2^s planes", at_least(1)),
      choice("model.stem", &C::model, &ModelConfig::stem, kStemNames,
             "custom: imagenet (7x7/2 conv + 3x3/2 max-pool) or cifar (3x3/1 conv, no pool)"),
      field("model.zero_init_residual", &C::model, &ModelConfig::zero_init_residual,
            "start each block's last BatchNorm gamma at 0"),
      field("model.pretrained", &C::model, &ModelConfig::pretrained,
            "torchvision-style state dict to initialise from (fc re-initialised if sizes differ)"),
      field("model.reset_classifier", &C::model, &ModelConfig::reset_classifier,
            "with pretrained: a fresh fc even when the pretrained one has this many classes"),
      choice("optim.name", &C::optim, &OptimConfig::name, kOptimizerNames,
             "adam, adamw, sgd or lars (sgd with layer-wise trust ratios, for large batches)"),
      field("optim.lr", &C::optim, &OptimConfig::lr, "learning rate", positive()),
      field("optim.momentum", &C::optim, &OptimConfig::momentum, "sgd and lars momentum",
            at_least_real(0)),
      field("optim.nesterov", &C::optim, &OptimConfig::nesterov, "sgd and lars: Nesterov momentum"),
      field("optim.lars_eta", &C::optim, &OptimConfig::lars_eta,
            "lars: trust coefficient (eta x |w| / (|g| + weight_decay x |w|))", positive()),
      field("optim.weight_decay", &C::optim, &OptimConfig::weight_decay, "weight decay",
            at_least_real(0)),
      field("optim.decay_bn_and_bias", &C::optim, &OptimConfig::decay_bn_and_bias,
            "apply weight decay to BatchNorm and bias parameters too"),
      choice("optim.schedule", &C::optim, &OptimConfig::schedule, kScheduleNames,
             "learning-rate schedule: constant, step or cosine"),
      field("optim.warmup_epochs", &C::optim, &OptimConfig::warmup_epochs,
            "linear warmup from 0 over this many epochs", at_least_real(0)),
      field("optim.step_every_epochs", &C::optim, &OptimConfig::step_every_epochs,
            "schedule step: multiply by step_gamma every N epochs", at_least(1)),
      field("optim.step_gamma", &C::optim, &OptimConfig::step_gamma, "schedule step: factor",
            positive()),
      field("optim.min_lr", &C::optim, &OptimConfig::min_lr, "schedule cosine: final lr",
            at_least_real(0)),
      choice("optim.scale_lr", &C::optim, &OptimConfig::scale_lr, kLrScalingNames,
             "none, or linear: lr x (batch_size x ranks x grad_accum) / base_batch"),
      field("optim.base_batch", &C::optim, &OptimConfig::base_batch,
            "scale_lr linear: the global batch that lr is given for", at_least(1)),
      field("optim.backbone_lr_mult", &C::optim, &OptimConfig::backbone_lr_mult,
            "lr of every parameter but fc's, as a multiple of lr (fine-tuning: 0.1)", positive()),
      field("optim.max_lr", &C::optim, &OptimConfig::max_lr,
            "cap on the lr after scaling and warmup (0 = none)", at_least_real(0)),
      field("train.epochs", &C::train, &TrainConfig::epochs, "epochs to train", at_least(1)),
      field("train.grad_accum", &C::train, &TrainConfig::grad_accum,
            "micro-batches per optimizer step (gradient accumulation)", at_least(1)),
      field("train.clip_grad_norm", &C::train, &TrainConfig::clip_grad_norm,
            "clip the global gradient norm to this (0 = off)", at_least_real(0)),
      field("train.label_smoothing", &C::train, &TrainConfig::label_smoothing,
            "cross-entropy label smoothing", at_least_real(0)),
      field("train.skip_nonfinite", &C::train, &TrainConfig::skip_nonfinite,
            "skip steps with a NaN/Inf loss instead of stopping with an error"),
      field("train.metrics_every_steps", &C::train, &TrainConfig::metrics_every_steps,
            "read loss/accuracy off the device and check for NaN every N steps (auto: 1 on "
            "CPU, 25 on CUDA; skip_nonfinite needs 1)",
            auto_or_at_least(1)),
      field("train.checkpoint_every_steps", &C::train, &TrainConfig::checkpoint_every_steps,
            "also write last.pt every N steps (0 = at each epoch end only)", at_least(0)),
      field("train.checkpoint_every_minutes", &C::train, &TrainConfig::checkpoint_every_minutes,
            "also write last.pt once N minutes (fractions allowed) have passed since the last "
            "checkpoint, by rank 0's clock (0 = off)",
            at_least_real(0)),
      field("train.snapshot_every_steps", &C::train, &TrainConfig::snapshot_every_steps,
            "keep the training state in node-local memory on every node every N steps, to "
            "continue on the surviving nodes when one is lost (auto: as often as costs under 1% "
            "of step time; 0 = off)",
            auto_or_at_least(0)),
      field("train.snapshot_dir", &C::train, &TrainConfig::snapshot_dir,
            "node-local folder of the in-memory snapshots (a tmpfs; under it "
            "nxt-snapshots-<uid>/<run>, the user's only)"),
      field(
          "train.log_every_seconds", &C::train, &TrainConfig::log_every_seconds,
          "period of the progress lines (when output is not a terminal) and of rank 0's straggler "
          "report",
          positive()),
      choice("train.amp", &C::train, &TrainConfig::amp, kAmpNames,
             "CUDA autocast: bf16, fp16 (with dynamic loss scaling, as torch.amp.GradScaler) or "
             "none; CPU runs fp32"),
      field("train.tf32", &C::train, &TrainConfig::tf32,
            "CUDA: TF32 tensor cores for fp32 matmuls and convolutions (false: full fp32)"),
      field("train.channels_last", &C::train, &TrainConfig::channels_last,
            "channels-last memory format (CPU and CUDA; +20% measured on CPU here)"),
      field("train.cudnn_benchmark", &C::train, &TrainConfig::cudnn_benchmark,
            "CUDA: let cuDNN pick the fastest convolution algorithms"),
      choice("train.stop_signal", &C::train, &TrainConfig::stop_signal, kStopSignalNames,
             "signal that checkpoints and stops, besides TERM and INT: USR1 or USR2"),
      field("train.freeze_bn", &C::train, &TrainConfig::freeze_bn,
            "keep BatchNorm in eval mode while training (fine-tuning; batch-size independent)"),
      field("train.freeze_backbone_epochs", &C::train, &TrainConfig::freeze_backbone_epochs,
            "train fc alone (backbone weights and BatchNorm statistics fixed) for the first N "
            "epochs, then everything",
            at_least(0)),
      choice("train.class_weights", &C::train, &TrainConfig::class_weights, kClassWeightNames,
             "loss weight per class: none, or balanced (inverse train-split frequency, mean 1)"),
      field("train.early_stop_patience", &C::train, &TrainConfig::early_stop_patience,
            "stop after N epochs without a better best_metric (0 = off)", at_least(0)),
      choice("train.best_metric", &C::train, &TrainConfig::best_metric, kBestMetricNames,
             "what picks best.pt and early stopping: val_acc (higher) or val_loss (lower), or "
             "val_acc_ema / val_loss_ema (the EMA's; best.pt then holds the EMA weights)"),
      field("train.ema_decay", &C::train, &TrainConfig::ema_decay,
            "EMA of the weights and BatchNorm buffers, validated beside the raw ones; the decay "
            "per update is torchvision's adjustment of it, 1 - min(1, (1 - ema_decay) x global "
            "batch x ema_every_steps / epochs) (0 = off; its recipe: 0.99998, every 32 steps)",
            ema_decay_range()),
      field("train.ema_every_steps", &C::train, &TrainConfig::ema_every_steps,
            "optimizer steps between EMA updates", at_least(1)),
      field("train.log_every_steps", &C::train, &TrainConfig::log_every_steps,
            "a line in train_log.jsonl every N optimizer steps (0 = off; auto: the first multiple "
            "of metrics_every_steps from 10, so lines add no host syncs); each line reads the "
            "metrics",
            auto_or_at_least(0)),
      choice("eval.mode", &C::eval, &EvalConfig::mode, kEvalModeNames,
             "rank0 (rank 0 evaluates all) or sharded (each rank its share)"),
      choice("eval.tta", &C::eval, &EvalConfig::tta, kEvalTtaNames,
             "test-time augmentation: none, or flip (the mean of the logits of each image and "
             "its horizontal mirror; twice the evaluation compute)"),
      choice("dist.backend", &C::dist, &DistConfig::backend, kDistBackendNames,
             "auto (NCCL for CUDA tensors, else MPI), nccl or mpi"),
      field("dist.bucket_mb", &C::dist, &DistConfig::bucket_mb,
            "gradient bucket size in MB (0 = one all-reduce per parameter)", at_least_real(0)),
      field("dist.allow_unused_parameters", &C::dist, &DistConfig::allow_unused_parameters,
            "allow parameters that get no gradient in a step"),
      field("dist.check_replicas_every", &C::dist, &DistConfig::check_replicas_every,
            "compare parameter checksums across ranks every N steps (0 = off)", at_least(0)),
      field("dist.timeout_s", &C::dist, &DistConfig::timeout_s,
            "seconds a collective or the communicator's start-up may take before the job is "
            "ended on every rank (a hung or stopped peer or GPU)",
            at_least(1)),
      field("dist.rank0_phase_timeout_s", &C::dist, &DistConfig::rank0_phase_timeout_s,
            "the same deadline for the other ranks while rank 0 works alone (rank-0 "
            "evaluation, checkpoint and file reads)",
            at_least(1)),
  };
}

// ---- docs/config.md ----------------------------------------------------------------------------

// Defaults read from the environment at start-up: the page states the rule, not this machine's
// value, so that it renders the same everywhere.
const char* environment_default(const std::string& key) {
  if (key == "run.out_dir") return "`$NXT_OUT_DIR`, else `$SCRATCH/nxt-runs`, else `runs`";
  return nullptr;
}

// A number as the shortest text that reads back to the same double (yaml-cpp writes 0.08 as
// 0.080000000000000002); any other scalar as it is.
std::string shortest_number(const std::string& text) {
  if (text.find_first_of(".eE") == std::string::npos) return text;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0') return text;
  for (int digits = 1; digits <= 17; ++digits) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", digits, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return text;
}

// Text inside a table cell: a '|' would end the cell, a '*' could start emphasis.
std::string table_cell(const std::string& text) {
  std::string cell;
  for (char c : text) {
    if (c == '|' || c == '*') cell += '\\';
    cell += c;
  }
  return cell;
}

std::string default_cell(const ConfigKey& key, const Config& defaults) {
  if (const char* rule = environment_default(key.name)) return rule;
  YAML::Emitter out;
  key.write(defaults, out);
  return "`" + table_cell(shortest_number(out.c_str())) + "`";
}

std::string section_of(const ConfigKey& key) {
  return key.name.substr(0, key.name.find('.'));
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  static const std::vector<ConfigKey> schema = build_schema();
  return schema;
}

std::string config_reference_markdown() {
  std::vector<std::string> sections;
  for (const ConfigKey& key : config_schema())
    if (sections.empty() || sections.back() != section_of(key)) sections.push_back(section_of(key));

  std::ostringstream page;
  page << "# Config reference\n\n"
       << "<!-- Generated by `nxt_ddp --keys-markdown`: do not edit by hand. -->\n"
       << "Generated from the key table in `src/common/config_schema.cpp`, the only list of keys,"
       << " by `nxt_ddp --keys-markdown`. To change a key's text, edit its help there and"
       << " regenerate:\n\n"
       << "```bash\n./build/bin/nxt_ddp --keys-markdown > docs/config.md\n```\n\n"
       << "The unit test `Config.DocsConfigReferenceIsGenerated` fails while this file differs"
       << " from what the schema renders.\n\n"
       << "A config is one YAML file with these sections; any key can be overridden with"
       << " `--set section.key=value` (the value is YAML: `--set model.blocks=[1,1,1]`)."
       << " `nxt_ddp --keys` lists the keys, `nxt_ddp --print-config` prints the resolved"
       << " config. Defaults are those of a config that sets nothing; `auto` is resolved at"
       << " start-up. How the keys work together: [usage.md](usage.md).\n\n"
       << "Sections:";
  for (size_t i = 0; i < sections.size(); ++i)
    page << (i ? ", " : " ") << "[`" << sections[i] << "`](#" << sections[i] << ")";
  page << ".\n";

  const Config defaults;
  std::string open_section;
  for (const ConfigKey& key : config_schema()) {
    if (section_of(key) != open_section) {
      open_section = section_of(key);
      page << "\n## `" << open_section << "`\n\n"
           << "| key | default | meaning |\n| --- | --- | --- |\n";
    }
    page << "| `" << key.name << "` | " << default_cell(key, defaults) << " | "
         << table_cell(key.help) << " |\n";
  }
  return page.str();
}

}  // namespace nxt
