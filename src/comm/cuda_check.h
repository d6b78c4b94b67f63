// CHECK macros for CUDA runtime and NCCL calls (built only when CUDA and NCCL are found).
#pragma once
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "common/check.h"

#define NXT_CUDA_CHECK(expr)                                                                   \
  do {                                                                                         \
    const cudaError_t nxt_cuda_rc_ = (expr);                                                   \
    if (nxt_cuda_rc_ != cudaSuccess)                                                           \
      ::nxt::detail::throw_check_failure("CUDA call", #expr, cudaGetErrorString(nxt_cuda_rc_), \
                                         __FILE__, __LINE__);                                  \
  } while (0)

#define NXT_NCCL_CHECK(expr)                                                                   \
  do {                                                                                         \
    const ncclResult_t nxt_nccl_rc_ = (expr);                                                  \
    if (nxt_nccl_rc_ != ncclSuccess)                                                           \
      ::nxt::detail::throw_check_failure("NCCL call", #expr, ncclGetErrorString(nxt_nccl_rc_), \
                                         __FILE__, __LINE__);                                  \
  } while (0)
