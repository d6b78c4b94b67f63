// Implements the backend report; the NCCL part compiles only when CUDA and NCCL were found.
#include "comm/backends.h"

#ifdef NXT_HAVE_NCCL
#include "comm/cuda_check.h"
#endif

namespace nxt {

#ifdef NXT_HAVE_NCCL
bool nccl_compiled_in() {
  return true;
}

std::string nccl_description() {
  int version = 0;
  NXT_NCCL_CHECK(ncclGetVersion(&version));
  int runtime = 0, devices = 0;
  cudaRuntimeGetVersion(&runtime);
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  const int major = version / 10000, minor = (version % 10000) / 100, patch = version % 100;
  return "NCCL " + std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string(patch) + " (CUDA runtime " + std::to_string(runtime) + ", " +
         std::to_string(devices) + " GPU(s) visible)";
}
#else
bool nccl_compiled_in() {
  return false;
}
std::string nccl_description() {
  return "NCCL not built (CUDA toolkit or NCCL not found)";
}
#endif

}  // namespace nxt
