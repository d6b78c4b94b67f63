// Runs produce(i) for i in [0, n) on worker threads and consume(i, result) on the calling thread
// in index order, with at most `window` results in flight, so memory stays bounded however
// large n is. The first exception (from either side) stops the workers and is rethrown.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace nxt {

template <class Result, class Produce, class Consume>
void ordered_parallel(size_t n, size_t threads, size_t window, Produce produce, Consume consume) {
  threads = std::max<size_t>(1, threads);
  window = std::max(window, threads);
  std::mutex mutex;
  std::condition_variable changed;
  std::map<size_t, Result> ready;
  size_t next_to_claim = 0, next_to_consume = 0;
  std::exception_ptr failure;
  bool stop = false;

  auto worker = [&] {
    for (;;) {
      size_t index;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || next_to_claim < next_to_consume + window; });
        if (stop || next_to_claim >= n) return;
        index = next_to_claim++;
      }
      try {
        Result result = produce(index);
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(index, std::move(result));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      changed.notify_all();
    }
  };

  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  auto finish = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    changed.notify_all();
    for (auto& thread : pool) thread.join();
  };

  try {
    while (next_to_consume < n) {
      Result result;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return failure || ready.count(next_to_consume); });
        if (failure) break;
        auto it = ready.find(next_to_consume);
        result = std::move(it->second);
        ready.erase(it);
      }
      consume(next_to_consume, std::move(result));
      {
        std::lock_guard<std::mutex> lock(mutex);
        ++next_to_consume;
      }
      changed.notify_all();
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace nxt
