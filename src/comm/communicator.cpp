// Implements the backend choice at start-up.
#include "comm/communicator.h"

#include <cstdio>

#include "comm/backends.h"
#include "comm/mpi_communicator.h"
#include "common/check.h"
#include "common/enum_names.h"
#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
#include "comm/nccl_communicator.h"
#endif

namespace nxt {

std::unique_ptr<Communicator> make_communicator(DistBackend backend, torch::Device device,
                                                ProcessPlace place, CommTimeouts timeouts) {
  if (backend == DistBackend::kAuto)
    backend = device.is_cuda() ? DistBackend::kNccl : DistBackend::kMpi;
  if (backend == DistBackend::kMpi) {
    NXT_CHECK(!device.is_cuda(),
              "dist.backend: mpi reduces CPU tensors; this run's tensors are on ", device.str(),
              " (use nccl or auto)");
    MpiCommunicatorOptions options;
    options.timeouts = timeouts;
    return std::make_unique<MpiCommunicator>(place, MPI_COMM_WORLD, options);
  }
  NXT_CHECK(device.is_cuda(), "dist.backend: nccl needs CUDA tensors; this run's are on ",
            device.str(), " (use mpi or auto)");
#if defined(NXT_HAVE_NCCL) && defined(NXT_TORCH_HAS_CUDA)
  return make_nccl_communicator(place, device, timeouts);
#else
  throw Error("dist.backend: nccl is not in this build (" + nccl_description() +
              "; it also needs a CUDA LibTorch)");
#endif
}

std::string collective_text(const char* name, const torch::Tensor& tensor) {
  char text[96];
  std::snprintf(text, sizeof text, "%s of %.1f MB (%s)", name,
                static_cast<double>(tensor.numel() * tensor.element_size()) / 1e6,
                c10::toString(tensor.scalar_type()));
  return text;
}

const char* reduce_op_name(ReduceOp op) {
  static const EnumNames<ReduceOp> names = {{ReduceOp::kSum, "sum"},
                                            {ReduceOp::kAverage, "average"},
                                            {ReduceOp::kMin, "min"},
                                            {ReduceOp::kMax, "max"}};
  return name_of(op, names);
}

}  // namespace nxt
