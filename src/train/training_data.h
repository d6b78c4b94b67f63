// The training job's data on one rank: the packed file, its split readers, the normaliser, the
// loader's options and the preprocessing that checkpoints record; the job's nodes (which ranks
// share one, their host names, data.shard_by node's slots: Note [Node shares] in
// data/sampler.h); the node copies (Note [One copy per node] in data/node_copy.h); and each
// training epoch's loader options.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "comm/communicator.h"
#include "comm/node_table.h"
#include "comm/placement.h"
#include "common/config.h"
#include "data/image_reader.h"
#include "data/loader.h"
#include "data/node_copy.h"
#include "data/normalize.h"
#include "data/packed_dataset.h"
#include "data/sampler.h"

namespace nxt {

class TrainingData {
 public:
  // Opens data.path and checks it (val images, model.num_classes against the file's classes),
  // before any communicator exists, so that a wrong path fails fast. Not collective. `config`
  // must outlive this object.
  TrainingData(const Config& config, const ProcessPlace& place, const RankCompute& compute);

  // Which node each rank is on, the host names, the job's node layout and this rank's slot;
  // collective (two all-reduces). Checks that host names and MPI's nodes agree
  // where the node copies or shard_by node rely on it. Training only; `nxt_ddp --evaluate`
  // never calls it (every rank is then its own slot).
  void learn_nodes(Communicator& comm);

  // Note [One copy per node]: the copies of the images this node reads in `epoch`, (re)built
  // when the deal changes; collective, a no-op without cache_in_memory or stage_dir.
  void update_node_copies(int64_t epoch, Communicator& comm);

  // The loader options of training epoch `epoch` (0-based): its training size, and the
  // sequence of `layout` (the layout the epoch was dealt for: a resumed epoch's recorded one,
  // else this job's), of which this rank takes its slot's positions.
  LoaderOptions epoch_options(int64_t epoch, NodeLayout layout) const;

  const PackedDataset& dataset() const { return *dataset_; }
  int64_t num_classes() const { return dataset_->num_classes(); }
  const ImageReader& train() const { return *train_reader_; }
  const ImageReader& val() const { return *val_reader_; }
  const ImageReader* test() const { return test_reader_.get(); }  // null: no test split
  const Normalizer& normalizer() const { return *normalize_; }
  // Evaluation's options (eval size, crop, resize), which every evaluation loop starts from.
  const LoaderOptions& loader_options() const { return loader_options_; }
  // The preprocessing recorded in checkpoints; the trainer sets train_size per epoch.
  Preprocess& preprocess() { return preprocess_; }
  const Preprocess& preprocess() const { return preprocess_; }
  // Optimizer steps of a whole epoch at this world size (and, for shard_by node, this layout).
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // {0, 0} under shard_by rank (learn_nodes() sets the job's under shard_by node).
  NodeLayout layout() const { return layout_; }
  // After learn_nodes(): every rank's host name, by rank (empty before).
  const std::vector<std::string>& host_names() const { return nodes_.host_of_rank; }
  // After learn_nodes(): this rank is its node's first (its leader).
  bool node_leader() const {
    return nodes_.first_rank_of(nodes_.node_of_rank.at(static_cast<size_t>(place_.rank))) ==
           place_.rank;
  }

 private:
  // Optimizer steps of a whole epoch whose sequence has `sequence_length` positions, checked.
  void count_steps_per_epoch(int64_t sequence_length);
  // This rank's host name ("?" before learn_nodes()).
  std::string host_name() const {
    return nodes_.host_of_rank.empty() ? "?"
                                       : nodes_.host_of_rank[static_cast<size_t>(place_.rank)];
  }
  std::shared_ptr<const NodeCopy> make_node_copy(const ImageReader& reader,
                                                 std::vector<int64_t> indices,
                                                 const std::string& what, Communicator& comm);
  std::vector<int64_t> val_images_of_node() const;

  const Config& config_;
  ProcessPlace place_;
  std::unique_ptr<PackedDataset> dataset_;
  std::unique_ptr<ImageReader> train_reader_, val_reader_, test_reader_;
  std::unique_ptr<Normalizer> normalize_;
  Preprocess preprocess_;
  LoaderOptions loader_options_;
  int64_t steps_per_epoch_ = 0;
  // nodes_ and node_ (this rank's) from learn_nodes(); slot_ is this rank's place in the epoch's
  // sequence (its rank under shard_by rank).
  NodeLayout layout_;
  NodeTable nodes_;
  int node_ = 0, slot_ = 0;
  std::string copy_job_;  // NodeCopyOptions::job: rank 0's random number, the same on all ranks
  std::shared_ptr<const NodeCopy> train_copy_, val_copy_;
  int64_t train_copy_deal_ = -1;  // the deal train_copy_ holds
};

}  // namespace nxt
