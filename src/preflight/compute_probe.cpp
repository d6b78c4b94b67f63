// Implements the preflight's compute figure (preflight/compute_probe.h).
#include "preflight/compute_probe.h"

#include "comm/device_wait.h"
#include "common/compat.h"
#include "eval/forward.h"
#include "model/build.h"
#include "model/summary.h"

namespace nxt {

ComputeProbe::ComputeProbe(const Config& config, int64_t classes, torch::Device device, int rank,
                           PreflightLimit limit)
    : device_(device), rank_(rank), limit_(limit), autocast_(bf16_autocast(config, device)) {
  ResNeXtSpec spec = resnext_spec_from_config(config.model, classes);
  spec.blocks.assign(spec.blocks.size(), 1);
  model_ = ResNeXt(spec);
  figures_.batch = config.data.batch_size;
  figures_.image_size = config.data.image_size;
  figures_.multiply_adds =
      static_cast<double>(summarize(model_, figures_.image_size).total_multiply_adds);
  figures_.model = std::string(name_of(config.model.arch, kArchNames)) +
                   ": its stem and 1 block per stage (" + std::to_string(spec.blocks.size()) +
                   " blocks), " + std::to_string(classes) + " classes";
  model_->to(device);
  model_->train();
  if (config.train.channels_last) use_channels_last(*model_);
  const auto options = torch::TensorOptions().device(device);
  images_ = torch::randn({figures_.batch, 3, figures_.image_size, figures_.image_size}, options);
  if (config.train.channels_last) images_ = images_.contiguous(torch::MemoryFormat::ChannelsLast);
  labels_ = torch::randint(classes, {figures_.batch}, options.dtype(torch::kLong));
}

ComputeFigures ComputeProbe::measure(double budget_s, const SlowDown& slow) {
  const CpuWait wait = device_.is_cuda() ? CpuWait::kCounted : CpuWait::kProcess;
  const MeasuredRates rates = measure_rates(budget_s, wait, slow, [&](bool) {
    model_->zero_grad();
    torch::Tensor loss;
    {
      const compat::CudaAutocastGuard guard(autocast_, torch::kBFloat16);
      loss =
          torch::nn::functional::cross_entropy(model_->forward(images_).to(torch::kFloat), labels_);
    }
    loss.backward();
    // Backward runs on the streams its forward ran on, here the current one.
    wait_for_device(
        device_, {rank_, limit_.seconds, limit_.key},
        "the preflight's compute probe (a forward + backward on " + device_.str() + ")");
    return StepWork{static_cast<double>(figures_.batch), 0};
  });
  ComputeFigures figures = figures_;
  figures.images_per_s = rates.items_per_s;
  figures.gflop_per_s = rates.items_per_s * figures.multiply_adds * 2 * 3 / 1e9;
  figures.steps = rates.steps;
  return figures;
}

}  // namespace nxt
