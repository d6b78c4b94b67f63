// Implements the training job's data on one rank: opening and checking the packed file, the
// node table and layout, the node copies and each epoch's loader options.
#include "train/training_data.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <random>
#include <thread>

#include "common/check.h"
#include "common/fs.h"
#include "common/log.h"
#include "data/dataset_format.h"
#include "data/resolution.h"

namespace nxt {

using Clock = std::chrono::steady_clock;

TrainingData::TrainingData(const Config& config, const ProcessPlace& place,
                           const RankCompute& compute)
    : config_(config), place_(place), slot_(place.rank) {
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
  train_reader_ = std::make_unique<ImageReader>(*dataset_, "train");
  val_reader_ = std::make_unique<ImageReader>(*dataset_, "val");
  if (dataset_->has_split("test") && dataset_->split("test").size() > 0)
    test_reader_ = std::make_unique<ImageReader>(*dataset_, "test");
  const bool imagenet = config_.data.normalize == NormalizeStats::kImageNet;
  // Evaluation's size and crop (data/resolution.h); train_size is each epoch's (epoch_options()).
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
  normalize_ = std::make_unique<Normalizer>(preprocess_.mean, preprocess_.stddev, compute.device);
  LoaderOptions& o = loader_options_;
  o.batch_size = config_.data.batch_size;
  o.output = {eval_side, eval_side};  // evaluation's; epoch_options() sets each epoch's own
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
  o.threads = compute.loader_threads;
  o.prefetch = static_cast<int>(config_.data.prefetch);
  o.pin_memory = compute.device.is_cuda();
  o.readahead_batches = config_.data.readahead_batches;
  // shard_by node: learn_nodes() counts again once the layout is known (fewer with drop_last).
  count_steps_per_epoch(train_reader_->size());
  log::info() << "data: " << config_.data.path << ", " << classes << " classes, train "
              << train_reader_->size() << ", val " << val_reader_->size() << " images ("
              << train_reader_->access_path() << " reads), " << steps_per_epoch_
              << " steps per epoch";
  log::info() << "resolution: " << resolution_text(config_.data, preprocess_.max_side);
  const int64_t largest = largest_input_size(config_.data);
  if (place_.rank == 0 && largest > std::min(dataset_->height(), dataset_->width()))
    log::warn() << "data: images stored at " << dataset_->height() << "x" << dataset_->width()
                << " are upsampled for sizes up to " << largest
                << " px (data.train_size*, eval_size, eval_resize); pack_hdf5 --size " << largest
                << " keeps their detail";
}

void TrainingData::count_steps_per_epoch(int64_t sequence_length) {
  const int64_t batch = config_.data.batch_size;
  const int64_t batches =
      train_steps_per_epoch(sequence_length, place_.world_size, batch, config_.data.drop_last);
  steps_per_epoch_ = batches / config_.train.grad_accum;
  NXT_CHECK(steps_per_epoch_ >= 1, "the train split (", train_reader_->size(),
            " images, an epoch of ", sequence_length, ") gives no full optimizer step per epoch ",
            "with ", place_.world_size, " rank(s) x batch ", batch, " x grad_accum ",
            config_.train.grad_accum);
}

// Nodes from host names (comm/node_table.h), and the node copies' job token: rank 0's random
// number, the same on all ranks (one more all-reduce, rank 0 filling it).
void TrainingData::learn_nodes(Communicator& comm) {
  nodes_ = nxt::learn_nodes(comm);
  const std::vector<int64_t> token = comm.all_reduce_integers(
      {place_.rank == 0 ? static_cast<int64_t>(std::random_device()() | 1u) : 0}, ReduceOp::kSum);
  copy_job_ = std::to_string(token[0]);
  node_ = nodes_.node_of_rank[static_cast<size_t>(place_.rank)];
  slot_ = place_.rank;  // shard_by rank; shard_by node sets its own below
  const DataConfig& data = config_.data;
  if (data.shard_by == ShardBy::kRank && data.node_copy_dir().empty()) return;
  // The node copy's writer is local rank 0, and a node share is read by exactly the ranks of one
  // node.
  nodes_.check_matches_mpi(
      "the node copies (data.cache_in_memory, data.stage_dir) and data.shard_by node");
  if (data.shard_by == ShardBy::kNode) {
    std::string counts;
    bool equal = true;
    const size_t on_first = nodes_.ranks_of_node[0].size();
    for (int k = 0; k < nodes_.nodes(); ++k) {
      const size_t on_node = nodes_.ranks_of_node[static_cast<size_t>(k)].size();
      equal = equal && on_node == on_first;
      counts += (k ? ", " : "") + std::string("node ") + std::to_string(k) + " (first rank " +
                std::to_string(nodes_.first_rank_of(k)) + "): " + std::to_string(on_node);
    }
    NXT_CHECK(equal, "data.shard_by node needs the same number of ranks on every node ",
              "(Note [Node shares] in src/data/sampler.h); the ranks per node are ", counts);
    layout_ = {nodes_.nodes(), place_.local_size};
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

LoaderOptions TrainingData::epoch_options(int64_t epoch, NodeLayout layout) const {
  LoaderOptions options = loader_options_;
  const int64_t side = train_size_at(config_.data, epoch + 1);
  options.output = {side, side};
  if (layout.nodes > 0)
    options.sequence = std::make_shared<const std::vector<int64_t>>(
        node_sharded_sequence(train_reader_->size(), static_cast<uint64_t>(config_.run.seed), epoch,
                              config_.data.reshard_every_epochs, layout, config_.data.drop_last));
  options.shard = {slot_, place_.world_size};
  return options;
}

// The val images this node's ranks evaluate (evaluation's shards: rank r takes r, r + world,
// ...; eval.mode rank0: rank 0 all of them), so each node holds a 1/N_nodes share of val too.
std::vector<int64_t> TrainingData::val_images_of_node() const {
  const int64_t n = val_reader_->size();
  const int world = place_.world_size;
  std::vector<int64_t> mine;
  for (int64_t i = 0; i < n; ++i) {
    const int reader = config_.eval.mode == EvalMode::kRank0 ? 0 : static_cast<int>(i % world);
    if (nodes_.node_of_rank[static_cast<size_t>(reader)] == node_) mine.push_back(i);
  }
  return mine;
}

// Each rank builds its node's copy (the writer writes, the others wait for it) on a thread of
// its own while the main thread polls with a one-number all-reduce: however long the slowest
// node's copy takes, no collective waits longer than a poll (one collective after the copy
// would have rank 0, whose own copy may be done first, run out of dist.timeout_s).
std::shared_ptr<const NodeCopy> TrainingData::make_node_copy(const ImageReader& reader,
                                                             std::vector<int64_t> indices,
                                                             const std::string& what,
                                                             Communicator& comm) {
  const int world = place_.world_size;
  NodeCopyOptions options;
  options.dir = config_.data.node_copy_dir();
  options.writer = place_.local_rank == 0;
  options.timeout_s = static_cast<double>(config_.dist.rank0_phase_timeout_s);
  options.who = "rank " + std::to_string(place_.rank) + " on " + host_name() + " (node " +
                std::to_string(node_) + ")";
  options.writer_who = "rank " + std::to_string(nodes_.first_rank_of(node_));
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
    const std::vector<int64_t> state = comm.all_reduce_integers(
        {done ? 0 : 1, done && !build->failure.empty() ? 1 : 0}, ReduceOp::kMax);
    if (state[0] == 0 || state[1] == 1) break;
  }
  const bool done = build->done;
  const std::string failure = done ? build->failure : std::string();
  std::vector<int64_t> failed(static_cast<size_t>(world), 0);
  failed[static_cast<size_t>(place_.rank)] = failure.empty() ? 0 : 1;
  failed = comm.all_reduce_integers(failed, ReduceOp::kSum);
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
    line << "node copy of node " << node_ << " (" << host_name() << "): " << what << ": "
         << copy->images() << " images, " << bytes_text(copy->size_bytes());
    if (copy->images() > 0) line << " in " << copy->path();
    if (copy->reused())
      line << ", left by an earlier job on this node: reused";
    else
      line << ", written in " << static_cast<int64_t>(seconds * 10) / 10.0 << " s";
  }
  return copy;
}

void TrainingData::update_node_copies(int64_t epoch, Communicator& comm) {
  const DataConfig& data = config_.data;
  if (data.node_copy_dir().empty()) return;
  const bool by_node = layout_.nodes > 0;
  const int64_t deal = by_node ? deal_of_epoch(epoch, data.reshard_every_epochs) : 0;
  if (train_copy_ && deal == train_copy_deal_) return;
  // Every rank lets go of the last deal's copy before the writer makes the next: two at once
  // would need twice the room.
  train_reader_->use_node_copy(nullptr);
  train_copy_.reset();
  comm.barrier();
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
  train_copy_ = make_node_copy(*train_reader_, std::move(images), what, comm);
  train_copy_deal_ = deal;
  train_reader_->use_node_copy(train_copy_);
  if (!val_copy_) {  // the test split is read once, at the end: from the file
    val_copy_ =
        make_node_copy(*val_reader_, val_images_of_node(), "val split, this node's share", comm);
    val_reader_->use_node_copy(val_copy_);
  }
}

}  // namespace nxt
