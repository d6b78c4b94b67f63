// Implements both evaluation modes over the same per-shard batches.
#include "eval/evaluate.h"

#include "common/check.h"
#include "common/compat.h"

namespace nxt {

namespace {

// Note [one read per shard]: the loop keeps everything it learns on the device - the totals
// (DeviceTotals) and, for nxt_eval's details, each batch's labels and predictions - and reads it
// back once the shard is done. A read per batch would make the CPU wait for the GPU after every
// batch, so it could not prepare the next one meanwhile.
struct ShardDetails {
  std::vector<torch::Tensor> labels, predicted;  // per batch, on the device
  std::vector<int64_t> samples;                  // the samples' file indices, in batch order
};

// Predictions are stored as class + 1 so that the ranks' vectors (0 where another rank owns the
// sample) add up to every sample's prediction.
void record(EvalDetails& details, const ShardDetails& shard) {
  if (shard.samples.empty()) return;
  const torch::Tensor predicted = torch::cat(shard.predicted);
  details.confusion.add(torch::cat(shard.labels), predicted);
  const torch::Tensor host = predicted.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* classes = host.data_ptr<int64_t>();
  for (size_t k = 0; k < shard.samples.size(); ++k)
    details.predicted[static_cast<size_t>(shard.samples[k])] = classes[k] + 1;
}

}  // namespace

MetricTotals evaluate_shard(ResNeXt& model, const EvalSetup& setup, ShardSpec shard,
                            EvalDetails* details) {
  LoaderOptions options = setup.loader;
  options.training = false;
  options.shard = shard;
  EpochLoader loader(*setup.reader, options, /*epoch=*/0);
  DeviceTotals totals;
  ShardDetails seen;
  while (auto batch = loader.next()) {
    const DeviceBatch input = to_device(*batch, *setup.normalize, setup.channels_last);
    const torch::Tensor logits = eval_logits(model, input.images, setup.bf16_autocast, setup.tta);
    const torch::Tensor losses = torch::nn::functional::cross_entropy(
        logits, input.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const torch::Tensor predicted = logits.argmax(1);
    totals.add(losses, predicted.eq(input.labels).sum(), top5_correct(logits, input.labels));
    if (details) {
      seen.labels.push_back(input.labels);
      seen.predicted.push_back(predicted);
      const auto first = loader.indices().begin() + batch->step * options.batch_size;
      seen.samples.insert(seen.samples.end(), first, first + predicted.size(0));
    }
  }
  if (details) record(*details, seen);
  return totals.read();  // Note [one read per shard]
}

MetricTotals evaluate(ResNeXt& model, const EvalSetup& setup, Communicator& comm, EvalMode mode,
                      EvalDetails* details) {
  torch::NoGradGuard no_grad;
  if (details) details->predicted.assign(static_cast<size_t>(setup.reader->size()), 0);
  model->eval();
  MetricTotals mine;
  const int world = comm.world_size();
  if (mode == EvalMode::kSharded) {
    mine = evaluate_shard(model, setup, {comm.rank(), world}, details);
  } else if (comm.rank() == 0) {  // rank0: every rank's shard, in rank order
    for (int r = 0; r < world; ++r) mine += evaluate_shard(model, setup, {r, world}, details);
  }
  if (details) {
    details->confusion.sum_over_ranks(comm);
    details->predicted = comm.all_reduce_integers(details->predicted, ReduceOp::kSum);
    for (int64_t& p : details->predicted) --p;  // -1: never evaluated (cannot happen)
  }
  return mine.summed_over_ranks(comm);  // the caller restores its training mode
}

}  // namespace nxt
