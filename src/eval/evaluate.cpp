// Implements both evaluation modes over the same per-shard batches.
#include "eval/evaluate.h"

#include "common/check.h"
#include "common/compat.h"

namespace nxt {

namespace {

// Predictions are stored as class + 1 so that the ranks' vectors (0 where another rank owns the
// sample) add up to every sample's prediction.
void record(EvalDetails& details, const std::vector<int64_t>& indices, int64_t first,
            const torch::Tensor& labels, const torch::Tensor& predicted) {
  details.confusion.add(labels, predicted);
  const torch::Tensor host = predicted.cpu();
  for (int64_t row = 0; row < host.size(0); ++row)
    details.predicted[static_cast<size_t>(indices[static_cast<size_t>(first + row)])] =
        host[row].item<int64_t>() + 1;
}

MetricTotals evaluate_shard(ResNeXt& model, const EvalSetup& setup, ShardSpec shard,
                            EvalDetails* details) {
  LoaderOptions options = setup.loader;
  options.training = false;
  options.shard = shard;
  EpochLoader loader(*setup.reader, options, /*epoch=*/0);
  MetricTotals totals;
  while (auto batch = loader.next()) {
    const DeviceBatch input = to_device(*batch, *setup.normalize, setup.channels_last);
    const torch::Tensor logits = eval_logits(model, input.images, setup.bf16_autocast);
    const torch::Tensor losses = torch::nn::functional::cross_entropy(
        logits, input.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const torch::Tensor predicted = logits.argmax(1);
    const torch::Tensor correct = predicted.eq(input.labels).sum();
    if (details)
      record(*details, loader.indices(), batch->step * options.batch_size, input.labels, predicted);
    totals.add_per_sample(losses, correct.item<int64_t>());
  }
  return totals;
}

}  // namespace

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
