// Implements the preflight's read figure (preflight/read_probe.h).
#include "preflight/read_probe.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "common/check.h"

namespace nxt {

ReadFigures measure_reads(const ImageReader& reader, ShardSpec shard, uint64_t seed, bool drop_last,
                          int threads, double budget_s, const SlowDown& slow) {
  constexpr int64_t kImagesPerStep = 64;
  const std::vector<int64_t> order =
      train_shard(reader.size(), seed, /*epoch=*/0, shard, drop_last);
  NXT_CHECK(!order.empty(), "preflight: rank ", shard.rank,
            " has no images of the train split of '", reader.dataset().path(), "' to read (",
            reader.size(), " images over ", shard.world, " ranks)");
  ReadFigures figures;
  figures.shard_size = static_cast<int64_t>(order.size());
  figures.threads = std::max(1, threads);
  figures.access = reader.access_path();

  std::vector<MeasuredRates> rates(static_cast<size_t>(figures.threads));
  std::vector<std::exception_ptr> failures(rates.size());
  std::vector<std::thread> workers;
  for (int t = 0; t < figures.threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        std::vector<uint8_t> buffer;
        // Thread t reads positions t, t + threads, ... of the shard, round and round.
        size_t position = static_cast<size_t>(t) % order.size();
        rates[t] = measure_rates(budget_s, CpuWait::kThread, slow, [&](bool) {
          StepWork work;
          for (int64_t i = 0; i < kImagesPerStep; ++i) {
            work.bytes += static_cast<double>(reader.bytes(order[position], buffer).size);
            work.items += 1;
            position = (position + static_cast<size_t>(figures.threads)) % order.size();
          }
          return work;
        });
      } catch (...) {
        failures[t] = std::current_exception();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  for (const std::exception_ptr& failure : failures)
    if (failure) std::rethrow_exception(failure);
  for (const MeasuredRates& thread : rates) {
    figures.mb_per_s += thread.bytes_per_s / 1e6;
    figures.images_per_s += thread.items_per_s;
    figures.images_read += thread.steps * kImagesPerStep;
  }
  return figures;
}

}  // namespace nxt
