// The data loader of one rank for one epoch: background threads read this rank's shard of the
// packed dataset (data/sampler.h), prepare each sample (data/augment.h) and assemble uint8 NHWC
// batches, up to `prefetch` batches ahead of the trainer. Batches go to the device as uint8
// (4x less traffic than float) and are normalised there (data/normalize.h).
//
// Version 1 files (fixed raw squares) are cropped and resized by data/augment.h; version 2
// files (each image at its own aspect ratio, raw or JPEG) by data/stored_sample.h: training's
// RandomResizedCrop on the true aspect ratio, evaluation's Resize(eval_resize_shorter) +
// CenterCrop, each JPEG decoded at the smallest DCT scale the output allows.
//
// Read-ahead (LoaderOptions::readahead_batches = K > 0): the constructor asks the reader to
// start reading the images of the first K batches (ImageReader::will_need: posix_fadvise
// WILLNEED on their byte ranges), and preparing batch s asks for batch s + K, so a cold file
// system is read in the epoch's known order ahead of need, not on demand. Advice only: the
// batches are the same with or without it.
//
// Everything a batch holds is a pure function of (seed, epoch, global position): the indices
// come from the sampler (`LoaderOptions::sampler`: the shuffled, the class-balanced (from the
// reader's labels) or the repeated-augmentation sequence) and each sample's augmentation from
// its own stream, seeded by the sample's global position in the epoch. So a loader that starts
// at position g yields exactly the rest of the epoch, on any number of ranks; resuming from a
// mid-epoch checkpoint relies on this (Note [World-size-independent epochs] in data/sampler.h).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/config.h"
#include "common/ordered_parallel.h"
#include "common/torch_pch.h"
#include "data/augment.h"
#include "data/image_reader.h"
#include "data/sampler.h"

namespace nxt {

struct Batch {
  torch::Tensor images;  // uint8 [B, H, W, 3], pinned when LoaderOptions::pin_memory
  torch::Tensor labels;  // int64 [B], pinned like the images
  // data.random_erase: int32 [B, 4] rectangles (top, left, height, width; height 0 = none) to
  // zero after normalisation (Note [Random erasing after normalisation] in data/augment.h),
  // pinned like the images; undefined when off and in evaluation.
  torch::Tensor erase;
  int64_t step = 0;  // index of this batch within its loader (0 = the first it yields)
  std::vector<int64_t> sample_indices;    // the samples, in batch order
  std::vector<int64_t> sample_positions;  // their global positions in the epoch (training)
};

struct LoaderOptions {
  int64_t batch_size = 32;
  ImageShape output;  // the size the model sees (the trainer's is per epoch: data/resolution.h)
  // training: shuffled shard + augmentation; else eval shard, no augmentation
  bool training = true;
  AugmentOptions augment;
  double eval_crop_ratio = 1.0;  // evaluation: centre crop (data/augment.h prepare_for_eval)
  // Version 2 evaluation: the shorter side before the centre crop (torchvision's Resize);
  // 0: round(output side / eval_crop_ratio), half to even (the longer output side if not square).
  int64_t eval_resize_shorter = 0;
  bool drop_last = false;
  SamplerKind sampler = SamplerKind::kShard;  // training: the epoch's sequence (data/sampler.h)
  int64_t repeats = 1;  // sampler kRepeated: copies of each drawn sample (1: the shard sequence)
  // Training: the epoch's sequence when the caller built it (data.shard_by node: Note [Node
  // shares] in data/sampler.h; `shard` then holds the rank's slot), else the sampler's.
  std::shared_ptr<const std::vector<int64_t>> sequence;
  uint64_t seed = 0;
  ShardSpec shard;
  int threads = 1;                // preparing threads
  int prefetch = 4;               // batches ready ahead of the trainer
  bool pin_memory = false;        // page-locked batches for asynchronous host-to-GPU copies
  int64_t readahead_batches = 0;  // batches whose images are read ahead (0 = off; see above)
};

class EpochLoader {
 public:
  // Batches of `epoch` from global position `start_position` (training only; 0 = the whole
  // epoch), sharded over options.shard.
  EpochLoader(const ImageReader& reader, LoaderOptions options, int64_t epoch,
              int64_t start_position = 0);

  std::optional<Batch> next();
  int64_t steps() const { return steps_; }  // batches this loader yields
  int64_t samples() const { return static_cast<int64_t>(indices_.size()); }
  const std::vector<int64_t>& indices() const { return indices_; }  // this rank's, in order
  // Images the loader has asked the reader to read ahead so far (every sample once by the end
  // of the epoch when readahead_batches > 0; 0 when off).
  int64_t images_read_ahead() const { return images_read_ahead_; }

 private:
  Batch make_batch(int64_t step) const;
  // Asks the reader to read ahead the images of batch `step`, when there is one.
  void read_ahead(int64_t step) const;

  const ImageReader& reader_;
  const LoaderOptions options_;
  const int64_t epoch_;
  std::vector<int64_t> indices_;
  int64_t steps_ = 0;
  int64_t start_position_ = 0;
  int64_t eval_resize_shorter_ = 0;  // version 2 evaluation, resolved from the options
  mutable std::atomic<int64_t> images_read_ahead_{0};
  std::unique_ptr<OrderedPipeline<Batch>> pipeline_;
};

// Training batches per epoch on every rank (the same on all ranks by construction).
int64_t train_steps_per_epoch(int64_t samples, int world, int64_t batch_size, bool drop_last);

}  // namespace nxt
