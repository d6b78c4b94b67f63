// Implements the watchdog's error and the polled MPI wait with a deadline.
#include "comm/watchdog.h"

#include <cstdio>
#include <thread>

#include "common/check.h"

namespace nxt {

void throw_collective_timeout(int rank, const std::string& what, double waited_s,
                              std::chrono::seconds limit) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", waited_s);
  throw Error("rank " + std::to_string(rank) + ": " + what + " has not finished after " + seconds +
              " s (dist.timeout_s = " + std::to_string(limit.count()) +
              "): a peer rank is not answering (hung, stopped, or its node is gone); ending the "
              "job");
}

void wait_for_requests(std::vector<MPI_Request>& requests, std::chrono::microseconds poll,
                       std::chrono::seconds timeout, int rank, const std::string& what) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    int done = 0;
    NXT_MPI_CHECK(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done,
                              MPI_STATUSES_IGNORE));
    if (done) return;
    if (timeout == kNoTimeout) {
      std::this_thread::sleep_for(poll);
      continue;
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > static_cast<double>(timeout.count()))
      throw_collective_timeout(rank, what, waited, timeout);
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace nxt
