// Implements the trainer: a Trainer object per rank whose methods are the phases of the job.
// Which rank decides what, and why every rank calls the same collectives in the same order:
// Note [Collective order] in comm/communicator.h.
#include "train/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <thread>

#include <unistd.h>

#include "checkpoint/async_writer.h"
#include "checkpoint/checkpoint.h"
#include "comm/backends.h"
#include "comm/communicator.h"
#include "comm/placement.h"
#include "comm/reducer.h"
#include "comm/replicas.h"
#include "common/check.h"
#include "common/compat.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/test_hooks.h"
#include "data/class_balance.h"
#include "data/dataset_format.h"
#include "data/loader.h"
#include "data/mix.h"
#include "data/node_copy.h"
#include "data/normalize.h"
#include "data/resolution.h"
#include "eval/evaluate.h"
#include "model/build.h"
#include "train/curves.h"
#include "train/ema.h"
#include "train/grad_clip.h"
#include "train/loss_scaler.h"
#include "train/memory_stats.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/progress.h"
#include "train/run_reports.h"
#include "train/step_timer.h"
#include "train/stop_signals.h"
#include "train/train_log.h"

namespace nxt {
namespace {

using Clock = std::chrono::steady_clock;

// What every rank must agree on after backward, before the update (Note [Collective order]):
// a stop request on any rank (a signal, or the NXT_STOP_AT_STEP hook), a NaN/Inf step loss
// on any rank (train.skip_nonfinite), and rank 0's train.checkpoint_every_minutes clock (a
// checkpoint sums the epoch's totals over ranks, so every rank must take it), and an inf/NaN
// gradient under fp16 loss scaling on any rank (every rank skips that step and backs off).
struct StepFlags {
  int stop_signal = 0;  // 0: none
  bool nonfinite = false;
  bool checkpoint_due = false;
  bool grad_overflow = false;
};

// Where an epoch runs, in global sample positions (Note [World-size-independent epochs]).
struct EpochSpan {
  int64_t start = 0;    // positions done before this job's first step of the epoch
  int64_t end = 0;      // positions done when its last step ends
  int64_t steps = 0;    // optimizer steps this job takes in the epoch (the same on every rank)
  int64_t samples = 0;  // this rank's samples from start to end
};

struct ResumePoint {
  Checkpoint checkpoint;
  std::string path;
};

bool due(int64_t step, int64_t every) {
  return every > 0 && step % every == 0;
}

// The NXT_STALL_AT_STEP test hook: this thread blocks for good outside any host wait.
[[noreturn]] void stall_for_ever(const char* where) {
  log::all() << "test hook NXT_STALL_AT_STEP: this rank's main thread stalls " << where;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

class Trainer {
 public:
  Trainer(const Config& config, const MpiSession& mpi)
      : config_(config),
        place_(mpi.place()),
        compute_(
            configure_rank(place_, {config.run.device, config.run.threads_per_rank,
                                    config.data.loader_threads, config.train.cudnn_benchmark})),
        device_(compute_.device) {}

  int run(const std::string& resume);
  int evaluate_only(const std::string& checkpoint_path);

 private:
  void set_up_compute();
  void open_data();
  // Optimizer steps of a whole epoch whose sequence has `sequence_length` positions, checked.
  void count_steps_per_epoch(int64_t sequence_length);
  void start_communicator();
  // Which node each rank is on, the job's node layout and this rank's slot (Note [Node shares]
  // in data/sampler.h); collective. Training only.
  void learn_nodes();
  // Note [One copy per node] (data/node_copy.h): the copies of the images this node reads in
  // `epoch`, (re)built when the deal changes; collective, a no-op without cache_in_memory or
  // stage_dir.
  void update_node_copies(int64_t epoch);
  std::shared_ptr<const NodeCopy> make_node_copy(const ImageReader& reader,
                                                 std::vector<int64_t> indices,
                                                 const std::string& what);
  std::vector<int64_t> val_images_of_node() const;
  // `load_pretrained`: false when a checkpoint will replace every weight (a resumed run must not
  // depend on the pretrained file still being there).
  void build_model(bool load_pretrained = true);
  void build_optimizer();
  void set_backbone_frozen(bool frozen);
  void prepare_run_folder();
  std::optional<Checkpoint> read_checkpoint_on_rank0(const std::string& path, bool missing_ok);
  // The checkpoint --resume names (auto: the run folder's last.pt, if rank 0 sees one).
  std::optional<ResumePoint> read_resume_checkpoint(const std::string& resume);
  void refuse_foreign_checkpoint(const ResumePoint& resume) const;
  void resume_from(const ResumePoint& resume);
  void continue_position(const TrainingPosition& saved, const std::string& path);
  void forget_best_of_other_weights(const Checkpoint& checkpoint, const std::string& path);
  int64_t global_batch() const {
    return config_.data.batch_size * place_.world_size * config_.train.grad_accum;
  }
  void trace_samples(int64_t epoch, const Batch& batch);
  // One epoch of steps; 0 when it ran to its end, else the stop signal the ranks agreed on.
  int train_epoch(int64_t epoch);
  void start_epoch(int64_t epoch);
  // The steps of one optimizer step, in the order train_epoch() calls them:
  void forward_backward(EpochLoader& loader, int64_t epoch);
  torch::Tensor training_loss(const DeviceBatch& input, const Batch& batch, int64_t epoch,
                              torch::Tensor* logits);
  StepFlags agree_on_step();
  double advance_position(int64_t step, int64_t steps, const EpochSpan& span);
  void apply_update(int64_t epoch, double epoch_fraction);
  void skip_update();
  void end_step();
  // Training metrics accumulate on the device (StepMetrics) and are read (a host sync) only
  // every metrics_every_ steps, at log lines, at checkpoints and at the epoch's end.
  void read_metrics(int64_t epoch);
  // `trained`: samples this process trained in the epoch (a resumed epoch counts only those).
  void finish_epoch(int64_t epoch, const MetricTotals& train, int64_t trained, double seconds);
  MetricTotals evaluate_split(const ImageReader& reader, EvalDetails* details = nullptr);
  MetricTotals evaluate_val() { return evaluate_split(*val_reader_); }
  // The EMA's val figures (Note [EMA of the weights] in train/ema.h): the model holds the EMA
  // for the evaluation, with rank 0's EMA buffers on every rank.
  MetricTotals evaluate_ema_val();
  // `val`: the figures of the weights train.best_metric judges (the EMA's for *_ema).
  bool improves_best(const MetricTotals& val) const;
  bool early_stop_due();
  void log_step_line(int64_t epoch, double epoch_fraction);
  void evaluate_best_on_test();
  void write_run_summary(const std::string& status, const std::string& reason);
  void set_training_mode();
  CheckpointSnapshot checkpoint_now();
  // `before_exit`: a stop signal's, written before any rank goes on (Note [Background
  // checkpoints] in checkpoint/async_writer.h); otherwise rank 0 writes it in the background.
  void save_last(bool before_exit);
  std::string run_file(const std::string& name) const { return run_dir_ + "/" + name; }
  bool is_rank0() const { return place_.rank == 0; }
  bool on_cuda() const { return device_.is_cuda(); }

  Config config_;
  ProcessPlace place_;
  RankCompute compute_;
  torch::Device device_;
  std::unique_ptr<PackedDataset> dataset_;
  std::unique_ptr<ImageReader> train_reader_, val_reader_, test_reader_;
  std::unique_ptr<Normalizer> normalize_;
  Preprocess preprocess_;  // recorded in checkpoints for nxt_predict
  LoaderOptions loader_options_;
  ResNeXt model_{nullptr};
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<Reducer> reducer_;
  GroupedOptimizer optimizer_;
  bool backbone_frozen_ = false;  // train.freeze_backbone_epochs: only fc trains
  torch::Tensor class_weights_;   // train.class_weights on the device; undefined = none
  std::unique_ptr<LrSchedule> schedule_;
  std::vector<NamedTensor> parameters_;
  std::vector<NamedTensor> buffers_;  // BatchNorm running statistics: each rank updates its own
  std::unique_ptr<MetricsCsv> csv_;
  std::unique_ptr<CurvePlotter> curves_;
  std::unique_ptr<TrainLog> train_log_;  // rank 0; null when train.log_every_steps is 0
  Clock::time_point last_log_time_;      // train_log.jsonl: the previous line's time and step
  int64_t last_log_step_ = 0;
  CheckpointWriter checkpoint_writer_;  // rank 0's (Note [Background checkpoints])
  // The last checkpoint's time, for train.checkpoint_every_minutes (read on rank 0).
  Clock::time_point last_checkpoint_time_ = Clock::now();
  std::string early_stop_reason_;  // set when train.early_stop_patience ends the run
  std::string run_dir_;
  TrainingPosition position_;
  MetricTotals epoch_totals_;  // this rank's, for the epoch in progress (read so far)
  std::unique_ptr<StepMetrics> step_metrics_;  // this rank's, not read yet
  int64_t steps_at_last_read_ = 0;             // global_step at the last read
  int64_t metrics_every_ = 1;
  int64_t log_every_ = 0;        // train_log.jsonl lines (0: none)
  double last_loss_ = 0;         // mean loss at the last read, for the progress line
  int64_t steps_per_epoch_ = 0;  // optimizer steps of a whole epoch at this world size
  double lr_ = 0;
  // Test hooks: NXT_TRACE_SAMPLES (a folder: every trained sample, per rank),
  // NXT_STOP_AT_STEP (rank 0 acts as if signalled after that global step), NXT_CRASH_AT_STEP
  // (rank 0 dies by SIGKILL once that global step is logged and checkpointed, as a lost node
  // would: train_log.jsonl then has lines past last.pt) and NXT_NAN_AT_STEP (the last rank's
  // loss, and so every gradient after the all-reduce, is NaN at that global step).
  std::ofstream sample_trace_;
  int64_t inject_stop_at_step_ = 0, inject_crash_at_step_ = 0, inject_nan_at_step_ = 0;
  // NXT_STALL_AT_STEP (at that global step the last rank never starts its backward, and rank
  // 0's main thread blocks after issuing its gradient buckets, not in a host wait, as behind a
  // full CUDA launch queue: only the watchdog thread can end the job) and NXT_SLOW_RANK0_EVAL_S
  // (rank 0's evaluations take that much longer, a rank-0 phase beyond dist.timeout_s).
  int64_t inject_stall_at_step_ = 0, inject_slow_eval_s_ = 0;
  // Where this rank's epoch time goes (train/step_timer.h), and its host reads.
  std::unique_ptr<StepTimer> step_timer_;
  int64_t epoch_steps_ = 0, host_reads_at_epoch_start_ = 0;
  bool autocast_bf16_ = false;  // train.amp on a GPU
  bool autocast_fp16_ = false;  // train.amp fp16 on a GPU, with loss_scaler_ enabled
  LossScaler loss_scaler_;      // disabled unless fp16 (train/loss_scaler.h)
  bool skip_scaled_step_ = false;  // this step's gradients overflowed on some rank (fp16)
  std::unique_ptr<WeightEma> ema_;  // train.ema_decay (train/ema.h); null when off
  // Nodes (learn_nodes()): nodes in the order of their first rank. layout_ is the job's under
  // data.shard_by node, {0, 0} under shard_by rank; slot_ is this rank's place in the epoch's
  // sequence (its rank under shard_by rank).
  NodeLayout layout_;
  int node_ = 0, nodes_ = 1, slot_ = 0;
  std::vector<int> node_of_rank_{0}, first_rank_of_node_{0};
  std::string host_;
  std::string copy_job_;  // NodeCopyOptions::job: rank 0's random number, the same on all ranks
  // The interrupted epoch's layout, when resumed mid-epoch (continue_position()).
  std::optional<NodeLayout> resumed_layout_;
  std::shared_ptr<const NodeCopy> train_copy_, val_copy_;
  int64_t train_copy_deal_ = -1;  // the deal train_copy_ holds
};

// The device, threads and process tuning are configure_rank()'s (in the constructor).
void Trainer::set_up_compute() {
  autocast_bf16_ = bf16_autocast(config_, device_);
  autocast_fp16_ = on_cuda() && config_.train.amp == AmpMode::kFp16;
  // Test hook NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL: fp16's loss scaling also on a CPU run (no
  // autocast), with that growth interval, so that the e2e tests reach its flag and checkpoint.
  const std::optional<long long> cpu_scaling = test_hook("NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL");
  if (autocast_fp16_ || (cpu_scaling && !on_cuda())) {
    LossScalerOptions scaling;
    if (cpu_scaling && !on_cuda()) scaling.growth_interval = *cpu_scaling;
    loss_scaler_ = LossScaler(scaling);
    log::info() << "train.amp fp16: autocast to float16 with dynamic loss scaling from "
                << loss_scaler_.scale() << "; evaluation runs in fp32";
  }
  if (!on_cuda() && config_.train.amp == AmpMode::kFp16)
    log::warn() << "train.amp fp16 applies on CUDA only: this " << device_.str()
                << " run trains in fp32, without loss scaling";
  if (on_cuda()) {
    at::globalContext().setAllowTF32CuBLAS(config_.train.tf32);
    at::globalContext().setAllowTF32CuDNN(config_.train.tf32);
  }
  torch::manual_seed(static_cast<uint64_t>(config_.run.seed));
  metrics_every_ = config_.train.metrics_every_steps.value_or(on_cuda() ? 25 : 1);
  if (config_.train.skip_nonfinite && metrics_every_ != 1) {
    log::warn() << "train.skip_nonfinite reads every step's loss: metrics_every_steps "
                << metrics_every_ << " -> 1";
    metrics_every_ = 1;
  }
  // A log line reads the metrics: by default only on steps that read them anyway.
  log_every_ = config_.train.log_every_steps.value_or(metrics_every_ *
                                                      ((10 + metrics_every_ - 1) / metrics_every_));
  if (const char* dir = std::getenv("NXT_TRACE_SAMPLES")) {
    sample_trace_.open(std::string(dir) + "/samples.rank" + std::to_string(place_.rank) + ".txt",
                       std::ios::app);
    NXT_CHECK(sample_trace_.good(), "NXT_TRACE_SAMPLES: cannot write to '", dir, "'");
  }
  inject_stop_at_step_ = test_hook("NXT_STOP_AT_STEP").value_or(0);
  inject_crash_at_step_ = test_hook("NXT_CRASH_AT_STEP").value_or(0);
  inject_nan_at_step_ = test_hook("NXT_NAN_AT_STEP").value_or(0);
  inject_stall_at_step_ = test_hook("NXT_STALL_AT_STEP").value_or(0);
  inject_slow_eval_s_ = test_hook("NXT_SLOW_RANK0_EVAL_S").value_or(0);
}

// After the dataset checks, so that a wrong data.path fails before NCCL or MPI windows start.
void Trainer::start_communicator() {
  // Fault injection (tests/multinode/rank_never_joining_ends_start_up.sh):
  // NXT_HANG_BEFORE_COMM_START_RANK=R makes rank R never join the communicator's start-up, like
  // a rank stuck on its node; the others' start-up must then end the job after dist.timeout_s
  // (Note [Watchdog]).
  if (test_hook("NXT_HANG_BEFORE_COMM_START_RANK") == place_.rank)
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  comm_ = make_communicator(config_.dist.backend, device_, place_,
                            {std::chrono::seconds(config_.dist.timeout_s),
                             std::chrono::seconds(config_.dist.rank0_phase_timeout_s)});
  log::info() << "nxt_ddp: " << place_.world_size << " rank(s), device " << device_.str()
              << ", backend " << comm_->backend_name() << ", "
              << (on_cuda()
                      ? std::string("autocast ") +
                            (autocast_bf16_ ? "bf16" : autocast_fp16_ ? "fp16 (loss scaling)" : "off")
                      : std::to_string(torch::get_num_threads()) + " compute thread(s) per rank")
              << "; " << nccl_description();
  // Every rank must read the same file: a stale node-local copy on one node would give it
  // other splits or labels, and so other collectives. One all-reduce gathers every rank's
  // fingerprint hash (rank r fills slot r, the others 0), so every rank fails alike, naming
  // the ranks whose file differs from rank 0's.
  std::vector<int64_t> hashes(static_cast<size_t>(place_.world_size), 0);
  hashes[static_cast<size_t>(place_.rank)] =
      static_cast<int64_t>(Fnv1a64().add(dataset_->fingerprint()).value() >> 1);
  hashes = comm_->all_reduce_integers(hashes, ReduceOp::kSum);
  std::string differing;
  int64_t count = 0;
  for (size_t r = 1; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0] && ++count <= 16)
      differing += (count > 1 ? ", " : "") + std::to_string(r);
  if (count > 16) differing += " and " + std::to_string(count - 16) + " more";
  NXT_CHECK(count == 0, "the ranks opened different datasets at data.path '", config_.data.path,
            "' (a stale node-local copy?): rank(s) ", differing, " read a file whose ",
            "fingerprint differs from rank 0's (", count, " of ", place_.world_size,
            " ranks); here, on rank ", place_.rank, ", it is ", dataset_->fingerprint());
  log::all() << "placement: " << placement_text(place_, device_, loader_options_.threads, *comm_);
}

void Trainer::open_data() {
  NXT_CHECK(!config_.data.path.empty(),
            "data.path is empty: pack a dataset with "
            "data_tools/pack_hdf5 and set data.path");
  dataset_ = std::make_unique<PackedDataset>(config_.data.path);
  NXT_CHECK(dataset_->has_split("val") && dataset_->split("val").size() > 0, "'", config_.data.path,
            "' has no validation images (pack with --val-fraction > 0)");
  const int64_t classes = dataset_->num_classes();
  NXT_CHECK(!config_.model.num_classes || *config_.model.num_classes == classes,
            "model.num_classes is ", config_.model.num_classes.value_or(0), " but '",
            config_.data.path, "' has ", classes, " classes; set model.num_classes: auto");
  config_.model.num_classes = classes;
  train_reader_ = std::make_unique<ImageReader>(*dataset_, "train");
  val_reader_ = std::make_unique<ImageReader>(*dataset_, "val");
  if (dataset_->has_split("test") && dataset_->split("test").size() > 0)
    test_reader_ = std::make_unique<ImageReader>(*dataset_, "test");
  const bool imagenet = config_.data.normalize == NormalizeStats::kImageNet;
  // Evaluation's size and crop (data/resolution.h); train_size is each epoch's (train_epoch()).
  const int64_t eval_side = eval_size(config_.data);
  preprocess_ = {dataset_->height(),
                 dataset_->width(),
                 dataset_->attribute(format::kAttrResizeMode),
                 eval_side,
                 eval_crop_ratio(config_.data),
                 imagenet ? kImageNetMean : dataset_->mean(),
                 imagenet ? kImageNetStd : dataset_->stddev()};
  preprocess_.max_side = dataset_->max_side();  // 0 for version 1 data
  // Version 2 data: evaluation is torchvision's Resize(eval_resize) + CenterCrop(eval_side).
  if (preprocess_.layout() == StoredLayout::kAspectKept)
    preprocess_.eval_resize = eval_resize_shorter(config_.data);
  normalize_ = std::make_unique<Normalizer>(preprocess_.mean, preprocess_.stddev, device_);
  LoaderOptions& o = loader_options_;
  o.batch_size = config_.data.batch_size;
  o.output = {eval_side, eval_side};  // evaluation's; train_epoch() sets each epoch's own
  o.augment.hflip = config_.data.hflip;
  o.augment.crop = config_.data.crop;
  o.augment.crop_padding = config_.data.crop_padding;
  o.augment.min_crop_scale = config_.data.min_crop_scale;
  o.augment.auto_augment = config_.data.auto_augment;
  o.augment.color_jitter = config_.data.color_jitter;
  o.augment.random_erase = config_.data.random_erase;
  o.eval_crop_ratio = preprocess_.eval_crop_ratio;
  o.eval_resize_shorter = preprocess_.eval_resize;
  o.sampler = config_.data.sampler;
  o.repeats = config_.data.repeats;
  o.drop_last = config_.data.drop_last;
  o.seed = static_cast<uint64_t>(config_.run.seed);
  o.shard = {place_.rank, place_.world_size};
  o.threads = compute_.loader_threads;
  o.prefetch = static_cast<int>(config_.data.prefetch);
  o.pin_memory = on_cuda();
  o.readahead_batches = config_.data.readahead_batches;
  // shard_by node: learn_nodes() counts again once the layout is known (fewer with drop_last).
  count_steps_per_epoch(train_reader_->size());
  log::info() << "data: " << config_.data.path << ", " << classes << " classes, train "
              << train_reader_->size() << ", val " << val_reader_->size() << " images ("
              << train_reader_->access_path() << " reads), " << steps_per_epoch_
              << " steps per epoch";
  log::info() << "resolution: " << resolution_text(config_.data, preprocess_.max_side);
  const int64_t largest = largest_input_size(config_.data);
  if (is_rank0() && largest > std::min(dataset_->height(), dataset_->width()))
    log::warn() << "data: images stored at " << dataset_->height() << "x" << dataset_->width()
                << " are upsampled for sizes up to " << largest
                << " px (data.train_size*, eval_size, eval_resize); pack_hdf5 --size " << largest
                << " keeps their detail";
}

void Trainer::count_steps_per_epoch(int64_t sequence_length) {
  const int64_t batch = config_.data.batch_size;
  const int64_t batches =
      train_steps_per_epoch(sequence_length, place_.world_size, batch, config_.data.drop_last);
  steps_per_epoch_ = batches / config_.train.grad_accum;
  NXT_CHECK(steps_per_epoch_ >= 1, "the train split (", train_reader_->size(),
            " images, an epoch of ", sequence_length, ") gives no full optimizer step per epoch ",
            "with ", place_.world_size, " rank(s) x batch ", batch, " x grad_accum ",
            config_.train.grad_accum);
}

// One all-reduce as an allgather (rank r fills its own entries, the others 0): every rank's
// local rank and local size (MPI's nodes: MPI_Comm_split_type) and a hash of its host name,
// which tells which ranks share a node. Nodes are numbered in the order of their first rank.
void Trainer::learn_nodes() {
  const int world = place_.world_size, rank = place_.rank;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) std::snprintf(name, sizeof name, "?");
  host_ = name;
  std::vector<int64_t> table(static_cast<size_t>(3 * world + 1), 0);
  table[3 * rank] = place_.local_rank;
  table[3 * rank + 1] = place_.local_size;
  table[3 * rank + 2] = static_cast<int64_t>(Fnv1a64().add(host_).value() >> 1);
  if (is_rank0()) table[3 * world] = static_cast<int64_t>(std::random_device()() | 1u);
  table = comm_->all_reduce_integers(table, ReduceOp::kSum);
  copy_job_ = std::to_string(table[3 * world]);
  node_of_rank_.assign(static_cast<size_t>(world), -1);
  first_rank_of_node_.clear();
  std::vector<int64_t> node_hosts;
  for (int r = 0; r < world; ++r) {
    const int64_t host = table[3 * r + 2];
    const auto known = std::find(node_hosts.begin(), node_hosts.end(), host);
    if (known == node_hosts.end()) {
      node_hosts.push_back(host);
      first_rank_of_node_.push_back(r);
    }
    node_of_rank_[static_cast<size_t>(r)] = static_cast<int>(
        std::find(node_hosts.begin(), node_hosts.end(), host) - node_hosts.begin());
  }
  nodes_ = static_cast<int>(node_hosts.size());
  node_ = node_of_rank_[static_cast<size_t>(rank)];
  slot_ = rank;  // shard_by rank; shard_by node sets its own below
  const DataConfig& data = config_.data;
  if (data.shard_by == ShardBy::kRank && data.node_copy_dir().empty()) return;
  // Host names and MPI's nodes must agree: the node copy's writer is local rank 0, and a node
  // share is read by exactly the ranks of one node.
  std::vector<int64_t> on_node(static_cast<size_t>(nodes_), 0);
  for (int r = 0; r < world; ++r) ++on_node[static_cast<size_t>(node_of_rank_[r])];
  for (int r = 0; r < world; ++r) {
    const int node = node_of_rank_[static_cast<size_t>(r)];
    NXT_CHECK(on_node[node] == table[3 * r + 1] && table[3 * r] < on_node[node], "rank ", r,
              " is local rank ", table[3 * r], " of ", table[3 * r + 1], " on its node (MPI), but ",
              on_node[node], " rank(s) share its host name: the ",
              "node copies (data.cache_in_memory, data.stage_dir) and data.shard_by node need ",
              "one host name per node");
  }
  if (data.shard_by == ShardBy::kNode) {
    std::string counts;
    bool equal = true;
    for (int k = 0; k < nodes_; ++k) {
      equal = equal && on_node[k] == on_node[0];
      counts += (k ? ", " : "") + std::string("node ") + std::to_string(k) + " (first rank " +
                std::to_string(first_rank_of_node_[k]) + "): " + std::to_string(on_node[k]);
    }
    NXT_CHECK(equal, "data.shard_by node needs the same number of ranks on every node ",
              "(Note [Node shares] in src/data/sampler.h); the ranks per node are ", counts);
    layout_ = {nodes_, place_.local_size};
    slot_ = node_ * layout_.ranks_per_node + place_.local_rank;
    count_steps_per_epoch(
        node_sharded_length(train_reader_->size(), layout_, config_.data.drop_last));
    const int64_t every = data.reshard_every_epochs;
    log::info() << "data.shard_by node: " << layout_.nodes << " node(s) x "
                << layout_.ranks_per_node << " rank(s), each node reads a share of "
                << train_reader_->size() / layout_.nodes << "-"
                << (train_reader_->size() + layout_.nodes - 1) / layout_.nodes << " of "
                << train_reader_->size() << " training images, "
                << (every > 0 ? "dealt anew every " + std::to_string(every) + " epoch(s)"
                              : std::string("the same share every epoch"))
                << "; " << steps_per_epoch_ << " steps per epoch";
  }
}

// The val images this node's ranks evaluate (evaluation's shards: rank r takes r, r + world,
// ...; eval.mode rank0: rank 0 all of them), so each node holds a 1/N_nodes share of val too.
std::vector<int64_t> Trainer::val_images_of_node() const {
  const int64_t n = val_reader_->size();
  const int world = place_.world_size;
  std::vector<int64_t> mine;
  for (int64_t i = 0; i < n; ++i) {
    const int reader = config_.eval.mode == EvalMode::kRank0 ? 0 : static_cast<int>(i % world);
    if (node_of_rank_[static_cast<size_t>(reader)] == node_) mine.push_back(i);
  }
  return mine;
}

// Each rank builds its node's copy (the writer writes, the others wait for it) on a thread of
// its own while the main thread polls with a one-number all-reduce: however long the slowest
// node's copy takes, no collective waits longer than a poll (one collective after the copy
// would have rank 0, whose own copy may be done first, run out of dist.timeout_s).
std::shared_ptr<const NodeCopy> Trainer::make_node_copy(const ImageReader& reader,
                                                        std::vector<int64_t> indices,
                                                        const std::string& what) {
  const int world = place_.world_size;
  NodeCopyOptions options;
  options.dir = config_.data.node_copy_dir();
  options.writer = place_.local_rank == 0;
  options.timeout_s = static_cast<double>(config_.dist.rank0_phase_timeout_s);
  options.who = "rank " + std::to_string(place_.rank) + " on " + host_ + " (node " +
                std::to_string(node_) + ")";
  options.writer_who = "rank " + std::to_string(first_rank_of_node_[static_cast<size_t>(node_)]);
  options.job = copy_job_;
  const auto start = Clock::now();
  // A detached thread and shared state, not std::async: when another rank's copy fails, this
  // rank stops waiting and ends the job at once, even if its own copy is stuck in a read (a
  // future's destructor would wait for it).
  struct Build {
    std::atomic<bool> done{false};
    std::shared_ptr<const NodeCopy> copy;
    std::string failure;
  };
  auto build = std::make_shared<Build>();
  std::thread([build, &reader, indices = std::move(indices), options]() mutable {
    try {
      if (options.writer) make_dirs(options.dir);
      build->copy = std::make_shared<const NodeCopy>(reader, std::move(indices), options);
    } catch (const std::exception& e) {
      build->failure = e.what();
    }
    build->done = true;
  }).detach();
  // Poll until every copy is done or any has failed: {busy, failed}, the max over the ranks.
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const bool done = build->done;
    const std::vector<int64_t> state = comm_->all_reduce_integers(
        {done ? 0 : 1, done && !build->failure.empty() ? 1 : 0}, ReduceOp::kMax);
    if (state[0] == 0 || state[1] == 1) break;
  }
  const bool done = build->done;
  const std::string failure = done ? build->failure : std::string();
  std::vector<int64_t> failed(static_cast<size_t>(world), 0);
  failed[static_cast<size_t>(place_.rank)] = failure.empty() ? 0 : 1;
  failed = comm_->all_reduce_integers(failed, ReduceOp::kSum);
  if (!failure.empty()) throw Error(failure);
  std::string failing;
  for (int r = 0; r < world; ++r)
    if (failed[static_cast<size_t>(r)])
      failing += (failing.empty() ? "" : ", ") + std::to_string(r);
  NXT_CHECK(failing.empty(), "the node copy of the ", what, " failed on rank(s) ", failing,
            " (their messages say why); this rank ", done ? "had its own" : "stopped waiting");
  const std::shared_ptr<const NodeCopy> copy = build->copy;
  // Every rank of every node has mapped its copy (each finished): in /dev/shm the name can go.
  if (config_.data.cache_in_memory) copy->unlink_file();
  if (options.writer) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    auto line = log::all();
    line << "node copy of node " << node_ << " (" << host_ << "): " << what << ": "
         << copy->images() << " images, " << bytes_text(copy->size_bytes());
    if (copy->images() > 0) line << " in " << copy->path();
    if (copy->reused())
      line << ", left by an earlier job on this node: reused";
    else
      line << ", written in " << static_cast<int64_t>(seconds * 10) / 10.0 << " s";
  }
  return copy;
}

void Trainer::update_node_copies(int64_t epoch) {
  const DataConfig& data = config_.data;
  if (data.node_copy_dir().empty()) return;
  const bool by_node = layout_.nodes > 0;
  const int64_t deal = by_node ? deal_of_epoch(epoch, data.reshard_every_epochs) : 0;
  if (train_copy_ && deal == train_copy_deal_) return;
  // Every rank lets go of the last deal's copy before the writer makes the next: two at once
  // would need twice the room.
  train_reader_->use_node_copy(nullptr);
  train_copy_.reset();
  comm_->barrier();
  std::vector<int64_t> images;
  if (by_node) {
    images = node_share(train_reader_->size(), static_cast<uint64_t>(config_.run.seed), deal, node_,
                        layout_.nodes);
  } else {
    images.resize(static_cast<size_t>(train_reader_->size()));
    std::iota(images.begin(), images.end(), 0);
  }
  const std::string what = by_node ? "train split, node share of deal " + std::to_string(deal)
                                   : std::string("train split");
  train_copy_ = make_node_copy(*train_reader_, std::move(images), what);
  train_copy_deal_ = deal;
  train_reader_->use_node_copy(train_copy_);
  if (!val_copy_) {  // the test split is read once, at the end: from the file
    val_copy_ = make_node_copy(*val_reader_, val_images_of_node(), "val split, this node's share");
    val_reader_->use_node_copy(val_copy_);
  }
}

// The pretrained weights too are read by rank 0 alone (Note [Collective order]): the other
// ranks' file systems may not have the file.
void Trainer::build_model(bool load_pretrained) {
  std::optional<StateDict> pretrained;
  if (load_pretrained && !config_.model.pretrained.empty()) {
    const std::string& path = config_.model.pretrained;
    const Communicator::Rank0Phase rank0_phase(*comm_);
    const auto bytes = read_file_on_rank0(path, /*missing_ok=*/false, *comm_, device_);
    pretrained = state_dict_from_bytes(*bytes, path);
  }
  model_ = nxt::build_model(config_.model, *config_.model.num_classes, pretrained);
  model_->to(device_);
  if (config_.train.channels_last) use_channels_last(*model_);
  const auto state = parameters_and_buffers(*model_);
  check_same_structure(state, *comm_);
  broadcast_from_rank0(state, *comm_);
  for (const auto& item : model_->named_buffers()) buffers_.push_back({item.key(), item.value()});
}

// Training only (--evaluate builds none of it). The reducer follows at each epoch's start,
// when the epoch decides which parameters train (set_backbone_frozen).
void Trainer::build_optimizer() {
  const double lr = scaled_lr(config_.optim, global_batch());
  optimizer_ = make_optimizer(config_.optim, *model_, lr, model_->classifier()->parameters());
  schedule_ = std::make_unique<LrSchedule>(config_.optim, lr, config_.train.epochs);
  {
    auto line = log::info();
    line << "model: " << name_of(config_.model.arch, kArchNames) << "; optimizer "
         << name_of(config_.optim.name, kOptimizerNames) << ", lr " << lr << " (global batch "
         << global_batch() << ")";
    if (config_.optim.backbone_lr_mult != 1.0)
      line << ", backbone lr x " << config_.optim.backbone_lr_mult;
    if (schedule_->capped()) line << ", capped at optim.max_lr " << config_.optim.max_lr;
  }
  const TrainConfig& train = config_.train;
  if (train.ema_decay > 0) {  // after channels_last: the EMA takes the model's layout
    const double decay = adjusted_ema_decay(train.ema_decay, global_batch(),
                                            train.ema_every_steps, train.epochs);
    ema_ = std::make_unique<WeightEma>(
        *model_, EmaOptions{decay, train.ema_every_steps, config_.optim.warmup_epochs});
    char text[200];
    std::snprintf(text, sizeof text,
                  "EMA: decay %.8g -> effective %.8g per update every %lld step(s) (global batch "
                  "%lld, %lld epochs)",
                  train.ema_decay, decay, static_cast<long long>(train.ema_every_steps),
                  static_cast<long long>(global_batch()), static_cast<long long>(train.epochs));
    auto line = log::info();
    line << text;
    if (config_.optim.warmup_epochs > 0)
      line << "; it copies the weights during the " << config_.optim.warmup_epochs
           << " warmup epoch(s)";
  }
  if (config_.train.class_weights == ClassWeighting::kBalanced &&
      config_.data.sampler == SamplerKind::kBalanced)
    log::warn() << "train.class_weights and data.sampler are both balanced: the imbalance is "
                   "corrected twice (the minority classes now outweigh the others)";
  if (is_rank0() && config_.data.sampler == SamplerKind::kRepeated &&
      config_.data.repeats > place_.world_size)
    log::warn() << "data.repeats " << config_.data.repeats << " > " << place_.world_size
                << " rank(s): some copies of a sample share a rank, usually a batch (Note "
                   "[Repeated augmentation] in data/sampler.h)";
  if (config_.train.class_weights == ClassWeighting::kBalanced) {
    const std::vector<double> weights =
        balanced_class_weights(images_per_class(*train_reader_), dataset_->classes());
    class_weights_ = torch::tensor(weights, torch::kDouble).to(torch::kFloat).to(device_);
    auto line = log::info();
    line << "class weights (balanced):";
    for (size_t c = 0; c < weights.size(); ++c)
      line << " " << dataset_->classes()[c] << " " << weights[c];
  }
}

// Freezing the backbone (train.freeze_backbone_epochs): its parameters stop requiring gradients
// and lose the ones they had, so neither the optimizer nor weight decay moves them, and
// set_training_mode() keeps BatchNorm's statistics. The reducer is rebuilt over the parameters
// that train, so frozen ones are not all-reduced. Every rank makes the same decision at the same
// epoch boundary and builds its buckets from the same parameter order (Note [Collective
// order]); check_same_structure() verifies that before the first bucket is launched.
void Trainer::set_backbone_frozen(bool frozen) {
  if (reducer_ && frozen == backbone_frozen_) return;
  backbone_frozen_ = frozen;
  const std::vector<torch::Tensor> head = model_->classifier()->parameters();
  reducer_.reset();  // its hooks go with it
  parameters_.clear();
  for (const auto& item : model_->named_parameters()) {
    torch::Tensor p = item.value();
    const bool trains = !frozen || is_one_of(p, head);
    p.set_requires_grad(trains);
    if (trains) {
      parameters_.push_back({item.key(), p});
    } else {
      p.mutable_grad() = torch::Tensor();
    }
  }
  check_same_structure(parameters_, *comm_);
  reducer_ = std::make_unique<Reducer>(
      parameters_, *comm_,
      ReducerOptions{config_.dist.bucket_mb, config_.dist.allow_unused_parameters});
  log::info() << (frozen ? "backbone frozen" : "all layers train") << ": " << parameters_.size()
              << " parameter tensor(s) in " << reducer_->bucket_count() << " gradient bucket(s)";
}

void Trainer::prepare_run_folder() {
  comm_->set_flight_record_dir(run_dir_);  // where a firing watchdog leaves flight_rank<N>.json
  const Communicator::Rank0Phase rank0_phase(*comm_);
  if (is_rank0()) {
    make_dirs(run_dir_);
    write_file_atomic(run_file("config.yaml"), to_yaml(config_));
    log::set_log_file(run_file("log.txt"));
    csv_ = std::make_unique<MetricsCsv>(run_file("metrics.csv"));
    curves_ = std::make_unique<CurvePlotter>(run_file("metrics.csv"), run_file("curves.png"));
  }
  comm_->barrier();  // a rank-0 failure above aborts the job before anyone trains
}

// Every rank resumes from the same state whatever its own file system shows.
std::optional<Checkpoint> Trainer::read_checkpoint_on_rank0(const std::string& path,
                                                            bool missing_ok) {
  const Communicator::Rank0Phase rank0_phase(*comm_);  // a large file on a slow file system
  const auto bytes = read_file_on_rank0(path, missing_ok, *comm_, device_);
  if (!bytes) return std::nullopt;
  return parse_checkpoint(*bytes, path);
}

std::optional<ResumePoint> Trainer::read_resume_checkpoint(const std::string& resume) {
  if (resume.empty()) return std::nullopt;
  const std::string path = resume == "auto" ? run_file("last.pt") : resume;
  std::optional<Checkpoint> checkpoint = read_checkpoint_on_rank0(path, resume == "auto");
  if (!checkpoint) {
    log::info() << "--resume auto: no " << path << " on rank 0, starting fresh";
    return std::nullopt;
  }
  return ResumePoint{std::move(*checkpoint), path};
}

// Before the run folder is touched: a refused checkpoint leaves its config.yaml and log as they
// were (the user may have pointed --resume at the wrong run).
void Trainer::refuse_foreign_checkpoint(const ResumePoint& resume) const {
  const Checkpoint* checkpoint = &resume.checkpoint;
  const std::string& path = resume.path;
  const std::string expected = model_signature(config_.model.arch, state_dict_of(*model_));
  NXT_CHECK(checkpoint->model_signature == expected, "checkpoint '", path,
            "' is of another model (", checkpoint->model_signature, "; this config builds ",
            expected, ")");
  NXT_CHECK(checkpoint->dataset_fingerprint == dataset_->fingerprint() &&
                checkpoint->classes == dataset_->classes(),
            "checkpoint '", path, "' was trained on another dataset (fingerprint ",
            checkpoint->dataset_fingerprint, ", this one is ", dataset_->fingerprint(), ")");
  NXT_CHECK(checkpoint->weights == CheckpointWeights::kRaw, "checkpoint '", path,
            "' holds the EMA of the weights (a best.pt picked by val_acc_ema or val_loss_ema), ",
            "not the weights the optimizer trained: resume from the run's last.pt");
}

void Trainer::resume_from(const ResumePoint& resume) {
  const Checkpoint* checkpoint = &resume.checkpoint;
  const std::string& path = resume.path;
  copy_state_into(*model_, checkpoint->model, path);
  load_optimizer_bytes(*optimizer_.optimizer, checkpoint->optimizer, path, device_);
  if (ema_ && checkpoint->ema) {
    ema_->load(checkpoint->ema->weights, checkpoint->ema->averaged, path);
  } else if (ema_) {
    ema_->reset();
    log::info() << "train.ema_decay: '" << path << "' holds no EMA (it was off, or an older "
                << "file); the EMA starts from the resumed weights";
  } else if (checkpoint->ema) {
    log::info() << "'" << path << "' holds an EMA of the weights; train.ema_decay is 0: dropped";
  }
  const TrainingPosition& saved = checkpoint->position;
  if (loss_scaler_.enabled() && saved.loss_scale > 0)
    loss_scaler_.restore({saved.loss_scale, saved.loss_scale_growth_tracker});
  else if (loss_scaler_.enabled())
    log::info() << "train.amp fp16: '" << path << "' holds no loss scale (another amp mode or "
                << "an older file); starting at " << loss_scaler_.scale();
  continue_position(saved, path);
  forget_best_of_other_weights(*checkpoint, path);
}

// The best_* figures are those of the weights the saved run's train.best_metric judged (raw or
// EMA). A resume that judges the other weights starts the best over instead of comparing the
// EMA's figures with the raw weights' (or the reverse); patience counts from the resume.
void Trainer::forget_best_of_other_weights(const Checkpoint& checkpoint, const std::string& path) {
  BestMetric saved_metric = BestMetric::kValAcc;  // checkpoints without a config: no EMA then
  try {
    saved_metric = parse_config(checkpoint.config_yaml, path + " (its config)").train.best_metric;
  } catch (const Error& e) {
    log::warn() << "cannot tell which weights the best figures in '" << path
                << "' are of; keeping them: " << e.what();
    return;
  }
  if (best_weights(saved_metric) == best_weights(config_.train.best_metric)) return;
  const TrainingPosition none;
  position_.best_val_acc = none.best_val_acc;
  position_.best_val_loss = none.best_val_loss;
  position_.best_epoch = position_.epoch - 1;
  log::warn() << "'" << path << "' picked best.pt by "
              << name_of(saved_metric, kBestMetricNames) << ", this run by "
              << name_of(config_.train.best_metric, kBestMetricNames)
              << " (other weights): the best starts over, and the next evaluation writes best.pt";
}

// Note [World-size-independent epochs] (data/sampler.h): the position is a count of global
// samples, so the rest of the epoch is re-sharded over however many ranks this job has.
void Trainer::continue_position(const TrainingPosition& saved, const std::string& path) {
  position_ = saved;
  const int64_t batch = global_batch();
  if (saved.world_size == 0) {  // an older checkpoint: written by a job of this size
    position_.world_size = place_.world_size;
    position_.samples_in_epoch = saved.step_in_epoch * batch;
  }
  position_.step_in_epoch = position_.samples_in_epoch / batch;
  if (is_rank0()) {  // the epoch's totals so far are global: one rank carries them
    epoch_totals_ =
        MetricTotals::from_loss_sum(position_.loss_sum, position_.correct, position_.seen);
    csv_->keep_rows_before(position_.epoch + 1);
  }
  const int64_t n = train_reader_->size();
  log::info() << "resumed from " << path << ": epoch " << position_.epoch + 1 << ", step "
              << position_.step_in_epoch << "/" << steps_per_epoch_ << " (sample "
              << std::min(position_.samples_in_epoch, n) << " of " << n << "), best val acc "
              << position_.best_val_acc;
  if (position_.samples_in_epoch > 0) {
    const NodeLayout recorded{static_cast<int>(saved.sequence_nodes),
                              static_cast<int>(saved.sequence_ranks_per_node)};
    resumed_layout_ = recorded;
    const auto text = [](NodeLayout layout) {
      return layout.nodes == 0 ? std::string("shard_by rank")
                               : "shard_by node, " + std::to_string(layout.nodes) + " node(s) x " +
                                     std::to_string(layout.ranks_per_node) + " rank(s)";
    };
    const bool copies = !config_.data.node_copy_dir().empty();
    if (recorded.nodes != layout_.nodes || recorded.ranks_per_node != layout_.ranks_per_node)
      log::info() << "node layout changed: epoch " << position_.epoch + 1 << " was dealt for "
                  << text(recorded) << ", this job is " << text(layout_)
                  << ": the rest of that epoch's sequence (built for the recorded layout) is "
                  << "strided over " << place_.world_size << " rank(s), each position once; "
                  << (copies ? "the node copies hold this job's shares, so part of it is read "
                               "from the file; "
                             : "")
                  << "epoch " << position_.epoch + 2 << " is dealt for this job";
  }
  if (position_.world_size != place_.world_size) {
    const double old_lr = scaled_lr(config_.optim, saved.global_batch);
    log::info() << "world size changed: " << position_.world_size << " -> " << place_.world_size
                << " rank(s), global batch " << saved.global_batch << " -> " << batch
                << "; the rest of epoch " << position_.epoch + 1 << " (samples "
                << position_.samples_in_epoch << ".." << n << ") is re-sharded over "
                << place_.world_size << " rank(s); lr rule optim.scale_lr="
                << name_of(config_.optim.scale_lr, kLrScalingNames) << ": base lr " << old_lr
                << " -> " << schedule_->base_lr() << "; the schedule follows epochs, not steps";
  }
}

int Trainer::run(const std::string& resume) {
  install_stop_handlers(config_.train.stop_signal);
  set_up_compute();
  open_data();
  start_communicator();
  learn_nodes();
  run_dir_ = config_.run.out_dir + "/" + config_.run.name;
  const std::optional<ResumePoint> checkpoint = read_resume_checkpoint(resume);
  build_model(/*load_pretrained=*/!checkpoint);
  build_optimizer();
  if (checkpoint) refuse_foreign_checkpoint(*checkpoint);
  prepare_run_folder();
  if (checkpoint)
    resume_from(*checkpoint);
  else if (is_rank0())
    csv_->keep_rows_before(1);
  if (is_rank0() && log_every_ > 0)
    train_log_ = std::make_unique<TrainLog>(run_file("train_log.jsonl"), position_.global_step);
  last_log_time_ = Clock::now();
  last_log_step_ = position_.global_step;
  for (int64_t epoch = position_.epoch; epoch < config_.train.epochs; ++epoch) {
    if (position_.samples_in_epoch == 0 && early_stop_due()) break;
    if (const int signal = train_epoch(epoch)) {
      // On every rank: each one's line shows it took the checkpointed exit, which a launcher's
      // single exit code cannot (mpirun reports the first rank's).
      log::all() << "stopped by " << signal_name(signal) << " (on at least one rank) at epoch "
                 << epoch + 1 << " step " << position_.step_in_epoch << " (sample "
                 << position_.samples_in_epoch << "): " << run_file("last.pt")
                 << " written; continue with --resume auto (exit status " << kExitCheckpointed
                 << ")";
      return kExitCheckpointed;
    }
  }
  if (is_rank0()) checkpoint_writer_.wait();  // best.pt is read next; a failed write ends here
  evaluate_best_on_test();
  if (is_rank0()) {
    curves_->wait();
    write_run_summary(early_stop_reason_.empty() ? "completed" : "early_stopped",
                      early_stop_reason_.empty() ? "ran train.epochs" : early_stop_reason_);
    const bool ema = best_weights(config_.train.best_metric) == CheckpointWeights::kEma;
    log::info() << "done: best val acc " << 100 * position_.best_val_acc << "% (val loss "
                << position_.best_val_loss << (ema ? ", EMA weights" : "") << ") at epoch "
                << position_.best_epoch + 1
                << "; best model " << run_file("best.pt") << ", curves " << run_file("curves.png");
  }
  return 0;
}

bool Trainer::improves_best(const MetricTotals& val) const {
  const BestMetric metric = config_.train.best_metric;
  if (metric == BestMetric::kValLoss || metric == BestMetric::kValLossEma)
    return val.mean_loss() < position_.best_val_loss;
  return val.accuracy() > position_.best_val_acc;
}

// Rank 0 decides and tells the others, so all stop before the same epoch (the position is the
// same everywhere, but one decision leaves nothing to drift).
bool Trainer::early_stop_due() {
  const int64_t patience = config_.train.early_stop_patience;
  const int64_t without_improvement = position_.epoch - 1 - position_.best_epoch;
  const bool due =
      is_rank0() && patience > 0 && position_.epoch > 0 && without_improvement >= patience;
  if (comm_->all_reduce_integers({due ? 1 : 0}, ReduceOp::kMax)[0] == 0) return false;
  const char* metric = name_of(config_.train.best_metric, kBestMetricNames);
  early_stop_reason_ = std::string(metric) + " has not improved for " +
                       std::to_string(without_improvement) +
                       " epoch(s) (train.early_stop_patience " + std::to_string(patience) +
                       "); best at epoch " + std::to_string(position_.best_epoch + 1);
  log::info() << "early stop after epoch " << position_.epoch << " of " << config_.train.epochs
              << ": " << early_stop_reason_;
  if (train_log_)
    train_log_->append({{"step", position_.global_step},
                        {"epoch", position_.epoch},
                        {"event", "early_stop"},
                        {"reason", early_stop_reason_}});
  return true;
}

// The reported figure comes from a split that picked nothing: best.pt (chosen on val) on test.
void Trainer::evaluate_best_on_test() {
  if (!test_reader_) return;
  const std::string path = run_file("best.pt");
  const std::optional<Checkpoint> read = read_checkpoint_on_rank0(path, /*missing_ok=*/true);
  if (!read) {  // no epoch improved on a resumed best (or val was NaN throughout)
    log::warn() << "no " << path << " on rank 0: the test split is not evaluated";
    return;
  }
  const Checkpoint& best = *read;
  copy_state_into(*model_, best.model, path);
  EvalDetails details{ConfusionMatrix(dataset_->num_classes()), {}};
  const MetricTotals test = evaluate_split(*test_reader_, &details);
  if (!is_rank0()) return;
  write_json_file(run_file("test_metrics.json"),
                  test_metrics_json(path, best.position, best.weights, test, details.confusion,
                                    dataset_->classes()));
  log::info() << "test split (" << test.seen << " images) on best.pt of epoch "
              << best.position.best_epoch + 1 << ": test acc " << 100 * test.accuracy()
              << "%, test loss " << test.mean_loss() << " (val acc "
              << 100 * best.position.best_val_acc << "%"
              << (best.weights == CheckpointWeights::kEma ? ", EMA weights" : "") << "); "
              << run_file("test_metrics.json");
}

void Trainer::write_run_summary(const std::string& status, const std::string& reason) {
  write_json_file(run_file("summary.json"),
                  run_summary_json(status, reason, position_, config_.train.best_metric));
}

void Trainer::set_training_mode() {
  model_->train();
  if (!config_.train.freeze_bn && !backbone_frozen_) return;
  for (auto& module : model_->modules(/*include_self=*/false))
    if (module->as<torch::nn::BatchNorm2d>()) module->eval();
}

void Trainer::start_epoch(int64_t epoch) {
  set_backbone_frozen(epoch < config_.train.freeze_backbone_epochs);
  set_training_mode();
  step_timer_ = std::make_unique<StepTimer>(device_);
  step_metrics_ = std::make_unique<StepMetrics>(device_);
  steps_at_last_read_ = position_.global_step;
  epoch_steps_ = 0;
  host_reads_at_epoch_start_ = StepMetrics::host_reads();
  reset_peak_memory(device_);
}

// The training loop of one epoch, a step top to bottom.
int Trainer::train_epoch(int64_t epoch) {
  update_node_copies(epoch);
  start_epoch(epoch);
  const auto start = Clock::now();
  // The epoch's training size (Note [Training size schedule] in data/resolution.h), logged
  // when it changes and recorded in this epoch's checkpoints.
  LoaderOptions options = loader_options_;
  const int64_t side = train_size_at(config_.data, epoch + 1);
  if (side != preprocess_.train_size)
    log::info() << "epoch " << epoch + 1 << ": training at " << side << " px";
  preprocess_.train_size = side;
  options.output = {side, side};
  // The sequence of the layout the epoch was dealt for: a resumed epoch's recorded one, else
  // this job's (Note [Node shares] in data/sampler.h). The rank takes its slot's positions.
  const NodeLayout layout = resumed_layout_.value_or(layout_);
  resumed_layout_.reset();
  position_.sequence_nodes = layout.nodes;
  position_.sequence_ranks_per_node = layout.ranks_per_node;
  if (layout.nodes > 0)
    options.sequence = std::make_shared<const std::vector<int64_t>>(
        node_sharded_sequence(train_reader_->size(), static_cast<uint64_t>(config_.run.seed), epoch,
                              config_.data.reshard_every_epochs, layout, config_.data.drop_last));
  options.shard = {slot_, place_.world_size};
  EpochLoader loader(*train_reader_, options, epoch, position_.samples_in_epoch);
  EpochSpan span{position_.samples_in_epoch, 0, loader.steps() / config_.train.grad_accum,
                 loader.samples()};
  span.end = positions_consumed(span.start, span.samples, place_.world_size);
  Progress progress(is_rank0(), epoch + 1, position_.step_in_epoch + span.steps,
                    config_.train.log_every_seconds);
  for (int64_t step = 0; step < span.steps; ++step) {
    forward_backward(loader, epoch);  // gradients all-reduced in buckets during backward
    const StepFlags flags = agree_on_step();
    const double fraction = advance_position(step, span.steps, span);
    if (flags.nonfinite) {
      skip_update();
    } else {
      apply_update(epoch, fraction);
    }
    end_step();
    const int64_t done = position_.global_step;
    const bool checkpoint = flags.stop_signal != 0 || flags.checkpoint_due ||
                            due(done, config_.train.checkpoint_every_steps);
    const bool log_line = due(done, log_every_);
    if (checkpoint || log_line || due(done, metrics_every_) || step + 1 == span.steps)
      read_metrics(epoch);
    if (log_line) log_step_line(epoch, fraction);
    progress.update(position_.step_in_epoch, last_loss_, global_batch());
    if (checkpoint) save_last(/*before_exit=*/flags.stop_signal != 0);
    if (is_rank0() && done == inject_crash_at_step_) {
      checkpoint_writer_.wait();  // the hook's promise: this step's checkpoint is on disk
      std::raise(SIGKILL);
    }
    if (flags.stop_signal != 0) {
      progress.finish();
      return flags.stop_signal;
    }
  }
  progress.finish();
  finish_epoch(epoch, epoch_totals_.summed_over_ranks(*comm_), span.end - span.start,
               std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}

// A train_log.jsonl line (rank 0): the loss is the mean since the last metric read, which
// read_metrics() has just made.
void Trainer::log_step_line(int64_t epoch, double epoch_fraction) {
  if (!train_log_) return;
  const auto now = Clock::now();
  const double seconds = std::chrono::duration<double>(now - last_log_time_).count();
  const auto& split = step_timer_->seconds();
  double total = 0;
  for (double s : split) total += s;
  const int64_t images = (position_.global_step - last_log_step_) * global_batch();
  train_log_->append({{"step", position_.global_step},
                      {"epoch", epoch + 1},
                      {"epoch_fraction", epoch_fraction},
                      {"loss", last_loss_},
                      {"lr", lr_},
                      {"images_per_s", seconds > 0 ? images / seconds : 0.0},
                      {"data_wait_share", total > 0 ? split[StepTimer::kData] / total : 0.0},
                      {"peak_memory_bytes", peak_memory(device_).bytes}});
  last_log_time_ = now;
  last_log_step_ = position_.global_step;
}

void Trainer::trace_samples(int64_t epoch, const Batch& batch) {
  for (size_t k = 0; k < batch.sample_indices.size(); ++k)
    sample_trace_ << epoch << " " << batch.sample_positions[k] << " " << batch.sample_indices[k]
                  << "\n";
  sample_trace_.flush();
}

// grad_accum micro-batches; the reducer communicates during the last one's backward.
void Trainer::forward_backward(EpochLoader& loader, int64_t epoch) {
  const int64_t micro_batches = config_.train.grad_accum;
  step_metrics_->start_step();
  step_timer_->start_step();
  const bool stall = position_.global_step + 1 == inject_stall_at_step_;
  if (stall && place_.rank == place_.world_size - 1) stall_for_ever("before its backward");
  for (int64_t micro = 0; micro < micro_batches; ++micro) {
    std::optional<Batch> batch = loader.next();
    NXT_CHECK(batch, "epoch ", epoch + 1, ": the loader ran out of batches at step ",
              position_.step_in_epoch);
    if (sample_trace_.is_open()) trace_samples(epoch, *batch);
    const DeviceBatch input = to_device(*batch, *normalize_, config_.train.channels_last);
    step_timer_->end(StepTimer::kData);
    reducer_->set_sync(micro == micro_batches - 1);
    torch::Tensor logits;
    torch::Tensor loss = training_loss(input, *batch, epoch, &logits);
    if (position_.global_step + 1 == inject_nan_at_step_ && place_.rank == place_.world_size - 1)
      loss = loss * std::numeric_limits<double>::quiet_NaN();
    loss_scaler_.scale_loss(loss / static_cast<double>(micro_batches)).backward();
    step_metrics_->add(loss, logits, input.labels);
    step_timer_->end(StepTimer::kCompute);
  }
  if (stall && is_rank0()) stall_for_ever("with its gradient buckets in flight");
  reducer_->finish_backward();
  step_timer_->end(StepTimer::kCommunication);
}

// The batch's mean loss: cross-entropy (class weights, label smoothing), or against the soft
// targets of mixup/cutmix, which are seeded by the batch's first global position so that a
// resumed run mixes the same way.
torch::Tensor Trainer::training_loss(const DeviceBatch& input, const Batch& batch, int64_t epoch,
                                     torch::Tensor* logits) {
  const compat::CudaAutocastGuard autocast(autocast_bf16_ || autocast_fp16_,
                                           autocast_fp16_ ? torch::kHalf : torch::kBFloat16);
  const DataConfig& data = config_.data;
  if (data.mixup_alpha > 0 || data.cutmix_alpha > 0) {
    const uint64_t seed =
        mix_seed({static_cast<uint64_t>(config_.run.seed), static_cast<uint64_t>(epoch),
                  static_cast<uint64_t>(batch.sample_positions.front()), 0x6d6978ULL});
    const MixedBatch mixed =
        mix_batch(input.images, input.labels, *config_.model.num_classes, data.mixup_alpha,
                  data.cutmix_alpha, config_.train.label_smoothing, seed);
    *logits = model_->forward(mixed.images).to(torch::kFloat);
    return soft_target_cross_entropy(*logits, mixed.targets, class_weights_);
  }
  auto options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
      config_.train.label_smoothing);
  if (class_weights_.defined()) options.weight(class_weights_);
  *logits = model_->forward(input.images).to(torch::kFloat);
  return torch::nn::functional::cross_entropy(*logits, input.labels, options);
}

// One small collective per step, so that every rank takes the same branch. With
// skip_nonfinite the step's loss is read now (metrics_every_ is 1) and a bad step is skipped
// before it reaches the weights; otherwise read_metrics() stops the run. Under fp16 loss
// scaling the all-reduced gradients are unscaled here and checked for inf/NaN; that flag is
// read off the device now (one host sync per step, as GradScaler.step() makes too) so that it
// travels in this same all-reduce, and every rank skips the same steps and keeps the same scale.
StepFlags Trainer::agree_on_step() {
  const torch::Tensor found_inf = loss_scaler_.unscale_and_check(model_->parameters());
  const bool grad_overflow = found_inf.defined() && found_inf.item<float>() != 0;
  const bool nonfinite =
      config_.train.skip_nonfinite && !std::isfinite(step_metrics_->step_loss_sum());
  int64_t stop_request = stop_signal_number();
  if (is_rank0() && inject_stop_at_step_ > 0 && position_.global_step + 1 == inject_stop_at_step_)
    stop_request = SIGUSR2;  // as if Slurm had signalled
  const double every_minutes = config_.train.checkpoint_every_minutes;
  const bool checkpoint_due =
      is_rank0() && every_minutes > 0 && !checkpoint_writer_.busy() &&  // due once it is done
      Clock::now() - last_checkpoint_time_ >=
          std::chrono::duration<double, std::ratio<60>>(every_minutes);
  const auto agreed = comm_->all_reduce_integers(
      {stop_request, nonfinite, checkpoint_due, grad_overflow}, ReduceOp::kMax);
  const StepFlags flags{static_cast<int>(agreed[0]), agreed[1] != 0, agreed[2] != 0,
                        agreed[3] != 0};
  if (loss_scaler_.enabled()) {
    const double scale = loss_scaler_.scale();
    skip_scaled_step_ = loss_scaler_.update(flags.grad_overflow);
    if (skip_scaled_step_)
      log::info() << "fp16: inf/NaN gradients at step " << position_.global_step + 1
                  << " (on at least one rank): step skipped, loss scale " << scale << " -> "
                  << loss_scaler_.scale();
  }
  return flags;
}

// The global samples done after step `step`, and the epoch's fraction done for the schedule
// (exactly 1 at its last step, so the run's last step gets the schedule's end value).
double Trainer::advance_position(int64_t step, int64_t steps, const EpochSpan& span) {
  const int64_t taken =
      std::min((step + 1) * config_.train.grad_accum * config_.data.batch_size, span.samples);
  position_.samples_in_epoch = positions_consumed(span.start, taken, place_.world_size);
  if (step + 1 == steps) return 1.0;
  return static_cast<double>(position_.samples_in_epoch) / static_cast<double>(span.end);
}

void Trainer::apply_update(int64_t epoch, double epoch_fraction) {
  lr_ = schedule_->at(epoch, epoch_fraction);
  if (skip_scaled_step_) {  // as GradScaler.step(): no update, the loss scale has backed off
    reducer_->zero_grad();
    return;
  }
  if (config_.train.clip_grad_norm > 0)  // on unscaled gradients (fp16: agree_on_step())
    clip_grad_norm_on_device(model_->parameters(), config_.train.clip_grad_norm);
  optimizer_.set_lr(lr_);
  optimizer_.optimizer->step();
  reducer_->zero_grad();
  step_metrics_->commit();
}

void Trainer::skip_update() {
  log::warn() << "skipping step " << position_.global_step + 1 << ": NaN or Inf loss";
  reducer_->zero_grad();
}

void Trainer::end_step() {
  ++position_.step_in_epoch;
  ++position_.global_step;
  ++epoch_steps_;
  // Also after a skipped step, which global_step counts (Note [EMA of the weights]).
  if (ema_) ema_->after_step(position_.global_step, position_.epoch);
  if (due(position_.global_step, config_.dist.check_replicas_every))
    check_replicas_identical(parameters_, *comm_, position_.global_step);
  step_timer_->end(StepTimer::kOptimizer);
}

MetricTotals Trainer::evaluate_split(const ImageReader& reader, EvalDetails* details) {
  // As DDP does: every replica evaluates with rank 0's running statistics, which are also the
  // ones checkpointed, so both eval modes and a reloaded best.pt see the same model.
  if (!buffers_.empty()) broadcast_from_rank0(buffers_, *comm_);
  // eval.mode rank0: the others wait in evaluate()'s final all-reduce (Note [Watchdog]).
  const Communicator::Rank0Phase rank0_phase(*comm_);
  if (is_rank0() && inject_slow_eval_s_ > 0) {
    log::warn() << "test hook: rank 0's evaluation is slowed by " << inject_slow_eval_s_ << " s";
    std::this_thread::sleep_for(std::chrono::seconds(inject_slow_eval_s_));
  }
  EvalSetup eval;
  eval.reader = &reader;
  eval.loader = loader_options_;
  eval.normalize = normalize_.get();
  eval.channels_last = config_.train.channels_last;
  eval.bf16_autocast = autocast_bf16_;
  eval.tta = config_.eval.tta;
  const MetricTotals val = evaluate(model_, eval, *comm_, config_.eval.mode, details);
  set_training_mode();
  return val;
}

int Trainer::evaluate_only(const std::string& checkpoint_path) {
  set_up_compute();
  open_data();
  start_communicator();
  build_model();
  const Checkpoint checkpoint = *read_checkpoint_on_rank0(checkpoint_path, /*missing_ok=*/false);
  copy_state_into(*model_, checkpoint.model, checkpoint_path);
  const MetricTotals val = evaluate_val();
  if (is_rank0()) {
    char line[160];
    std::snprintf(line, sizeof line, "val_acc=%.6f val_loss=%.6f images=%lld", val.accuracy(),
                  val.mean_loss(), static_cast<long long>(val.seen));
    // Note [top-5 with few classes]
    if (reports_top5(static_cast<int64_t>(dataset_->classes().size())))
      std::printf("%s val_top5=%.6f\n", line, val.top5_accuracy());
    else
      std::printf("%s\n", line);
  }
  return 0;
}

void Trainer::read_metrics(int64_t epoch) {
  reducer_->wait_on_host();  // Note [Watchdog]: a stuck collective ends here, not in the read
  const StepMetrics::Read read = step_metrics_->read();  // the host sync
  step_timer_->collect();  // CUDA: the step intervals have completed by now
  const bool any_nonfinite =
      comm_->all_reduce_integers({read.finite ? 0 : 1}, ReduceOp::kMax).front() != 0;
  if (any_nonfinite) {
    const int64_t steps = position_.global_step - steps_at_last_read_;
    const int64_t last = position_.step_in_epoch;
    const std::string where =
        steps <= 1 ? "step " + std::to_string(last)
                   : "steps " + std::to_string(last - steps + 1) + "-" + std::to_string(last);
    throw Error("the loss is NaN or Inf at epoch " + std::to_string(epoch + 1) + ", " + where +
                " on some rank; no checkpoint was written for it. Lower optim.lr, add warmup or "
                "clipping, or set train.skip_nonfinite: true");
  }
  if (read.totals.seen > 0) {
    epoch_totals_ += read.totals;
    last_loss_ = read.totals.mean_loss();
  }
  steps_at_last_read_ = position_.global_step;
}

// Every rank evaluates (its share, or waits for rank 0's): the same collectives on every rank.
MetricTotals Trainer::evaluate_ema_val() {
  broadcast_from_rank0(ema_->buffers(), *comm_);
  const WeightEma::InModel in_model(*ema_);
  return evaluate_val();
}

void Trainer::finish_epoch(int64_t epoch, const MetricTotals& train, int64_t trained,
                           double seconds) {
  const MetricTotals val = evaluate_val();
  const std::optional<MetricTotals> ema_val =
      ema_ ? std::optional<MetricTotals>(evaluate_ema_val()) : std::nullopt;
  // The schedule's rate at the epoch's end: what its last step used, also when that step ran
  // before a resume (a stop on an epoch's last step).
  lr_ = schedule_->at(epoch, 1.0);
  EpochRecord record;
  record.epoch = epoch + 1;
  record.train_acc = train.accuracy();
  record.train_loss = train.mean_loss();
  record.val_acc = val.accuracy();
  record.val_loss = val.mean_loss();
  record.lr = lr_;
  record.seconds = seconds;
  record.images_per_second = seconds > 0 ? trained / seconds : 0;
  if (reports_top5(static_cast<int64_t>(dataset_->classes().size())))
    record.val_top5 = val.top5_accuracy();  // Note [top-5 with few classes]
  if (ema_val) record.ema = EpochRecord::Ema{ema_val->accuracy(), ema_val->mean_loss()};
  // The figures of the weights best.pt would hold (config validation: *_ema has an EMA).
  const CheckpointWeights best_kind = best_weights(config_.train.best_metric);
  const MetricTotals& judged = best_kind == CheckpointWeights::kEma ? *ema_val : val;
  const bool improved = improves_best(judged);
  if (improved) {
    position_.best_val_acc = judged.accuracy();
    position_.best_val_loss = judged.mean_loss();
    position_.best_epoch = epoch;
  }
  position_.epoch = epoch + 1;
  position_.step_in_epoch = 0;
  position_.samples_in_epoch = 0;
  epoch_totals_ = {};
  const Communicator::Rank0Phase rank0_phase(*comm_);  // the others wait in the barrier below
  if (is_rank0()) {
    log::info() << notebook_line(record);
    log::info() << time_split_text(step_timer_->seconds()) << "; "
                << StepMetrics::host_reads() - host_reads_at_epoch_start_
                << " metric read(s) (host syncs) in " << epoch_steps_ << " step(s); rank 0 "
                << peak_memory_text(device_);
    csv_->append(record);
    std::vector<CheckpointFile> files{{run_file("last.pt")}};
    if (improved) files.insert(files.begin(), {run_file("best.pt"), best_kind});
    checkpoint_writer_.write(checkpoint_now(), files, CheckpointWriter::When::kBackground);
    curves_->redraw();
  }
  comm_->barrier();
}

// A host-memory copy of the state; the optimizer's archive is made by the writer.
CheckpointSnapshot Trainer::checkpoint_now() {
  last_checkpoint_time_ = Clock::now();
  Checkpoint c;
  c.model = state_dict_of(*model_);
  if (ema_) c.ema = EmaState{ema_->state_dict(), ema_->averaged()};
  c.position = position_;
  c.position.world_size = place_.world_size;
  c.position.global_batch = global_batch();
  const LossScalerState scaler = loss_scaler_.state();  // scale 0 (none) unless fp16
  c.position.loss_scale = loss_scaler_.enabled() ? scaler.scale : 0;
  c.position.loss_scale_growth_tracker = scaler.growth_tracker;
  c.config_yaml = to_yaml(config_);
  c.classes = dataset_->classes();
  c.dataset_fingerprint = dataset_->fingerprint();
  c.model_signature = model_signature(config_.model.arch, c.model);
  c.preprocess = preprocess_;
  return snapshot_checkpoint(std::move(c), *optimizer_.optimizer);
}

// Mid-epoch: the epoch's totals so far are summed over ranks into rank 0's checkpoint.
void Trainer::save_last(bool before_exit) {
  const Communicator::Rank0Phase rank0_phase(*comm_);  // a stop's checkpoint: the barrier below
  const MetricTotals totals = epoch_totals_.summed_over_ranks(*comm_);
  if (is_rank0() && !before_exit && checkpoint_writer_.busy()) {
    log::warn() << "step " << position_.global_step << ": the previous checkpoint is still being "
                << "written; this one is skipped (Note [Background checkpoints])";
  } else if (is_rank0()) {
    CheckpointSnapshot snapshot = checkpoint_now();
    TrainingPosition& position = snapshot.checkpoint.position;
    position.loss_sum = totals.loss_sum();
    position.correct = totals.correct;
    position.seen = totals.seen;
    checkpoint_writer_.write(
        std::move(snapshot), {run_file("last.pt")},
        before_exit ? CheckpointWriter::When::kNow : CheckpointWriter::When::kBackground);
  }
  if (before_exit) comm_->barrier();
}

}  // namespace

int run_training(const Config& config, const std::string& resume, const MpiSession& mpi) {
  Trainer trainer(config, mpi);
  return trainer.run(resume);
}

int evaluate_checkpoint(const Config& config, const std::string& checkpoint,
                        const MpiSession& mpi) {
  Trainer trainer(config, mpi);
  return trainer.evaluate_only(checkpoint);
}

}  // namespace nxt
