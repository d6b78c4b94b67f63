// Implements the epoch loader on the ordered pipeline: per batch, the samples prepared by
// data/augment.h (version 1) or data/stored_sample.h (version 2), and the read-ahead advice.
#include "data/loader.h"

#include "common/check.h"
#include "data/resolution.h"
#include "data/stored_sample.h"

namespace nxt {

int64_t train_steps_per_epoch(int64_t samples, int world, int64_t batch_size, bool drop_last) {
  return batches_in(train_shard_size(samples, world, drop_last), batch_size);
}

EpochLoader::EpochLoader(const ImageReader& reader, LoaderOptions options, int64_t epoch,
                         int64_t start_position)
    : reader_(reader), options_(std::move(options)), epoch_(epoch) {
  NXT_CHECK(options_.batch_size >= 1, "batch size must be at least 1");
  NXT_CHECK(start_position >= 0 && (options_.training || start_position == 0),
            "cannot start epoch ", epoch, " at sample ", start_position);
  start_position_ = start_position;
  if (options_.training) {
    const std::vector<int64_t> sequence =
        options_.sequence ? *options_.sequence
                          : epoch_sequence(options_.sampler, reader.labels(), options_.seed, epoch,
                                           options_.repeats);
    indices_ = shard_of_sequence(sequence, options_.shard, options_.drop_last, start_position);
  } else {
    indices_ = eval_shard(reader.size(), options_.shard);
  }
  steps_ = batches_in(samples(), options_.batch_size);
  NXT_CHECK(options_.readahead_batches >= 0, "readahead_batches must be >= 0, got ",
            options_.readahead_batches);
  if (!reader.fixed_shape() && !options_.training) {
    const ImageShape out = options_.output;
    eval_resize_shorter_ = options_.eval_resize_shorter;
    if (eval_resize_shorter_ == 0)
      eval_resize_shorter_ =
          shorter_side_for_crop(std::max(out.height, out.width), options_.eval_crop_ratio);
    NXT_CHECK(eval_resize_shorter_ >= std::max(out.height, out.width),
              "the evaluation resize (shorter side ", eval_resize_shorter_,
              ") is smaller than the ", out.height, "x", out.width, " centre crop");
  }
  // Before the pipeline starts: its first batches ask for the ones after these.
  for (int64_t step = 0; step < options_.readahead_batches && step < steps_; ++step)
    read_ahead(step);
  pipeline_ = std::make_unique<OrderedPipeline<Batch>>(
      static_cast<size_t>(steps_), static_cast<size_t>(options_.threads),
      static_cast<size_t>(std::max(options_.prefetch, 1)),
      [this](size_t i) { return make_batch(static_cast<int64_t>(i)); });
}

std::optional<Batch> EpochLoader::next() {
  return pipeline_->next();
}

void EpochLoader::read_ahead(int64_t step) const {
  if (step >= steps_) return;
  const int64_t first = step * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, samples() - first);
  reader_.will_need(indices_.data() + first, static_cast<size_t>(count));
  images_read_ahead_ += count;
}

Batch EpochLoader::make_batch(int64_t step) const {
  if (options_.readahead_batches > 0) read_ahead(step + options_.readahead_batches);
  const int64_t first = step * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, samples() - first);
  const ImageShape stored{reader_.height(), reader_.width()};
  const ImageShape out = options_.output;
  Batch batch;
  batch.step = step;
  batch.images =
      torch::empty({count, out.height, out.width, 3},
                   torch::TensorOptions(torch::kUInt8).pinned_memory(options_.pin_memory));
  // Pinned like the images: a pageable source makes the host-to-device copy blocking, and the
  // host would never run ahead of the GPU.
  batch.labels =
      torch::empty({count}, torch::TensorOptions(torch::kInt64).pinned_memory(options_.pin_memory));
  batch.sample_indices.reserve(static_cast<size_t>(count));
  auto* images = batch.images.data_ptr<uint8_t>();
  auto* labels = batch.labels.data_ptr<int64_t>();
  const bool erasing = options_.training && options_.augment.random_erase > 0;
  if (erasing)
    batch.erase = torch::zeros(
        {count, 4}, torch::TensorOptions(torch::kInt32).pinned_memory(options_.pin_memory));
  int32_t* erase = erasing ? batch.erase.data_ptr<int32_t>() : nullptr;
  // Version 1, same size and no crop: read straight into the batch, and at most flip it there.
  const bool fixed = reader_.fixed_shape();
  const bool same_size = stored.height == out.height && stored.width == out.width;
  const bool read_in_place = fixed && same_size &&
                             (options_.training ? options_.augment.crop == CropMode::kNone
                                                : options_.eval_crop_ratio == 1.0);
  std::vector<uint8_t> staging(!fixed || read_in_place ? 0 : static_cast<size_t>(stored.bytes()));
  // Version 2: each thread's buffers grow to the largest image once, then are reused.
  thread_local SampleBuffers buffers;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t index = indices_[static_cast<size_t>(first + k)];
    batch.sample_indices.push_back(index);
    uint8_t* target = images + k * out.bytes();
    labels[k] = reader_.label(index);
    if (fixed) reader_.read(index, read_in_place ? target : staging.data());
    if (!options_.training) {
      if (!fixed)
        prepare_stored_for_eval(reader_, index, target, out, eval_resize_shorter_, buffers);
      else if (!read_in_place)
        prepare_for_eval(staging.data(), stored, target, out, options_.eval_crop_ratio);
      continue;
    }
    const int64_t position = train_position(start_position_, first + k, options_.shard);
    batch.sample_positions.push_back(position);
    SplitMix64 rng(mix_seed(
        {options_.seed, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(position), 0xa5ULL}));
    if (!fixed) {
      prepare_stored_for_training(reader_, index, target, out, options_.augment, rng, buffers);
    } else if (read_in_place) {
      augment_in_place(target, out, options_.augment, rng);
    } else {
      augment_for_training(staging.data(), stored, target, out, options_.augment, rng);
    }
    // After every other draw (Note [Random erasing after normalisation] in data/augment.h).
    if (erasing) {
      const EraseBox box = random_erase_box(out, options_.augment.random_erase, rng);
      int32_t* row = erase + 4 * k;
      row[0] = box.top, row[1] = box.left, row[2] = box.height, row[3] = box.width;
    }
  }
  return batch;
}

}  // namespace nxt
