// Implements both evaluation modes over the same per-shard batches.
#include "train/evaluate.h"

#include "common/check.h"
#include "common/compat.h"

namespace nxt {

DeviceBatch to_device(const Batch& batch, const Normalizer& normalize, bool channels_last) {
  torch::Tensor images = normalize(batch.images);  // NCHW sizes, channels-last memory
  images =
      channels_last ? images.contiguous(torch::MemoryFormat::ChannelsLast) : images.contiguous();
  return {images, batch.labels.to(normalize.device(), /*non_blocking=*/batch.labels.is_pinned())};
}

namespace {

MetricTotals evaluate_shard(ResNeXt& model, const EvalSetup& setup, ShardSpec shard) {
  LoaderOptions options = setup.loader;
  options.training = false;
  options.shard = shard;
  EpochLoader loader(*setup.reader, options, /*epoch=*/0);
  MetricTotals totals;
  while (auto batch = loader.next()) {
    const DeviceBatch input = to_device(*batch, *setup.normalize, setup.channels_last);
    const compat::CudaAutocastGuard autocast(setup.bf16_autocast, torch::kBFloat16);
    const torch::Tensor logits = model->forward(input.images).to(torch::kFloat);
    const torch::Tensor loss_sum = torch::nn::functional::cross_entropy(
        logits, input.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    const torch::Tensor correct = logits.argmax(1).eq(input.labels).sum();
    totals.add(loss_sum.item<double>(), correct.item<int64_t>(), input.labels.size(0));
  }
  return totals;
}

}  // namespace

MetricTotals evaluate(ResNeXt& model, const EvalSetup& setup, Communicator& comm,
                      const std::string& mode) {
  torch::NoGradGuard no_grad;
  model->eval();
  MetricTotals mine;
  const int world = comm.world_size();
  if (mode == "sharded") {
    mine = evaluate_shard(model, setup, {comm.rank(), world});
  } else {
    NXT_CHECK(mode == "rank0", "eval.mode: unknown mode '", mode, "'");
    if (comm.rank() == 0)
      for (int r = 0; r < world; ++r) mine += evaluate_shard(model, setup, {r, world});
  }
  return mine.summed_over_ranks(comm);  // the caller restores its training mode
}

}  // namespace nxt
