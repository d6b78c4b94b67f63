// The NCCL communicator for CUDA tensors (built with a CUDA LibTorch and NCCL). Collectives run
// on the communicator's own stream, ordered after the compute stream's pending work by an
// event; wait() makes the compute stream wait for the result on the device, so the host never
// blocks on a bucket. Host scalar reductions go over MPI. The watchdog thread (Note [Watchdog]
// in comm/communicator.h) probes each collective's done event and NCCL's asynchronous error,
// and aborts the NCCL communicator when it fires.
#pragma once
#include <memory>

#include "comm/communicator.h"

namespace nxt {

std::unique_ptr<Communicator> make_nccl_communicator(ProcessPlace place, torch::Device device,
                                                     CommTimeouts timeouts);

}  // namespace nxt
