// Run under mpirun with several ranks: each rank loads its training and evaluation shards of a
// packed dataset and checks, against the file itself, that
//  - it read exactly its shard's images (the reader's read count) and no others;
//  - every label and image it got is the file's for that index;
//  - all ranks together cover the train split once (plus the documented padding) and the val
//    split exactly once.
// Prints "shard check passed" on rank 0; any failure aborts the job with the rank's message.
#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <set>

#include "common/check.h"
#include "common/mpi_env.h"
#include "data/loader.h"

namespace nxt {
namespace {

// All ranks' index lists, concatenated, on rank 0 (empty elsewhere).
std::vector<int64_t> gather_on_rank0(const std::vector<int64_t>& mine, const MpiSession& mpi) {
  const int count = static_cast<int>(mine.size());
  std::vector<int> counts(mpi.world_size()), displacements(mpi.world_size());
  NXT_MPI_CHECK(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  int total = 0;
  for (int r = 0; r < mpi.world_size(); ++r) {
    displacements[r] = total;
    total += counts[r];
  }
  std::vector<int64_t> all(mpi.rank() == 0 ? total : 0);
  NXT_MPI_CHECK(MPI_Gatherv(mine.data(), count, MPI_INT64_T, all.data(), counts.data(),
                            displacements.data(), MPI_INT64_T, 0, MPI_COMM_WORLD));
  return all;
}

// Drains one epoch, checking each sample against an independent read through HDF5.
std::vector<int64_t> load_and_check(const PackedDataset& dataset, const std::string& split,
                                    const LoaderOptions& options) {
  ImageReader reader(dataset, split);
  EpochLoader loader(reader, options, /*epoch=*/1);
  std::vector<uint8_t> expected(static_cast<size_t>(dataset.image_bytes()));
  int64_t row = 0;
  while (auto batch = loader.next()) {
    for (int64_t k = 0; k < batch->labels.size(0); ++k, ++row) {
      const int64_t index = loader.indices().at(static_cast<size_t>(row));
      NXT_CHECK(batch->labels[k].item<int64_t>() == dataset.split(split).labels.at(index), split,
                " sample ", index, ": label differs from the file's");
      dataset.read_image(split, index, expected.data());
      NXT_CHECK(
          std::memcmp(batch->images[k].data_ptr<uint8_t>(), expected.data(), expected.size()) == 0,
          split, " sample ", index, ": pixels differ from the file's");
    }
  }
  NXT_CHECK(row == loader.samples(), split, ": got ", row, " samples, expected ", loader.samples());
  NXT_CHECK(reader.reads() == static_cast<uint64_t>(loader.samples()), split, ": read ",
            reader.reads(), " images for a shard of ", loader.samples());
  return loader.indices();
}

void check_coverage(const std::vector<int64_t>& all, int64_t n, int64_t expected_total,
                    const std::string& split) {
  NXT_CHECK(static_cast<int64_t>(all.size()) == expected_total, split, ": ranks read ", all.size(),
            " samples in all, expected ", expected_total);
  const std::set<int64_t> distinct(all.begin(), all.end());
  NXT_CHECK(static_cast<int64_t>(distinct.size()) == n && *distinct.begin() == 0 &&
                *distinct.rbegin() == n - 1,
            split, ": ranks together cover ", distinct.size(), " of ", n, " samples");
}

int run(int argc, char** argv, const MpiSession& mpi) {
  NXT_CHECK(argc == 2, "usage: nxt_shard_check FILE.h5");
  const PackedDataset dataset(argv[1]);
  LoaderOptions options;
  options.batch_size = 5;
  options.output = {dataset.height(), dataset.width()};
  options.shard = {mpi.rank(), mpi.world_size()};
  options.seed = 9;
  options.threads = 2;
  options.training = true;  // no augmentation switched on: pixels must match the file
  const auto train = gather_on_rank0(load_and_check(dataset, "train", options), mpi);
  options.training = false;
  const auto val = gather_on_rank0(load_and_check(dataset, "val", options), mpi);
  if (mpi.rank() != 0) return 0;
  const int64_t n_train = dataset.split("train").size(), n_val = dataset.split("val").size();
  check_coverage(train, n_train,
                 train_shard_size(n_train, mpi.world_size(), false) * mpi.world_size(), "train");
  check_coverage(val, n_val, n_val, "val");
  std::cout << "shard check passed: " << mpi.world_size() << " ranks, train " << n_train << " (+"
            << train.size() - n_train << " padding), val " << n_val << std::endl;
  return 0;
}

}  // namespace
}  // namespace nxt

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    nxt::MpiSession mpi(&argc, &argv);
    return nxt::run(argc, argv, mpi);
  });
}
