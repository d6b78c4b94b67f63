// The flight recorder (comm/flight_recorder.h): issue order, the 64-entry ring that never drops
// an unfinished collective, probes polled in order and without its lock, and the JSON a hang
// leaves behind; the watchdog's monitor, its firing while another thread holds the
// communicator (comm/exclusive_calls.h), and the record a timed-out host wait leaves.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "comm/exclusive_calls.h"
#include "comm/flight_recorder.h"
#include "comm/watchdog.h"
#include "common/check.h"

namespace nxt {
namespace {

constexpr std::chrono::seconds kDeadline{600};

TEST(FlightRecorder, KeepsTheLast64AndNeverDropsAnUnfinishedCollective) {
  FlightRecorder recorder;
  const int64_t stuck = recorder.enqueue("all-reduce", 4096, 3, kDeadline, "dist.timeout_s");
  recorder.mark_started(stuck);
  for (int k = 0; k < 100; ++k) {
    const int64_t sequence =
        recorder.enqueue("host all-reduce", 8, -1, kDeadline, "dist.timeout_s");
    recorder.mark_finished(sequence);
  }
  const std::vector<FlightEntry> entries = recorder.snapshot();
  ASSERT_EQ(entries.size(), FlightRecorder::kCapacity);
  EXPECT_EQ(entries.front().sequence, stuck) << "the unfinished collective was dropped";
  EXPECT_EQ(entries.back().sequence, 101);
  EXPECT_EQ(entries[1].sequence, 101 - 62) << "not the newest finished ones";
  const auto oldest = recorder.oldest_unfinished();
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->sequence, stuck);
  EXPECT_EQ(oldest->bucket, 3);
  EXPECT_EQ(oldest->bytes, 4096);
}

TEST(FlightRecorder, PollMarksProbedCollectivesInIssueOrder) {
  FlightRecorder recorder;
  auto first = CollectiveProgress::kQueued, second = CollectiveProgress::kFinished;
  const int64_t first_sequence =
      recorder.enqueue("all-reduce", 1, 0, kDeadline, "dist.timeout_s", [&] { return first; });
  recorder.enqueue("all-reduce", 1, 1, kDeadline, "dist.timeout_s", [&] { return second; });
  recorder.poll();
  // The second reports done, but a stream completes in order: nothing is marked past the first.
  EXPECT_EQ(recorder.oldest_unfinished()->sequence, first_sequence);
  first = CollectiveProgress::kFinished;
  recorder.poll();
  EXPECT_FALSE(recorder.oldest_unfinished()) << "both are done once the first is";
}

// Issue 34, 5: a stuck NCCL collective must be reported as running, not as queued behind an
// earlier one: the probe's kRunning (its start event has happened) marks it started.
TEST(FlightRecorder, PollMarksARunningCollectiveStarted) {
  FlightRecorder recorder;
  auto progress = CollectiveProgress::kQueued;
  const int64_t sequence = recorder.enqueue("all-reduce", 1 << 20, 4, kDeadline, "dist.timeout_s",
                                            [&] { return progress; });
  recorder.poll();
  EXPECT_EQ(recorder.oldest_unfinished()->started, FlightRecorder::Clock::time_point{});
  progress = CollectiveProgress::kRunning;
  const auto seen = FlightRecorder::Clock::now();
  recorder.poll(seen);
  const auto stuck = recorder.oldest_unfinished();
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->sequence, sequence);
  EXPECT_EQ(stuck->started, seen);
  const nlohmann::json record = nlohmann::json::parse(recorder.to_json(0));
  EXPECT_EQ(record["collectives"][0]["state"], "running");
}

// Issue 34, 3: the watchdog's probe (a CUDA event query) may block behind a wedged GPU; the
// thread issuing collectives (autograd's bucket hooks) must still get through enqueue().
TEST(FlightRecorder, AStuckProbeDoesNotBlockEnqueue) {
  FlightRecorder recorder;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> probing{false};
  recorder.enqueue("all-reduce", 1, 0, kDeadline, "dist.timeout_s", [&] {
    probing = true;
    released.wait();
    return CollectiveProgress::kFinished;
  });
  std::thread watchdog([&] { recorder.poll(); });
  while (!probing) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto enqueued = std::async(std::launch::async, [&] {
    return recorder.enqueue("all-reduce", 1, 1, kDeadline, "dist.timeout_s");
  });
  const bool got_through = enqueued.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  release.set_value();
  watchdog.join();
  EXPECT_TRUE(got_through) << "enqueue() waited for a probe stuck in the watchdog's poll()";
  EXPECT_EQ(enqueued.get(), 2);
  EXPECT_EQ(recorder.oldest_unfinished()->sequence, 2) << "the released probe's entry is done";
}

TEST(FlightRecorder, JsonNamesEachCollectiveAndItsState) {
  FlightRecorder recorder;
  const auto t0 = FlightRecorder::Clock::now();
  const int64_t done = recorder.enqueue("broadcast", 72, -1, kDeadline, "dist.timeout_s");
  recorder.mark_started(done, t0);
  recorder.mark_finished(done, t0 + std::chrono::milliseconds(5));
  const int64_t running = recorder.enqueue("all-reduce", 1 << 20, 2, std::chrono::seconds(3600),
                                           "dist.rank0_phase_timeout_s");
  recorder.mark_started(running, t0);
  recorder.enqueue("all-reduce", 1 << 20, 1, kDeadline, "dist.timeout_s");
  const auto now = t0 + std::chrono::seconds(2);
  const nlohmann::json record = nlohmann::json::parse(recorder.to_json(13, now));
  EXPECT_EQ(record["rank"], 13);
  const auto& c = record["collectives"];
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0]["kind"], "broadcast");
  EXPECT_EQ(c[0]["state"], "finished");
  EXPECT_NEAR(c[0]["finished_s_ago"].get<double>(), 1.995, 1e-6);
  EXPECT_EQ(c[1]["state"], "running");
  EXPECT_EQ(c[1]["bucket"], 2);
  EXPECT_EQ(c[1]["deadline_s"], 3600);
  EXPECT_TRUE(c[1]["finished_s_ago"].is_null());
  EXPECT_EQ(c[2]["state"], "queued");
  EXPECT_TRUE(c[2]["started_s_ago"].is_null());
  EXPECT_NE(recorder.to_text(13, now).find("running"), std::string::npos);
}

// --- The watchdog and its monitor (comm/watchdog.h) ---------------------------------------

// Death tests fork a process that has threads: "threadsafe" re-executes the test binary.
class WatchdogDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Issue 34, 3: a probe that never returns (a CUDA query behind a wedged GPU) stalls the
// watchdog thread; its monitor must still end the rank, naming what the watchdog was doing,
// and leave the flight record, within the stall limit plus a bound.
TEST_F(WatchdogDeathTest, MonitorEndsTheRankWhenTheWatchdogIsStuck) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EXIT(
      {
        auto recorder = std::make_shared<FlightRecorder>();
        recorder->enqueue("all-reduce", 2 << 20, 7, kDeadline, "dist.timeout_s", [] {
          for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
          return CollectiveProgress::kFinished;
        });
        CollectiveWatchdog watchdog(recorder, 3, {}, std::chrono::milliseconds(10),
                                    std::chrono::seconds(1));
        std::this_thread::sleep_for(std::chrono::seconds(60));
        std::_Exit(0);  // not reached when the monitor works
      },
      ::testing::ExitedWithCode(1),
      "watchdog monitor: rank 3: the watchdog thread has been probing its collectives' progress "
      "\\(CUDA event queries\\) for [0-9]+\\.[0-9] s \\(limit 1 s(.|\n)*flight record of rank 3");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// Issue 34, 4: NCCL forbids concurrent calls on a communicator, ncclCommAbort included. The
// abort waits for a call another thread is inside, and never overlaps it.
TEST(ExclusiveCalls, AnAbortWaitsForTheCallInside) {
  ExclusiveCalls calls;
  std::atomic<bool> inside{false}, overlapped{false};
  std::thread enqueue([&] {
    calls.run([&] {
      inside = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      inside = false;
      return 0;
    });
  });
  while (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool aborted = false;
  EXPECT_TRUE(calls.run_within(std::chrono::seconds(10), [&] {
    overlapped = inside.load();
    aborted = true;
  }));
  enqueue.join();
  EXPECT_TRUE(aborted);
  EXPECT_FALSE(overlapped) << "the abort ran while another thread was inside a call";
  EXPECT_FALSE(calls.try_run([] { return 1; }) == std::nullopt) << "free again after the abort";
}

TEST(ExclusiveCalls, AnAbortIsSkippedWhileACallStaysInside) {
  ExclusiveCalls calls;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> inside{false};
  std::thread enqueue([&] {
    calls.run([&] {
      inside = true;
      released.wait();
      return 0;
    });
  });
  while (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  bool ran = false;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(calls.run_within(std::chrono::milliseconds(200), [&] { ran = true; }));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(calls.try_run([] { return 1; })) << "the watchdog's error poll must not block";
  release.set_value();
  enqueue.join();
  EXPECT_FALSE(ran);
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_LT(waited, std::chrono::seconds(5));
}

// Issues 34, 3-4: the watchdog fires on an overdue collective while another thread is inside a
// call on the communicator (an enqueue blocked behind a full launch queue): the abort is
// skipped, never overlapping the call, and the rank still ends, with the diagnosis.
TEST_F(WatchdogDeathTest, FiringWhileAnotherThreadHoldsTheCommunicatorEndsTheRank) {
  EXPECT_EXIT(
      {
        ExclusiveCalls calls;
        std::atomic<bool> inside{false};
        std::thread enqueue([&] {
          calls.run([&] {
            inside = true;
            for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
            return 0;
          });
        });
        while (!inside) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        auto recorder = std::make_shared<FlightRecorder>();
        recorder->enqueue("all-reduce", 1 << 20, 2, std::chrono::seconds(1), "dist.timeout_s");
        CollectiveWatchdog::Hooks hooks;
        hooks.abort_backend = [&] {
          if (!calls.run_within(std::chrono::milliseconds(300),
                                [] { std::fprintf(stderr, "the abort overlapped the enqueue\n"); }))
            std::fprintf(stderr, "abort skipped: a call is inside\n");
        };
        CollectiveWatchdog watchdog(recorder, 0, hooks, std::chrono::milliseconds(20),
                                    std::chrono::seconds(30));
        std::this_thread::sleep_for(std::chrono::seconds(60));
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(1),
      "FATAL: watchdog: rank 0: all-reduce #1 of 1.0 MB \\(bucket 2\\), queued behind an "
      "earlier one has not finished(.|\n)*abort skipped: a call is inside");
}

// Issue 34, 8: when a host wait notices the timeout before the watchdog does (its own
// deadline passes first), the flight record must be left all the same: stderr and
// flight_rank<N>.json in the record folder.
TEST(Watchdog, AHostWaitThatTimesOutLeavesTheFlightRecord) {
  const std::string dir = ::testing::TempDir() + "/nxt_flight_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  auto recorder = std::make_shared<FlightRecorder>();
  recorder->enqueue("all-reduce", 1300000, -1, std::chrono::seconds(10), "dist.timeout_s");
  // A tick of an hour: the watchdog thread never checks, as when the main thread is first.
  CollectiveWatchdog watchdog(recorder, 5, {}, std::chrono::hours(1), std::chrono::hours(1));
  watchdog.set_record_dir(dir);
  ::testing::internal::CaptureStderr();
  EXPECT_THROW(
      throw_collective_timeout(5, "all-reduce of 1.3 MB (Float)", 10.2, std::chrono::seconds(10)),
      Error);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("[rank 5] a host wait timed out (all-reduce of 1.3 MB (Float)); flight "
                     "record of rank 5"),
            std::string::npos)
      << err;
  const std::string path = dir + "/flight_rank5.json";
  ASSERT_TRUE(std::filesystem::exists(path)) << err;
  std::ifstream file(path);
  const nlohmann::json record = nlohmann::json::parse(file);
  EXPECT_EQ(record["rank"], 5);
  ASSERT_EQ(record["collectives"].size(), 1u);
  EXPECT_EQ(record["collectives"][0]["state"], "queued");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nxt
