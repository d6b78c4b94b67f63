// An ordered work pipeline: worker threads run produce(i) for i in [0, n), and the owner pulls
// the results in index order with next(). At most `window` results are in flight, so memory
// stays bounded however large n is. The first exception from produce() is rethrown by next().
// The data loader (prefetching batches) and the packer (decoding images) both run on it.
#pragma once
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace nxt {

template <class Result>
class OrderedPipeline {
 public:
  using Produce = std::function<Result(size_t index)>;

  OrderedPipeline(size_t n, size_t threads, size_t window, Produce produce)
      : n_(n), window_(std::max<size_t>({window, threads, 1})), produce_(std::move(produce)) {
    for (size_t t = 0; t < std::max<size_t>(1, threads); ++t)
      pool_.emplace_back([this] { work(); });
  }
  ~OrderedPipeline() { stop(); }
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  // The next result in index order, or nullopt after the last one.
  std::optional<Result> next() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_to_take_ >= n_) return std::nullopt;
    changed_.wait(lock, [&] { return failure_ || ready_.count(next_to_take_); });
    if (failure_) std::rethrow_exception(failure_);
    auto it = ready_.find(next_to_take_);
    Result result = std::move(it->second);
    ready_.erase(it);
    ++next_to_take_;
    lock.unlock();
    changed_.notify_all();
    return result;
  }

  size_t size() const { return n_; }

 private:
  void work() {
    for (;;) {
      size_t index;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || next_to_claim_ < next_to_take_ + window_; });
        if (stopping_ || next_to_claim_ >= n_) return;
        index = next_to_claim_++;
      }
      try {
        Result result = produce_(index);
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.emplace(index, std::move(result));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!failure_) failure_ = std::current_exception();
        stopping_ = true;
      }
      changed_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (auto& thread : pool_) thread.join();
  }

  const size_t n_, window_;
  Produce produce_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<size_t, Result> ready_;
  size_t next_to_claim_ = 0, next_to_take_ = 0;
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::vector<std::thread> pool_;
};

// Runs produce(i) on `threads` workers and consume(i, result) on the calling thread in index
// order. An exception from either side stops the workers and is rethrown.
template <class Result, class Produce, class Consume>
void ordered_parallel(size_t n, size_t threads, size_t window, Produce produce, Consume consume) {
  OrderedPipeline<Result> pipeline(n, threads, window, std::move(produce));
  for (size_t i = 0; i < n; ++i) consume(i, std::move(*pipeline.next()));
}

}  // namespace nxt
