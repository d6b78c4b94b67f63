// Implements the fault injector (common/fault_injector.h): the hooks' strict reading and their
// warning, once, and the faults at their named points.
#include "common/fault_injector.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "common/check.h"
#include "common/log.h"

namespace nxt {
namespace {

// Indexed by FaultInjector's Hook enum, in its order.
constexpr const char* kHookNames[] = {
    "NXT_STOP_AT_STEP",
    "NXT_CRASH_AT_STEP",
    "NXT_NAN_AT_STEP",
    "NXT_STALL_AT_STEP",
    "NXT_SLOW_RANK0_EVAL_S",
    "NXT_SLOW_DATA_RANK",
    "NXT_SLOW_COMPUTE_RANK",
    "NXT_SLOW_RANK_MS",
    "NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL",
    "NXT_HANG_BEFORE_COMM_START_RANK",
    "NXT_HANG_BEFORE_PREFLIGHT_RING_RANK",
    "NXT_SLOW_PREFLIGHT_RANK",
    "NXT_PAUSE_IN_CHECKPOINT_WRITE_S",
    "NXT_ASSUME_NO_CPU_CACHE_INFO",
};

constexpr int64_t kDefaultSlowRankMs = 100;

// The value of hook `name` (an integer), or nothing when it is unset or empty. Warns when it is
// set; throws Error naming it when it is not an integer.
std::optional<int64_t> read_hook(const FaultInjector::Lookup& lookup, const char* name) {
  const char* text = lookup(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  NXT_CHECK(errno == 0 && *end == '\0', "test hook ", name, "='", text,
            "' is not an integer (unset it: it is for nxt's tests)");
  log::warn() << "test hook " << name << "=" << value
              << " is set: this run will misbehave on purpose (unset it unless this is a test)";
  return value;
}

}  // namespace

FaultInjector::Effects FaultInjector::real_effects() {
  return {[](std::chrono::milliseconds delay) { std::this_thread::sleep_for(delay); },
          [] {
            for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
          },
          [] { std::raise(SIGKILL); }};
}

FaultInjector::FaultInjector(const Lookup& lookup, Effects effects) : effects_(std::move(effects)) {
  static_assert(sizeof kHookNames / sizeof kHookNames[0] == kHookCount, "one name per hook");
  for (int hook = 0; hook < kHookCount; ++hook) values_[hook] = read_hook(lookup, kHookNames[hook]);
  if (const char* dir = lookup("NXT_TRACE_SAMPLES")) sample_trace_dir_ = dir;
}

FaultInjector FaultInjector::from_environment() {
  return FaultInjector([](const char* name) { return std::getenv(name); });
}

const FaultInjector& FaultInjector::process() {
  static const FaultInjector injector = from_environment();
  return injector;
}

FaultInjector FaultInjector::for_rank(int rank, int world) const {
  NXT_CHECK(rank >= 0 && rank < world, "FaultInjector::for_rank(", rank, ", ", world, ")");
  FaultInjector bound = *this;
  bound.rank_ = rank;
  bound.world_ = world;
  return bound;
}

bool FaultInjector::set_to(Hook hook, int64_t value) const {
  return values_[hook] == value;
}

bool FaultInjector::names_this_rank(Hook hook) const {
  NXT_CHECK(world_ > 0, "FaultInjector: a rank's hook before for_rank()");
  return set_to(hook, rank_);
}

bool FaultInjector::is_rank0() const {
  NXT_CHECK(world_ > 0, "FaultInjector: a rank's hook before for_rank()");
  return rank_ == 0;
}

bool FaultInjector::is_last_rank() const {
  NXT_CHECK(world_ > 0, "FaultInjector: a rank's hook before for_rank()");
  return rank_ == world_ - 1;
}

void FaultInjector::sleep_if_named(Hook rank_hook) const {
  if (names_this_rank(rank_hook))
    effects_.sleep(std::chrono::milliseconds(values_[kSlowRankMs].value_or(kDefaultSlowRankMs)));
}

void FaultInjector::hang_if_named(Hook rank_hook) const {
  if (names_this_rank(rank_hook)) effects_.hang();
}

void FaultInjector::stall(const char* where) const {
  log::all() << "test hook NXT_STALL_AT_STEP: this rank's main thread stalls " << where;
  effects_.hang();
}

bool FaultInjector::poisons_loss(int64_t step) const {
  return set_to(kNanAtStep, step) && is_last_rank();
}

void FaultInjector::before_comm_start() const {
  hang_if_named(kHangBeforeCommStartRank);
}

void FaultInjector::before_node_ring() const {
  hang_if_named(kHangBeforePreflightRingRank);
}

bool FaultInjector::slows_preflight() const {
  return names_this_rank(kSlowPreflightRank);
}

void FaultInjector::at_step_start(int64_t step) const {
  if (set_to(kStallAtStep, step) && is_last_rank()) stall("before its backward");
}

void FaultInjector::before_batch_read() const {
  sleep_if_named(kSlowDataRank);
}

void FaultInjector::after_backward() const {
  sleep_if_named(kSlowComputeRank);
}

// With one rank, rank 0 is the last rank and has stalled in at_step_start() already.
void FaultInjector::before_gradient_wait(int64_t step) const {
  if (set_to(kStallAtStep, step) && is_rank0()) stall("with its gradient buckets in flight");
}

int FaultInjector::stop_request(int64_t step, int signalled) const {
  return set_to(kStopAtStep, step) && is_rank0() ? SIGUSR2 : signalled;
}

void FaultInjector::after_step_saved(int64_t step,
                                     const std::function<void()>& wait_for_checkpoint) const {
  if (!set_to(kCrashAtStep, step) || !is_rank0()) return;
  wait_for_checkpoint();
  effects_.kill();
}

void FaultInjector::before_evaluation() const {
  const int64_t seconds = values_[kSlowRank0EvalS].value_or(0);
  if (seconds <= 0 || !is_rank0()) return;
  log::warn() << "test hook: rank 0's evaluation is slowed by " << seconds << " s";
  effects_.sleep(std::chrono::seconds(seconds));
}

std::optional<int64_t> FaultInjector::cpu_loss_scale_growth_interval() const {
  return values_[kCpuLossScaleGrowthInterval];
}

double FaultInjector::checkpoint_publish_pause_s() const {
  return static_cast<double>(values_[kPauseInCheckpointWriteS].value_or(0));
}

bool FaultInjector::hides_cpu_cache_info() const {
  return set_to(kAssumeNoCpuCacheInfo, 1);
}

}  // namespace nxt
