// Evaluation over the val split, in either mode, with identical numbers:
//  - rank0: rank 0 evaluates every sample while the other ranks wait;
//  - sharded: each rank evaluates its share and the exact totals are summed.
// rank 0 walks the very batches the sharded ranks would (shard by shard), and losses are summed
// in fixed point, so both modes give bit-identical accuracy and loss.
#pragma once
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "common/config.h"
#include "common/torch_pch.h"
#include "data/loader.h"
#include "eval/confusion.h"
#include "eval/forward.h"
#include "eval/totals.h"

namespace nxt {

struct EvalSetup {
  const ImageReader* reader = nullptr;
  LoaderOptions loader;  // batch size, output size, threads; training and shard are set here
  const Normalizer* normalize = nullptr;
  bool channels_last = false;
  bool bf16_autocast = false;
  EvalTta tta = EvalTta::kNone;  // Note [flip TTA] in forward.cpp
};

// What nxt_eval reports beyond the totals, gathered from all ranks.
struct EvalDetails {
  ConfusionMatrix confusion;       // construct with the class count
  std::vector<int64_t> predicted;  // per sample of the split, in file order
};

MetricTotals evaluate(ResNeXt& model, const EvalSetup& setup, Communicator& comm, EvalMode mode,
                      EvalDetails* details = nullptr);

// One shard's totals (this process's, not summed over ranks), and its samples in `details`
// (predicted holds class + 1, 0 for samples of other shards; size it to the split). The caller
// holds the NoGradGuard and the model's eval mode. Reads the device once per shard, however
// many batches it has (Note [one read per shard] in evaluate.cpp).
MetricTotals evaluate_shard(ResNeXt& model, const EvalSetup& setup, ShardSpec shard,
                            EvalDetails* details = nullptr);

}  // namespace nxt
