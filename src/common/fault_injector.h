// The fault injector of the test suite: one object that reads nxt's test hooks, environment
// variables that make a rank misbehave on purpose so that the tests can show what nxt does then,
// and that the code calls by name at one point per site (train/step_loop.cpp and its
// neighbours, the preflight, the checkpoint write, the process tuning). The hooks:
//
//   NXT_STOP_AT_STEP=N            rank 0 acts as if signalled (SIGUSR2) at global step N
//   NXT_CRASH_AT_STEP=N           rank 0 dies by SIGKILL once step N is logged and checkpointed,
//                                 as a lost node would: train_log.jsonl then has lines past
//                                 last.pt
//   NXT_NAN_AT_STEP=N             the last rank's loss (and so every gradient after the
//                                 all-reduce) is NaN at step N
//   NXT_STALL_AT_STEP=N           at step N the last rank never starts its backward, and rank
//                                 0's main thread blocks after issuing its gradient buckets, not
//                                 in a host wait, as behind a full CUDA launch queue: only the
//                                 watchdog thread can end the job
//   NXT_SLOW_RANK0_EVAL_S=S       rank 0's evaluations take S s longer (a rank-0 phase beyond
//                                 dist.timeout_s)
//   NXT_SLOW_DATA_RANK=R          rank R sleeps NXT_SLOW_RANK_MS (100) per micro-batch before
//   NXT_SLOW_COMPUTE_RANK=R       reading its batch / after its backward: a straggler that the
//   NXT_SLOW_RANK_MS=MS           straggler report names, with the phase
//                                 (tests/e2e/train_straggler_report.sh)
//   NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL=N
//                                 fp16's loss scaling also on a CPU run (no autocast), with that
//                                 growth interval, so that the e2e tests reach its flag and
//                                 checkpoint
//   NXT_HANG_BEFORE_COMM_START_RANK=R
//                                 rank R never joins a communicator's start-up (nxt_ddp's, the
//                                 preflight's node and leader communicators), like a rank stuck
//                                 on its node
//   NXT_HANG_BEFORE_PREFLIGHT_RING_RANK=R
//                                 rank R never joins its node's preflight all-reduce
//   NXT_SLOW_PREFLIGHT_RANK=R     rank R's preflight steps take 4x as long (SlowDown in
//                                 preflight/timing.h), so that its node is named
//   NXT_PAUSE_IN_CHECKPOINT_WRITE_S=S
//                                 every checkpoint write sleeps S s between its complete temp
//                                 file and the rename
//   NXT_ASSUME_NO_CPU_CACHE_INFO=1
//                                 act as on a CPU that reports no cache sizes (Note [oneDNN
//                                 without cache sizes] in common/process_tuning.h)
//
// and NXT_TRACE_SAMPLES=DIR, which only records: every trained sample, per rank, in
// DIR/samples.rank<R>.txt.
//
// They live in the shipped programs (the tests run those), and NXT_* variables reach every rank
// (launch/forward_env.sh), so one left set in a user's environment would change a real job. So
// the injector reads them all once, when it is made, announces each fault hook that is set with
// a warning naming it ("test hook NAME=VALUE is set"), and throws Error naming the variable when
// a value is not an integer, never reading it as 0.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

namespace nxt {

class FaultInjector {
 public:
  // A variable's value, or nullptr when it is unset: std::getenv, or a table in a test.
  using Lookup = std::function<const char*(const char* name)>;

  // What a firing hook does to the process; a test replaces them with recorders.
  struct Effects {
    std::function<void(std::chrono::milliseconds)> sleep;
    std::function<void()> hang;  // blocks the calling thread for good
    std::function<void()> kill;  // ends the process by SIGKILL, as a lost node
  };
  static Effects real_effects();

  // Reads every hook through `lookup` (warns for each fault hook that is set; throws Error
  // naming the variable when a value is not an integer). The injector is not bound to a rank:
  // the rank's hooks need for_rank().
  explicit FaultInjector(const Lookup& lookup, Effects effects = real_effects());
  static FaultInjector from_environment();
  // This process's injector, read from the environment on first use (a failed read throws
  // again at the next use).
  static const FaultInjector& process();

  // A copy that fires the hooks of rank `rank` of `world` ranks.
  FaultInjector for_rank(int rank, int world) const;

  // --- start-up (each hangs for good when it names this rank)
  // Before a communicator's start-up (NXT_HANG_BEFORE_COMM_START_RANK).
  void before_comm_start() const;
  // Before the preflight's node all-reduce (NXT_HANG_BEFORE_PREFLIGHT_RING_RANK).
  void before_node_ring() const;
  // Whether this rank's preflight measurements are slowed down (NXT_SLOW_PREFLIGHT_RANK).
  bool slows_preflight() const;

  // --- one training step, in the order the step calls them. `step`: the global step being
  // taken, counted from 1.
  // NXT_STALL_AT_STEP: the last rank stalls for good before its backward.
  void at_step_start(int64_t step) const;
  // NXT_SLOW_DATA_RANK: sleeps before each micro-batch's read.
  void before_batch_read() const;
  // NXT_NAN_AT_STEP: the last rank's `loss` becomes NaN (a torch::Tensor, or a number).
  template <class Loss>
  void corrupt_loss(int64_t step, Loss& loss) const {
    if (poisons_loss(step)) loss = loss * std::numeric_limits<double>::quiet_NaN();
  }
  // NXT_SLOW_COMPUTE_RANK: sleeps after each micro-batch's backward.
  void after_backward() const;
  // NXT_STALL_AT_STEP: rank 0 stalls for good with its gradient buckets in flight.
  void before_gradient_wait(int64_t step) const;
  // The stop request this rank brings to the step's agreement: SIGUSR2 on rank 0 at
  // NXT_STOP_AT_STEP (as if Slurm had signalled), else `signalled` (0: none).
  int stop_request(int64_t step, int signalled) const;
  // NXT_CRASH_AT_STEP: rank 0 calls `wait_for_checkpoint` (the hook's promise: this step's
  // checkpoint is on disk), then dies by SIGKILL.
  void after_step_saved(int64_t step, const std::function<void()>& wait_for_checkpoint) const;
  // NXT_SLOW_RANK0_EVAL_S: rank 0 sleeps (with a warning) before evaluating.
  void before_evaluation() const;

  // --- settings of the process (no rank needed)
  // NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL, when set.
  std::optional<int64_t> cpu_loss_scale_growth_interval() const;
  // NXT_PAUSE_IN_CHECKPOINT_WRITE_S (0 when unset).
  double checkpoint_publish_pause_s() const;
  // NXT_ASSUME_NO_CPU_CACHE_INFO=1.
  bool hides_cpu_cache_info() const;
  // NXT_TRACE_SAMPLES ("" when unset).
  const std::string& sample_trace_dir() const { return sample_trace_dir_; }

 private:
  // The fault hooks, in the order they are read and announced (names in fault_injector.cpp).
  enum Hook {
    kStopAtStep,
    kCrashAtStep,
    kNanAtStep,
    kStallAtStep,
    kSlowRank0EvalS,
    kSlowDataRank,
    kSlowComputeRank,
    kSlowRankMs,
    kCpuLossScaleGrowthInterval,
    kHangBeforeCommStartRank,
    kHangBeforePreflightRingRank,
    kSlowPreflightRank,
    kPauseInCheckpointWriteS,
    kAssumeNoCpuCacheInfo,
    kHookCount
  };

  bool set_to(Hook hook, int64_t value) const;
  bool names_this_rank(Hook hook) const;
  bool is_rank0() const;
  bool is_last_rank() const;
  bool poisons_loss(int64_t step) const;
  void sleep_if_named(Hook rank_hook) const;
  void hang_if_named(Hook rank_hook) const;
  void stall(const char* where) const;

  std::array<std::optional<int64_t>, kHookCount> values_;
  std::string sample_trace_dir_;
  Effects effects_;
  int rank_ = -1, world_ = 0;  // unbound until for_rank()
};

}  // namespace nxt
