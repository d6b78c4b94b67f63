// Implements the run's lifecycle on one rank: its compute, data, communicator, model and
// optimizer, the run folder and its reports, the epoch loop, and the end of the run (best.pt on
// the test split, summary.json). The class and where its other phases live: train/trainer_impl.h.
#include "train/trainer.h"

#include <chrono>

#include "comm/backends.h"
#include "common/check.h"
#include "common/compat.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/log.h"
#include "data/class_balance.h"
#include "model/build.h"
#include "train/run_reports.h"
#include "train/stop_signals.h"
#include "train/trainer_impl.h"

namespace nxt {
namespace trainer_detail {

Trainer::Trainer(const Config& config, const MpiSession& mpi)
    : config_(config),
      place_(mpi.place()),
      faults_(FaultInjector::process().for_rank(place_.rank, place_.world_size)),
      compute_(configure_rank(place_, {config.run.device, config.run.threads_per_rank,
                                       config.data.loader_threads, config.train.cudnn_benchmark})),
      device_(compute_.device) {}

// The device, threads and process tuning are configure_rank()'s (in the constructor).
void Trainer::set_up_compute() {
  autocast_bf16_ = bf16_autocast(config_, device_);
  autocast_fp16_ = on_cuda() && config_.train.amp == AmpMode::kFp16;
  // Test hook NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL: fp16's loss scaling also on a CPU run (no
  // autocast), with that growth interval, so that the e2e tests reach its flag and checkpoint.
  const std::optional<int64_t> cpu_scaling = faults_.cpu_loss_scale_growth_interval();
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
  open_sample_trace();
}

void Trainer::open_sample_trace() {
  const std::string& dir = faults_.sample_trace_dir();
  if (dir.empty()) return;
  sample_trace_.open(dir + "/samples.rank" + std::to_string(place_.rank) + ".txt", std::ios::app);
  NXT_CHECK(sample_trace_.good(), "NXT_TRACE_SAMPLES: cannot write to '", dir, "'");
}

// Before any communicator exists, so that a wrong data.path fails fast.
void Trainer::open_data() {
  data_ = std::make_unique<TrainingData>(config_, place_, compute_);
  config_.model.num_classes = data_->num_classes();
}

// After the dataset checks, so that a wrong data.path fails before NCCL or MPI windows start.
void Trainer::start_communicator() {
  // A rank that never joins (tests/multinode/rank_never_joining_ends_start_up.sh): the others'
  // start-up must end the job after dist.timeout_s (Note [Watchdog]).
  faults_.before_comm_start();
  comm_ = make_communicator(config_.dist.backend, device_, place_,
                            {std::chrono::seconds(config_.dist.timeout_s),
                             std::chrono::seconds(config_.dist.rank0_phase_timeout_s)});
  log::info() << "nxt_ddp: " << place_.world_size << " rank(s), device " << device_.str()
              << ", backend " << comm_->backend_name() << ", "
              << (on_cuda()
                      ? std::string("autocast ") + (autocast_bf16_   ? "bf16"
                                                    : autocast_fp16_ ? "fp16 (loss scaling)"
                                                                     : "off")
                      : std::to_string(torch::get_num_threads()) + " compute thread(s) per rank")
              << "; " << nccl_description();
  // Every rank must read the same file: a stale node-local copy on one node would give it
  // other splits or labels, and so other collectives. One all-reduce gathers every rank's
  // fingerprint hash (rank r fills slot r, the others 0), so every rank fails alike, naming
  // the ranks whose file differs from rank 0's.
  std::vector<int64_t> hashes(static_cast<size_t>(place_.world_size), 0);
  hashes[static_cast<size_t>(place_.rank)] =
      static_cast<int64_t>(Fnv1a64().add(data_->dataset().fingerprint()).value() >> 1);
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
            " ranks); here, on rank ", place_.rank, ", it is ", data_->dataset().fingerprint());
  log::all() << "placement: "
             << placement_text(place_, device_, data_->loader_options().threads, *comm_);
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
    const double decay =
        adjusted_ema_decay(train.ema_decay, global_batch(), train.ema_every_steps, train.epochs);
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
        balanced_class_weights(images_per_class(data_->train()), data_->dataset().classes());
    class_weights_ = torch::tensor(weights, torch::kDouble).to(torch::kFloat).to(device_);
    auto line = log::info();
    line << "class weights (balanced):";
    for (size_t c = 0; c < weights.size(); ++c)
      line << " " << data_->dataset().classes()[c] << " " << weights[c];
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
  }
  comm_->barrier();  // a rank-0 failure above aborts the job before anyone trains
}

void Trainer::open_reports() {
  RunReports::Options options;
  options.run_dir = run_dir_;
  options.rank = place_.rank;
  options.world = place_.world_size;
  options.device = device_;
  options.host_of_rank = data_->host_names();
  options.global_batch = global_batch();
  options.step_records = log_every_ > 0;
  options.tensorboard = config_.run.tensorboard;
  options.log_every_seconds = config_.train.log_every_seconds;
  reports_ = std::make_unique<RunReports>(std::move(options), position_);
}

void Trainer::set_training_mode() {
  model_->train();
  if (!config_.train.freeze_bn && !backbone_frozen_) return;
  for (auto& module : model_->modules(/*include_self=*/false))
    if (module->as<torch::nn::BatchNorm2d>()) module->eval();
}

int Trainer::run(const std::string& resume) {
  install_stop_handlers(config_.train.stop_signal);
  set_up_compute();
  open_data();
  start_communicator();
  data_->learn_nodes(*comm_);
  run_dir_ = config_.run.out_dir + "/" + config_.run.name;
  profiler_ = std::make_unique<StepProfiler>(
      config_.run.profile_steps,
      run_file("profile/rank" + std::to_string(place_.rank) + ".pt.trace.json"), place_.rank,
      place_.world_size, comm_->backend_name(), device_);
  open_snapshots(resume);
  const std::optional<ResumePoint> checkpoint = read_resume_checkpoint(resume);
  build_model(/*load_pretrained=*/!checkpoint);
  build_optimizer();
  if (checkpoint) refuse_foreign_checkpoint(*checkpoint);
  prepare_run_folder();
  if (checkpoint) resume_from(*checkpoint);
  open_reports();
  last_snapshot_step_ = position_.global_step;  // snapshots count from here
  last_snapshot_time_ = Clock::now();
  for (int64_t epoch = position_.epoch; epoch < config_.train.epochs; ++epoch) {
    if (position_.samples_in_epoch == 0 && early_stop_due()) break;
    if (const int signal = train_epoch(epoch)) {
      profiler_->end_of_training();
      // On every rank: each one's line shows it took the checkpointed exit, which a launcher's
      // single exit code cannot (mpirun reports the first rank's).
      log::all() << "stopped by " << signal_name(signal) << " (on at least one rank) at epoch "
                 << epoch + 1 << " step " << position_.step_in_epoch << " (sample "
                 << position_.samples_in_epoch << "): " << run_file("last.pt")
                 << " written; continue with --resume auto (exit status " << kExitCheckpointed
                 << ")";
      remove_snapshots();  // last.pt holds this very step
      return kExitCheckpointed;
    }
  }
  profiler_->end_of_training();               // the test split's evaluation is not a training step
  if (is_rank0()) checkpoint_writer_.wait();  // best.pt is read next; a failed write ends here
  remove_snapshots();                         // the run is over: last.pt and best.pt hold its end
  evaluate_best_on_test();
  if (is_rank0()) {
    reports_->finish();
    write_run_summary(early_stop_reason_.empty() ? "completed" : "early_stopped",
                      early_stop_reason_.empty() ? "ran train.epochs" : early_stop_reason_);
    const bool ema = best_weights(config_.train.best_metric) == CheckpointWeights::kEma;
    log::info() << "done: best val acc " << 100 * position_.best_val_acc << "% (val loss "
                << position_.best_val_loss << (ema ? ", EMA weights" : "") << ") at epoch "
                << position_.best_epoch + 1 << "; best model " << run_file("best.pt") << ", curves "
                << run_file("curves.png");
  }
  return 0;
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
  reports_->on_early_stop(position_.global_step, position_.epoch, early_stop_reason_);
  return true;
}

// The reported figure comes from a split that picked nothing: best.pt (chosen on val) on test.
void Trainer::evaluate_best_on_test() {
  if (!data_->test()) return;
  const std::string path = run_file("best.pt");
  const std::optional<Checkpoint> read = read_checkpoint_on_rank0(path, /*missing_ok=*/true);
  if (!read) {  // no epoch improved on a resumed best (or val was NaN throughout)
    log::warn() << "no " << path << " on rank 0: the test split is not evaluated";
    return;
  }
  const Checkpoint& best = *read;
  copy_state_into(*model_, best.model, path);
  EvalDetails details{ConfusionMatrix(data_->dataset().num_classes()), {}};
  const MetricTotals test = evaluate_split(*data_->test(), &details);
  if (!is_rank0()) return;
  write_json_file(run_file("test_metrics.json"),
                  test_metrics_json(path, best.position, best.weights, test, details.confusion,
                                    data_->dataset().classes()));
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
    if (reports_top5(static_cast<int64_t>(data_->dataset().classes().size())))
      std::printf("%s val_top5=%.6f\n", line, val.top5_accuracy());
    else
      std::printf("%s\n", line);
  }
  return 0;
}

}  // namespace trainer_detail

int run_training(const Config& config, const std::string& resume, const MpiSession& mpi) {
  trainer_detail::Trainer trainer(config, mpi);
  return trainer.run(resume);
}

int evaluate_checkpoint(const Config& config, const std::string& checkpoint,
                        const MpiSession& mpi) {
  trainer_detail::Trainer trainer(config, mpi);
  return trainer.evaluate_only(checkpoint);
}

}  // namespace nxt
