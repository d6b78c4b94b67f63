// Tests of the fault injector (common/fault_injector.h) with a table for the environment and
// recorders for its effects: an unset hook fires nowhere, a set one at exactly its step and rank,
// a value that is not an integer is an error naming the variable, and the process environment is
// read through std::getenv.
#include "common/fault_injector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "test_support.h"

namespace nxt {
namespace {

using testing_support::error_of;

// What the injector did, in order: "sleep 100 ms", "hang", "kill", "wait for checkpoint".
struct Recorder {
  std::vector<std::string> events;

  FaultInjector::Effects effects() {
    return {[this](std::chrono::milliseconds delay) {
              events.push_back("sleep " + std::to_string(delay.count()) + " ms");
            },
            [this] { events.push_back("hang"); }, [this] { events.push_back("kill"); }};
  }
};

using Variables = std::map<std::string, std::string>;

FaultInjector::Lookup table(const Variables& variables) {
  return [&variables](const char* name) -> const char* {
    const auto found = variables.find(name);
    return found == variables.end() ? nullptr : found->second.c_str();
  };
}

// Every step-loop hook of `faults` at steps 1..6, as the step calls them; the events it caused.
std::vector<std::string> run_steps(const FaultInjector& faults, Recorder& recorder) {
  for (int64_t step = 1; step <= 6; ++step) {
    const size_t before = recorder.events.size();
    faults.at_step_start(step);
    faults.before_batch_read();
    double loss = 1.5;
    faults.corrupt_loss(step, loss);
    if (std::isnan(loss)) recorder.events.push_back("NaN loss");
    faults.after_backward();
    faults.before_gradient_wait(step);
    if (const int signal = faults.stop_request(step, 0)) {
      recorder.events.push_back("stop " + std::to_string(signal));
    }
    faults.after_step_saved(step, [&] { recorder.events.push_back("wait for checkpoint"); });
    faults.before_evaluation();
    for (size_t k = before; k < recorder.events.size(); ++k)
      recorder.events[k] = "step " + std::to_string(step) + ": " + recorder.events[k];
  }
  return recorder.events;
}

TEST(FaultInjector, UnsetHooksFireNowhere) {
  const Variables none;
  for (int rank = 0; rank < 3; ++rank) {
    Recorder recorder;
    const FaultInjector faults = FaultInjector(table(none), recorder.effects()).for_rank(rank, 3);
    EXPECT_TRUE(run_steps(faults, recorder).empty()) << "rank " << rank;
    faults.before_comm_start();
    faults.before_node_ring();
    EXPECT_FALSE(faults.slows_preflight());
    EXPECT_TRUE(recorder.events.empty());
    EXPECT_FALSE(faults.cpu_loss_scale_growth_interval());
    EXPECT_EQ(faults.checkpoint_publish_pause_s(), 0);
    EXPECT_FALSE(faults.hides_cpu_cache_info());
    EXPECT_EQ(faults.sample_trace_dir(), "");
    EXPECT_EQ(faults.stop_request(3, SIGTERM), SIGTERM);  // a real signal passes through
  }
}

TEST(FaultInjector, AnEmptyValueIsUnset) {
  const Variables empty = {{"NXT_STOP_AT_STEP", ""}, {"NXT_SLOW_DATA_RANK", ""}};
  Recorder recorder;
  const FaultInjector faults = FaultInjector(table(empty), recorder.effects()).for_rank(0, 2);
  EXPECT_TRUE(run_steps(faults, recorder).empty());
}

// The step hooks of rank `rank` of 3, with every step hook set.
std::vector<std::string> step_events(int rank) {
  const Variables hooks = {{"NXT_STOP_AT_STEP", "4"},   {"NXT_CRASH_AT_STEP", "5"},
                           {"NXT_NAN_AT_STEP", "2"},    {"NXT_STALL_AT_STEP", "3"},
                           {"NXT_SLOW_DATA_RANK", "1"}, {"NXT_SLOW_COMPUTE_RANK", "2"},
                           {"NXT_SLOW_RANK_MS", "7"},   {"NXT_SLOW_RANK0_EVAL_S", "2"}};
  Recorder recorder;
  const FaultInjector faults = FaultInjector(table(hooks), recorder.effects()).for_rank(rank, 3);
  return run_steps(faults, recorder);
}

TEST(FaultInjector, Rank0StallsStopsCrashesAndEvaluatesSlowlyAtItsSteps) {
  const std::string stop = "step 4: stop " + std::to_string(SIGUSR2);
  const std::vector<std::string> expected = {
      "step 1: sleep 2000 ms",  // NXT_SLOW_RANK0_EVAL_S, before every evaluation
      "step 2: sleep 2000 ms",
      "step 3: hang",  // NXT_STALL_AT_STEP, with its gradient buckets in flight
      "step 3: sleep 2000 ms",
      stop,  // NXT_STOP_AT_STEP
      "step 4: sleep 2000 ms",
      "step 5: wait for checkpoint",  // NXT_CRASH_AT_STEP
      "step 5: kill",
      "step 5: sleep 2000 ms",
      "step 6: sleep 2000 ms"};
  EXPECT_EQ(step_events(0), expected);
}

TEST(FaultInjector, TheNamedRankStragglesInItsPhase) {
  std::vector<std::string> expected;
  for (int step = 1; step <= 6; ++step)
    expected.push_back("step " + std::to_string(step) + ": sleep 7 ms");
  EXPECT_EQ(step_events(1), expected);  // NXT_SLOW_DATA_RANK=1
}

TEST(FaultInjector, TheLastRankGetsTheNanAndStallsBeforeItsBackward) {
  const std::vector<std::string> expected = {
      "step 1: sleep 7 ms",                        // NXT_SLOW_COMPUTE_RANK=2, after every backward
      "step 2: NaN loss",   "step 2: sleep 7 ms",  // NXT_NAN_AT_STEP=2
      "step 3: hang",       "step 3: sleep 7 ms",  // NXT_STALL_AT_STEP=3, before its backward
      "step 4: sleep 7 ms", "step 5: sleep 7 ms", "step 6: sleep 7 ms"};
  EXPECT_EQ(step_events(2), expected);
}

TEST(FaultInjector, ASlowRankSleeps100MsUnlessToldOtherwise) {
  const Variables hooks = {{"NXT_SLOW_DATA_RANK", "0"}};
  Recorder recorder;
  FaultInjector(table(hooks), recorder.effects()).for_rank(0, 1).before_batch_read();
  EXPECT_EQ(recorder.events, std::vector<std::string>{"sleep 100 ms"});
}

TEST(FaultInjector, StartUpHooksFireOnTheNamedRankOnly) {
  const Variables hooks = {{"NXT_HANG_BEFORE_COMM_START_RANK", "1"},
                           {"NXT_HANG_BEFORE_PREFLIGHT_RING_RANK", "2"},
                           {"NXT_SLOW_PREFLIGHT_RANK", "0"}};
  for (int rank = 0; rank < 3; ++rank) {
    Recorder at_comm_start, at_node_ring;
    FaultInjector(table(hooks), at_comm_start.effects()).for_rank(rank, 3).before_comm_start();
    FaultInjector(table(hooks), at_node_ring.effects()).for_rank(rank, 3).before_node_ring();
    EXPECT_EQ(at_comm_start.events.size(), rank == 1 ? 1u : 0u) << "rank " << rank;
    EXPECT_EQ(at_node_ring.events.size(), rank == 2 ? 1u : 0u) << "rank " << rank;
    if (!at_comm_start.events.empty()) EXPECT_EQ(at_comm_start.events[0], "hang");
    if (!at_node_ring.events.empty()) EXPECT_EQ(at_node_ring.events[0], "hang");
    EXPECT_EQ(FaultInjector(table(hooks)).for_rank(rank, 3).slows_preflight(), rank == 0);
  }
}

TEST(FaultInjector, ProcessSettings) {
  const Variables hooks = {{"NXT_CPU_LOSS_SCALE_GROWTH_INTERVAL", "3"},
                           {"NXT_PAUSE_IN_CHECKPOINT_WRITE_S", "5"},
                           {"NXT_ASSUME_NO_CPU_CACHE_INFO", "1"},
                           {"NXT_TRACE_SAMPLES", "/tmp/trace"}};
  const FaultInjector faults(table(hooks));
  EXPECT_EQ(faults.cpu_loss_scale_growth_interval(), std::optional<int64_t>(3));
  EXPECT_EQ(faults.checkpoint_publish_pause_s(), 5);
  EXPECT_TRUE(faults.hides_cpu_cache_info());
  EXPECT_EQ(faults.sample_trace_dir(), "/tmp/trace");
  const Variables other = {{"NXT_ASSUME_NO_CPU_CACHE_INFO", "2"}};
  EXPECT_FALSE(FaultInjector(table(other)).hides_cpu_cache_info());
}

TEST(FaultInjector, AValueThatIsNotAnIntegerIsAnErrorNamingTheVariable) {
  for (const char* value : {"abc", "3x", "1.5", "99999999999999999999"}) {
    const Variables hooks = {{"NXT_STALL_AT_STEP", "2"}, {"NXT_CRASH_AT_STEP", value}};
    const std::string error = error_of([&] { FaultInjector faults(table(hooks)); });
    EXPECT_NE(
        error.find("test hook NXT_CRASH_AT_STEP='" + std::string(value) + "' is not an integer"),
        std::string::npos)
        << error;
  }
}

TEST(FaultInjector, ARankHookNeedsARank) {
  const Variables hooks = {{"NXT_SLOW_DATA_RANK", "0"}};
  const FaultInjector unbound(table(hooks));
  EXPECT_NE(error_of([&] { unbound.before_batch_read(); }).find("for_rank"), std::string::npos);
  EXPECT_NE(error_of([&] { unbound.for_rank(2, 2); }).find("for_rank"), std::string::npos);
}

// Sets (or unsets: nullopt) an environment variable for one scope, then restores it.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value->c_str(), /*overwrite=*/1);
    else
      unsetenv(name);
  }
  ~ScopedVariable() {
    if (old_)
      setenv(name_, old_->c_str(), /*overwrite=*/1);
    else
      unsetenv(name_);
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(FaultInjector, ReadsTheEnvironment) {
  {
    const ScopedVariable stop("NXT_STOP_AT_STEP", "7");
    const ScopedVariable slow("NXT_SLOW_PREFLIGHT_RANK", std::nullopt);
    const FaultInjector faults = FaultInjector::from_environment().for_rank(0, 2);
    EXPECT_EQ(faults.stop_request(7, 0), SIGUSR2);
    EXPECT_EQ(faults.stop_request(6, 0), 0);
    EXPECT_FALSE(faults.slows_preflight());
  }
  const ScopedVariable bad("NXT_SLOW_PREFLIGHT_RANK", "one");
  EXPECT_NE(error_of([] { FaultInjector::from_environment(); }).find("NXT_SLOW_PREFLIGHT_RANK"),
            std::string::npos);
}

}  // namespace
}  // namespace nxt
