// Implements the evaluation forward pass.
#include "eval/forward.h"

#include <vector>

#include "common/compat.h"

#if defined(NXT_TORCH_HAS_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <map>
#include <mutex>
#endif

namespace nxt {
namespace {

// Note [batch copies on a side stream]: the host-to-GPU copy of a pinned batch is queued on a
// stream of its own, which the compute stream waits for through an event: the copy then runs
// while the GPU still computes the steps queued before it (the step reads nothing back, so the
// CPU runs ahead), instead of after them on the one stream. The copies were allocated on the
// side stream and are used on the compute stream: record_stream tells the caching allocator,
// so their memory is not handed out again before the compute stream is done with it. The
// pinned host memory is the caching host allocator's, which keeps it until the copy is done.
// Without CUDA, or from pageable memory (a synchronous copy anyway), the batch goes as it is.
#if defined(NXT_TORCH_HAS_CUDA)
// One copy stream per device for the process: the caching allocator reuses a freed block only on
// the stream that allocated it, so a new pool stream per batch would strand up to 32 batches'
// worth of GPU memory.
c10::cuda::CUDAStream copy_stream(c10::DeviceIndex device) {
  static std::mutex mutex;
  static std::map<c10::DeviceIndex, c10::cuda::CUDAStream> streams;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = streams.find(device);
  if (found == streams.end())
    found = streams.emplace(device, c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device))
                .first;
  return found->second;
}
#endif

// The batch's tensors (images, labels and, when defined, the erase rectangles), on `device`
// when pinned (Note [batch copies on a side stream]), else as they are.
std::vector<torch::Tensor> copy_pinned_batch(const Batch& batch, torch::Device device) {
  std::vector<torch::Tensor> tensors{batch.images, batch.labels, batch.erase};
#if defined(NXT_TORCH_HAS_CUDA)
  bool pinned = true;
  for (const torch::Tensor& t : tensors) pinned = pinned && (!t.defined() || t.is_pinned());
  if (device.is_cuda() && pinned) {
    const c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream(device.index());
    const c10::cuda::CUDAStream copier = copy_stream(device.index());
    {
      const c10::cuda::CUDAStreamGuard on_copier(copier);
      for (torch::Tensor& t : tensors)
        if (t.defined()) t = t.to(device, /*non_blocking=*/true);
    }
    at::cuda::CUDAEvent done;
    done.record(copier);
    done.block(compute);
    for (torch::Tensor& t : tensors)
      if (t.defined()) t.record_stream(compute.unwrap());
  }
#else
  (void)device;
#endif
  return tensors;
}

}  // namespace

torch::Tensor model_input(const torch::Tensor& images, const Normalizer& normalize,
                          bool channels_last) {
  const torch::Tensor input = normalize(images);  // NCHW sizes, channels-last memory
  return channels_last ? input.contiguous(torch::MemoryFormat::ChannelsLast) : input.contiguous();
}

// Note [flip TTA]: eval.tta flip scores each image as the mean of the float logits of the image
// and of its horizontal mirror (width is dim 3 of NCHW; normalisation is per channel, so the
// normalised input can be mirrored). The mean is of logits, not of probabilities, as the
// timm/torchvision recipes do; the loss, top-1 and top-5 are computed from it. The two passes
// are separate forward calls at the batch size the run evaluates at, so the memory peak is that
// of one pass. The setting is part of the run's config, so a checkpoint carries it to nxt_eval
// and nxt_predict (each takes --tta to override it).
torch::Tensor eval_logits(ResNeXt& model, const torch::Tensor& input, bool bf16_autocast,
                          EvalTta tta) {
  const compat::CudaAutocastGuard autocast(bf16_autocast, torch::kBFloat16);
  const torch::Tensor logits = model->forward(input).to(torch::kFloat);
  if (tta == EvalTta::kNone) return logits;
  const torch::Tensor mirrored = model->forward(input.flip({3})).to(torch::kFloat);
  return (logits + mirrored) / 2;
}

bool bf16_autocast(const Config& config, torch::Device device) {
  return device.is_cuda() && config.train.amp == AmpMode::kBf16;
}

DeviceBatch to_device(const Batch& batch, const Normalizer& normalize, bool channels_last) {
  const torch::Device device = normalize.device();
  const std::vector<torch::Tensor> moved = copy_pinned_batch(batch, device);
  const torch::Tensor& labels = moved[1];
  const torch::Tensor& erase = moved[2];
  DeviceBatch out{model_input(moved[0], normalize, channels_last),
                  labels.to(device, /*non_blocking=*/labels.is_pinned())};
  // data.random_erase (training batches only): Note [Random erasing after normalisation].
  if (erase.defined())
    erase_rectangles(out.images, erase.to(device, /*non_blocking=*/erase.is_pinned()));
  return out;
}

}  // namespace nxt
