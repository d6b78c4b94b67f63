// Fault-injection hooks of the test suite: environment variables (NXT_STOP_AT_STEP,
// NXT_CRASH_AT_STEP, NXT_NAN_AT_STEP, NXT_HANG_BEFORE_COMM_START_RANK,
// NXT_PAUSE_IN_CHECKPOINT_WRITE_S, NXT_ASSUME_NO_CPU_CACHE_INFO, NXT_STALL_AT_STEP,
// NXT_SLOW_RANK0_EVAL_S, NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL, NXT_SLOW_DATA_RANK,
// NXT_SLOW_COMPUTE_RANK, NXT_SLOW_RANK_MS, NXT_SLOW_PREFLIGHT_RANK,
// NXT_HANG_BEFORE_PREFLIGHT_RING_RANK) that make a rank stop,
// crash, produce a NaN, hang, pause, stall with collectives in flight, evaluate slowly, act as on
// a CPU without cache sizes, straggle or measure slow in the preflight on purpose, so that the
// tests can show what nxt does then. NXT_SLOW_DATA_RANK=R / NXT_SLOW_COMPUTE_RANK=R make rank R
// sleep NXT_SLOW_RANK_MS (100) per batch before its read / after its backward, so that the
// straggler report names it and the phase (tests/e2e/train_straggler_report.sh).
// NXT_SLOW_PREFLIGHT_RANK=R makes rank R's preflight compute steps, reads and sends take 4x as
// long (SlowDown in preflight/timing.h), so that its node is named
// (tests/multinode/preflight_names_slow_node.sh). The preflight reads
// NXT_HANG_BEFORE_COMM_START_RANK (before its node communicators) and
// NXT_HANG_BEFORE_PREFLIGHT_RING_RANK (before its node's all-reduce) too
// (tests/multinode/preflight_rank_never_arriving.sh).
//
// They live in the shipped programs (the tests run those), and NXT_* variables reach every rank
// (launch/forward_env.sh), so one left set in a user's environment would change a real job. So
// every hook read here is announced with a warning naming it, and a value that is not a number
// is an error naming the variable, never read as 0.
#pragma once
#include <optional>

namespace nxt {

// The value of hook `name` (an integer), or nothing when the variable is unset or empty. Warns
// "test hook NAME=VALUE is set" when it is set; throws Error when it is not an integer.
std::optional<long long> test_hook(const char* name);

}  // namespace nxt
