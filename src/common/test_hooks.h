// Fault-injection hooks of the test suite: environment variables (NXT_STOP_AT_STEP,
// NXT_CRASH_AT_STEP, NXT_NAN_AT_STEP, NXT_HANG_BEFORE_COMM_START_RANK,
// NXT_PAUSE_IN_CHECKPOINT_WRITE_S, NXT_ASSUME_NO_CPU_CACHE_INFO, NXT_STALL_AT_STEP,
// NXT_SLOW_RANK0_EVAL_S, NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL) that make a rank stop, crash, produce a NaN, hang, pause, stall with
// collectives in flight, evaluate slowly or act as on a CPU without cache sizes on purpose, so that the
// tests can show what nxt does then.
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
