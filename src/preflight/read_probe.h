// The preflight's file-system figure: random reads of the rank's own shard of the train split
// (the first epoch's shuffled shard, as the loader would read it), through ImageReader, as MB/s
// and images/s.
#pragma once
#include <cstdint>
#include <string>

#include "data/image_reader.h"
#include "data/sampler.h"
#include "preflight/timing.h"

namespace nxt {

struct ReadFigures {
  double mb_per_s = 0;  // stored bytes (raw pixels or JPEG) read, 1e6 bytes/s
  double images_per_s = 0;
  int64_t images_read = 0;  // in the timed steps, all threads together
  int64_t shard_size = 0;
  int threads = 1;
  std::string access;  // ImageReader::access_path(): "direct", "hdf5", ...
};

// `threads` threads (the loader's count) read the stored bytes of the shard's images
// (ImageReader::bytes, no decoding) in the epoch-0 order of data.sampler shard for `shard`,
// each thread its own slice, 64 images a step, for `budget_s`, cycling through the shard when
// it is shorter. Rates are each thread's median step (its run-queue waits not counted: Note
// [Time-bounded measurements]), summed over threads. Images read again
// may come from the page cache: docs/cluster.md ("Preflight").
ReadFigures measure_reads(const ImageReader& reader, ShardSpec shard, uint64_t seed, bool drop_last,
                          int threads, double budget_s, const SlowDown& slow);

}  // namespace nxt
