// Implements the step metrics, the epoch line and the CSV file.
#include "train/metrics.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/fs.h"

namespace nxt {

namespace {
std::atomic<int64_t> g_host_reads{0};

size_t separators(const std::string& row) {
  return static_cast<size_t>(std::count(row.begin(), row.end(), ','));
}
}  // namespace

StepMetrics::StepMetrics(torch::Device device, DeviceWaitLimit limit)
    : device_(device), limit_(limit) {
  const auto on_device = torch::TensorOptions(device);
  loss_sum_ = torch::zeros({}, on_device.dtype(torch::kDouble));
  step_loss_sum_ = torch::zeros({}, on_device.dtype(torch::kDouble));
  correct_ = torch::zeros({}, on_device.dtype(torch::kLong));
  step_correct_ = torch::zeros({}, on_device.dtype(torch::kLong));
}

void StepMetrics::start_step() {
  step_loss_sum_.zero_();
  step_correct_.zero_();
  step_seen_ = 0;
}

void StepMetrics::add(const torch::Tensor& mean_loss, const torch::Tensor& logits,
                      const torch::Tensor& labels) {
  step_loss_sum_ += mean_loss.detach().to(torch::kDouble) * labels.size(0);
  step_correct_ += logits.detach().argmax(1).eq(labels).sum();
  step_seen_ += labels.size(0);
}

void StepMetrics::commit() {
  loss_sum_ += step_loss_sum_;  // device ops: no host sync
  correct_ += step_correct_;
  pending_seen_ += step_seen_;
}

void StepMetrics::wait_for_values(const char* what) const {
  wait_for_device(device_, limit_, what);
}

double StepMetrics::step_loss_sum() {
  ++g_host_reads;
  wait_for_values("the step's loss (a host read of the GPU's value)");
  return step_loss_sum_.item<double>();
}

StepMetrics::Read StepMetrics::read() {
  ++g_host_reads;
  wait_for_values("the training metrics since the last read (a host read of the GPU's values)");
  const double loss_sum = loss_sum_.item<double>();
  Read result;
  result.finite = std::isfinite(loss_sum);
  if (result.finite)
    result.totals = MetricTotals::from_loss_sum(loss_sum, correct_.item<int64_t>(), pending_seen_);
  loss_sum_.zero_();
  correct_.zero_();
  pending_seen_ = 0;
  return result;
}

int64_t StepMetrics::host_reads() {
  return g_host_reads.load();
}

std::string notebook_line(const EpochRecord& r) {
  char top5[48] = "";
  if (r.val_top5) std::snprintf(top5, sizeof top5, "Test_top5: %.2f%%, ", 100 * *r.val_top5);
  char ema[80] = "";
  if (r.ema)
    std::snprintf(ema, sizeof ema, "Test_acc_ema: %.2f%%, Test_loss_ema: %.4f, ",
                  100 * r.ema->val_acc, r.ema->val_loss);
  char line[440];
  std::snprintf(line, sizeof line,
                "Epoch: %lld, Train_acc: %.2f%%, Train_loss: %.4f, Test_acc: %.2f%%, "
                "Test_loss: %.4f, %s%sLr: %.6g, Time: %.1fs, Img/s: %.1f",
                static_cast<long long>(r.epoch), 100 * r.train_acc, r.train_loss, 100 * r.val_acc,
                r.val_loss, top5, ema, r.lr, r.seconds, r.images_per_second);
  return line;
}

MetricsCsv::MetricsCsv(std::string path) : path_(std::move(path)) {}

const char* MetricsCsv::header() {
  return "epoch,train_acc,train_loss,val_acc,val_loss,lr,seconds,images_per_s,val_top5,"
         "val_acc_ema,val_loss_ema";
}

void MetricsCsv::keep_rows_before(int64_t first_epoch) {
  if (!std::filesystem::exists(path_)) return;
  std::istringstream in(read_file_text(path_));
  std::string row;
  std::getline(in, row);  // header
  const size_t fields = separators(header());
  while (std::getline(in, row))
    if (!row.empty() && std::stoll(row) < first_epoch)
      rows_.push_back(row + std::string(fields - std::min(fields, separators(row)), ','));
}

void MetricsCsv::append(const EpochRecord& r) {
  char top5[32] = "";
  if (r.val_top5) std::snprintf(top5, sizeof top5, "%.6f", *r.val_top5);
  char ema[64] = ",";
  if (r.ema) std::snprintf(ema, sizeof ema, "%.6f,%.6f", r.ema->val_acc, r.ema->val_loss);
  char row[352];
  std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,%.6f,%.6f,%.8g,%.3f,%.2f,%s,%s",
                static_cast<long long>(r.epoch), r.train_acc, r.train_loss, r.val_acc, r.val_loss,
                r.lr, r.seconds, r.images_per_second, top5, ema);
  rows_.push_back(row);
  std::string text = std::string(header()) + "\n";
  for (const auto& line : rows_) text += line + "\n";
  write_file_atomic(path_, text);
}

}  // namespace nxt
