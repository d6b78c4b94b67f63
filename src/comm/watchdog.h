// The deadline on every host-side wait for a collective (Note [Watchdog] in
// comm/communicator.h), without LibTorch, so that the raw NCCL layer shares it.
#pragma once
#include <mpi.h>

#include <chrono>
#include <string>
#include <vector>

namespace nxt {

inline constexpr std::chrono::seconds kDefaultTimeout{600};  // dist.timeout_s
// For waits whose deadline is held elsewhere (the MPI communicator's thread: the caller's
// CommWork::wait() times out instead).
inline constexpr std::chrono::seconds kNoTimeout = std::chrono::seconds::max();

// Throws "rank R: WHAT has not finished after S s (dist.timeout_s = T): a peer rank is not
// answering ...".
[[noreturn]] void throw_collective_timeout(int rank, const std::string& what, double waited_s,
                                           std::chrono::seconds limit);

// Polls MPI requests until all have completed, sleeping `poll` between tests (a blocking MPI
// wait spins a core); throws throw_collective_timeout's error after `timeout` (never with
// kNoTimeout).
void wait_for_requests(std::vector<MPI_Request>& requests, std::chrono::microseconds poll,
                       std::chrono::seconds timeout, int rank, const std::string& what);

}  // namespace nxt
